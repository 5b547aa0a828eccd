/**
 * The agent's Node, as the kubelet keeps it:
 *  - registration: create the Node (labels, annotations); when it exists, adopt it — default
 *    and configured labels and the agent's annotations are set back (kubelet's
 *    tryRegisterWithAPIServer), retried with back-off from 100 ms doubling to 7 s;
 *  - status: every 10 s (nodeStatusUpdateFrequency) the status is computed — capacity and
 *    allocatable, the four conditions, addresses, daemon endpoint, nodeInfo — and written when
 *    it changed or 5 min (nodeStatusReportFrequency) passed since the last write; conflicts are
 *    retried up to 5 times (nodeStatusUpdateRetry);
 *  - heartbeat: the Lease kube-node-lease/<node> is renewed every 10 s (duration 40 s);
 *  - events on the Node: `Starting`, and one per condition change (`NodeReady`, ...).
 * The Node is left in place on stop (a stopped kubelet's node goes NotReady through the node
 * lifecycle controller once the lease expires).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, type Client, isAlreadyExists, isConflict, isNotFound, type Logger, type ResourceClient, sleep } from '../../client/index.js';
import { abortable } from '../../client/abortable.js';
import { EventRecorder } from '../../controllers/events.js';
import { type Condition, NODES, nodeSpec, rfc3339 } from '../../controllers/util/nodes.js';
import type { KubeObject } from '../../util/object.js';
import { Runc } from '../runtime/runc.js';
import { AGENT_ENDPOINT_ANNOTATION, agentEndpoint, type AgentConfig } from '../config.js';
import { conditionsDiffer, kubeletConditions } from './conditions.js';
import { type HostFacts, nodeResources, type NodeResources, readHostFacts, readSystemInfo } from './host-info.js';
import { defaultNodeLabels, reconcileLabels } from './labels.js';
import { DEFAULT_LEASE_DURATION_SECONDS, NodeLease } from './lease.js';
import { evaluatePressure, PressureTracker, readPressure } from './pressure.js';

/** volutil.ControllerManagedAttachAnnotation: the kubelet leaves attach/detach to the controller. */
const CONTROLLER_MANAGED_ATTACH = 'volumes.kubernetes.io/controller-managed-attach-detach';
const STATUS_UPDATE_RETRIES = 5;

export interface NodeStatusOptions {
  client: Client;
  /** nodeName, hostname, internalIP, labels (--node-labels; the kubelet's defaults are added), dataDir (its filesystem is the node's ephemeral storage), maxPods, listen address. */
  config: Pick<AgentConfig, 'nodeName' | 'hostname' | 'internalIP' | 'labels' | 'dataDir' | 'maxPods' | 'listenHost' | 'listenPort'>;
  logger: Logger;
  /** Capacity (and allocatable) values to report instead of the machine's, e.g. { memory: '4Gi' }. */
  capacityOverrides?: Record<string, string>;
  /** Extended resources node parts advertise (device plugins), read at every status update. */
  extendedResources?: () => Record<string, string>;
  /** The container runtime's version; a failure makes the node NotReady ("container runtime is down"). Default `runc --version`. */
  runtimeVersion?: () => Promise<string>;
  /** Clock (ms), for tests. */
  now?: () => number;
  statusUpdateIntervalMs?: number;
  statusReportIntervalMs?: number;
  leaseRenewIntervalMs?: number;
  leaseDurationSeconds?: number;
}

export class NodeStatusManager {
  private readonly o: NodeStatusOptions;
  private readonly c: NodeStatusOptions['config'];
  private readonly now: () => number;
  private readonly nodes: ResourceClient<KubeObject>;
  private readonly lease: NodeLease;
  private readonly events: EventRecorder;
  private readonly pressure = new PressureTracker();
  private readonly stopping = new AbortController();
  private readonly annotations: Record<string, string> = { [CONTROLLER_MANAGED_ATTACH]: 'true' };
  private readonly runtimeLabels: Record<string, string> = {};
  private readonly timers = new Set<NodeJS.Timeout>();
  private agentPort: number;
  private facts?: HostFacts;
  private resources?: NodeResources;
  private readyError: string | undefined;
  private registered = false;
  private lastReport = 0;
  private syncing?: Promise<void>;
  private syncAgain = false;

  constructor(opts: NodeStatusOptions) {
    this.o = opts;
    this.c = opts.config;
    this.now = opts.now ?? Date.now;
    this.nodes = opts.client.resource(NODES);
    this.lease = new NodeLease(opts.client, this.c.nodeName, opts.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS);
    this.events = new EventRecorder(opts.client, 'kubelet', opts.logger, this.c.nodeName);
    this.agentPort = this.c.listenPort;
  }

