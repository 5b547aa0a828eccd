/**
 * Simulated nodes (clearly labelled `cairn.io/simulated=true`), in the manner of KWOK: each node
 * registers like a kubelet, heartbeats through its Lease in kube-node-lease, keeps its Ready
 * condition posted, and plays the kubelet for pods bound to it — after a delay the pod is
 * Running with an IP from the node's podCIDR, Ready conditions and container statuses; deleted
 * pods finish terminating; run-to-completion pods end when their annotations say so.
 *
 * Pod annotations understood (documented in docs/simulated-nodes.md):
 *   sim.cairn.io/exit-after: "2s"   containers exit this long after they started
 *   sim.cairn.io/exit-code: "0"     with this code (default 0): restartPolicy Never → Succeeded
 *                                    (0) or Failed; OnFailure restarts on non-zero; Always restarts
 *   sim.cairn.io/start-delay: "500ms"  overrides the simulator's pod start delay for this pod
 *
 * It is a client of the API like any node agent: one shared pod informer and one node informer
 * (label-selected) serve every simulated node; lease renewals are spread over the renew interval
 * and paced, so a thousand nodes cost about a hundred small writes a second.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Client, finalStateOf, type Informer, isAlreadyExists, isConflict, isNotFound, type Logger, SharedInformerFactory, silentLogger } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import {
  type Condition,
  conditionOf,
  intToIp,
  NODES,
  nodeSpec,
  parseCidr,
  PODS,
  POD_NODE_INDEX,
  indexPodsByNode,
  podNodeName,
  podPhase,
  rfc3339,
} from '../controllers/util/nodes.js';
import { kubeletConditions } from '../agent/node/conditions.js';
import { defaultNodeLabels } from '../agent/node/labels.js';
import { NodeLease } from '../agent/node/lease.js';

export const SIMULATED_LABEL = 'cairn.io/simulated';
export const SIM_STOPPED_ANNOTATION = 'sim.cairn.io/stopped';
export const SIM_EXIT_AFTER = 'sim.cairn.io/exit-after';
export const SIM_EXIT_CODE = 'sim.cairn.io/exit-code';
export const SIM_START_DELAY = 'sim.cairn.io/start-delay';
export const SIM_RUNTIME_VERSION = 'simulated://1.0';
export const SIM_KUBELET_VERSION = 'v1.32.0-sim';

export interface SimulatorOptions {
  logger?: Logger;
  /** Pending → Running delay for pods bound to a simulated node (default 1000 ms). */
  podStartDelayMs?: number;
  /** Longest time a deleted pod stays Terminating (default 1000 ms; never longer than its grace period). */
  podTerminateDelayMs?: number;
  /** Lease renew interval (default 10 s, as the kubelet). */
  leaseRenewIntervalMs?: number;
  /** Lease duration written to the lease (default 40 s). */
  leaseDurationSeconds?: number;
  /** How often each node re-checks its posted status (default 10 s) and refreshes it anyway (default 5 min). */
  nodeStatusCheckIntervalMs?: number;
  nodeStatusReportIntervalMs?: number;
  /** In-flight API writes (default 32). */
  concurrency?: number;
  /**
   * A node still without spec.podCIDR this long after registering (the cluster CIDR is used up:
   * a /16 holds 256 nodes) gives its pods addresses from 100.64.0.0/10 instead (default 10 s).
   */
  podCidrWaitMs?: number;
}

export interface NodeShape {
  cpu?: string;
  memory?: string;
  pods?: string;
  ephemeralStorage?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
}

export interface AddNodesOptions extends NodeShape {
  namePrefix?: string;
}

interface SimNode {
  name: string;
  index: number;
  shape: Required<Pick<NodeShape, 'cpu' | 'memory' | 'pods' | 'ephemeralStorage'>>;
  internalIP: string;
  uid?: string;
  stopped: boolean;
  lease: NodeLease;
  nextRenew: number;
  nextStatusCheck: number;
  lastStatusReport: number;
  /** Pod IP allocation from the node's podCIDR. */
  cidr?: { base: number; size: number };
  usedIPs: Set<number>;
  nextIP: number;
  bootID: string;
  registeredAt: number;
}

type Task = () => Promise<void>;

