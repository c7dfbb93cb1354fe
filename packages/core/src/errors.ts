/**
 * The one error registry. Every error Trainyard raises on purpose carries a code from
 * here, an HTTP status, and whether retrying the same call can succeed. docs/errors.md
 * lists them with what to do.
 */
export interface ErrorDef {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly message: string;
}

function def(code: string, status: number, retryable: boolean, message: string): ErrorDef {
  return Object.freeze({ code: `TRAINYARD_ERR_${code}`, status, retryable, message });
}

export const Errors = Object.freeze({
  REQUEST_INVALID: def('REQUEST_INVALID', 400, false, 'The request is malformed'),
  SPEC_INVALID: def('SPEC_INVALID', 400, false, 'The job spec is invalid'),
  BODY_TOO_LARGE: def('BODY_TOO_LARGE', 413, false, 'The request body is larger than the limit'),
  UNAUTHENTICATED: def('UNAUTHENTICATED', 401, false, 'A valid API key is required'),
  NOT_FOUND: def('NOT_FOUND', 404, false, 'No such route'),
  JOB_NOT_FOUND: def('JOB_NOT_FOUND', 404, false, 'No job has this id'),
  JOB_TERMINAL: def('JOB_TERMINAL', 409, false, 'The job has already ended'),
  IDEMPOTENCY_CONFLICT: def(
    'IDEMPOTENCY_CONFLICT',
    409,
    false,
    'This Idempotency-Key was already used with a different job spec',
  ),
  REDIS_UNAVAILABLE: def('REDIS_UNAVAILABLE', 503, true, 'Redis is unreachable'),
  CONFIG_INVALID: def('CONFIG_INVALID', 500, false, 'The configuration is invalid'),
  COLLECTIVE_TIMEOUT: def('COLLECTIVE_TIMEOUT', 504, true, 'A collective operation missed its deadline'),
  COLLECTIVE_ABORTED: def('COLLECTIVE_ABORTED', 409, true, 'A collective operation was aborted'),
  COLLECTIVE_MISMATCH: def('COLLECTIVE_MISMATCH', 500, false, 'Ranks disagree about a collective operation'),
  WEIGHTS_DIVERGED: def(
    'WEIGHTS_DIVERGED',
    500,
    true,
    'Ranks that must hold identical weights hold different ones',
  ),
  STORAGE_KEY_INVALID: def('STORAGE_KEY_INVALID', 400, false, 'The object key is not allowed'),
  STORAGE_NOT_FOUND: def('STORAGE_NOT_FOUND', 404, false, 'No object has this key'),
  STORE_UNAVAILABLE: def(
    'STORE_UNAVAILABLE',
    503,
    true,
    'The object store could not be reached or failed the request',
  ),
  STORE_REJECTED: def(
    'STORE_REJECTED',
    502,
    false,
    'The object store refused the request (credentials, permissions, bucket)',
  ),
  CHECKPOINT_CORRUPT: def('CHECKPOINT_CORRUPT', 500, false, 'The checkpoint does not match its manifest'),
  DATASET_INVALID: def('DATASET_INVALID', 400, false, 'The dataset cannot be used as asked'),
  BACKEND_UNAVAILABLE: def(
    'BACKEND_UNAVAILABLE',
    500,
    false,
    'The requested TensorFlow.js backend cannot be loaded',
  ),
  TRAINING_NONFINITE: def('TRAINING_NONFINITE', 500, false, 'A loss or gradient became NaN or infinite'),
  RANK_FAILED: def('RANK_FAILED', 500, true, 'A rank of the job failed'),
  WORKER_DRAINING: def(
    'WORKER_DRAINING',
    503,
    true,
    'A worker of the job is shutting down; the job checkpointed and moves to other workers',
  ),
  JOB_CANCELLED: def('JOB_CANCELLED', 409, false, 'The job was cancelled'),
  INTERNAL: def('INTERNAL', 500, false, 'Internal error'),
});

export type ErrorName = keyof typeof Errors;

export interface TrainyardErrorOptions {
  readonly cause?: unknown;
  readonly details?: unknown;
}

export class TrainyardError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(errorDef: ErrorDef, message?: string, options: TrainyardErrorOptions = {}) {
    super(message ?? errorDef.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrainyardError';
    this.code = errorDef.code;
    this.status = errorDef.status;
    this.retryable = errorDef.retryable;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; retryable: boolean; details?: unknown } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isTrainyardError(err: unknown, errorDef?: ErrorDef): err is TrainyardError {
  return err instanceof TrainyardError && (errorDef === undefined || err.code === errorDef.code);
}

/** A compact, serialisable description of any thrown value, for job records and events. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof TrainyardError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: Errors.INTERNAL.code, message: err.message };
  return { code: Errors.INTERNAL.code, message: String(err) };
}
