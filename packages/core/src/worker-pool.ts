import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { WorkerHeartbeat, WorkerRegistration } from './worker-info.js';

/** A worker as the scheduler sees it, from its registration, heartbeat and assignment. */
export interface PoolMember {
  readonly registration: WorkerRegistration;
  readonly heartbeat: WorkerHeartbeat | null;
  /** "jobId:generation:rank" the scheduler placed on it, or null. */
  readonly assignment: string | null;
}

export type MemberState = 'free' | 'busy' | 'lost';

export function memberState(m: PoolMember): MemberState {
  if (!m.heartbeat) return 'lost';
  return m.assignment === null && m.heartbeat.running === null ? 'free' : 'busy';
}

/** Reads the whole pool in three round trips. */
export async function readPool(redis: Redis, keys: Keys): Promise<PoolMember[]> {
  const [registrations, assignments] = await Promise.all([
    redis.hgetall(keys.workers()),
    redis.hgetall(keys.assignments()),
  ]);
  const ids = Object.keys(registrations).sort();
  if (ids.length === 0) return [];
  const beats = await redis.mget(ids.map((id) => keys.workerHeartbeat(id)));
  const members: PoolMember[] = [];
  ids.forEach((id, i) => {
    const reg = WorkerRegistration.safeParse(JSON.parse(registrations[id]!));
    if (!reg.success) return;
    const raw = beats[i];
    const hb = raw ? WorkerHeartbeat.safeParse(JSON.parse(raw)) : null;
    members.push({
      registration: reg.data,
      heartbeat: hb?.success ? hb.data : null,
      assignment: assignments[id] ?? null,
    });
  });
  return members;
}
