import { createHash, timingSafeEqual } from 'node:crypto';
import { API_KEY_PATTERN, Errors, type Logger, TrainyardError } from '@trainyard/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * API-key authentication. With keys configured (`API_KEYS`), every route needs
 * `Authorization: Bearer <key>`, except the probes and the scrape endpoint, which
 * Kubernetes and Prometheus call without credentials. Deny by default: a route is open only
 * when the router matched it to one of `OPEN_ROUTES`, so an unknown path (or a path the
 * router decodes to a /v1 route) needs a key too, and an unauthenticated client learns
 * nothing about which routes exist. Keys are compared as SHA-256 digests with
 * `timingSafeEqual` (equal lengths whatever the key presented), against every configured
 * key, so neither the time taken nor the answer says which key, or how much of one, matched.
 */

/** Route patterns that never need a key: liveness, readiness, Prometheus. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** The challenge sent with every 401 (RFC 6750). */
export const WWW_AUTHENTICATE = 'Bearer realm="trainyard"';

/** `Bearer <token>`; the scheme is case-insensitive (RFC 7235), the token a b64token (RFC 6750). */
// The key part uses API_KEY_PATTERN's alphabet.
const BEARER = new RegExp(`^Bearer +(${API_KEY_PATTERN.source.slice(1, -1)}) *$`, 'i');

/** Log paths that could carry a key; the api's logger censors them whatever logs them. */
export const REDACTED_LOG_PATHS: readonly string[] = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
];

export type AuthVerdict = 'ok' | 'missing' | 'malformed' | 'invalid';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Checks `Authorization` header values against a fixed set of keys. */
export class ApiKeyVerifier {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  /** True when no key is configured: every request passes. */
  get open(): boolean {
    return this.digests.length === 0;
  }

  check(header: string | undefined): AuthVerdict {
    if (this.open) return 'ok';
    if (header === undefined || header.trim() === '') return 'missing';
    const match = BEARER.exec(header);
    if (!match) return 'malformed';
    const presented = digest(match[1]!);
    let found = false;
    // No early exit: every key is compared whatever matched.
    for (const known of this.digests) {
      if (timingSafeEqual(presented, known)) found = true;
    }
    return found ? 'ok' : 'invalid';
  }
}

const MESSAGES: Readonly<Record<Exclude<AuthVerdict, 'ok'>, string>> = {
  missing: 'An API key is required: send Authorization: Bearer <key>',
  malformed: 'The Authorization header must be Bearer <key>',
  invalid: 'The API key is not valid',
};

function isOpenRoute(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && OPEN_ROUTES.has(route);
}

export interface AuthOptions {
  /** Accepted keys; empty = every route is open (a warning is logged). */
  readonly apiKeys: readonly string[];
  readonly logger: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Adds the authentication hook (onRequest: before any body is read). A refusal is 401
 * TRAINYARD_ERR_UNAUTHENTICATED with `WWW-Authenticate`, answered by the error handler.
 */
export function registerAuth(app: FastifyInstance, options: AuthOptions): ApiKeyVerifier {
  const verifier = new ApiKeyVerifier(options.apiKeys);
  if (verifier.open) {
    options.logger.warn(
      'API_KEYS is not set: the api is open, every route answers anyone who can reach it (set API_KEYS outside local development)',
    );
    return verifier;
  }
  options.logger.info({ keys: options.apiKeys.length }, 'API-key authentication on');
  app.addHook('onRequest', async (request, reply) => {
    if (isOpenRoute(request)) return;
    const verdict = verifier.check(request.headers.authorization);
    if (verdict === 'ok') return;
    reply.header(
      'www-authenticate',
      verdict === 'missing' ? WWW_AUTHENTICATE : `${WWW_AUTHENTICATE}, error="invalid_token"`,
    );
    throw new TrainyardError(Errors.UNAUTHENTICATED, MESSAGES[verdict]);
  });
  return verifier;
}
