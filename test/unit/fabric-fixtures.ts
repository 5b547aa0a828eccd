// Topologies the fabric tests share: the two shipped examples, the 5-node ring fixture, and a
// generator of small valid eBGP meshes to break in one way per validation test.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseTopology, type Topology } from '../../src/fabric/topology.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const repoPath = (rel: string): string => `${ROOT}${rel}`;

/** The designs with golden files: name -> topology file (relative to the repository). */
export const DESIGNS: Record<string, string> = {
  'switchless-3node-ibgp': 'examples/fabric/switchless-3node-ibgp.yaml',
  'switchless-3node-ebgp': 'examples/fabric/switchless-3node-ebgp.yaml',
  'switchless-5node-ebgp-ring': 'test/fixtures/fabric/switchless-5node-ebgp-ring.yaml',
};

export function loadDesign(name: string): Topology {
  const file = repoPath(DESIGNS[name]);
  return parseTopology(readFileSync(file, 'utf8'), file);
}

/** A valid eBGP topology over the given nodes and links (NICs named ens19, ens20, ... per node). */
export function mesh(names: string[], links: [string, string][]): Topology {
  const nicCount = new Map<string, number>(names.map((n) => [n, 0]));
  const nextNic = (node: string): string => {
    const i = nicCount.get(node)!;
    nicCount.set(node, i + 1);
    return `ens${19 + i}`;
  };
  const ends = links.map(([a, b]) => ({ name: `${a}-${b}`, ends: [{ node: a, nic: nextNic(a) }, { node: b, nic: nextNic(b) }] as [{ node: string; nic: string }, { node: string; nic: string }] }));
  return {
    name: 'test-mesh',
    target: 'ifupdown2',
    mtu: { underlay: 9000, overlay: 1500 },
    loopbackSubnet: '10.255.0.0/24',
    networks: [
      { name: 'data', subnet: '10.10.10.0/24', localPreference: 200 },
      { name: 'vm', subnet: '10.20.20.0/24', localPreference: 100 },
    ],
    nodes: names.map((name, i) => ({
      name,
      loopback: `10.255.0.${i + 1}`,
      asn: 65001 + i,
      addresses: { data: `10.10.10.${i + 1}`, vm: `10.20.20.${i + 1}` },
      nics: Array.from({ length: nicCount.get(name)! }, (_, k) => ({ name: `ens${19 + k}` })),
    })),
    links: ends,
    bgp: { scheme: 'ebgp', timers: { keepalive: 5, hold: 15 } },
    evpn: { vtep: 'loopback', vnis: [{ vni: 100, vxlan: 'vxlan100', bridge: 'vmbr100' }] },
    corosync: { clusterName: 'test', links: [{ network: 'data', priority: 20 }, { network: 'vm', priority: 10 }] },
    ceph: { fsid: '5d3bd0a6-6f2c-4c39-9d0b-2f6b0d7c6a11', publicNetwork: 'data', clusterNetwork: 'vm', monitors: [names[0]] },
  };
}
