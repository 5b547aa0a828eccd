// Where things are in a `cairn up` cluster, as the trace needs them: the places a packet can be
// (the host's root namespace, each node's namespace, each pod's, and on a `--fabric` cluster the
// wire namespace cabling the nodes), the kinds of L2 segment (a node's pod bridge `cairn0` with
// its pods, the underlay bridge on the host with the nodes' eth0, and each fabric link's bridge
// in the wire namespace with the two node NICs it joins), and who sits on each — found in the live kernel (namespaces by the cluster's
// prefixes, veth peers by their interface indexes, addresses as the kernel has them), named
// with what the API says (node names, pod names).
import { netns as netnsOps, type Link } from '../net/ip.js';
import { BRIDGE } from '../net/overlay.js';
import type { ClusterLayout } from '../cluster/layout.js';
import { NetnsView } from './netns-view.js';

export interface Place {
  /** `wire`: the namespace holding the fabric links' bridges (`cairn up --fabric`). */
  kind: 'host' | 'node' | 'pod' | 'wire';
  /** `host`, `node-1`, `default/web-0` (a pod namespace the API does not know: its netns name), `fabric-wire`. */
  name: string;
  /** Undefined for the host's root namespace. */
  netns?: string;
  /** For a pod: its node. */
  node?: string;
}

export interface NodeInfo {
  name: string;
  /** Node N of the layout. */
  index: number;
  netns: string;
  internalIP?: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  ip?: string;
  node?: string;
  hostNetwork: boolean;
  /** Container ports, for `pod/NAME:PORTNAME`. */
  ports: { name?: string; containerPort: number; protocol: string }[];
}

/** One interface on an L2 segment. */
export interface Member {
  place: Place;
  dev: string;
  mac: string;
  addrs: string[];
  /** The bridge itself (frames to its MAC go up to its namespace's IP stack). */
  isBridge: boolean;
  /** For a veth end: the bridge port its peer is, in the bridge's namespace. */
  port?: string;
}

/** A bridge and everything attached to it. */
export interface Segment {
  /** `pods of node-1` / `underlay` / `fabric link br0` */
  name: string;
  bridgePlace: Place;
  bridge: string;
  members: Member[];
}

const inet = (l: { addr_info: { family: string; local: string }[] } | undefined) => (l?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local);

export class Topology {
  readonly host: Place = { kind: 'host', name: 'host' };
  private readonly views = new Map<string, NetnsView>();
  private readonly segments = new Map<string, Promise<Segment>>();
  private podPlacesCache?: Promise<Map<string, { place: Place; eth0: Link }[]>>;

  constructor(
    readonly layout: ClusterLayout,
    readonly nodes: NodeInfo[],
    readonly pods: PodInfo[],
  ) {}

  view(p: Place): NetnsView {
    const key = p.netns ?? '';
    let v = this.views.get(key);
    if (!v) {
      v = new NetnsView(p.netns);
      this.views.set(key, v);
    }
    return v;
  }

  nodePlace(n: NodeInfo): Place {
    return { kind: 'node', name: n.name, netns: n.netns };
  }
  node(name: string): NodeInfo | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  /** The pod namespaces of every node, from the kernel, named from the API by address. */
  private podPlaces(): Promise<Map<string, { place: Place; eth0: Link }[]>> {
    this.podPlacesCache ??= (async () => {
      const all = (await netnsOps.list()).map((n) => n.name);
      const byNode = new Map<string, { place: Place; eth0: Link }[]>();
      await Promise.all(
        this.nodes.map(async (node) => {
          const prefix = `${this.layout.lab.podNetnsPrefix}${node.index}-`;
          const found = await Promise.all(
            all
              .filter((ns) => ns.startsWith(prefix))
              .map(async (ns) => {
                const view = this.view({ kind: 'pod', name: ns, netns: ns });
                const [eth0, addrs] = await Promise.all([view.link('eth0'), view.addrs()]);
                if (!eth0) return undefined;
                const ip = inet(addrs.find((a) => a.ifname === 'eth0'))[0];
                const pod = ip ? this.pods.find((p) => p.ip === ip && p.node === node.name && !p.hostNetwork) : undefined;
                const place: Place = { kind: 'pod', name: pod ? `${pod.namespace}/${pod.name}` : ns, netns: ns, node: node.name };
                return { place, eth0 };
              }),
          );
          byNode.set(node.name, found.filter((x): x is { place: Place; eth0: Link } => !!x));
        }),
      );
      return byNode;
    })();
    return this.podPlacesCache;
  }

  /** The namespace of a pod (hostNetwork pods: their node's). */
  async placeOfPod(pod: PodInfo): Promise<Place | undefined> {
    const node = pod.node ? this.node(pod.node) : undefined;
    if (!node) return undefined;
    if (pod.hostNetwork) return this.nodePlace(node);
    const name = `${pod.namespace}/${pod.name}`;
    return (await this.podPlaces()).get(node.name)?.find((x) => x.place.name === name)?.place;
  }

  /** The place whose namespace owns this address: the host bridge, a node, a pod. */
  async placeOfAddress(ip: string): Promise<Place | undefined> {
    if (ip === this.layout.lab.hostIP) return this.host;
    for (const n of this.nodes) {
      const p = this.nodePlace(n);
      if ((await this.view(p).localAddresses()).has(ip)) return p;
    }
    for (const list of (await this.podPlaces()).values()) {
      for (const x of list) if ((await this.view(x.place).localAddresses()).has(ip)) return x.place;
    }
    return undefined;
  }

