/**
 * The agent's pod loop: a pod informer scoped to this node feeds a work queue keyed by pod uid;
 * one reconcile per uid at a time decides between sync (a live pod), terminate (deletion
 * requested) and cleanup (gone from the API, or left on disk by a previous run). Container exits
 * wake the pod at once (inotify on the runtime's state dirs); everything else is re-checked
 * every few seconds, so a missed signal only delays, never loses, a change.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { type Client, finalStateOf, type Informer, isConflict, isNotFound, type Logger, runController, type RunningController, WorkQueue } from '../../client/index.js';
import type { RuncRuntime } from '../runtime/container-runtime.js';
import type { Pod, PodStatus } from './api-types.js';
import { instanceOf, type PodRecords } from './pod-records.js';
import type { PodSyncer } from './pod-syncer.js';
import { conflicts, hostPortsOf, type HostPortMapping, type HostPorts } from './host-ports.js';
import type { EventSink } from './image-puller.js';
import type { ContainerHandle, StreamingBackend } from '../server/backend.js';
import { dialPodPort } from '../server/port-forward.js';

export const PODS = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' } as const;

export interface PodManagerOptions {
  client: Client;
  pods: Informer<Pod>;
  runtime: RuncRuntime;
  records: PodRecords;
  syncer: PodSyncer;
  hostPorts: HostPorts;
  event: EventSink;
  logger: Logger;
  /** The network namespace a pod's containers are in (for messages). */
  netnsPath: (pod: Pod) => string;
  workers?: number;
}

const UID_INDEX = 'uid';

export class PodManager implements StreamingBackend {
  private readonly queue = new WorkQueue<string>();
  private controller?: RunningController;
  private stopWatching?: () => void;
  /** The status last posted per pod uid, as JSON. */
  private readonly lastPosted = new Map<string, string>();
  /** Pod uids refused at admission (a hostPort conflict), with the reason. */
  private readonly rejected = new Map<string, string>();

  constructor(private readonly o: PodManagerOptions) {
    o.pods.addIndexers({ [UID_INDEX]: (p) => (p.metadata.uid ? [p.metadata.uid] : []) });
  }

  async start(signal: AbortSignal): Promise<void> {
    const { pods } = this.o;
    pods.addEventHandler({
      onAdd: (p) => this.enqueue(p),
      onUpdate: (_o, p) => this.enqueue(p),
      onDelete: (p) => this.enqueue(finalStateOf(p)),
    });
    pods.start();
    await pods.waitForSync(signal);
    // Leftovers of a previous run: pods on disk or in the runtime that the API no longer has
    // are queued too, and cleaned up by the reconcile.
    for (const uid of await this.o.records.podUidsOnDisk()) this.queue.add(uid);
    for (const st of await this.o.runtime.list()) {
      const inst = instanceOf(st);
      if (inst) this.queue.add(inst.podUid);
    }
    this.watchExits();
    this.controller = runController({
      name: 'pods',
      queue: this.queue,
      reconcile: (uid) => this.reconcile(uid),
      workers: this.o.workers ?? 8,
      signal,
      logger: this.o.logger,
    });
  }

  async stop(): Promise<void> {
    this.stopWatching?.();
    await this.controller?.stop();
  }

  /** Re-syncs a pod soon (a probe result changed, a container ended). */
  wake(uid: string): void {
    this.queue.add(uid);
  }

  private enqueue(p: Pod): void {
    if (p.metadata.uid) this.queue.add(p.metadata.uid);
  }

  private podByUid(uid: string): Pod | undefined {
    return this.o.pods.store.byIndex(UID_INDEX, uid)[0];
  }

  /**
   * Wakes a pod when one of its containers writes its exit record. fs.watch is not recursive on
   * Linux in Node 20, so the runtime's containers dir is watched for new containers and each
   * live one's state dir for `exit.json`; a slow rescan covers missed events. Work is per new
   * container, not per container per scan.
   */
  private watchExits(): void {
    const dir = this.o.runtime.containersDir;
    const watching = new Map<string, FSWatcher>();
    const ended = new Set<string>();
    const watchOne = async (id: string) => {
      let st;
      try {
        st = await this.o.runtime.status(id);
      } catch {
        return; // removed meanwhile
      }
      const inst = instanceOf(st);
      if (!inst || st.state === 'exited') return void ended.add(id);
      try {
        const w = watch(join(dir, id), (_ev, file) => {
          if (file === 'exit.json') this.queue.add(inst.podUid);
        });
        w.on('error', () => w.close());
        watching.set(id, w);
        // It may have ended between the status read and the watch.
        if (existsSync(join(dir, id, 'exit.json'))) this.queue.add(inst.podUid);
      } catch {
        /* removed meanwhile */
      }
    };
    let scanning = false;
    let again = false;
    const scan = (): void => {
      if (scanning) return void (again = true);
      scanning = true;
      void (async () => {
        const ids = new Set(await readdir(dir).catch(() => [] as string[]));
        for (const id of ids) if (!watching.has(id) && !ended.has(id)) await watchOne(id);
        for (const [id, w] of watching) if (!ids.has(id)) (w.close(), watching.delete(id));
        for (const id of ended) if (!ids.has(id)) ended.delete(id);
      })().finally(() => {
        scanning = false;
        // Containers made while this scan ran.
        if (again) {
          again = false;
          scan();
        }
      });
    };
    const dirWatcher = watch(dir, () => scan());
    dirWatcher.on('error', () => dirWatcher.close());
    const timer = setInterval(scan, 10_000);
    timer.unref();
    scan();
    this.stopWatching = () => {
      clearInterval(timer);
      dirWatcher.close();
      for (const w of watching.values()) w.close();
    };
  }

