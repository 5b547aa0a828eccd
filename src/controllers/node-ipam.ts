/**
 * Node IPAM (upstream's range allocator in the node-ipam controller): every node gets a /24
 * from the cluster CIDR in spec.podCIDR and spec.podCIDRs, never one that another node holds;
 * a deleted node's range is free again. The set in use is rebuilt from the node cache at start,
 * so a restart (or a new leader) never hands out a range twice.
 */
import { finalStateOf, isConflict, isInvalid, isNotFound } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import { intToIp, NODES, nodeSpec, parseCidr } from './util/nodes.js';

const NODE_MASK_BITS = 24;

export class CidrSet {
  private readonly used = new Set<number>();
  private readonly base: number;
  private readonly count: number;
  private next = 0;

  constructor(
    clusterCidr: string,
    private readonly maskBits = NODE_MASK_BITS,
  ) {
    const { base, bits } = parseCidr(clusterCidr);
    if (bits > maskBits) throw new Error(`cluster CIDR ${clusterCidr} is smaller than a /${maskBits}`);
    this.base = base;
    this.count = 2 ** (maskBits - bits);
  }

  get size(): number {
    return this.count;
  }

  /** Marks a CIDR as in use; false when it is not one of this set's blocks. */
  occupy(cidr: string): boolean {
    const i = this.indexOf(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  /** The next free block, round-robin as upstream's cidrset; undefined when full. */
  allocate(): string | undefined {
    for (let n = 0; n < this.count; n++) {
      const i = (this.next + n) % this.count;
      if (!this.used.has(i)) {
        this.used.add(i);
        this.next = (i + 1) % this.count;
        return `${intToIp(this.base + i * 2 ** (32 - this.maskBits))}/${this.maskBits}`;
      }
    }
    return undefined;
  }

  private indexOf(cidr: string): number | undefined {
    if (cidr.includes(':')) return undefined;
    const { base, bits } = parseCidr(cidr);
    if (bits !== this.maskBits) return undefined;
    const off = base - this.base;
    const step = 2 ** (32 - this.maskBits);
    if (off < 0 || off % step !== 0 || off / step >= this.count) return undefined;
    return off / step;
  }
}

export const nodeIpamController: ControllerSpec = {
  name: 'node-ipam',
  start(ctx) {
    const informer = ctx.informers.forResource<KubeObject>(NODES);
    const nodes = ctx.client.resource(NODES);
    const set = new CidrSet(ctx.settings.clusterCidr);
    const recorder = ctx.recorder('cidrAllocator');
    /** node name → the CIDR it holds (as far as this controller knows). */
    const held = new Map<string, string>();
    const occupy = (n: KubeObject) => {
      const cidr = nodeSpec(n).podCIDR;
      if (cidr && held.get(n.metadata.name!) !== cidr) {
        const prev = held.get(n.metadata.name!);
        if (prev) set.release(prev);
        if (set.occupy(cidr)) held.set(n.metadata.name!, cidr);
      }
    };
    informer.addEventHandler({
      onAdd: occupy,
      onUpdate: (_o, n) => occupy(n),
      onDelete: (d) => {
        const name = finalStateOf(d).metadata?.name;
        if (!name) return;
        const prev = held.get(name);
        if (prev) set.release(prev);
        held.delete(name);
      },
    });
    const reconcile = async (name: string): Promise<{ requeueAfterMs?: number } | void> => {
      const node = informer.store.get(name);
      if (!node || nodeSpec(node).podCIDR || node.metadata.deletionTimestamp) return;
      // Allocated but not yet seen in the cache: keep the same one.
      let cidr = held.get(name);
      if (!cidr) {
        cidr = set.allocate();
        if (!cidr) {
          recorder.event(node, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
          return { requeueAfterMs: 30_000 };
        }
        held.set(name, cidr);
      }
      try {
        await nodes.patch(name, { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, 'merge');
      } catch (e) {
        if (isNotFound(e)) {
          set.release(cidr);
          held.delete(name);
          return;
        }
        // Someone set a CIDR meanwhile (validation forbids changing it): take theirs.
        if (isInvalid(e) || isConflict(e)) {
          held.delete(name);
          set.release(cidr);
          return { requeueAfterMs: 100 };
        }
        throw e;
      }
    };
    return simpleController(ctx, { name: 'node-ipam', primary: informer, reconcile, workers: 4 }).controller;
  },
};