export class Simulator {
  private readonly nodes = new Map<string, SimNode>();
  private readonly factory: SharedInformerFactory;
  private readonly pods: Informer<KubeObject>;
  private readonly nodeInformer: Informer<KubeObject>;
  private readonly log: Logger;
  private readonly o: Required<Omit<SimulatorOptions, 'logger'>>;
  private readonly podIPs = new Map<string, { node: string; ip: number }>();
  /** When a pod was first seen bound to a running simulated node, and first seen terminating. */
  private readonly seenAt = new Map<string, number>();
  private readonly terminatingSince = new Map<string, number>();
  /** Due pod work: slot (ms/50) → keys. */
  private readonly timers = new Map<number, Set<string>>();
  private readonly ready = new Set<string>();
  private readonly inflightPods = new Set<string>();
  private readonly taskQueue: Task[] = [];
  private inflight = 0;
  private tick?: NodeJS.Timeout;
  private stopped = false;
  private nextIndex = 0;

  constructor(
    private readonly client: Client,
    opts: SimulatorOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger;
    this.o = {
      podStartDelayMs: opts.podStartDelayMs ?? 1000,
      podTerminateDelayMs: opts.podTerminateDelayMs ?? 1000,
      leaseRenewIntervalMs: opts.leaseRenewIntervalMs ?? 10_000,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? 40,
      nodeStatusCheckIntervalMs: opts.nodeStatusCheckIntervalMs ?? 10_000,
      nodeStatusReportIntervalMs: opts.nodeStatusReportIntervalMs ?? 300_000,
      concurrency: opts.concurrency ?? 32,
      podCidrWaitMs: opts.podCidrWaitMs ?? 10_000,
    };
    this.factory = new SharedInformerFactory(client, { logger: this.log });
    this.pods = this.factory.forResource<KubeObject>(PODS);
    indexPodsByNode(this.pods);
    this.nodeInformer = this.factory.forResource<KubeObject>(NODES, { labelSelector: `${SIMULATED_LABEL}=true` });
    this.pods.addEventHandler({
      onAdd: (p) => this.podChanged(p),
      onUpdate: (_o, p) => this.podChanged(p),
      onDelete: (d) => this.podGone(finalStateOf(d)),
    });
    this.nodeInformer.addEventHandler({
      onAdd: (n) => this.nodeChanged(n),
      onUpdate: (_o, n) => this.nodeChanged(n),
      onDelete: (d) => this.nodeGone(finalStateOf(d)),
    });
  }

  /** Starts the informers and the loop; resolves when the caches are synced. */
  async start(): Promise<void> {
    this.factory.start();
    await this.factory.waitForSync();
    this.tick = setInterval(() => this.onTick(), 50);
    this.tick.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tick) clearInterval(this.tick);
    await this.factory.stop();
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Names of the nodes this simulator runs. */
  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /**
   * Registers `count` new simulated nodes named PREFIX + number (numbers continue after the
   * simulated nodes that exist), and returns their names once all are registered.
   */
  async addNodes(count: number, opts: AddNodesOptions = {}): Promise<string[]> {
    const prefix = opts.namePrefix ?? 'sim-';
    let next = 0;
    for (const name of [...this.nodeInformer.store.listKeys(), ...this.nodes.keys()]) {
      if (name.startsWith(prefix)) {
        const num = Number(name.slice(prefix.length));
        if (Number.isInteger(num)) next = Math.max(next, num + 1);
      }
    }
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push(`${prefix}${String(next + i).padStart(4, '0')}`);
    // Addresses: one per simulated node this cluster has seen.
    const ipBase = Math.max(this.nextIndex, this.nodeInformer.store.size);
    this.nextIndex = ipBase + count;
    await this.runAll(names.map((name, i) => () => this.registerNode(name, ipBase + i, opts)));
    return names;
  }

  /** Takes over existing simulated nodes (a restarted simulator). */
  async adoptExisting(): Promise<string[]> {
    const names: string[] = [];
    const tasks: Task[] = [];
    for (const n of this.nodeInformer.store.list()) {
      const name = n.metadata.name!;
      if (this.nodes.has(name)) continue;
      const m = /(\d+)$/.exec(name);
      const index = m ? Number(m[1]) : hashIndex(name);
      const alloc = (n.status as { allocatable?: Record<string, string> } | undefined)?.allocatable ?? {};
      names.push(name);
      tasks.push(() =>
        this.registerNode(name, index, { cpu: alloc.cpu, memory: alloc.memory, pods: alloc.pods, ephemeralStorage: alloc['ephemeral-storage'] }),
      );
    }
    await this.runAll(tasks);
    return names;
  }

