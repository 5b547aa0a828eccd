// corosync.conf (the same on every node): knet transport with one link per corosync.links
// entry (ring<N>_addr = the node's address on that link's network), passive link mode where the
// highest knet_link_priority carries traffic, votequorum, and config_version one above the
// previous rendering's, because corosync only accepts a changed config with a higher version.
import type { Topology } from '../topology.js';
import { header } from './header.js';

function block(name: string, body: string[], indent: string): string[] {
  return [`${indent}${name} {`, ...body, `${indent}}`];
}

/** The config_version of a rendered corosync.conf, or undefined if it has none. */
export function corosyncVersion(text: string): number | undefined {
  const m = /^\s*config_version:\s*(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

export function renderCorosync(t: Topology, nodeName: string, previousVersion?: number): string {
  const c = t.corosync;
  const nodes = t.nodes.flatMap((n, i) =>
    block(
      'node',
      [`    name: ${n.name}`, `    nodeid: ${i + 1}`, '    quorum_votes: 1', ...c.links.map((l, k) => `    ring${k}_addr: ${n.addresses[l.network]}`)],
      '  ',
    ),
  );
  const interfaces = c.links.flatMap((l, k) => block('interface', [`    knet_link_priority: ${l.priority}`, `    linknumber: ${k}`], '  '));
  const quorum = ['  provider: corosync_votequorum', ...(t.nodes.length === 2 ? ['  two_node: 1'] : [])];
  const totem = [
    `  cluster_name: ${c.clusterName}`,
    `  config_version: ${(previousVersion ?? 0) + 1}`,
    ...interfaces,
    '  ip_version: ipv4',
    '  link_mode: passive',
    '  secauth: on',
    '  transport: knet',
    '  version: 2',
  ];
  const sections = [
    block('logging', ['  debug: off', '  to_syslog: yes'], ''),
    block('nodelist', nodes, ''),
    block('quorum', quorum, ''),
    block('totem', totem, ''),
  ];
  return `${header(t, nodeName, '#')}\n${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
}
