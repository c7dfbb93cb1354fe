import { Worker } from 'node:worker_threads';

/** What the heartbeat thread (heartbeat-thread.mjs) is started with. */
export interface HeartbeatThreadData {
  readonly redisUrl: string;
  readonly workerId: string;
  readonly workersKey: string;
  readonly heartbeatKey: string;
  /** Registration JSON. */
  readonly registration: string;
  readonly intervalMs: number;
  readonly ttlMs: number;
}

type HeartbeatCommand =
  | { readonly type: 'running'; readonly value: string | null }
  | { readonly type: 'stop'; readonly deregister: boolean };

/** The worker's liveness, kept by a thread of its own (heartbeat-thread.ts). */
export interface Heartbeat {
  /** Sets what the heartbeat reports as running ("jobId:generation:rank" or null) and beats at once. */
  setRunning(value: string | null): Promise<void>;
  /** Stops beating; with `deregister`, removes the registration and heartbeat. Idempotent. */
  stop(deregister: boolean): Promise<void>;
}

/**
 * Starts the heartbeat thread and resolves after its first beat. `onFailure` is called if
 * the thread dies later: the worker can no longer show it is alive and should stop.
 */
export async function startHeartbeat(
  data: HeartbeatThreadData,
  onFailure: (err: Error) => void = () => {},
): Promise<Heartbeat> {
  const thread = new Worker(new URL('./heartbeat-thread.mjs', import.meta.url), { workerData: data });
  thread.unref();
  const waiting = new Map<number, () => void>();
  let seq = 0;
  let failure: Error | null = null;
  let stopping = false;
  thread.on('message', (m: { seq: number }) => {
    waiting.get(m.seq)?.();
    waiting.delete(m.seq);
  });
  const settleAll = () => {
    for (const done of waiting.values()) done();
    waiting.clear();
  };
  let started = false;
  const first = new Promise<void>((resolve, reject) => {
    waiting.set(0, () => {
      started = true;
      resolve();
    });
    thread.once('error', reject);
    thread.once('exit', (code) =>
      reject(new Error(`the heartbeat thread exited with code ${code} before its first beat`)),
    );
  });
  thread.on('error', (err) => {
    failure = err;
    settleAll();
  });
  thread.on('exit', (code) => {
    settleAll();
    if (started && !stopping)
      onFailure(failure ?? new Error(`the heartbeat thread exited with code ${code}`));
  });
  const send = (msg: HeartbeatCommand): Promise<void> =>
    new Promise((resolve) => {
      if (failure) return resolve();
      const id = ++seq;
      waiting.set(id, resolve);
      thread.postMessage({ ...msg, seq: id });
    });
  await first;
  let stopped: Promise<void> | null = null;
  return {
    setRunning: (value) => send({ type: 'running', value }),
    stop(deregister) {
      stopping = true;
      stopped ??= send({ type: 'stop', deregister }).then(async () => {
        await thread.terminate();
      });
      return stopped;
    },
  };
}
