/**
 * A watch on the pods of one namespace, in the benchmark process, recording for every pod the
 * first moment (wall clock, ms) it was seen at all, bound to a node, Running, and Ready. These
 * are the "observed via watch" times of the Kubernetes pod startup SLI, with the benchmark's
 * millisecond clock instead of the API's one-second timestamps. The last object seen of each pod
 * is kept too (for its own timestamps, uid and node).
 */
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import type { BenchClient } from './kube.js';

export interface BenchPod {
  metadata: { name: string; uid?: string; creationTimestamp?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { name: string; state?: { running?: { startedAt?: string } } }[];
  };
}

export interface PodTimes {
  /** The create call's response, or the first watch event, whichever came first. */
  created?: number;
  bound?: number;
  running?: number;
  ready?: number;
  deletedAt?: number;
  last?: BenchPod;
}

/** Absolute wall-clock ms with sub-ms precision (the same clock as Date.now()). */
export const wallNow = () => performance.timeOrigin + performance.now();

const isReady = (p: BenchPod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export class PodTimeline {
  readonly pods = new Map<string, PodTimes>();
  readonly errors: string[] = [];
  restarts = 0;
  private rv = '';
  private stopped = false;
  private current?: ClientRequest;

  private constructor(
    private readonly client: BenchClient,
    private readonly namespace: string,
  ) {}

  /** Lists the namespace's pods (their times count from now), then watches from that list. */
  static async start(client: BenchClient, namespace: string): Promise<PodTimeline> {
    const t = new PodTimeline(client, namespace);
    const res = await client.rawGet(`/api/v1/namespaces/${namespace}/pods`);
    if (res.status !== 200) throw new Error(`list pods in ${namespace}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`);
    const list = JSON.parse(res.body.toString()) as { metadata: { resourceVersion: string }; items: BenchPod[] };
    for (const p of list.items) t.observe(p, wallNow());
    t.rv = list.metadata.resourceVersion;
    t.watch();
    return t;
  }

  /** The create call for `name` returned at `at`. */
  markCreated(name: string, at: number): void {
    const e = this.entry(name);
    if (e.created === undefined || at < e.created) e.created = at;
  }

  counts(names?: Iterable<string>): { seen: number; running: number; ready: number; gone: number } {
    const c = { seen: 0, running: 0, ready: 0, gone: 0 };
    const entries = names ? [...names].map((n) => this.pods.get(n)).filter((e): e is PodTimes => !!e) : [...this.pods.values()];
    for (const e of entries) {
      if (e.last) c.seen++;
      if (e.running !== undefined) c.running++;
      if (e.ready !== undefined) c.ready++;
      if (e.deletedAt !== undefined) c.gone++;
    }
    return c;
  }

  stop(): void {
    this.stopped = true;
    this.current?.destroy();
  }

  private entry(name: string): PodTimes {
    let e = this.pods.get(name);
    if (!e) this.pods.set(name, (e = {}));
    return e;
  }

  private observe(p: BenchPod, t: number, deleted = false): void {
    const e = this.entry(p.metadata.name);
    e.last = p;
    if (e.created === undefined || t < e.created) e.created = t;
    if (p.spec?.nodeName && e.bound === undefined) e.bound = t;
    if (p.status?.phase === 'Running' && e.running === undefined) e.running = t;
    if (isReady(p) && e.ready === undefined) e.ready = t;
    if (deleted) e.deletedAt = t;
  }

  private onLine(line: string): void {
    const t = wallNow();
    const ev = JSON.parse(line) as { type: string; object: BenchPod & { code?: number } };
    if (ev.type === 'BOOKMARK') {
      if (ev.object.metadata?.resourceVersion) this.rv = ev.object.metadata.resourceVersion;
      return;
    }
    if (ev.type === 'ERROR') {
      if (this.errors.length < 10) this.errors.push(JSON.stringify(ev.object).slice(0, 300));
      // 410 Gone: the next watch starts from "now" (the server replays current pods as ADDED).
      if (ev.object.code === 410) this.rv = '';
      return;
    }
    if (ev.object.metadata?.resourceVersion) this.rv = ev.object.metadata.resourceVersion;
    this.observe(ev.object, t, ev.type === 'DELETED');
  }

  private watch(): void {
    if (this.stopped) return;
    const url = new URL(`/api/v1/namespaces/${this.namespace}/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(this.rv)}`, this.client.server);
    const req = request(url, { agent: this.client.agent, method: 'GET', headers: { accept: 'application/json' } }, (res) => {
      if (res.statusCode !== 200 && this.errors.length < 10) this.errors.push(`watch HTTP ${res.statusCode}`);
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          try {
            this.onLine(line);
          } catch (e) {
            if (this.errors.length < 10) this.errors.push(`bad watch line: ${(e as Error).message}`);
          }
        }
      });
      res.on('end', () => this.reconnect(100));
      res.on('error', () => undefined);
    });
    req.on('error', (e) => {
      if (!this.stopped && this.errors.length < 10) this.errors.push(`watch request: ${e.message}`);
      this.reconnect(500);
    });
    req.end();
    this.current = req;
  }

  private reconnect(ms: number): void {
    if (this.stopped) return;
    this.restarts++;
    setTimeout(() => this.watch(), ms);
  }
}
