import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Errors, TrainyardError } from './errors.js';
import { type JobEvent, JobRecord, type RankPlacement } from './job-record.js';
import type { JobSpec } from './job-spec.js';
import { isTerminal, type JobState, TRANSITIONS } from './job-state.js';
import type { Keys } from './keys.js';
import { LuaScript } from './lua-script.js';

/**
 * The job record in Redis, and every change to it. Each change is one Lua script that
 * checks the current state, writes the fields, and appends an event to the job's
 * stream, so a record and its events never disagree. Changes are idempotent: a
 * transition into the state the job is already in changes nothing and reports NOOP.
 */

/** Return codes shared by every script below. */
export enum StoreResult {
  OK = 1,
  NOOP = 0,
  WRONG_STATE = -1,
  NOT_FOUND = -2,
  STALE_GENERATION = -3,
  WORKER_BUSY = -4,
  IDEMPOTENT_REPLAY = 2,
  IDEMPOTENCY_CONFLICT = -5,
}

/** Fields stored as plain strings; all others are stored as JSON. */
const RAW_FIELDS = new Set(['id', 'tenant', 'state', 'generation', 'createdAt', 'updatedAt']);
const EVENTS_MAXLEN = 100_000;

// KEYS: 1 idempotency key ('' slot unused when ARGV[5] == '0'), 2 job hash, 3 events stream, 4 job index
// ARGV: 1 jobId, 2 now(ms), 3 event JSON, 4 spec hash, 5 has idempotency key '1'|'0',
//       6 idempotency TTL seconds, 7 events maxlen, 8.. field/value pairs
// Returns: {0, jobId} created | {2, firstJobId} replay | {-5, firstJobId} conflict
const CREATE = new LuaScript(
  'job-create',
  `
if ARGV[5] == '1' then
  local prior = redis.call('GET', KEYS[1])
  if prior then
    local sep = string.find(prior, ' ', 1, true)
    local id = string.sub(prior, 1, sep - 1)
    if string.sub(prior, sep + 1) ~= ARGV[4] then return {-5, id} end
    return {2, id}
  end
end
redis.call('HSET', KEYS[2], unpack(ARGV, 8))
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[3])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[4], 'EX', ARGV[6])
end
return {0, ARGV[1]}
`,
);

// KEYS: 1 job hash, 2 events stream
// ARGV: 1 target state ('' = stay, a patch), 2 allowed current states (comma list),
//       3 expected generation ('' = any), 4 event JSON ('' = none), 5 events maxlen, 6.. field/value pairs
// Returns: {1, state} applied | {0, state} already in target | {-1, state} wrong state
//          | {-2, ''} no such job | {-3, state} generation differs
const CHANGE = new LuaScript(
  'job-change',
  `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-2, ''} end
if ARGV[1] ~= '' and state == ARGV[1] then return {0, state} end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == state then allowed = true end
end
if not allowed then return {-1, state} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'generation') ~= ARGV[3] then return {-3, state} end
if #ARGV >= 6 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[1]) end
if ARGV[4] ~= '' then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[4]) end
if ARGV[1] ~= '' then return {1, ARGV[1]} end
return {1, state}
`,
);

// KEYS: 1 job hash, 2 events stream, 3 pending set, 4 assignments hash
// ARGV: 1 jobId, 2 now ISO, 3 placement JSON, 4 events maxlen, 5 world size W,
//       6..5+W worker ids (rank order)
// Returns: {1, generation} placed | {-1, state} not QUEUED/RESTARTING (removed from pending)
//          | {-2, ''} no such job | {-4, workerId} a worker already holds a rank
const PLACE = new LuaScript(
  'job-place',
  `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then redis.call('ZREM', KEYS[3], ARGV[1]); return {-2, ''} end
if state ~= 'QUEUED' and state ~= 'RESTARTING' then redis.call('ZREM', KEYS[3], ARGV[1]); return {-1, state} end
local w = tonumber(ARGV[5])
for i = 1, w do
  if redis.call('HEXISTS', KEYS[4], ARGV[5 + i]) == 1 then return {-4, ARGV[5 + i]} end
end
local gen = tonumber(redis.call('HGET', KEYS[1], 'generation')) + 1
for i = 1, w do
  redis.call('HSET', KEYS[4], ARGV[5 + i], ARGV[1] .. ':' .. gen .. ':' .. (i - 1))
end
redis.call('HSET', KEYS[1], 'state', 'PLACED', 'generation', gen, 'placement', ARGV[3],
  'placedAt', cjson.encode(ARGV[2]), 'updatedAt', ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
local event = cjson.encode({type = 'state', ts = ARGV[2], state = 'PLACED', generation = gen})
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', event)
return {1, tostring(gen)}
`,
);

