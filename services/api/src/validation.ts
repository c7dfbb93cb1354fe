import { assertSafeId, type ErrorDef, Errors, JOB_STATES, TrainyardError } from '@trainyard/core';
import { z } from 'zod';

/**
 * Request validation: every check is a zod schema, and every failure becomes a
 * TrainyardError whose `cause` is the ZodError, so the error handler can answer with each
 * issue's path and message (STYLE.md #9).
 */

/** One problem with a request, as the API reports it: `{ path: 'optimizer.learningRate', message }`. */
export interface ApiIssue {
  readonly path: string;
  readonly message: string;
}

/** A dotted path (`model.hidden.1`); the empty string names the whole value. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

/**
 * Flattens zod's issues into API issues. An `unrecognized_keys` issue names the object
 * that holds the keys; it becomes one issue per unknown key, so each names its field.
 */
export function toApiIssues(error: z.core.$ZodError): ApiIssue[] {
  const out: ApiIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return out;
}

export function isZodError(err: unknown): err is z.core.$ZodError {
  return err instanceof z.core.$ZodError;
}

const MAX_ISSUES_IN_MESSAGE = 5;

/** `<what>: a: msg; b: msg (and 3 more)` — a short human summary; the full list is in `issues`. */
export function summarizeIssues(what: string, issues: readonly ApiIssue[]): string {
  const shown = issues
    .slice(0, MAX_ISSUES_IN_MESSAGE)
    .map((i) => `${i.path || '(body)'}: ${i.message}`)
    .join('; ');
  const more =
    issues.length > MAX_ISSUES_IN_MESSAGE ? ` (and ${issues.length - MAX_ISSUES_IN_MESSAGE} more)` : '';
  return `${what}: ${shown}${more}`;
}

/** Parses `value` with `schema`, or throws TrainyardError(errorDef) with the ZodError as its cause. */
export function validate<T extends z.core.$ZodType>(
  schema: T,
  value: unknown,
  errorDef: ErrorDef,
  what: string,
): z.output<T> {
  const parsed = z.safeParse(schema, value);
  if (parsed.success) return parsed.data;
  throw new TrainyardError(errorDef, summarizeIssues(what, toApiIssues(parsed.error)), {
    cause: parsed.error,
  });
}

/** A job id, with the semantics of core's `assertSafeId`. */
export const JobIdParam = z.string().superRefine((id, ctx) => {
  try {
    assertSafeId('job', id);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be 1 to 128 characters of A-Z a-z 0-9 _ . -' });
  }
});

export const JobParams = z.object({ id: JobIdParam });

/** `Idempotency-Key`: 1 to 200 printable ASCII characters. */
export const IdempotencyKey = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[\x20-\x7e]+$/, 'must hold printable ASCII characters only');

export const ListJobsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  state: z.enum(JOB_STATES).optional(),
});

/** A Redis stream id (`1700000000000-0`, or `0` for "from the start"). */
const U64_MAX = 2n ** 64n - 1n;

export const StreamId = z
  .string()
  .regex(/^\d{1,20}(-\d{1,20})?$/, 'must be a stream id such as 1700000000000-0')
  .refine((id) => !/^\d+(-\d+)?$/.test(id) || id.split('-').every((part) => BigInt(part) <= U64_MAX), {
    message: 'must be a stream id whose parts are at most 2^64-1',
  });

export const EventsQuery = z.strictObject({ after: StreamId.optional() });

/** Shorthand for request-shape failures (not the job spec). */
export function validateRequest<T extends z.core.$ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  return validate(schema, value, Errors.REQUEST_INVALID, what);
}
