/**
 * Runs the benchmark's watchers in a worker thread, so that decoding their events (100 watchers
 * x every update) does not delay the updater's own responses on the main thread: an update's
 * "acknowledged" time would otherwise include the client's work on everybody's events.
 *
 * Each watcher is its own @kubernetes/client-node Watch (its own HTTPS connection). Receive
 * times are absolute (performance.timeOrigin + performance.now()) so the main thread can compare
 * them with its acknowledgement times.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KubeConfig, Watch, type V1ConfigMap } from '@kubernetes/client-node';

export interface WatchWorkerData {
  kubeconfigPath: string;
  path: string;
  resourceVersion: string;
  watchers: number;
}

export type WatchWorkerRequest = { type: 'await'; rvs: number[]; timeoutMs: number } | { type: 'collect' };
export type WatchWorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'awaited'; complete: boolean }
  | { type: 'collected'; watchers: { rvs: Float64Array; times: Float64Array }[]; errors: string[] };

const data = workerData as WatchWorkerData;
const port = parentPort!;
const now = () => performance.timeOrigin + performance.now();

const received: Map<number, number>[] = [];
const controllers: AbortController[] = [];
const errors: string[] = [];

async function start() {
  const kc = new KubeConfig();
  kc.loadFromFile(data.kubeconfigPath);
  const watch = new Watch(kc);
  await Promise.all(
    Array.from({ length: data.watchers }, async (_, w) => {
      const got = new Map<number, number>();
      received[w] = got;
      const ctrl = await watch.watch(
        data.path,
        { resourceVersion: data.resourceVersion },
        (type, obj: V1ConfigMap) => {
          const t = now();
          if (type === 'MODIFIED') got.set(Number(obj.metadata!.resourceVersion), t);
          else if (type === 'ERROR') errors.push(`watcher ${w}: ${JSON.stringify(obj).slice(0, 200)}`);
        },
        (err) => {
          if (err && (err as Error).name !== 'AbortError') errors.push(`watcher ${w} ended: ${(err as Error).message ?? String(err)}`);
        },
      );
      controllers.push(ctrl);
    }),
  );
}

port.on('message', async (msg: WatchWorkerRequest) => {
  if (msg.type === 'await') {
    const deadline = Date.now() + msg.timeoutMs;
    for (;;) {
      const complete = received.every((got) => msg.rvs.every((rv) => got.has(rv)));
      if (complete || Date.now() > deadline) {
        port.postMessage({ type: 'awaited', complete } satisfies WatchWorkerReply);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (msg.type === 'collect') {
    for (const c of controllers) c.abort();
    const watchers = received.map((got) => ({ rvs: Float64Array.from(got.keys()), times: Float64Array.from(got.values()) }));
    port.postMessage({ type: 'collected', watchers, errors } satisfies WatchWorkerReply);
  }
});

start().then(
  () => port.postMessage({ type: 'ready' } satisfies WatchWorkerReply),
  (e) => port.postMessage({ type: 'failed', error: String((e as Error)?.message ?? e) } satisfies WatchWorkerReply),
);