  private async reconcile(uid: string): Promise<{ requeueAfterMs?: number } | void> {
    const pod = this.podByUid(uid);
    const s = this.o.syncer;
    if (!pod) {
      // Gone from the API (deleted while we were away, or force-deleted): stop what runs with
      // the grace period it had, then remove every trace.
      const saved = await this.o.records.loadPod(uid);
      if (saved) await s.terminate(saved, saved.metadata.deletionGracePeriodSeconds ?? 0, { postStatus: false });
      await s.cleanup(uid);
      this.lastPosted.delete(uid);
      this.rejected.delete(uid);
      await this.syncHostPorts();
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      await s.terminate(pod, grace, { postStatus: true });
      await this.syncHostPorts();
      await this.o.client
        .resource<Pod>(PODS)
        .delete(pod.metadata.name!, { namespace: pod.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid } })
        .catch((e) => {
          if (!isNotFound(e) && !isConflict(e)) throw e;
        });
      return;
    }
    const refusal = this.admit(pod);
    if (refusal) {
      await this.postStatus(pod, { ...pod.status, phase: 'Failed', reason: refusal.reason, message: refusal.message });
      return;
    }
    const r = await s.sync(pod);
    await this.syncHostPorts();
    return r;
  }

  /** Kubelet admission: a pod whose hostPorts another running pod holds is refused. */
  private admit(pod: Pod): { reason: string; message: string } | undefined {
    const uid = pod.metadata.uid!;
    const prior = this.rejected.get(uid);
    if (prior) return { reason: 'NodePorts', message: prior };
    if (pod.status?.phase && pod.status.phase !== 'Pending') return undefined;
    if (pod.status?.containerStatuses?.length) return undefined;
    const want = hostPortsOf(pod, '0.0.0.0');
    if (!want.length) return undefined;
    for (const other of this.activePods()) {
      if (other.metadata.uid === uid || !other.status?.containerStatuses?.length) continue;
      for (const m of hostPortsOf(other, '0.0.0.0')) {
        const clash = want.find((w) => conflicts(w, m));
        if (clash) {
          const message = `Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports (${clash.protocol.toUpperCase()} ${clash.hostPort} is used by ${m.pod})`;
          this.rejected.set(uid, message);
          this.o.event(pod, 'Warning', 'NodePorts', message);
          return { reason: 'NodePorts', message };
        }
      }
    }
    return undefined;
  }

  private activePods(): Pod[] {
    return this.o.pods.store.list().filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !this.rejected.has(p.metadata.uid!));
  }

  private async syncHostPorts(): Promise<void> {
    const all: HostPortMapping[] = [];
    for (const p of this.activePods()) if (p.status?.podIP && !p.metadata.deletionTimestamp) all.push(...hostPortsOf(p, p.status.podIP));
    await this.o.hostPorts.sync(all);
  }

  /** Posts a status when it differs from the last one posted (or the API's). */
  async postStatus(pod: Pod, status: PodStatus): Promise<void> {
    const uid = pod.metadata.uid!;
    const text = JSON.stringify(status);
    if (this.lastPosted.get(uid) === text && JSON.stringify(pod.status) === text) return;
    const patch = { metadata: { uid }, status: nullMissing(pod.status as Record<string, unknown> | undefined, status as Record<string, unknown>) };
    try {
      await this.o.client.resource<Pod>(PODS).patch(pod.metadata.name!, patch, 'merge', { namespace: pod.metadata.namespace, subresource: 'status' });
      this.lastPosted.set(uid, text);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
  }

  // ---- StreamingBackend ----

  pod(namespace: string, name: string): Pod | undefined {
    return this.o.pods.store.getByName(name, namespace);
  }

  container(pod: Pod, name: string | undefined): ContainerHandle | { error: string } {
    const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    const wanted = name || pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'] || pod.spec.containers[0]?.name;
    const c = all.find((x) => x.name === wanted);
    if (!c) return { error: `container ${wanted} is not valid for pod ${pod.metadata.name}` };
    const uid = pod.metadata.uid!;
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const cs = statuses.find((s) => s.name === c.name);
    const running = cs?.state?.running && cs.containerID ? { id: cs.containerID.replace(/^cairn:\/\//, '') } : undefined;
    // The kubelet's validateContainerLogStatus: the current log is the newest instance's (the
    // status's containerID: running, ended, or ended and waiting to restart); --previous is
    // lastState.terminated's — in CrashLoopBackOff both are the instance that just ended.
    const logOf = (containerID: string | undefined) => {
      const attempt = containerID ? Number(containerID.split('-').pop()) : NaN;
      return Number.isInteger(attempt) ? this.o.records.logPath(uid, c.name, attempt) : undefined;
    };
    return {
      name: c.name,
      currentLog: logOf(cs?.containerID),
      previousLog: logOf(cs?.lastState?.terminated?.containerID),
      running,
      stdin: !!c.stdin,
      tty: !!c.tty,
    };
  }

  async dialPod(pod: Pod, port: number): Promise<Duplex> {
    const ip = pod.status?.podIP;
    if (!ip) throw new Error(`pod ${pod.metadata.name} has no IP address`);
    return dialPodPort({ ip, netns: this.o.netnsPath(pod) }, port);
  }
}

/**
 * A merge patch that makes the status exactly `next`: keys present before and absent now are
 * sent as null (merge-patch deletion).
 */
function nullMissing(prev: Record<string, unknown> | undefined, next: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...next };
  for (const k of Object.keys(prev ?? {})) if (!(k in next) || next[k] === undefined) out[k] = null;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