// KEYS: 1 job hash, 2 events stream, 3 pending set, 4 restart counts hash (code -> n),
//       5 failure counts hash (code -> n)
// ARGV: 1 jobId, 2 failed generation, 3 now ISO, 4 restart entry JSON, 5 failure JSON,
//       6 events maxlen, 7 retryable '1'|'0', 8 now (ms), 9 counts against maxRestarts '1'|'0',
//       10 backoff base (ms), 11 backoff cap (ms)
// A counted restart waits base * 2^(counted restarts before it), at most the cap, before the
// scheduler may place it: `notBefore` on the record, in Redis' own clock (TIME), so no host's
// clock skew shortens or stretches it; an uncounted one (a drain) does not wait. The pending
// score stays the caller's time: it only orders the queue.
// Returns: {1, 'RESTARTING'|'FAILED'} applied | {0, state} this generation already ended
//          | {-2, ''} no such job | {-3, state} another generation is current
const FAIL_GENERATION = new LuaScript(
  'job-fail-generation',
  `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-2, ''} end
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[2] then return {-3, state} end
if state ~= 'PLACED' and state ~= 'RUNNING' then return {0, state} end
local spec = cjson.decode(redis.call('HGET', KEYS[1], 'spec'))
local restarts = cjson.decode(redis.call('HGET', KEYS[1], 'restarts') or '[]')
local entry = cjson.decode(ARGV[4])
local gen = tonumber(ARGV[2])
local counted = 0
for _, r in ipairs(restarts) do
  if r.counted ~= false then counted = counted + 1 end
end
local target = 'FAILED'
if ARGV[7] == '1' and (ARGV[9] == '0' or counted < (tonumber(spec.maxRestarts) or 0)) then target = 'RESTARTING' end
local event = {type = 'state', ts = ARGV[3], state = target, generation = gen, reason = entry.reason}
if target == 'RESTARTING' then
  local delay = 0
  if ARGV[9] == '1' then delay = math.min(tonumber(ARGV[10]) * (2 ^ counted), tonumber(ARGV[11])) end
  local t = redis.call('TIME')
  local notBefore = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + delay
  entry.delayMs = delay
  table.insert(restarts, entry)
  redis.call('HSET', KEYS[1], 'state', target, 'restarts', cjson.encode(restarts), 'updatedAt', ARGV[3],
    'notBefore', string.format('%d', notBefore))
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
  redis.call('HINCRBY', KEYS[4], entry.code, 1)
else
  if counted > 0 then
    event.reason = entry.reason .. ' (after ' .. counted .. ' restart(s) of at most ' .. (tonumber(spec.maxRestarts) or 0) .. ')'
  end
  redis.call('HSET', KEYS[1], 'state', target, 'error', ARGV[5], 'endedAt', cjson.encode(ARGV[3]), 'updatedAt', ARGV[3])
  redis.call('HINCRBY', KEYS[5], entry.code, 1)
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'e', cjson.encode(event))
return {1, target}
`,
);

/**
 * Restart backoff: the n-th counted restart of a job (n = 0, 1, ...) is placed no sooner than
 * base * 2^n after its failure, at most the cap, so a failure that persists for a while (an
 * object store or a node down) does not burn every restart in a second.
 */
export const RESTART_BACKOFF_BASE_MS = 1_000;
export const RESTART_BACKOFF_CAP_MS = 30_000;

/** Why a generation failed, for failGeneration. */
export interface GenerationFailure {
  readonly code: string;
  readonly message: string;
  readonly rank: number | null;
  readonly workerId: string | null;
  /** False for failures a restart cannot cure (bad data, NaN, diverging ranks): the job fails at once. */
  readonly retryable: boolean;
  /** False for a planned stop (a worker draining): restarts it anyway and does not count it. */
  readonly counted?: boolean;
}

export interface CreateResult {
  readonly job: JobRecord;
  readonly created: boolean;
}

export interface ChangeResult {
  readonly result: StoreResult;
  readonly state: JobState | null;
}

export interface ChangeOptions {
  /** Target state; omit for a patch that keeps the state. */
  readonly to?: JobState;
  /** States the job may be in for the change to apply; defaults to the target's predecessors. */
  readonly from?: readonly JobState[];
  readonly generation?: number;
  readonly patch?: Partial<Omit<JobRecord, 'id' | 'tenant' | 'state' | 'generation' | 'spec' | 'createdAt'>>;
  /** Event appended with the change; a state change appends a 'state' event when none is given. */
  readonly event?: JobEvent | null;
  readonly reason?: string;
}

export interface PlaceResult {
  readonly result: StoreResult;
  readonly generation?: number;
  readonly state?: string;
  readonly busyWorker?: string;
}