  /** Simulates a node failure: no more heartbeats, status or pod work until startNode. */
  stopNode(name: string): void {
    const n = this.nodes.get(name);
    if (n) n.stopped = true;
  }

  startNode(name: string): void {
    const n = this.nodes.get(name);
    if (!n || !n.stopped) return;
    n.stopped = false;
    n.nextRenew = Date.now();
    n.nextStatusCheck = Date.now();
    n.lastStatusReport = 0;
    for (const p of this.pods.store.byIndex(POD_NODE_INDEX, name)) this.schedule(key(p), Date.now());
  }

  isStopped(name: string): boolean {
    return this.nodes.get(name)?.stopped ?? true;
  }

  // ---- nodes ----

  private async registerNode(name: string, index: number, shape: NodeShape): Promise<void> {
    const node: SimNode = {
      name,
      index,
      shape: { cpu: shape.cpu ?? '4', memory: shape.memory ?? '16Gi', pods: shape.pods ?? '110', ephemeralStorage: shape.ephemeralStorage ?? '100Gi' },
      internalIP: simNodeIP(index),
      stopped: false,
      // Not due until registration's own renewal below: the ticker must not race it to create the Lease.
      nextRenew: Number.POSITIVE_INFINITY,
      nextStatusCheck: Date.now() + Math.random() * this.o.nodeStatusCheckIntervalMs,
      lastStatusReport: 0,
      usedIPs: new Set(),
      nextIP: 2,
      bootID: randomUUIDish(),
      registeredAt: Date.now(),
      lease: new NodeLease(this.client, name, this.o.leaseDurationSeconds),
    };
    const nodes = this.client.resource(NODES);
    let obj: KubeObject;
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          [SIMULATED_LABEL]: 'true',
          ...defaultNodeLabels(name, 'amd64'),
          'node.kubernetes.io/instance-type': 'simulated',
          ...shape.labels,
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'cairn.io/simulated-node': 'this node is simulated: no containers run on it' },
      },
      spec: shape.taints?.length ? { taints: shape.taints } : {},
    };
    try {
      obj = await nodes.create(body);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      obj = await nodes.get(name);
    }
    node.uid = obj.metadata.uid;
    node.lease.ownerUid = obj.metadata.uid;
    if (obj.metadata.annotations?.[SIM_STOPPED_ANNOTATION] === 'true') node.stopped = true;
    this.nodes.set(name, node);
    this.applyCidr(node, obj);
    if (!node.stopped) {
      await this.postNodeStatus(node, obj);
      await node.lease.renew();
    }
    node.nextRenew = Date.now() + Math.random() * this.o.leaseRenewIntervalMs;
    // Pods already bound to it (a restarted simulator) are picked up now.
    for (const p of this.pods.store.byIndex(POD_NODE_INDEX, name)) this.podChanged(p);
  }

  private nodeStatusBody(node: SimNode, current?: KubeObject): Record<string, unknown> {
    const prev = (current?.status as { conditions?: Condition[] } | undefined)?.conditions;
    const { conditions } = kubeletConditions(
      prev,
      { memoryPressure: false, diskPressure: false, pidPressure: false, readyMessage: 'kubelet is posting ready status (simulated node)' },
      rfc3339(),
    );
    const capacity = { cpu: node.shape.cpu, memory: node.shape.memory, pods: node.shape.pods, 'ephemeral-storage': node.shape.ephemeralStorage };
    return {
      capacity,
      allocatable: { ...capacity },
      conditions,
      addresses: [
        { type: 'InternalIP', address: node.internalIP },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(node.name + '/machine', 32),
        systemUUID: hex(node.name + '/uuid', 32),
        bootID: node.bootID,
        kernelVersion: 'simulated',
        osImage: 'Cairn simulated node',
        containerRuntimeVersion: SIM_RUNTIME_VERSION,
        kubeletVersion: SIM_KUBELET_VERSION,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  private async postNodeStatus(node: SimNode, current?: KubeObject): Promise<void> {
    const nodes = this.client.resource(NODES);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = current ?? (await nodes.get(node.name));
      current = undefined;
      try {
        await nodes.updateStatus({ ...cur, status: this.nodeStatusBody(node, cur) } as KubeObject);
        node.lastStatusReport = Date.now();
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!isConflict(e)) throw e;
      }
    }
  }

  private nodeChanged(n: KubeObject): void {
    const node = this.nodes.get(n.metadata.name!);
    if (!node) return;
    if (n.metadata.uid && node.uid && n.metadata.uid !== node.uid) {
      // Deleted and re-created by someone else: no longer ours.
      this.nodes.delete(node.name);
      return;
    }
    const wantStopped = n.metadata.annotations?.[SIM_STOPPED_ANNOTATION] === 'true';
    if (wantStopped && !node.stopped) this.stopNode(node.name);
    else if (!wantStopped && node.stopped && n.metadata.annotations?.[SIM_STOPPED_ANNOTATION] !== undefined) this.startNode(node.name);
    const hadCidr = !!node.cidr;
    this.applyCidr(node, n);
    if (!hadCidr && node.cidr) for (const p of this.pods.store.byIndex(POD_NODE_INDEX, node.name)) this.podChanged(p);
  }

  private nodeGone(n: KubeObject): void {
    const node = this.nodes.get(n.metadata.name!);
    if (node && (!node.uid || node.uid === n.metadata.uid)) this.nodes.delete(node.name);
  }

  private applyCidr(node: SimNode, n: KubeObject): void {
    if (node.cidr) return;
    const cidr = nodeSpec(n).podCIDR;
    if (!cidr || cidr.includes(':')) return;
    const { base, bits } = parseCidr(cidr);
    node.cidr = { base, size: 2 ** (32 - bits) };
    // Adopt the IPs of pods already running there.
    for (const v of this.podIPs.values()) if (v.node === node.name) node.usedIPs.add(v.ip - base);
  }

  // ---- pods ----

  private podChanged(p: KubeObject): void {
    const nodeName = podNodeName(p);
    if (!nodeName) return;
    const node = this.nodes.get(nodeName);
    if (!node) return;
    const k = key(p);
    // Remember IPs of pods we (or a previous simulator) gave out.
    if (!this.podIPs.has(k)) {
      const ip = (p.status as { podIP?: string } | undefined)?.podIP;
      if (ip && node.cidr) {
        const off = ipInt(ip) - node.cidr.base;
        if (off > 0 && off < node.cidr.size) {
          node.usedIPs.add(off);
          this.podIPs.set(k, { node: nodeName, ip: ipInt(ip) });
        }
      }
    }
    if (!this.seenAt.has(k)) this.seenAt.set(k, Date.now());
    if (p.metadata.deletionTimestamp && !this.terminatingSince.has(k)) this.terminatingSince.set(k, Date.now());
    this.schedule(k, Date.now());
  }

  private podGone(p: KubeObject): void {
    const k = key(p);
    this.releaseIP(k);
    this.seenAt.delete(k);
    this.terminatingSince.delete(k);
  }

  private releaseIP(k: string): void {
    const a = this.podIPs.get(k);
    if (!a) return;
    this.podIPs.delete(k);
    const node = this.nodes.get(a.node);
    if (node?.cidr) node.usedIPs.delete(a.ip - node.cidr.base);
  }

  private allocateIP(node: SimNode, k: string): string | undefined {
    const have = this.podIPs.get(k);
    if (have) return intToIp(have.ip);
    if (!node.cidr) return undefined;
    const size = node.cidr.size;
    // .0 is the network, .1 the node's gateway, the last the broadcast.
    for (let i = 0; i < size - 3; i++) {
      const off = 2 + ((node.nextIP - 2 + i) % (size - 3));
      if (!node.usedIPs.has(off)) {
        node.usedIPs.add(off);
        node.nextIP = off + 1;
        this.podIPs.set(k, { node: node.name, ip: node.cidr.base + off });
        return intToIp(node.cidr.base + off);
      }
    }
    return undefined;
  }

  private schedule(k: string, at: number): void {
    if (this.stopped) return;
    if (at <= Date.now()) {
      this.ready.add(k);
      return;
    }
    const slot = Math.ceil(at / 50);
    let s = this.timers.get(slot);
    if (!s) this.timers.set(slot, (s = new Set()));
    s.add(k);
  }

  private onTick(): void {
    if (this.stopped) return;
    const now = Date.now();
    const nowSlot = Math.floor(now / 50);
    for (const [slot, keys] of this.timers) {
      if (slot > nowSlot) continue;
      this.timers.delete(slot);
      for (const k of keys) this.ready.add(k);
    }
    for (const k of this.ready) {
      if (this.inflightPods.has(k)) continue;
      this.ready.delete(k);
      this.inflightPods.add(k);
      this.enqueue(async () => {
        try {
          await this.reconcilePod(k);
        } catch (e) {
          if (!isConflict(e) && !isNotFound(e)) this.log({ level: 'warn', msg: 'simulated kubelet: pod update failed', pod: k, error: (e as Error).message });
          this.schedule(k, Date.now() + 500);
        } finally {
          this.inflightPods.delete(k);
        }
      });
    }
    for (const node of this.nodes.values()) {
      if (node.stopped) continue;
      if (node.nextRenew <= now) {
        node.nextRenew = now + this.o.leaseRenewIntervalMs;
        this.enqueue(() => node.lease.renew().catch((e) => this.log({ level: 'warn', msg: 'simulated node: lease renew failed', node: node.name, error: (e as Error).message })));
      }
      if (node.nextStatusCheck <= now) {
        node.nextStatusCheck = now + this.o.nodeStatusCheckIntervalMs;
        const cur = this.nodeInformer.store.get(node.name);
        const ready = cur ? conditionOf(cur, 'Ready') : undefined;
        if (!cur || ready?.status !== 'True' || now - node.lastStatusReport >= this.o.nodeStatusReportIntervalMs)
          this.enqueue(() => this.postNodeStatus(node).catch((e) => this.log({ level: 'warn', msg: 'simulated node: status update failed', node: node.name, error: (e as Error).message })));
      }
    }
  }

  private enqueue(t: Task): void {
    this.taskQueue.push(t);
    this.drain();
  }

  private drain(): void {
    while (this.inflight < this.o.concurrency && this.taskQueue.length) {
      const t = this.taskQueue.shift()!;
      this.inflight++;
      void t()
        .catch(() => {})
        .finally(() => {
          this.inflight--;
          this.drain();
        });
    }
  }

  private async runAll(tasks: Task[]): Promise<void> {
    await Promise.all(
      tasks.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            this.enqueue(() => t().then(resolve, (e) => (reject(e), undefined)));
          }),
      ),
    );
  }

  /** Level-triggered: looks at the pod as it is now and does the next kubelet step. */
  private async reconcilePod(k: string): Promise<void> {
    const p = this.pods.store.get(k);
    if (!p) return this.podGone({ metadata: splitKeyMeta(k) } as KubeObject);
    const node = this.nodes.get(podNodeName(p));
    if (!node || node.stopped || this.stopped) return;
    const now = Date.now();
    const pods = this.client.resource(PODS);
    const ns = p.metadata.namespace!;
    const name = p.metadata.name!;
    if (p.metadata.deletionTimestamp) {
      const since = this.terminatingSince.get(k) ?? now;
      this.terminatingSince.set(k, since);
      const grace = (p.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
      const due = since + Math.min(grace, this.o.podTerminateDelayMs);
      if (now < due) return this.schedule(k, due);
      await pods.delete(name, { namespace: ns, gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
      this.releaseIP(k);
      return;
    }
    const phase = podPhase(p);
    if (phase === 'Succeeded' || phase === 'Failed') {
      this.releaseIP(k);
      return;
    }
    const spec = p.spec as PodSpec;
    const status = (p.status ?? {}) as PodStatus;
    const started = phase === 'Running' && (status.containerStatuses ?? []).length > 0;
    if (!started) {
      const delay = parseDuration(p.metadata.annotations?.[SIM_START_DELAY]) ?? this.o.podStartDelayMs;
      const due = (this.seenAt.get(k) ?? now) + delay;
      if (now < due) return this.schedule(k, due);
      if (!node.cidr && !spec.hostNetwork && now - node.registeredAt >= this.o.podCidrWaitMs) {
        node.cidr = { base: fallbackCidrBase(node.index), size: 256 };
        this.log({ level: 'warn', msg: 'simulated node has no podCIDR (cluster CIDR used up?); using a private range for its pods', node: node.name, cidr: `${intToIp(node.cidr.base)}/24` });
      }
      const ip = spec.hostNetwork ? node.internalIP : this.allocateIP(node, k);
      if (!ip) return this.schedule(k, now + 500);
      await pods.updateStatus({ ...p, status: this.runningStatus(p, node, ip) } as KubeObject);
      const exitAfter = parseDuration(p.metadata.annotations?.[SIM_EXIT_AFTER]);
      if (exitAfter !== undefined) this.schedule(k, Date.now() + exitAfter);
      return;
    }
    // Running: readiness gates may have changed; run-to-completion containers may be due to exit.
    const exitAfter = parseDuration(p.metadata.annotations?.[SIM_EXIT_AFTER]);
    if (exitAfter !== undefined) {
      const runningSince = Math.max(...(status.containerStatuses ?? []).map((c) => Date.parse(c.state?.running?.startedAt ?? '') || 0), 0);
      if (runningSince > 0) {
        const due = runningSince + exitAfter;
        if (now < due) this.schedule(k, due);
        else {
          await pods.updateStatus({ ...p, status: this.exitedStatus(p) } as KubeObject);
          return;
        }
      }
    }
    const next = withReadiness(structuredClone(status), spec, rfc3339());
    if (JSON.stringify(conditionStatuses(next)) !== JSON.stringify(conditionStatuses(status))) await pods.updateStatus({ ...p, status: next } as KubeObject);
  }

  private runningStatus(p: KubeObject, node: SimNode, ip: string): PodStatus {
    const spec = p.spec as PodSpec;
    const prev = (p.status ?? {}) as PodStatus;
    const now = rfc3339();
    const status = (c: ContainerSpec, state: ContainerStatus['state'], started: boolean): ContainerStatus => ({
      name: c.name,
      state,
      lastState: {},
      ready: true,
      restartCount: 0,
      image: c.image,
      imageID: `sim://sha256:${hex(c.image ?? '', 64)}`,
      containerID: `sim://${randomBytes(16).toString('hex')}`,
      started,
    });
    const containerStatuses = (spec.containers ?? []).map((c) => status(c, { running: { startedAt: now } }, true));
    const initContainerStatuses = (spec.initContainers ?? []).map((c) =>
      status(c, { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now, containerID: `sim://${randomBytes(16).toString('hex')}` } }, false),
    );
    const keep = (prev.conditions ?? []).filter((c) => !['Initialized', 'ContainersReady', 'Ready', 'PodReadyToStartContainers'].includes(c.type));
    const sched = keep.find((c) => c.type === 'PodScheduled');
    if (!sched) keep.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now });
    const conditions: Condition[] = [
      { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: now },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now },
      ...keep,
    ];
    const st: PodStatus = {
      ...prev,
      phase: 'Running',
      conditions,
      hostIP: node.internalIP,
      hostIPs: [{ ip: node.internalIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: prev.startTime ?? now,
      containerStatuses,
      ...(initContainerStatuses.length ? { initContainerStatuses } : {}),
    };
    return withReadiness(st, spec, now);
  }

  private exitedStatus(p: KubeObject): PodStatus {
    const spec = p.spec as PodSpec;
    const st = structuredClone((p.status ?? {}) as PodStatus);
    const code = Number(p.metadata.annotations?.[SIM_EXIT_CODE] ?? '0') || 0;
    const now = rfc3339();
    const policy = spec.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    for (const c of st.containerStatuses ?? []) {
      const terminated = {
        exitCode: code,
        reason: code === 0 ? 'Completed' : 'Error',
        startedAt: c.state?.running?.startedAt ?? now,
        finishedAt: now,
        containerID: c.containerID,
      };
      if (restart) {
        c.lastState = { terminated };
        c.restartCount = (c.restartCount ?? 0) + 1;
        c.state = { running: { startedAt: now } };
        c.containerID = `sim://${randomBytes(16).toString('hex')}`;
      } else {
        c.state = { terminated };
        c.ready = false;
        c.started = false;
      }
    }
    if (restart) return st;
    st.phase = code === 0 ? 'Succeeded' : 'Failed';
    const reason = code === 0 ? 'PodCompleted' : 'PodFailed';
    st.conditions = (st.conditions ?? []).map((c) =>
      c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason, lastTransitionTime: now } : c.type === 'PodReadyToStartContainers' ? { ...c, status: 'False', lastTransitionTime: now } : c,
    );
    return st;
  }
}

