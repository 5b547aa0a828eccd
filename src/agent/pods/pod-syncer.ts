/**
 * One pass of the kubelet's SyncPod for one pod, level-triggered: read what the runtime has for
 * the pod, compare with the spec, make the next idempotent step (sandbox, volumes, the next init
 * container, regular containers, restarts after back-off, liveness kills), then post the status
 * computed from what is now true. It keeps no state of its own that a restart would lose: the
 * runtime's container records (labels carry pod uid, container, attempt) are the truth, the
 * back-off and probe results are rebuilt from them.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../client/index.js';
import type { RuncRuntime } from '../runtime/container-runtime.js';
import type { ProbeManager } from '../probes/probe-manager.js';
import { runLifecycleHandler } from '../probes/lifecycle-hooks.js';
import type { ProbeTarget } from '../probes/probe.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import { VolumeSetupError } from '../volumes/errors.js';
import type { ImageStore } from '../images/store.js';
import type { Container, ContainerState, ContainerStatus, Pod, PodStatus } from './api-types.js';
import { CrashBackoff } from './crash-backoff.js';
import { StartFailure, type ContainerStarter } from './container-starter.js';
import { qosClass } from './container-config.js';
import type { EventSink, ImagePuller } from './image-puller.js';
import { instanceOf, type Instance, type PodRecords } from './pod-records.js';
import type { PodSandboxes, Sandbox } from './pod-sandbox.js';
import { containerState, mergeStatus, podConditions, podPhase, terminationMessage } from './pod-status.js';
import { parseCriLog } from '../runtime/cri-log.js';

export interface SyncerDeps {
  records: PodRecords;
  runtime: RuncRuntime;
  images: ImageStore;
  puller: ImagePuller;
  sandboxes: PodSandboxes;
  volumes: VolumeManager;
  probes: ProbeManager;
  starter: ContainerStarter;
  event: EventSink;
  logger: Logger;
  nodeIP: string;
  /** Posts the pod's status (only when it changed). */
  postStatus: (pod: Pod, status: PodStatus) => Promise<void>;
  target: (pod: Pod, c: Container, containerId: string, podIP: string) => ProbeTarget;
  now?: () => number;
}

export interface SyncResult {
  requeueAfterMs?: number;
}

/** Periodic re-check of a running pod even when nothing signalled a change. */
const RESYNC_MS = 10_000;
const RETRY_MS = 2_000;

interface Waiting {
  reason: string;
  message?: string;
}

/** All instances of one pod, by container name, newest first. */
type Instances = Map<string, Instance[]>;

