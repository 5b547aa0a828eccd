/**
 * Helpers for workload controller tests: an admin client over the in-process transport, a
 * stand-in kubelet that makes unscheduled pods Running and Ready after a delay (until the
 * simulated nodes can do it), polling waits, and the real kubectl with its own cache dir.
 */
import { execFile } from 'node:child_process';
import { Client, InProcessTransport, isConflict, isNotFound, type ResourceRef } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import type { TestServer } from './server.js';
export { until } from './until.js';

export const ADMIN = { name: 'test-admin', groups: ['system:masters', 'system:authenticated'] };
export const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
export const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };
export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };

export const adminClient = (server: TestServer) => new Client(new InProcessTransport(server.handler, ADMIN));

export async function createNamespace(client: Client, name: string): Promise<void> {
  await client.resource(NAMESPACES).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

const nowTime = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Marks a pod Running and Ready, as a kubelet would once its containers started. */
export async function markPodReady(client: Client, pod: KubeObject): Promise<void> {
  const pods = client.resource(PODS);
  let cur = pod;
  for (let attempt = 0; attempt < 5; attempt++) {
    const t = nowTime();
    const containers = ((cur.spec as { containers?: { name: string; image?: string }[] })?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: t } },
    }));
    const status = {
      ...((cur.status as object) ?? {}),
      phase: 'Running',
      podIP: '10.244.0.10',
      startTime: t,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: t })),
      containerStatuses: containers,
    };
    try {
      await pods.updateStatus({ ...cur, status });
      return;
    } catch (e) {
      if (isNotFound(e)) return;
      if (!isConflict(e)) throw e;
      try {
        cur = await pods.get(cur.metadata.name!, cur.metadata.namespace);
      } catch (g) {
        if (isNotFound(g)) return;
        throw g;
      }
      if (cur.metadata.deletionTimestamp) return;
    }
  }
}

export interface FakeKubelet {
  stop(): Promise<void>;
}

/**
 * Plays kubelet for one namespace: every new pod (not being deleted, and not refused by `skip`)
 * becomes Running and Ready after `delayMs` (a number or a function for jitter).
 */
export function startFakeKubelet(client: Client, namespace: string, opts: { delayMs?: number | (() => number); skip?: (pod: KubeObject) => boolean } = {}): FakeKubelet {
  const ac = new AbortController();
  const seen = new Set<string>();
  const pending = new Set<Promise<void>>();
  const delay = () => (typeof opts.delayMs === 'function' ? opts.delayMs() : (opts.delayMs ?? 30));
  const pods = client.resource(PODS);
  const handle = (pod: KubeObject) => {
    const uid = pod.metadata.uid!;
    if (seen.has(uid) || pod.metadata.deletionTimestamp || opts.skip?.(pod)) return;
    if ((pod.status as { phase?: string } | undefined)?.phase === 'Running') return;
    seen.add(uid);
    const p = new Promise<void>((r) => setTimeout(r, delay()))
      .then(() => (ac.signal.aborted ? undefined : markPodReady(client, pod)))
      .catch(() => {})
      .finally(() => pending.delete(p));
    pending.add(p);
  };
  const loop = (async () => {
    while (!ac.signal.aborted) {
      try {
        const list = await pods.list({ namespace });
        for (const p of list.items) handle(p);
        for await (const ev of pods.watch({ namespace, resourceVersion: list.metadata.resourceVersion, signal: ac.signal })) {
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') handle(ev.object as KubeObject);
        }
      } catch {
        if (!ac.signal.aborted) await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  return {
    async stop() {
      ac.abort();
      await loop;
      await Promise.all([...pending]);
    },
  };
}

export interface KubectlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The machine's kubectl against `server`, with its own cache dir; argument arrays only. */
export function kubectl(server: TestServer, cacheDir: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<KubectlRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args],
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20, env: { ...process.env, KUBECONFIG: '' } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}