interface ContainerSpec {
  name: string;
  image?: string;
}
interface PodSpec {
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  restartPolicy?: string;
  hostNetwork?: boolean;
  readinessGates?: { conditionType: string }[];
}
interface ContainerStatus {
  name: string;
  state?: { running?: { startedAt?: string }; terminated?: Record<string, unknown>; waiting?: Record<string, unknown> };
  lastState?: Record<string, unknown>;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  containerID?: string;
  [k: string]: unknown;
}
interface PodStatus {
  phase?: string;
  conditions?: Condition[];
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  startTime?: string;
  hostIP?: string;
  hostIPs?: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  [k: string]: unknown;
}

/**
 * ContainersReady from the containers; Ready also needs every readiness gate's condition True
 * (the kubelet's GeneratePodReadyCondition, with its messages).
 */
function withReadiness(st: PodStatus, spec: PodSpec, now: string): PodStatus {
  const conds = (st.conditions ??= []);
  const set = (type: string, status: string, reason?: string, message?: string) => {
    const cur = conds.find((c) => c.type === type);
    if (cur) {
      if (cur.status !== status) cur.lastTransitionTime = now;
      cur.status = status;
      if (reason) cur.reason = reason;
      else delete cur.reason;
      if (message) cur.message = message;
      else delete cur.message;
    } else conds.push({ type, status, lastProbeTime: null, lastTransitionTime: now, ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
  };
  const notReady = (st.containerStatuses ?? []).filter((c) => !c.ready).map((c) => c.name);
  if (notReady.length) {
    set('ContainersReady', 'False', 'ContainersNotReady', `containers with unready status: [${notReady.join(' ')}]`);
    set('Ready', 'False', 'ContainersNotReady', `containers with unready status: [${notReady.join(' ')}]`);
    return st;
  }
  set('ContainersReady', 'True');
  const gateMsgs: string[] = [];
  for (const g of spec.readinessGates ?? []) {
    const c = conds.find((x) => x.type === g.conditionType);
    if (!c) gateMsgs.push(`corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`);
    else if (c.status !== 'True') gateMsgs.push(`the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`);
  }
  if (gateMsgs.length) set('Ready', 'False', 'ReadinessGatesNotReady', gateMsgs.join(', '));
  else set('Ready', 'True');
  return st;
}

const conditionStatuses = (st: PodStatus) => (st.conditions ?? []).map((c) => [c.type, c.status, c.reason ?? '']);

const key = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`;
function splitKeyMeta(k: string) {
  const i = k.indexOf('/');
  return { namespace: k.slice(0, i), name: k.slice(i + 1) };
}

const ipInt = (ip: string) => {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
};

/** "2s", "500ms", "1m", "1.5s", or plain seconds. */
export function parseDuration(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms':
      return n;
    case 'm':
      return n * 60_000;
    case 'h':
      return n * 3_600_000;
    default:
      return n * 1000;
  }
}

/** Node addresses from 172.20.0.0/14, one per node index (never .0 or .255). */
export function simNodeIP(index: number): string {
  const hosts = 254;
  const n = index % (hosts * 1024);
  const third = Math.floor(n / hosts);
  return `172.${20 + Math.floor(third / 256)}.${third % 256}.${(n % hosts) + 1}`;
}

/** 100.64.0.0/10 (shared address space) split in /24s by node index. */
const fallbackCidrBase = (index: number) => (((100 << 24) | (64 << 16)) >>> 0) + (index % 16384) * 256;

const hex = (s: string, len: number) => createHash('sha256').update(s).digest('hex').slice(0, len);
const hashIndex = (s: string) => parseInt(hex(s, 6), 16);
const randomUUIDish = () => {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
