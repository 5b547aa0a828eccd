/**
 * Bare network namespaces on a cluster's host bridge, the baseline for pod-to-pod traffic: like
 * a `cairn up` node (src/net/lab.ts), a veth whose host end is on the bridge and whose other end
 * is `eth0` with an address in the underlay /24, but nothing else — no pod bridge, no VXLAN, no
 * nft. Names carry the cluster's prefixes (`cairn-<name>-bare-<i>`, `cairn-<tag>-b<i>`), so
 * `cairn down` would remove them too if the benchmark could not.
 */
import { Ip, netns as netnsOps } from '../../src/net/ip.js';

export interface BareNamespace {
  netns: string;
  ip: string;
  hostVeth: string;
}

export class BareNamespaces {
  private constructor(readonly members: BareNamespace[]) {}

  /**
   * Makes one namespace per host number in `hosts` (addresses `<underlayPrefix>.<host>/24`),
   * with the MTU of the bridge's other ports.
   */
  static async create(o: { cluster: string; tag: string; bridge: string; underlayPrefix: string; hosts: number[] }): Promise<BareNamespaces> {
    const bridge = await Ip.root.link(o.bridge);
    if (!bridge) throw new Error(`bridge ${o.bridge} does not exist`);
    const made = new BareNamespaces([]);
    try {
      for (const [i, host] of o.hosts.entries()) {
        const m: BareNamespace = { netns: `cairn-${o.cluster}-bare-${i + 1}`, ip: `${o.underlayPrefix}.${host}`, hostVeth: `cairn-${o.tag}-b${i + 1}` };
        made.members.push(m);
        await netnsOps.add(m.netns);
        await Ip.root.addVeth(m.hostVeth, { name: 'eth0', netns: m.netns }, { mtu: bridge.mtu });
        await Ip.root.setLink(m.hostVeth, { master: o.bridge, up: true });
        const ns = Ip.ns(m.netns);
        await ns.setLink('lo', { up: true });
        await ns.setLink('eth0', { up: true });
        await ns.addAddr('eth0', `${m.ip}/24`);
      }
    } catch (e) {
      await made.remove();
      throw e;
    }
    return made;
  }

  /** Removes the host veths and namespaces; every step runs, errors are collected and thrown together. */
  async remove(): Promise<void> {
    const errors: string[] = [];
    for (const m of this.members) {
      await Ip.root.removeLink(m.hostVeth).catch((e: Error) => errors.push(e.message));
      await netnsOps.remove(m.netns).catch((e: Error) => errors.push(e.message));
    }
    if (errors.length) throw new Error(`removing bare namespaces: ${errors.join('; ')}`);
  }
}
