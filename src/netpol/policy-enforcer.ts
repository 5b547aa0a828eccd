/**
 * The node agent's NetworkPolicy enforcer: NetworkPolicies, every pod of the cluster (peers live
 * on any node) and namespaces, compiled into the `policy-*` chains, sets and maps of the node's
 * `ip cairn` table for the pods of this node (see policy-compiler.ts for the layout).
 *
 * Level-triggered: any relevant change queues one key; a sync compiles the whole desired ruleset
 * from the caches and applies the difference to what it applied last, as one `nft -f -`
 * transaction (a pod coming or going is a few element adds/deletes). The first sync, and the one
 * after any failure, is a full resync that replaces everything of ours in the table, read from
 * the kernel — so a restarted agent adopts whatever its predecessor left.
 */
import type { Pod } from '../agent/pods/api-types.js';
import type { NodeAddon, NodeAddonContext } from '../agent/node-addon.js';
import { PODS } from '../agent/pods/pod-manager.js';
import { type Informer, ItemExponentialFailureRateLimiter, type RunningController, WorkQueue, runController } from '../client/index.js';
import { errorText } from '../util/log.js';
import { NAMESPACES } from '../controllers/namespace.js';
import { Ip, cidrContains, parseCidr } from '../net/ip.js';
import type { KubeObject } from '../util/object.js';
import { PREFIX } from './nft-names.js';
import { type NetworkPolicy, compilePolicies } from './policy-compiler.js';
import { policyPod } from './policy-pods.js';
import { type ExistingObjects, type Ruleset, planChanges, planFullResync } from './ruleset.js';

const NETWORK_POLICIES = { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true, kind: 'NetworkPolicy' } as const;
const SYNC = 'sync';
/** Same-node pod traffic crosses the bridge; only with this does it meet the ip family's forward hook. */
const BRIDGE_NF = 'net.bridge.bridge-nf-call-iptables';

export class NetworkPolicyEnforcer implements NodeAddon {
  private readonly policies: Informer<NetworkPolicy>;
  private readonly pods: Informer<Pod>;
  private readonly namespaces: Informer<KubeObject>;
  // A failed transaction is retried from a full resync, soon but without hammering nft.
  private readonly queue = new WorkQueue<string>({ name: 'networkpolicy', rateLimiter: new ItemExponentialFailureRateLimiter<string>(100, 30_000) });
  private controller?: RunningController;
  /** What the last successful transaction left in the kernel; undefined: unknown, resync fully. */
  private applied?: Ruleset;
  private nodeAddresses: string[] = [];

  constructor(readonly ctx: NodeAddonContext) {
    // All pods, not the agent's own node-filtered informer: selectors name pods on any node.
    this.pods = ctx.informers.forResource<Pod>(PODS);
    this.policies = ctx.informers.forResource<NetworkPolicy>(NETWORK_POLICIES);
    this.namespaces = ctx.informers.forResource<KubeObject>(NAMESPACES);
    this.watch(this.pods, (p) => JSON.stringify(policyPod(p) ?? null));
    this.watch(this.policies, (np) => JSON.stringify([np.metadata.namespace, np.spec ?? null]));
    this.watch(this.namespaces, (ns) => JSON.stringify(ns.metadata.labels ?? {}));
  }

  /** Queues a sync on adds, deletes and updates that change what `fields` reads. */
  private watch<T extends KubeObject>(inf: Informer<T>, fields: (o: T) => string): void {
    const kick = () => this.queue.add(SYNC);
    inf.addEventHandler({
      onAdd: kick,
      onDelete: kick,
      onUpdate: (a, b) => {
        if (fields(a) !== fields(b)) kick();
      },
    });
  }

  async start(): Promise<void> {
    await this.ensureBridgeNetfilter();
    this.nodeAddresses = await this.agentAddresses();
    this.controller = runController({
      name: 'networkpolicy',
      queue: this.queue,
      reconcile: () => this.sync(),
      informers: [this.pods, this.policies, this.namespaces],
      logger: this.ctx.logger,
    });
    this.queue.add(SYNC);
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
  }

  private async sync(): Promise<void> {
    const desired = compilePolicies({
      nodeName: this.ctx.nodeName,
      nodeAddresses: this.nodeAddresses,
      policies: this.policies.store.list(),
      pods: this.pods.store.list(),
      namespaces: this.namespaces.store.list(),
    });
    const nft = this.ctx.nft;
    const s = nft.script();
    const applied = this.applied;
    const full = applied === undefined;
    try {
      if (full) planFullResync(s, await this.existing(), desired);
      else if (!planChanges(s, applied, desired)) return;
      await nft.apply(s);
      this.applied = desired;
    } catch (e) {
      this.applied = undefined;
      throw e;
    }
    this.ctx.logger({
      level: full ? 'info' : 'debug',
      msg: full ? 'network policy full resync' : 'network policy update',
      commands: s.lines.length,
      chains: desired.chains.size,
      sets: desired.sets.size,
    });
  }

  /** Our objects in the node's table now (left by this agent or a predecessor). */
  private async existing(): Promise<ExistingObjects> {
    const st = await this.ctx.nft.list();
    const ours = (names: { name: string }[] = []) => names.map((x) => x.name).filter((n) => n.startsWith(PREFIX));
    return { chains: ours(st?.chains), sets: ours(st?.sets), maps: ours(st?.maps) };
  }

  private async ensureBridgeNetfilter(): Promise<void> {
    let value: string;
    try {
      value = await this.ctx.node.readSysctl(BRIDGE_NF);
    } catch (e) {
      // No br_netfilter: pods on the same node reach each other unfiltered.
      this.ctx.logger({ level: 'error', msg: `cannot read ${BRIDGE_NF} (is br_netfilter loaded?): policies will not apply between pods of the same node`, error: errorText(e) });
      return;
    }
    if (value !== '1') {
      this.ctx.logger({ level: 'info', msg: `setting ${BRIDGE_NF}=1 so that policies apply between pods of the same node`, was: value });
      await this.ctx.node.sysctl(BRIDGE_NF, 1);
    }
  }

  /**
   * The agent's own addresses as this node's pods see them. An agent driving a node namespace
   * from the root namespace (`cairn up`) probes pods from its root address on the node's
   * underlay subnet; that is the kubelet, which upstream always lets through. An agent in its
   * node's namespace talks to pods from the node itself (the output hook), never forwarded.
   */
  private async agentAddresses(): Promise<string[]> {
    if (this.ctx.nodeNetns === undefined) return [];
    const out: string[] = [];
    for (const link of await Ip.root.addrs()) {
      for (const a of link.addr_info) {
        if (a.family !== 'inet' || a.local === this.ctx.internalIP) continue;
        if (cidrContains(parseCidr(`${a.local}/${a.prefixlen}`, false), this.ctx.internalIP)) out.push(a.local);
      }
    }
    return out;
  }
}