  /**
   * Reads the machine, registers the Node (retrying until the API answers or stop()), posts its
   * status and Lease, and keeps them current. `agentEndpoint` is the URL to advertise when it is
   * not the configured listen address (the agent listened on port 0).
   */
  async start(opts: { agentEndpoint?: string } = {}): Promise<void> {
    const endpoint = opts.agentEndpoint ?? agentEndpoint(this.c);
    this.annotations[AGENT_ENDPOINT_ANNOTATION] = endpoint;
    this.agentPort = Number(new URL(endpoint).port) || this.c.listenPort;
    await mkdir(this.c.dataDir, { recursive: true });
    await this.readResources();
    this.event('Starting', 'Starting kubelet.');
    await this.register();
    if (this.stopping.signal.aborted) return;
    await this.sync(true);
    await this.renewLease();
    this.every(this.o.statusUpdateIntervalMs ?? 10_000, () => this.sync(false));
    this.every(this.o.leaseRenewIntervalMs ?? 10_000, () => this.renewLease());
  }

  /** The node's allocatable resources as last reported (available once start() has begun). */
  allocatable(): Record<string, string> {
    if (!this.resources) throw new Error('node status manager not started');
    return { ...this.resources.allocatable };
  }

  /** The machine's memory (MemTotal, bytes): the limit of containers that set none. */
  memoryCapacityBytes(): number {
    if (!this.facts) throw new Error('node status manager not started');
    return this.facts.memTotalBytes;
  }

  /** Resolves with the Node's spec.podCIDR once the node IPAM controller has set it. */
  async waitForPodCIDR(signal?: AbortSignal): Promise<string> {
    const stop = signal ? AbortSignal.any([signal, this.stopping.signal]) : this.stopping.signal;
    const name = this.c.nodeName;
    while (!stop.aborted) {
      try {
        const node = await this.nodes.get(name, undefined, stop);
        if (nodeSpec(node).podCIDR) return nodeSpec(node).podCIDR!;
        const watch = this.nodes.watch({ fieldSelector: `metadata.name=${name}`, resourceVersion: node.metadata.resourceVersion, timeoutSeconds: 60, signal: stop });
        for await (const ev of abortable(watch, stop)) {
          if (ev.type === 'ERROR') break;
          const cidr = nodeSpec(ev.object).podCIDR;
          if (cidr) return cidr;
        }
      } catch (e) {
        if (stop.aborted) break;
        this.o.logger({ level: 'warn', msg: 'waiting for the node podCIDR', node: name, error: (e as Error).message });
        await sleep(1000, stop);
      }
    }
    throw new AbortedError(`stopped waiting for node ${name} to get a podCIDR`);
  }

  /** Merges annotations into the Node's: at once when registered, else at registration. */
  async setAnnotations(a: Record<string, string>): Promise<void> {
    Object.assign(this.annotations, a);
    if (this.registered) await this.nodes.patch(this.c.nodeName, { metadata: { annotations: a } }, 'merge');
  }

  /** Labels a node part sets at run time (kept across re-registration like --node-labels). */
  async setLabels(l: Record<string, string>): Promise<void> {
    Object.assign(this.runtimeLabels, l);
    if (this.registered) await this.nodes.patch(this.c.nodeName, { metadata: { labels: l } }, 'merge');
  }

  /** Posts the status now (e.g. an extended resource appeared) rather than at the next interval. */
  resourcesChanged(): void {
    if (this.registered) void this.sync(false);
  }

  /** Ready=False (KubeletNotReady) with this message until called with undefined. Posts at once when it changes. */
  setReadyError(msg: string | undefined): void {
    if (msg === this.readyError) return;
    this.readyError = msg;
    if (this.registered) void this.sync(false);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.syncing;
    await Promise.race([this.events.flush(), sleep(2000)]);
  }

  // ---- registration ----

  private wantedLabels(): Record<string, string> {
    return { ...defaultNodeLabels(this.c.hostname), ...this.runtimeLabels, ...this.c.labels };
  }

  private async register(): Promise<void> {
    let step = 100;
    while (!this.stopping.signal.aborted) {
      await sleep(step, this.stopping.signal);
      step = Math.min(step * 2, 7000);
      try {
        await this.tryRegister();
        this.registered = true;
        return;
      } catch (e) {
        this.o.logger({ level: 'error', msg: 'unable to register node with API server', node: this.c.nodeName, error: (e as Error).message });
      }
    }
  }

