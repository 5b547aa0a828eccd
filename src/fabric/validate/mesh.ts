// The cabling: every link joins two existing NICs of two different nodes with matching MTUs,
// every node is on at least two links, no single link failure partitions the mesh, and a
// static underlay (iBGP scheme) has a direct link between every pair of nodes.
import { nicMtu, type Topology } from '../topology.js';
import { nodePath, type Problems } from './problems.js';

export function checkLinks(t: Topology, p: Problems): void {
  const cabled = new Map<string, string>(); // "node/nic" -> path of the link end using it
  t.links.forEach((link, i) => {
    const mtus: number[] = [];
    link.ends.forEach((end, e) => {
      const path = `links[${i}].ends[${e}]`;
      const node = t.nodes.find((n) => n.name === end.node);
      if (!node) return p.add('link-ends', `${path}.node`, `there is no node "${end.node}"`);
      const nic = node.nics.find((x) => x.name === end.nic);
      if (!nic) return p.add('link-ends', `${path}.nic`, `node ${end.node} has no NIC "${end.nic}" (it has ${node.nics.map((x) => x.name).join(', ')})`);
      mtus.push(nicMtu(t, nic));
      const key = `${end.node}/${end.nic}`;
      const other = cabled.get(key);
      if (other) p.add('link-ends', path, `${key} is already cabled by ${other}`);
      else cabled.set(key, path);
    });
    const [a, b] = link.ends;
    if (a.node === b.node) p.add('link-ends', `links[${i}].ends`, `both ends are on node ${a.node}; a link joins two nodes`);
    if (mtus.length === 2 && mtus[0] !== mtus[1]) p.add('link-ends', `links[${i}].ends`, `the ends' MTUs differ (${mtus[0]} on ${a.node}/${a.nic}, ${mtus[1]} on ${b.node}/${b.nic})`);
  });
  t.nodes.forEach((n, i) =>
    n.nics.forEach((nic, j) => {
      if (!cabled.has(`${n.name}/${nic.name}`)) p.add('link-ends', `nodes[${i}].nics[${j}]`, `NIC ${n.name}/${nic.name} is not the end of any link`);
    }),
  );
}

/** Links whose both ends name existing nodes (the others are reported by checkLinks). */
function edges(t: Topology, without?: number): [string, string][] {
  const names = new Set(t.nodes.map((n) => n.name));
  return t.links
    .filter((l, i) => i !== without && names.has(l.ends[0].node) && names.has(l.ends[1].node) && l.ends[0].node !== l.ends[1].node)
    .map((l) => [l.ends[0].node, l.ends[1].node]);
}

/** The nodes reachable from the first node over the given links. */
function reachable(t: Topology, es: [string, string][]): Set<string> {
  const seen = new Set<string>([t.nodes[0].name]);
  const queue = [t.nodes[0].name];
  while (queue.length) {
    const at = queue.shift()!;
    for (const [a, b] of es) {
      const next = a === at ? b : b === at ? a : undefined;
      if (next && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

function split(t: Topology, seen: Set<string>): string {
  const inside = t.nodes.filter((n) => seen.has(n.name)).map((n) => n.name);
  const outside = t.nodes.filter((n) => !seen.has(n.name)).map((n) => n.name);
  return `{${inside.join(', ')}} and {${outside.join(', ')}}`;
}

export function checkMesh(t: Topology, p: Problems): void {
  if (t.nodes.length < 2) return;
  const all = edges(t);
  for (const n of t.nodes) {
    const count = all.filter(([a, b]) => a === n.name || b === n.name).length;
    if (count < 2) p.add('single-homed', `${nodePath(t, n.name)}.nics`, `node ${n.name} is on ${count} link(s); it must be reachable over two links`);
  }
  const whole = reachable(t, all);
  if (whole.size < t.nodes.length) {
    p.add('partition', 'links', `the mesh is not connected: ${split(t, whole)}`);
    return;
  }
  t.links.forEach((_, i) => {
    const seen = reachable(t, edges(t, i));
    if (seen.size < t.nodes.length) p.add('partition', `links[${i}]`, `losing link ${t.links[i].name} would partition the mesh into ${split(t, seen)}`);
  });
  if (t.bgp.scheme === 'ibgp') {
    // Static routes reach only direct neighbours (with a fallback through a common neighbour).
    for (const [i, a] of t.nodes.entries()) {
      for (const b of t.nodes.slice(i + 1)) {
        if (!all.some(([x, y]) => (x === a.name && y === b.name) || (x === b.name && y === a.name))) {
          p.add('static-needs-full-mesh', 'links', `nodes ${a.name} and ${b.name} have no direct link; the iBGP scheme routes the underlay statically and needs one between every pair (use scheme ebgp for partial meshes)`);
        }
      }
    }
  }
}
