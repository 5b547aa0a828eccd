/**
 * `cairn trace` on a `cairn up --fabric examples/fabric/switchless-3node-ibgp.yaml` cluster
 * (root, three nodes cabled to each other): pod to pod across nodes takes the EVPN path read
 * from the live kernel — cairn0's FDB sends the remote gateway's MAC to the VXLAN port cairn.1,
 * whose FDB entry names the remote node's topology VTEP; the outer packet goes over the fabric
 * link between the two nodes (not eth0), is decapsulated on the remote node into its cairn0 and
 * delivered to the pod. Fails (never skips) without FRR; the cluster goes in `after`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkFrrInstalled } from '../../src/fabric/lab/frr.js';
import { loadTopology, vtepAddress, type Topology } from '../../src/fabric/topology.js';
import type { Hop, TraceResult } from '../../src/trace/hops.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'examples/fabric/switchless-3node-ibgp.yaml');
let cluster: CairnCluster;
let topology: Topology;
let ns: string;
const ips: Record<string, string> = {};

function httpd(name: string, node: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { nodeName: node, containers: [{ name: 'httpd', image: cluster.busybox, command: ['sh', '-c', `mkdir -p /www && echo hello from ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`] }] },
  };
}

describe('cairn trace on a fabric (EVPN) cluster', { timeout: 900_000 }, () => {
  before(async () => {
    await checkFrrInstalled();
    topology = await loadTopology(EXAMPLE);
    cluster = await upCluster({ nodes: 3, label: 'trfab', upArgs: ['--fabric', EXAMPLE] });
    ns = `cairn-${cluster.name}-trfab`;
    await cluster.ok(['create', 'namespace', ns]);
    await cluster.ok(['apply', '-n', ns, '-f', '-'], { input: [httpd('client', 'node-1'), httpd('web-2', 'node-2')].map((o) => JSON.stringify(o)).join('\n') });
    await cluster.ok(['-n', ns, 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=120s'], { timeoutMs: 150_000 });
    for (const name of ['client', 'web-2']) ips[name] = (await cluster.json<{ status: { podIP: string } }>(['-n', ns, 'get', 'pod', name])).status.podIP;
    // The trace reads what FRR installed: wait until the pods really talk across the fabric.
    await until(
      'client to reach web-2 over EVPN',
      async () => (await cluster.kubectl(['-n', ns, 'exec', 'client', '--', 'timeout', '5', 'wget', '-qO-', `http://${ips['web-2']}:8080/`], { timeoutMs: 30_000 })).stdout.trim() === 'hello from web-2',
      120_000,
      1000,
    );
  }, { timeout: 600_000 });

  after(async () => {
    await cluster?.down();
  });

  it('follows pod to pod across nodes through the VXLAN port, the fabric link and the remote cairn0', async () => {
    const r = await cluster.cairn('trace', 'pod/client', 'pod/web-2:8080', '-n', ns, '-o', 'json', '--data-dir', cluster.dir);
    assert.equal(r.code, 0, `cairn trace failed (${r.code}):\n${r.stderr}${r.stdout}`);
    const t = JSON.parse(r.stdout) as TraceResult;
    const dump = JSON.stringify(t, null, 1);
    assert.equal(t.branches, undefined, dump);
    assert.equal(t.end?.outcome, 'delivered', dump);
    assert.equal(t.end?.at.name, `${ns}/web-2`, dump);

    const hops = t.hops;
    const at = (h: Hop) => h.at.name;
    // node-1 routes the packet to node-2's gateway on cairn0; cairn0's FDB sends that MAC to cairn.1.
    const bridged = hops.find((h) => h.kind === 'bridge' && at(h) === 'node-1' && h.port === 'cairn.1');
    assert.ok(bridged, `cairn0 of node-1 hands the frame to cairn.1:\n${dump}`);
    const encap = hops.find((h): h is Extract<Hop, { kind: 'vxlan-encap' }> => h.kind === 'vxlan-encap');
    assert.ok(encap, dump);
    assert.equal(at(encap), 'node-1');
    assert.equal(encap.dev, 'cairn.1');
    assert.equal(encap.remoteVtep, vtepAddress(topology, 'pve2'), 'the remote VTEP is node-2\'s topology VTEP');
    assert.equal(encap.localVtep, vtepAddress(topology, 'pve1'));
    assert.equal(encap.remoteNode, 'node-2');

    // The outer packet leaves node-1 over the pve1-pve2 cable (pve1's end), not eth0, and
    // arrives on node-2 at the cable's other end.
    const link = topology.links.find((l) => l.name === 'pve1-pve2')!;
    const end = (node: string) => link.ends.find((e) => e.node === node)!.nic;
    const out = hops.find((h) => h.kind === 'route' && at(h) === 'node-1' && h.packet.daddr === encap.remoteVtep);
    assert.ok(out?.kind === 'route' && out.route.dev === end('pve1'), `the VTEP is reached over ${end('pve1')}:\n${dump}`);
    const wire = hops.find((h) => h.kind === 'veth' && at(h) === 'node-1' && h.dev === end('pve1'));
    assert.ok(wire?.kind === 'veth' && wire.peer.kind === 'wire', `${end('pve1')} is cabled through the wire namespace:\n${dump}`);
    const arrive = hops.find((h) => h.kind === 'veth' && h.at.kind === 'wire' && h.peer.name === 'node-2');
    assert.ok(arrive?.kind === 'veth' && arrive.peer.dev === end('pve2'), `the cable delivers to node-2 ${end('pve2')}:\n${dump}`);
    assert.ok(!hops.some((h) => h.kind === 'route' && h.packet.daddr === encap.remoteVtep && h.route.dev === 'eth0'), 'no VXLAN traffic on the management link');

    // node-2 decapsulates into its cairn0 and delivers to the pod.
    const decap = hops.findIndex((h) => h.kind === 'vxlan-decap' && at(h) === 'node-2');
    assert.ok(decap > 0, dump);
    assert.ok(hops.slice(decap).some((h) => h.kind === 'veth' && at(h) === 'node-2' && h.peer.name === `${ns}/web-2`), dump);

    // The text output says the same.
    const text = await cluster.cairn('trace', 'pod/client', 'pod/web-2:8080', '-n', ns, '--data-dir', cluster.dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`encapsulated in VXLAN VNI \\d+, ${encap.localVtep.replace(/\./g, '\\.')} -> ${encap.remoteVtep.replace(/\./g, '\\.')} udp/\\d+`));
    assert.match(text.stdout, /DELIVERED to pod /);
  });
});