  /** The segment behind a device of a place, when it is one of the cluster's bridges. */
  async segmentOf(p: Place, dev: string): Promise<Segment | undefined> {
    const lab = this.layout.lab;
    if (p.kind === 'host' && dev === lab.bridge) return this.underlay();
    if (p.kind === 'node' && dev === 'eth0') return this.underlay();
    if (p.kind === 'node' && dev === BRIDGE) return this.podSegment(this.node(p.name)!);
    if (p.kind === 'pod' && dev === 'eth0' && p.node) return this.podSegment(this.node(p.node)!);
    if (p.kind === 'node') return this.fabricLinkOf(p, dev);
    return undefined;
  }

  /** The node whose pod bridge has this MAC (a remote gateway's MAC, as zebra installs it). */
  async nodeWithBridgeMac(mac: string): Promise<Member | undefined> {
    for (const n of this.nodes) {
      const br = (await this.podSegment(n)).members.find((m) => m.isBridge);
      if (br?.mac === mac) return br;
    }
    return undefined;
  }

  private wirePlace(): Place {
    return { kind: 'wire', name: 'fabric-wire', netns: this.layout.wireNetns };
  }

  /** A node NIC cabled through the wire namespace (`cairn up --fabric`): its link's bridge there. */
  private async fabricLinkOf(p: Place, dev: string): Promise<Segment | undefined> {
    const nic = await this.view(p).link(dev);
    if (nic?.link_index === undefined || nic.master) return undefined;
    if (!(await netnsOps.list()).some((n) => n.name === this.layout.wireNetns)) return undefined;
    const wireLinks = await this.view(this.wirePlace()).links();
    const port = wireLinks.find((l) => l.ifindex === nic.link_index && l.master);
    return port ? this.fabricLink(port.master!) : undefined;
  }

  private fabricLink(bridge: string): Promise<Segment> {
    const key = `wire ${bridge}`;
    let s = this.segments.get(key);
    if (!s) {
      s = (async () => {
        const wire = this.wirePlace();
        const wireLinks = await this.view(wire).links();
        const ports = wireLinks.filter((l) => l.master === bridge);
        const members: Member[] = [];
        for (const n of this.nodes) {
          const place = this.nodePlace(n);
          const v = this.view(place);
          // A fabric NIC is a veth of its own (no master, not the management eth0) whose peer
          // is a port of this bridge: pod veths hang off cairn0, so their indexes cannot mislead.
          for (const nic of await v.links()) {
            if (nic.ifname === 'eth0' || nic.master || nic.link_index === undefined) continue;
            const port = ports.find((l) => l.ifindex === nic.link_index);
            if (!port) continue;
            members.push({ place, dev: nic.ifname, mac: nic.address ?? '', addrs: inet((await v.addrs()).find((a) => a.ifname === nic.ifname)), isBridge: false, port: port.ifname });
          }
        }
        return { name: `fabric link ${bridge}`, bridgePlace: wire, bridge, members };
      })();
      this.segments.set(key, s);
    }
    return s;
  }

  private podSegment(node: NodeInfo): Promise<Segment> {
    const key = `pods ${node.name}`;
    let s = this.segments.get(key);
    if (!s) {
      s = (async () => {
        const place = this.nodePlace(node);
        const view = this.view(place);
        const [links, addrs, pods] = await Promise.all([view.links(), view.addrs(), this.podPlaces()]);
        const br = links.find((l) => l.ifname === BRIDGE);
        const members: Member[] = [];
        if (br) members.push({ place, dev: BRIDGE, mac: br.address ?? '', addrs: inet(addrs.find((a) => a.ifname === BRIDGE)), isBridge: true });
        for (const x of pods.get(node.name) ?? []) {
          const port = links.find((l) => l.ifindex === x.eth0.link_index && l.master === BRIDGE);
          const podAddrs = inet((await this.view(x.place).addrs()).find((a) => a.ifname === 'eth0'));
          members.push({ place: x.place, dev: 'eth0', mac: x.eth0.address ?? '', addrs: podAddrs, isBridge: false, port: port?.ifname });
        }
        return { name: `pods of ${node.name}`, bridgePlace: place, bridge: BRIDGE, members };
      })();
      this.segments.set(key, s);
    }
    return s;
  }

  private underlay(): Promise<Segment> {
    let s = this.segments.get('underlay');
    if (!s) {
      s = (async () => {
        const lab = this.layout.lab;
        const root = this.view(this.host);
        const [links, addrs] = await Promise.all([root.links(), root.addrs()]);
        const br = links.find((l) => l.ifname === lab.bridge);
        const members: Member[] = [];
        if (br) members.push({ place: this.host, dev: lab.bridge, mac: br.address ?? '', addrs: inet(addrs.find((a) => a.ifname === lab.bridge)), isBridge: true });
        for (const n of this.nodes) {
          const place = this.nodePlace(n);
          const v = this.view(place);
          const eth0 = await v.link('eth0');
          if (!eth0) continue;
          const port = links.find((l) => l.ifindex === eth0.link_index && l.master === lab.bridge);
          members.push({ place, dev: 'eth0', mac: eth0.address ?? '', addrs: inet((await v.addrs()).find((a) => a.ifname === 'eth0')), isBridge: false, port: port?.ifname });
        }
        return { name: 'underlay', bridgePlace: this.host, bridge: lab.bridge, members };
      })();
      this.segments.set('underlay', s);
    }
    return s;
  }
}