export class PodSyncer {
  readonly backoff = new CrashBackoff();
  /** Exits already counted in the back-off, by container id. */
  private readonly countedExits = new Set<string>();
  /** Container instances whose probes run. */
  private readonly probed = new Set<string>();
  /**
   * When this agent first synced a pod that has no startTime yet: the status posted after its
   * containers started must not say the pod started after them (the kubelet's startTime is set
   * before it starts anything). Lost on a restart, where the post time stands in.
   */
  private readonly firstSeen = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly d: SyncerDeps) {
    this.now = d.now ?? Date.now;
  }

  async instances(uid: string): Promise<Instances> {
    const out: Instances = new Map();
    for (const st of await this.d.runtime.listFor(uid)) {
      const inst = instanceOf(st);
      if (!inst || inst.kind === 'sandbox') continue;
      const list = out.get(inst.container) ?? [];
      list.push(inst);
      out.set(inst.container, list);
    }
    for (const l of out.values()) l.sort((a, b) => b.attempt - a.attempt);
    return out;
  }

  /** Brings a live (not deleted, not terminal) pod one step closer to its spec and posts its status. */
  async sync(pod: Pod): Promise<SyncResult> {
    const uid = pod.metadata.uid!;
    if (!pod.status?.startTime && !this.firstSeen.has(uid)) this.firstSeen.set(uid, this.isoNow());
    await this.d.records.savePod(pod);
    let insts = await this.instances(uid);
    this.noteExits(pod, insts);
    const waiting = new Map<string, Waiting>();
    let requeue = RESYNC_MS;
    const requeueIn = (ms: number) => (requeue = Math.max(50, Math.min(requeue, ms)));

    const terminalBefore = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    if (terminalBefore) {
      await this.stopAll(pod, insts, 0);
      await this.d.sandboxes.remove(uid);
      return {};
    }

    const deadline = this.deadlineExceeded(pod);
    if (deadline) {
      await this.stopAll(pod, insts, pod.spec.terminationGracePeriodSeconds ?? 30);
      this.d.event(pod, 'Normal', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline');
      await this.post(pod, await this.instances(uid), waiting, undefined, { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
      return {};
    }

    let sandbox: Sandbox | undefined;
    let volumes;
    try {
      sandbox = await this.d.sandboxes.ensure(pod);
    } catch (e) {
      this.d.event(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(e as Error).message}`);
      await this.post(pod, insts, waiting, undefined);
      return { requeueAfterMs: RETRY_MS };
    }
    try {
      volumes = await this.d.volumes.setup(pod);
    } catch (e) {
      if (!(e instanceof VolumeSetupError)) throw e;
      this.d.event(pod, 'Warning', e.reason, e.message);
      await this.post(pod, insts, waiting, sandbox.podIP);
      return { requeueAfterMs: RETRY_MS };
    }
    this.adoptProbes(pod, insts, sandbox.podIP);
    const evicted = await this.d.volumes.overLimit(pod);
    if (evicted.length) {
      const message = evicted.map((v) => v.message).join(' ');
      this.d.event(pod, 'Warning', 'Evicted', message);
      await this.stopAll(pod, insts, 0);
      await this.post(pod, await this.instances(uid), waiting, sandbox.podIP, { phase: 'Failed', reason: 'Evicted', message });
      return {};
    }

    const start = async (c: Container, kind: 'init' | 'regular', latest: Instance | undefined) => {
      const attempt = latest ? latest.attempt + 1 : 0;
      try {
        const id = await this.d.starter.start({ pod, container: c, kind, attempt, sandbox: sandbox!, volumes: volumes! });
        this.startProbes(pod, c, id, sandbox!.podIP);
        await this.pruneInstances(insts.get(c.name) ?? [], attempt);
      } catch (e) {
        if (!(e instanceof StartFailure)) throw e;
        waiting.set(c.name, { reason: e.reason, message: e.message });
        requeueIn(e.retryAfterMs || RETRY_MS);
      }
    };
    /** Restart an ended instance when the back-off allows; else report CrashLoopBackOff. */
    const restart = async (c: Container, kind: 'init' | 'regular', latest: Instance) => {
      const key = this.key(uid, c.name);
      const wait = this.backoff.remaining(key);
      if (wait > 0) {
        // Upstream's doBackOff event (the recorder folds repeats into one Event's count).
        this.d.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${podDesc(pod)}`);
        waiting.set(c.name, { reason: 'CrashLoopBackOff', message: this.backoff.message(key, c.name, podDesc(pod)) });
        requeueIn(wait);
        return;
      }
      await start(c, kind, latest);
    };

    // Init containers, in order; sidecars (restartPolicy Always) start and keep running.
    let initialized = true;
    for (const c of pod.spec.initContainers ?? []) {
      const latest = insts.get(c.name)?.[0];
      const sidecar = c.restartPolicy === 'Always';
      const state = latest?.status.state;
      if (sidecar) {
        if (!latest) await start(c, 'init', undefined);
        else if (state === 'exited' || state === 'unknown') await restart(c, 'init', latest);
        else if (this.livenessFailed(pod, c)) await this.killForLiveness(pod, c, latest);
        if (!this.d.probes.state(uid, c.name).started || !insts.get(c.name)?.[0]) {
          initialized = false;
          break;
        }
        continue;
      }
      if (state === 'exited' && latest!.status.exitCode === 0) continue;
      initialized = false;
      if (!latest) await start(c, 'init', undefined);
      else if (state === 'exited' || state === 'unknown') {
        if ((pod.spec.restartPolicy ?? 'Always') !== 'Never') await restart(c, 'init', latest);
      }
      break;
    }

    if (initialized) {
      const policy = pod.spec.restartPolicy ?? 'Always';
      for (const c of pod.spec.containers) {
        const latest = insts.get(c.name)?.[0];
        if (!latest) {
          await start(c, 'regular', undefined);
          continue;
        }
        const state = latest.status.state;
        if (state === 'running' && this.livenessFailed(pod, c)) {
          await this.killForLiveness(pod, c, latest);
          if (policy !== 'Never') await restart(c, 'regular', latest);
          continue;
        }
        if (state === 'exited' || state === 'unknown') {
          const failed = state === 'unknown' || latest.status.exitCode !== 0;
          if (policy === 'Always' || (policy === 'OnFailure' && failed)) await restart(c, 'regular', latest);
        }
      }
      // Pods that will not restart their containers: once every regular container has ended,
      // stop the sidecars (upstream 1.29+ ordering).
      insts = await this.instances(uid);
      if (policy !== 'Always' && this.allRegularDone(pod, insts)) await this.stopSidecars(pod, insts);
    } else {
      for (const c of pod.spec.containers) if (!insts.get(c.name)?.length) waiting.set(c.name, { reason: 'PodInitializing' });
    }

    insts = await this.instances(uid);
    const status = await this.post(pod, insts, waiting, sandbox.podIP);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') {
      await this.stopAll(pod, insts, 0);
      await this.d.sandboxes.remove(uid);
      this.d.probes.removePod(uid);
      return {};
    }
    return { requeueAfterMs: requeue };
  }

  /**
   * Graceful termination of a pod being deleted (or gone from the API): preStop hooks and
   * SIGTERM within the grace period, then SIGKILL; regular containers first, sidecars after.
   * Returns the final status posted (when the pod object still exists).
   */
  async terminate(pod: Pod, graceSeconds: number, opts: { postStatus: boolean }): Promise<void> {
    const uid = pod.metadata.uid!;
    const insts = await this.instances(uid);
    const deadline = this.now() + graceSeconds * 1000;
    const regular = new Set(pod.spec.containers.map((c) => c.name));
    const stopSet = async (names: (name: string) => boolean) => {
      const jobs: Promise<void>[] = [];
      for (const [name, list] of insts) {
        const latest = list[0];
        if (!latest || !names(name) || latest.status.state !== 'running') continue;
        const c = findContainer(pod, name);
        jobs.push(this.killInstance(pod, c, latest, Math.max(0, (deadline - this.now()) / 1000)));
      }
      await Promise.all(jobs);
    };
    await stopSet((n) => regular.has(n));
    await stopSet((n) => !regular.has(n));
    this.d.probes.removePod(uid);
    if (opts.postStatus) {
      const after = await this.instances(uid);
      await this.post(pod, after, new Map(), await this.d.sandboxes.podIP(pod));
    }
  }

  /** Removes every trace of a pod from the node: containers, rootfs, network, volumes, files. */
  async cleanup(uid: string): Promise<void> {
    for (const st of await this.d.runtime.listFor(uid)) {
      await this.d.runtime.remove(st.id);
      await this.d.images.releaseRootfs(st.bundleDir);
      this.countedExits.delete(st.id);
      this.probed.delete(st.id);
    }
    await this.d.sandboxes.remove(uid);
    await this.d.volumes.teardown(uid);
    this.d.probes.removePod(uid);
    this.d.puller.forgetPod(uid);
    for (const k of [...this.backoffKeys(uid)]) this.backoff.forget(k);
    this.firstSeen.delete(uid);
    await this.d.records.removePodDir(uid);
  }

  // ---- pieces ----

  /** Now, as the API's second-precision timestamps. */
  private isoNow(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private key(uid: string, container: string): string {
    return `${uid}/${container}`;
  }
  private *backoffKeys(uid: string): Iterable<string> {
    for (const k of this.knownKeys) if (k.startsWith(`${uid}/`)) yield k;
  }
  private readonly knownKeys = new Set<string>();

  /** Counts each ended instance once in the crash back-off (also those that ended while the agent was down). */
  private noteExits(pod: Pod, insts: Instances): void {
    for (const [name, list] of insts) {
      const latest = list[0];
      if (!latest || (latest.status.state !== 'exited' && latest.status.state !== 'unknown')) continue;
      this.countExit(pod, name, latest);
    }
  }

  private countExit(pod: Pod, name: string, inst: Instance): void {
    if (this.countedExits.has(inst.status.id)) return;
    this.countedExits.add(inst.status.id);
    const key = this.key(pod.metadata.uid!, name);
    const finished = inst.status.finishedAt ? new Date(inst.status.finishedAt) : new Date(this.now());
    const started = inst.status.startedAt ? new Date(inst.status.startedAt) : undefined;
    // First sight of this container in this agent process (a new pod, or adopted after a
    // restart): rebuild its back-off from the restart count, so a restart never resets it.
    if (this.knownKeys.has(key)) this.backoff.recordExit(key, started, finished);
    else this.backoff.restore(key, inst.attempt, finished, started);
    this.knownKeys.add(key);
    this.d.probes.stopContainer(pod.metadata.uid!, name);
  }

  private startProbes(pod: Pod, c: Container, id: string, podIP: string, startedAt = new Date(this.now())): void {
    this.probed.add(id);
    this.d.probes.startContainer(pod.metadata.uid!, c.name, id, startedAt, c, this.d.target(pod, c, id, podIP));
  }

  /** Running containers this agent has not probed yet (re-adopted after a restart) get their probes. */
  private adoptProbes(pod: Pod, insts: Instances, podIP: string): void {
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      const latest = insts.get(c.name)?.[0];
      if (latest?.status.state !== 'running' || this.probed.has(latest.status.id)) continue;
      const startedAt = latest.status.startedAt ? new Date(latest.status.startedAt) : new Date(this.now());
      this.startProbes(pod, c, latest.status.id, podIP, startedAt);
    }
  }

  private livenessFailed(pod: Pod, c: Container): boolean {
    return !!this.d.probes.state(pod.metadata.uid!, c.name).livenessFailed;
  }

  private async killForLiveness(pod: Pod, c: Container, inst: Instance): Promise<void> {
    const st = this.d.probes.state(pod.metadata.uid!, c.name);
    const grace = c.livenessProbe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    this.d.event(pod, 'Normal', 'Killing', st.livenessFailed?.message ?? `Container ${c.name} failed liveness probe, will be restarted`);
    await this.killInstance(pod, c, inst, grace, false);
    // Count this exit in the back-off now: the restart that follows in this same sync must see
    // it, and later syncs only look at the newest instance (by then the restarted one), so
    // repeated liveness failures would otherwise restart without back-off.
    this.countExit(pod, c.name, { ...inst, status: await this.d.runtime.status(inst.status.id) });
  }

  /** preStop (within the grace period), then stop. */
  private async killInstance(pod: Pod, c: Container | undefined, inst: Instance, graceSeconds: number, announce = true): Promise<void> {
    const started = this.now();
    if (announce) this.d.event(pod, 'Normal', 'Killing', `Stopping container ${inst.container}`);
    if (c?.lifecycle?.preStop && graceSeconds > 0) {
      const podIP = (await this.d.sandboxes.podIP(pod)) ?? '';
      const r = await runLifecycleHandler(c.lifecycle.preStop, this.d.target(pod, c, inst.status.id, podIP), graceSeconds * 1000);
      if (!r.ok) this.d.event(pod, 'Warning', 'FailedPreStopHook', r.message);
    }
    // The kubelet gives SIGTERM at least 2 s after a preStop hook that used up the grace period.
    const left = Math.max(c?.lifecycle?.preStop ? 2 : 0, graceSeconds - (this.now() - started) / 1000);
    await this.d.runtime.stop(inst.status.id, Math.ceil(left));
  }

  private async stopAll(pod: Pod, insts: Instances, graceSeconds: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const [name, list] of insts) {
      const latest = list[0];
      if (latest?.status.state === 'running') jobs.push(this.killInstance(pod, findContainer(pod, name), latest, graceSeconds));
    }
    await Promise.all(jobs);
    this.d.probes.removePod(pod.metadata.uid!);
  }

  private allRegularDone(pod: Pod, insts: Instances): boolean {
    const policy = pod.spec.restartPolicy ?? 'Always';
    return pod.spec.containers.every((c) => {
      const l = insts.get(c.name)?.[0];
      if (!l || (l.status.state !== 'exited' && l.status.state !== 'unknown')) return false;
      return policy === 'Never' || l.status.exitCode === 0;
    });
  }

  private async stopSidecars(pod: Pod, insts: Instances): Promise<void> {
    for (const c of pod.spec.initContainers ?? []) {
      if (c.restartPolicy !== 'Always') continue;
      const l = insts.get(c.name)?.[0];
      if (l?.status.state === 'running') await this.killInstance(pod, c, l, pod.spec.terminationGracePeriodSeconds ?? 30);
    }
  }

  /** Keeps the newest two instances of a container (current and previous, for `logs --previous`). */
  private async pruneInstances(list: Instance[], newAttempt: number): Promise<void> {
    for (const inst of list) {
      if (inst.attempt >= newAttempt - 1) continue;
      await this.d.runtime.remove(inst.status.id);
      await this.d.images.releaseRootfs(inst.status.bundleDir);
      this.countedExits.delete(inst.status.id);
      this.probed.delete(inst.status.id);
    }
  }

  private deadlineExceeded(pod: Pod): boolean {
    const ads = pod.spec.activeDeadlineSeconds;
    const start = pod.status?.startTime;
    if (ads === undefined || !start) return false;
    return this.now() - Date.parse(start) >= ads * 1000;
  }

  /** Computes the API status from what is true now and posts it. */
  private async post(pod: Pod, insts: Instances, waiting: Map<string, Waiting>, podIP: string | undefined, override?: Pick<PodStatus, 'phase' | 'reason' | 'message'>): Promise<PodStatus> {
    const uid = pod.metadata.uid!;
    const initStatuses = await Promise.all((pod.spec.initContainers ?? []).map((c) => this.containerStatus(pod, c, insts.get(c.name) ?? [], waiting.get(c.name), 'ContainerCreating')));
    const statuses = await Promise.all(pod.spec.containers.map((c) => this.containerStatus(pod, c, insts.get(c.name) ?? [], waiting.get(c.name), 'ContainerCreating')));
    const nowIso = this.isoNow();
    const phase = override?.phase ?? podPhase(pod, initStatuses, statuses);
    const next: PodStatus = {
      phase,
      conditions: podConditions({ ...pod, status: { ...pod.status, phase } }, { init: initStatuses, regular: statuses, sandboxReady: !!podIP }, pod.status?.conditions, nowIso),
      hostIP: this.d.nodeIP,
      hostIPs: [{ ip: this.d.nodeIP }],
      podIP: podIP ?? pod.status?.podIP,
      podIPs: podIP ? [{ ip: podIP }] : pod.status?.podIPs,
      startTime: pod.status?.startTime ?? this.firstSeen.get(uid) ?? nowIso,
      qosClass: qosClass(pod),
      initContainerStatuses: initStatuses.length ? initStatuses : undefined,
      containerStatuses: statuses,
      reason: override?.reason,
      message: override?.message,
    };
    const merged = mergeStatus(pod.status, next);
    await this.d.postStatus(pod, merged);
    return merged;
  }

  private async containerStatus(pod: Pod, c: Container, list: Instance[], w: Waiting | undefined, defaultWaiting: string): Promise<ContainerStatus> {
    const uid = pod.metadata.uid!;
    const [latest, prev] = list;
    const probe = this.d.probes.state(uid, c.name);
    const base = { name: c.name, image: c.image ?? '', imageID: latest?.imageID ?? '', restartCount: latest?.attempt ?? 0 };
    const termOf = async (i: Instance | undefined): Promise<ContainerState> => (i ? containerState(i.status, { terminationMessage: await this.terminationMessageOf(pod, c, i) }) : {});
    if (!latest) return { ...base, state: { waiting: { reason: w?.reason ?? defaultWaiting, message: w?.message } }, lastState: {}, ready: false, started: false };
    const cur = await termOf(latest);
    if (w) {
      // Waiting to (re)start: the ended instance becomes lastState.
      return { ...base, containerID: `cairn://${latest.status.id}`, state: { waiting: { reason: w.reason, message: w.message } }, lastState: cur.terminated ? cur : await termOf(prev), ready: false, started: false };
    }
    const running = latest.status.state === 'running';
    // An init container that finished successfully counts as ready (the kubelet's prober does so).
    const initDone = !pod.spec.containers.some((x) => x.name === c.name) && latest.status.state === 'exited' && latest.status.exitCode === 0;
    return {
      ...base,
      containerID: `cairn://${latest.status.id}`,
      state: cur,
      lastState: await termOf(prev),
      ready: initDone || (running && probe.ready),
      started: running && probe.started,
    };
  }

  private async terminationMessageOf(pod: Pod, c: Container, i: Instance): Promise<string | undefined> {
    if (i.status.state !== 'exited') return undefined;
    const file = await readFile(this.d.records.terminationLog(pod.metadata.uid!, c.name, i.attempt), 'utf8').catch(() => undefined);
    let tail: string | undefined;
    const logTail = () => tail ?? '';
    if (c.terminationMessagePolicy === 'FallbackToLogsOnError' && !file && i.status.exitCode !== 0) {
      const text = await readFile(i.status.logPath, 'utf8').catch(() => '');
      tail = parseCriLog(text.slice(-65536)).map((e) => e.content).join('');
    }
    return terminationMessage(c.terminationMessagePolicy ?? 'File', file, logTail, i.status.exitCode ?? 0);
  }
}

function findContainer(pod: Pod, name: string): Container | undefined {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name);
}

function podDesc(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}
