// A pod's secondary interfaces on node bridges (what Multus delegates to the CNI bridge plugin):
// per attachment a veth whose pod end is the requested interface (net1, …) and whose node end
// (`cairnm` + 7 hex of the sandbox id + the attachment's index in 2 hex) is a port of the NAD's
// bridge in the node's namespace — made there when missing — or of the bridge of the asked VLAN
// of it (./vlan-domains.ts). Static addresses go on the pod end.
// The node ends' names come from the sandbox id alone, so teardown and garbage collection after
// an agent restart find them without the pod's annotations. (Not `cairn` + 10 hex: that is the
// primary network's, and PodNetwork.gc removes every such veth it does not know.)
import { createHash } from 'node:crypto';
import { Ip, checkIfName } from './ip.js';
import { ensureVlanDomain } from './vlan-domains.js';

export class PodAttachmentError extends Error {
  override name = 'PodAttachmentError';
}

export interface BridgeAttachmentSpec {
  /** Position in the pod's networks annotation (0-based); names the node end. */
  index: number;
  /** The interface in the pod. */
  ifname: string;
  bridge: string;
  vlan?: number;
  mtu?: number;
  mac?: string;
  /** IPv4 addresses (CIDR) for the pod end. */
  addresses: string[];
}

export interface AttachmentStatus {
  ifname: string;
  hostVeth: string;
  mac: string;
  /** The pod end's IPv4 addresses (CIDR). */
  addresses: string[];
}

const PREFIX = 'cairnm';
const NODE_END = /^cairnm[0-9a-f]{9}$/;

function idHash(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 7);
}

/** The node end's name of a sandbox's attachment (15 characters). */
export function attachmentVethName(sandboxId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 255) throw new PodAttachmentError(`at most 256 attachments per pod (index ${index})`);
  return PREFIX + idHash(sandboxId) + index.toString(16).padStart(2, '0');
}

export class PodAttachments {
  constructor(private readonly node: Ip) {}

  /** The attachment is there: the pod end a veth whose peer is its node end. */
  async isWhole(sandboxId: string, netns: string, index: number, ifname: string): Promise<boolean> {
    const host = await this.node.link(attachmentVethName(sandboxId, index));
    const pod = host && (await Ip.ns(netns).link(ifname));
    return !!(host && pod && pod.linkinfo?.info_kind === 'veth' && pod.link_index === host.ifindex);
  }

  /**
   * Makes the attachment (idempotent: a whole pair is kept, so a VM's tap bridged to the pod end
   * stays connected). On failure what this call made is removed again.
   */
  async setup(sandboxId: string, netns: string, a: BridgeAttachmentSpec): Promise<AttachmentStatus> {
    checkIfName(a.ifname);
    const hostVeth = attachmentVethName(sandboxId, a.index);
    const pod = Ip.ns(netns);
    const domain = await ensureVlanDomain(this.node, a.bridge, a.vlan);
    const mtu = a.mtu ?? (await this.node.link(domain))?.mtu;
    let created = false;
    try {
      if (!(await this.isWhole(sandboxId, netns, a.index, a.ifname))) {
        await this.node.removeLink(hostVeth);
        await pod.removeLink(a.ifname);
        await this.node.addVeth(hostVeth, { name: a.ifname, netns, mtu, ...(a.mac ? { address: a.mac } : {}) }, { mtu });
        created = true;
      }
      await this.node.setLink(hostVeth, { master: domain, up: true });
      const podEnd = await pod.link(a.ifname);
      // A pod end enslaved in the pod (a VM's bridge binding) carries no address of its own.
      if (!podEnd?.master) {
        await pod.setLink(a.ifname, { up: true });
        for (const addr of a.addresses) await pod.ensureAddr(a.ifname, addr);
      }
      return await this.status(sandboxId, netns, a.index, a.ifname);
    } catch (e) {
      if (created) await this.node.removeLink(hostVeth).catch(() => undefined);
      throw e;
    }
  }

  async status(sandboxId: string, netns: string, index: number, ifname: string): Promise<AttachmentStatus> {
    const pod = Ip.ns(netns);
    const l = await pod.link(ifname);
    if (!l) throw new PodAttachmentError(`${ifname} does not exist in ${netns}`);
    return { ifname, hostVeth: attachmentVethName(sandboxId, index), mac: l.address ?? '', addresses: await pod.ipv4Addrs(ifname) };
  }

  /** Removes every attachment of the sandbox (their node ends; the pod ends go with them). Returns the names removed. */
  async teardown(sandboxId: string): Promise<string[]> {
    const prefix = PREFIX + idHash(sandboxId);
    const removed: string[] = [];
    for (const l of await this.node.links()) {
      if (l.ifname.startsWith(prefix) && NODE_END.test(l.ifname) && (await this.node.removeLink(l.ifname))) removed.push(l.ifname);
    }
    return removed;
  }

  /** After a restart: removes the node ends of sandboxes not in liveIds. */
  async gc(liveIds: Iterable<string>): Promise<string[]> {
    const live = new Set([...liveIds].map((id) => PREFIX + idHash(id)));
    const removed: string[] = [];
    for (const l of await this.node.links()) {
      if (NODE_END.test(l.ifname) && l.linkinfo?.info_kind === 'veth' && !live.has(l.ifname.slice(0, PREFIX.length + 7))) {
        if (await this.node.removeLink(l.ifname)) removed.push(l.ifname);
      }
    }
    return removed;
  }
}
