/**
 * Watches the control benchmark's pods in a worker thread (one HTTPS watch, raw NDJSON, its own
 * connection) and records, per pod, when this client first saw it, first saw it bound
 * (spec.nodeName set) and first saw it Running. Decoding tens of thousands of pod events here
 * keeps the main thread free for the latency sampler, whose timings would otherwise include
 * this client's own backlog. Times are absolute (performance.timeOrigin + performance.now()).
 * A watch that ends (server timeout, dropped connection) is resumed from the last
 * resourceVersion seen.
 */
import { Agent, request } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

export interface PodWatchWorkerData {
  server: string;
  ca: string;
  cert: string;
  key: string;
  /** e.g. /api/v1/namespaces/bench/pods */
  path: string;
  resourceVersion: string;
}

export type PodWatchRequest = { type: 'progress' } | { type: 'collect' };
export interface PodWatchProgress {
  type: 'progress';
  seen: number;
  bound: number;
  running: number;
  events: number;
  restarts: number;
  errors: string[];
}
export type PodWatchReply =
  | { type: 'ready' }
  | PodWatchProgress
  | { type: 'collected'; created: Float64Array; bound: Float64Array; running: Float64Array; events: number; restarts: number; errors: string[] };

const data = workerData as PodWatchWorkerData;
const port = parentPort!;
const now = () => performance.timeOrigin + performance.now();

const seenAt = new Map<string, number>();
const boundAt = new Map<string, number>();
const runningAt = new Map<string, number>();
const errors: string[] = [];
let events = 0;
let restarts = 0;
let rv = data.resourceVersion;
let stopped = false;
let current: ReturnType<typeof request> | undefined;
const agent = new Agent({ ca: data.ca, cert: data.cert, key: data.key, keepAlive: true });

function onEvent(line: string): void {
  const ev = JSON.parse(line) as { type: string; object: { metadata?: { name?: string; resourceVersion?: string }; spec?: { nodeName?: string }; status?: { phase?: string } } & Record<string, unknown> };
  const t = now();
  events++;
  const o = ev.object;
  if (o?.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
  if (ev.type === 'BOOKMARK') return;
  if (ev.type === 'ERROR') {
    if (errors.length < 10) errors.push(JSON.stringify(o).slice(0, 300));
    // 410 Gone: nothing to resume from; the caller sees the error and the counts stop growing.
    return;
  }
  const name = o.metadata?.name;
  if (!name) return;
  if (!seenAt.has(name)) seenAt.set(name, t);
  if (o.spec?.nodeName && !boundAt.has(name)) boundAt.set(name, t);
  if (o.status?.phase === 'Running' && !runningAt.has(name)) runningAt.set(name, t);
}

function watch(): void {
  if (stopped) return;
  const url = new URL(`${data.path}?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`, data.server);
  const req = request(url, { agent, method: 'GET', headers: { accept: 'application/json' } }, (res) => {
    if (res.statusCode !== 200) {
      if (errors.length < 10) errors.push(`watch HTTP ${res.statusCode}`);
    }
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) {
          try {
            onEvent(line);
          } catch (e) {
            if (errors.length < 10) errors.push(`bad watch line: ${(e as Error).message}`);
          }
        }
      }
    });
    res.on('end', () => {
      if (stopped) return;
      restarts++;
      setTimeout(watch, 100);
    });
    res.on('error', () => {});
  });
  req.on('error', (e) => {
    if (stopped) return;
    if (errors.length < 10) errors.push(`watch request: ${e.message}`);
    restarts++;
    setTimeout(watch, 500);
  });
  req.end();
  current = req;
}

port.on('message', (msg: PodWatchRequest) => {
  if (msg.type === 'progress') {
    port.postMessage({ type: 'progress', seen: seenAt.size, bound: boundAt.size, running: runningAt.size, events, restarts, errors: errors.slice() } satisfies PodWatchReply);
    return;
  }
  if (msg.type === 'collect') {
    stopped = true;
    current?.destroy();
    agent.destroy();
    // Per pod, in one order: [created, bound, running] (NaN when never seen).
    const names = [...seenAt.keys()];
    const pick = (m: Map<string, number>) => Float64Array.from(names, (n) => m.get(n) ?? NaN);
    port.postMessage({ type: 'collected', created: pick(seenAt), bound: pick(boundAt), running: pick(runningAt), events, restarts, errors } satisfies PodWatchReply);
  }
});

watch();
port.postMessage({ type: 'ready' } satisfies PodWatchReply);