export interface EventEntry {
  readonly id: string;
  readonly event: JobEvent;
}

export function specHash(spec: JobSpec): string {
  return createHash('sha256').update(stableStringify(spec)).digest('hex');
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function encodeFields(fields: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out.push(k, RAW_FIELDS.has(k) ? String(v) : JSON.stringify(v));
  }
  return out;
}

function decodeRecord(hash: Record<string, string>): JobRecord {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hash)) {
    if (k === 'generation') obj[k] = Number(v);
    else obj[k] = RAW_FIELDS.has(k) ? v : JSON.parse(v);
  }
  return JobRecord.parse(obj);
}

export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(
    spec: JobSpec,
    options: { tenant?: string; idempotencyKey?: string; idempotencyTtlSec?: number } = {},
  ): Promise<CreateResult> {
    const tenant = options.tenant ?? 'default';
    const id = `job-${randomUUID()}`;
    const ts = this.now().toISOString();
    const record: JobRecord = {
      id,
      tenant,
      state: 'QUEUED',
      generation: 0,
      spec,
      placement: null,
      backends: null,
      progress: null,
      checkpoints: [],
      evaluation: null,
      error: null,
      restarts: [],
      createdAt: ts,
      updatedAt: ts,
      placedAt: null,
      startedAt: null,
      endedAt: null,
    };
    const event: JobEvent = { type: 'state', ts, state: 'QUEUED', generation: 0 };
    const idem = options.idempotencyKey;
    const reply = (await CREATE.run(
      this.redis,
      [
        idem ? this.keys.idempotency(tenant, idem) : this.keys.job(id),
        this.keys.job(id),
        this.keys.jobEvents(id),
        this.keys.jobIndex(),
      ],
      [
        id,
        Date.parse(ts),
        JSON.stringify(event),
        specHash(spec),
        idem ? '1' : '0',
        options.idempotencyTtlSec ?? 86_400,
        EVENTS_MAXLEN,
        ...encodeFields(record as unknown as Record<string, unknown>),
      ],
    )) as [number, string];
    const [code, jobId] = reply;
    if (code === StoreResult.IDEMPOTENCY_CONFLICT) {
      throw new TrainyardError(Errors.IDEMPOTENCY_CONFLICT, undefined, { details: { jobId } });
    }
    if (code === StoreResult.IDEMPOTENT_REPLAY) {
      const first = await this.get(jobId);
      if (!first)
        throw new TrainyardError(Errors.JOB_NOT_FOUND, `job ${jobId} named by the Idempotency-Key is gone`);
      return { job: first, created: false };
    }
    return { job: record, created: true };
  }

  async get(jobId: string): Promise<JobRecord | null> {
    const hash = await this.redis.hgetall(this.keys.job(jobId));
    if (!hash || Object.keys(hash).length === 0) return null;
    return decodeRecord(hash);
  }

  async mustGet(jobId: string): Promise<JobRecord> {
    const job = await this.get(jobId);
    if (!job) throw new TrainyardError(Errors.JOB_NOT_FOUND, `no job has id ${jobId}`);
    return job;
  }

  async getState(jobId: string): Promise<{ state: JobState; generation: number } | null> {
    const [state, generation] = await this.redis.hmget(this.keys.job(jobId), 'state', 'generation');
    if (!state) return null;
    return { state: state as JobState, generation: Number(generation) };
  }

  /** Newest first. */
  async list(options: { limit?: number; state?: JobState } = {}): Promise<JobRecord[]> {
    const limit = options.limit ?? 100;
    const ids = await this.redis.zrevrange(this.keys.jobIndex(), 0, options.state ? 999 : limit - 1);
    const jobs: JobRecord[] = [];
    for (const id of ids) {
      const job = await this.get(id);
      if (job && (!options.state || job.state === options.state)) jobs.push(job);
      if (jobs.length >= limit) break;
    }
    return jobs;
  }

  /** One atomic, checked change of the record (a state transition, a patch, or both). */
  async change(jobId: string, options: ChangeOptions): Promise<ChangeResult> {
    const ts = this.now().toISOString();
    const from = options.from ?? (options.to ? TRANSITIONS[options.to] : []);
    const patch: Record<string, unknown> = { ...options.patch, updatedAt: ts };
    if (options.to && isTerminal(options.to) && patch.endedAt === undefined) patch.endedAt = ts;
    if (options.to === 'RUNNING' && patch.startedAt === undefined) patch.startedAt = ts;
    let event = options.event;
    if (event === undefined && options.to) {
      const generation = options.generation ?? (await this.getState(jobId))?.generation ?? 0;
      event = {
        type: 'state',
        ts,
        state: options.to,
        generation,
        ...(options.reason ? { reason: options.reason } : {}),
      };
    }
    const reply = (await CHANGE.run(
      this.redis,
      [this.keys.job(jobId), this.keys.jobEvents(jobId)],
      [
        options.to ?? '',
        from.join(','),
        options.generation === undefined ? '' : String(options.generation),
        event ? JSON.stringify(event) : '',
        EVENTS_MAXLEN,
        ...encodeFields(patch),
      ],
    )) as [number, string];
    return { result: reply[0] as StoreResult, state: (reply[1] || null) as JobState | null };
  }

  /** Appends an event without touching the record (e.g. a log line). */
  async appendEvent(jobId: string, event: JobEvent): Promise<void> {
    await this.redis.xadd(
      this.keys.jobEvents(jobId),
      'MAXLEN',
      '~',
      EVENTS_MAXLEN,
      '*',
      'e',
      JSON.stringify(event),
    );
  }

  /**
   * Ends a failed generation in one atomic step: the job goes RESTARTING (listed in its
   * restarts, back in the pending set for the scheduler to place as generation + 1) while
   * it has restarts left and the failure is retryable, else FAILED with the failure as its
   * error. Only the first report of a generation counts; later ones change nothing.
   */
  async failGeneration(jobId: string, generation: number, failure: GenerationFailure): Promise<ChangeResult> {
    const now = this.now();
    const at = now.toISOString();
    const reason =
      `${failure.code}: ${failure.message}` +
      (failure.rank === null
        ? ''
        : ` (rank ${failure.rank}${failure.workerId ? ` on ${failure.workerId}` : ''})`);
    const reply = (await FAIL_GENERATION.run(
      this.redis,
      [
        this.keys.job(jobId),
        this.keys.jobEvents(jobId),
        this.keys.pending(),
        this.keys.restartCounts(),
        this.keys.failureCounts(),
      ],
      [
        jobId,
        String(generation),
        at,
        JSON.stringify({
          generation,
          at,
          code: failure.code,
          reason,
          rank: failure.rank,
          workerId: failure.workerId,
          counted: failure.counted ?? true,
        }),
        JSON.stringify({
          code: failure.code,
          message: failure.message,
          rank: failure.rank,
          workerId: failure.workerId,
        }),
        EVENTS_MAXLEN,
        failure.retryable ? '1' : '0',
        now.getTime(),
        failure.counted === false ? '0' : '1',
        RESTART_BACKOFF_BASE_MS,
        RESTART_BACKOFF_CAP_MS,
      ],
    )) as [number, string];
    return { result: reply[0] as StoreResult, state: (reply[1] || null) as JobState | null };
  }

  /** Places a QUEUED or RESTARTING job on the given workers (rank i on workerIds[i]) as its next generation. */
  async place(jobId: string, workerIds: readonly string[]): Promise<PlaceResult> {
    const placement: RankPlacement[] = workerIds.map((workerId, rank) => ({ rank, workerId }));
    const reply = (await PLACE.run(
      this.redis,
      [this.keys.job(jobId), this.keys.jobEvents(jobId), this.keys.pending(), this.keys.assignments()],
      [
        jobId,
        this.now().toISOString(),
        JSON.stringify(placement),
        EVENTS_MAXLEN,
        workerIds.length,
        ...workerIds,
      ],
    )) as [number, string];
    const [code, value] = reply;
    if (code === StoreResult.OK) return { result: code, generation: Number(value) };
    if (code === StoreResult.WORKER_BUSY) return { result: code, busyWorker: value };
    return { result: code as StoreResult, state: value };
  }

  /**
   * Reads events after `afterId` ('0' = from the start). With `blockMs` the call waits
   * for new events up to that long; give it a connection of its own, since it blocks.
   */
  async readEvents(
    jobId: string,
    afterId: string,
    options: { count?: number; blockMs?: number; connection?: Redis } = {},
  ): Promise<EventEntry[]> {
    const conn = options.connection ?? this.redis;
    const key = this.keys.jobEvents(jobId);
    const count = options.count ?? 500;
    const reply =
      options.blockMs === undefined
        ? await conn.xread('COUNT', count, 'STREAMS', key, afterId)
        : await conn.xread('COUNT', count, 'BLOCK', options.blockMs, 'STREAMS', key, afterId);
    if (!reply) return [];
    const entries: EventEntry[] = [];
    for (const [, messages] of reply) {
      for (const [id, fields] of messages) {
        const idx = fields.indexOf('e');
        if (idx >= 0 && fields[idx + 1] !== undefined)
          entries.push({ id, event: JSON.parse(fields[idx + 1]!) });
      }
    }
    return entries;
  }
}
