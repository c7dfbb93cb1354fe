// @ts-check
/**
 * Runs in a worker thread (see heartbeat.ts): writes the worker's registration and
 * heartbeat every interval on a Redis connection of its own, so a training step that
 * holds the main thread's event loop for minutes does not make the worker look dead.
 * The registration is rewritten with every beat, so a worker forgotten by the scheduler, or
 * a Redis restarted empty, sees the worker again within one interval.
 *
 * Plain JavaScript: Node 20 does not run the main thread's TypeScript loader in threads.
 * Messages in: { type: 'running', value, seq } | { type: 'stop', deregister, seq };
 * out: { seq } once each is done (seq 0 after the first beat).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';

/** @type {{ redisUrl: string, workerId: string, workersKey: string, heartbeatKey: string, registration: string, intervalMs: number, ttlMs: number }} */
const data = workerData;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const redis = new Redis(data.redisUrl, {
  connectionName: `worker-${data.workerId}-heartbeat`,
  maxRetriesPerRequest: 1,
  retryStrategy: (times) => Math.min(100 * times, 2000),
});
redis.on('error', () => {});
/** @type {string | null} */
let running = null;

async function beat() {
  const hb = JSON.stringify({ workerId: data.workerId, ts: new Date().toISOString(), running });
  await redis
    .multi()
    .hset(data.workersKey, data.workerId, data.registration)
    .set(data.heartbeatKey, hb, 'PX', data.ttlMs)
    .exec();
}

const timer = setInterval(() => {
  beat().catch(() => {});
}, data.intervalMs);

port.on('message', (msg) => {
  void (async () => {
    if (msg.type === 'running') {
      running = msg.value;
      await beat().catch(() => {});
    } else {
      clearInterval(timer);
      if (msg.deregister) {
        await redis
          .multi()
          .hdel(data.workersKey, data.workerId)
          .del(data.heartbeatKey)
          .exec()
          .catch(() => {});
      }
      redis.disconnect();
    }
    port.postMessage({ seq: msg.seq });
    if (msg.type === 'stop') port.close();
  })();
});

beat()
  .catch(() => {})
  .finally(() => port.postMessage({ seq: 0 }));