  private async tryRegister(): Promise<void> {
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.c.nodeName, labels: this.wantedLabels(), annotations: { ...this.annotations } },
      spec: {},
    };
    try {
      const created = await this.nodes.create(body);
      this.lease.ownerUid = created.metadata.uid;
      this.o.logger({ level: 'info', msg: 'registered node', node: this.c.nodeName });
      return;
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    for (let attempt = 0; ; attempt++) {
      const cur = await this.nodes.get(this.c.nodeName);
      this.lease.ownerUid = cur.metadata.uid;
      const labels = reconcileLabels(cur.metadata.labels, this.wantedLabels());
      const annotations = reconcileLabels(cur.metadata.annotations, this.annotations);
      if (!labels && !annotations) break;
      try {
        await this.nodes.update({ ...cur, metadata: { ...cur.metadata, labels: labels ?? cur.metadata.labels, annotations: annotations ?? cur.metadata.annotations } });
        break;
      } catch (e) {
        if (!isConflict(e) || attempt >= STATUS_UPDATE_RETRIES) throw e;
      }
    }
    this.o.logger({ level: 'info', msg: 'node was previously registered', node: this.c.nodeName });
  }

  // ---- status ----

  /** One status sync at a time; a request while one runs makes it run once more. */
  private sync(force: boolean): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.updateStatus(force).catch((e: unknown) => {
            this.o.logger({ level: 'error', msg: 'unable to update node status', node: this.c.nodeName, error: (e as Error).message });
          });
          force = false;
        } while (this.syncAgain && !this.stopping.signal.aborted);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private async updateStatus(force: boolean): Promise<void> {
    const [resources, readings, runtime] = await Promise.all([this.readResources(), readPressure(this.c.dataDir), this.runtimeVersion()]);
    const nodeInfo = await readSystemInfo(runtime.version ?? 'unknown');
    const now = this.now();
    const pressure = this.pressure.observe(evaluatePressure(readings), now);
    const notReady = this.readyError ?? (runtime.error ? `container runtime is down: ${runtime.error}` : undefined);
    for (let attempt = 0; attempt < STATUS_UPDATE_RETRIES; attempt++) {
      if (this.stopping.signal.aborted) return;
      const node = await this.nodes.get(this.c.nodeName);
      const prev = (node.status ?? {}) as NodeStatus;
      const { conditions, events } = kubeletConditions(prev.conditions, { memoryPressure: pressure.memory, diskPressure: pressure.disk, pidPressure: pressure.pid, notReady }, rfc3339(now));
      const status: NodeStatus = {
        ...prev,
        capacity: resources.capacity,
        allocatable: resources.allocatable,
        conditions,
        addresses: [
          { type: 'InternalIP', address: this.c.internalIP },
          { type: 'Hostname', address: this.c.hostname },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: this.agentPort } },
        nodeInfo,
      };
      const changed = conditionsDiffer(prev.conditions, conditions) || JSON.stringify(withoutConditions(prev)) !== JSON.stringify(withoutConditions(status));
      if (!force && !changed && now - this.lastReport < (this.o.statusReportIntervalMs ?? 300_000)) return;
      try {
        await this.nodes.updateStatus({ ...node, status });
      } catch (e) {
        if (isConflict(e)) continue;
        throw e;
      }
      this.lastReport = now;
      // recordNodeStatusEvent: every condition change is a Normal event.
      for (const reason of events) this.event(reason, `Node ${this.c.nodeName} status is now: ${reason}`);
      return;
    }
    throw new Error(`update node status exceeds retry count`);
  }

  private async readResources(): Promise<NodeResources> {
    this.facts = await readHostFacts(this.c.dataDir, this.c.maxPods);
    this.resources = nodeResources(this.facts, { ...this.o.extendedResources?.(), ...this.o.capacityOverrides });
    return this.resources;
  }

  private async runtimeVersion(): Promise<{ version?: string; error?: string }> {
    const get = this.o.runtimeVersion ?? (() => new Runc({ root: join(this.c.dataDir, 'runtime', 'runc') }).version());
    try {
      return { version: await get() };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  // ---- lease ----

  private async renewLease(): Promise<void> {
    try {
      await this.lease.renew(new Date(this.now()));
    } catch (e) {
      if (!isNotFound(e)) this.o.logger({ level: 'error', msg: 'failed to renew node lease', node: this.c.nodeName, error: (e as Error).message });
    }
  }

  // ---- helpers ----

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = () => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        void fn().finally(() => {
          if (!this.stopping.signal.aborted) tick();
        });
      }, ms);
      t.unref();
      this.timers.add(t);
    };
    tick();
  }

  /** A Normal event on the Node, through the kubelet's node reference: kind Node, uid = the node's name. */
  private event(reason: string, message: string): void {
    this.events.event({ kind: 'Node', metadata: { name: this.c.nodeName, uid: this.c.nodeName } }, 'Normal', reason, message);
  }
}

interface NodeStatus {
  capacity?: Record<string, string>;
  allocatable?: Record<string, string>;
  conditions?: Condition[];
  addresses?: { type: string; address: string }[];
  daemonEndpoints?: unknown;
  nodeInfo?: unknown;
  [k: string]: unknown;
}

const withoutConditions = (s: NodeStatus) => ({ capacity: s.capacity, allocatable: s.allocatable, addresses: s.addresses, daemonEndpoints: s.daemonEndpoints, nodeInfo: s.nodeInfo });
