/**
 * `cairn trace` on a real two-node `cairn up` cluster (root), run as a user runs it: busybox
 * httpd pods pinned to each node, a NodePort Service in front of them, then the paths of issue 5
 * read back from the live kernel — pod to pod on one node (bridged on cairn0), pod to pod across
 * nodes (VXLAN to the other node's VTEP), pod to Service (the DNAT to each endpoint), NodePort
 * from the host and from a node, a NetworkPolicy drop — and the bad input a user can type.
 * Fails (never skips) when a tool is missing; the cluster goes in `after`, even on failure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Branch, Hop, Leg, TraceResult } from '../../src/trace/hops.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const TEST_TIMEOUT = 180_000;
let cluster: CairnCluster;
let ns: string;
const ips: Record<string, string> = {};

const underlay = (n: number) => `${cluster.underlayPrefix}.${10 + n}`;

function httpd(name: string, node: string, app: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app } },
    spec: { nodeName: node, containers: [{ name: 'httpd', image: cluster.busybox, command: ['httpd', '-f', '-p', '8080'], ports: [{ name: 'http', containerPort: 8080 }] }] },
  };
}

/** `cairn trace ... -o json`, which must succeed. */
async function trace(...args: string[]): Promise<TraceResult> {
  const r = await cluster.cairn('trace', ...args, '-n', ns, '-o', 'json', '--data-dir', cluster.dir);
  assert.equal(r.code, 0, `cairn trace ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as TraceResult;
}

/** Every path of a trace: its hops from the start, and how it ends. */
function paths(l: Leg, before: Hop[] = []): { hops: Hop[]; end: NonNullable<Leg['end']>; branch?: Branch }[] {
  const hops = [...before, ...l.hops];
  if (l.end) return [{ hops, end: l.end }];
  return (l.branches ?? []).flatMap((b) => paths(b, hops).map((p) => ({ ...p, branch: p.branch ?? b })));
}
const only = (t: TraceResult) => {
  const ps = paths(t);
  assert.equal(ps.length, 1, `one path expected:\n${JSON.stringify(t, null, 1)}`);
  return ps[0]!;
};
const nftRules = (hops: Hop[]) => hops.flatMap((h) => (h.kind === 'nft' ? h.rules : []));

describe('cairn trace', { timeout: 900_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'trace' });
    ns = `cairn-${cluster.name}-trace`;
    await cluster.ok(['create', 'namespace', ns]);
    const objs = [
      httpd('client', 'node-1', 'client'),
      httpd('web-1', 'node-1', 'web'),
      httpd('web-2', 'node-2', 'web'),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }] } },
    ];
    await cluster.ok(['apply', '-n', ns, '-f', '-'], { input: objs.map((o) => JSON.stringify(o)).join('\n') });
    await until(
      'the three pods to run with IPs',
      async () => {
        const list = await cluster.json<{ items: { metadata: { name: string }; status: { phase?: string; podIP?: string } }[] }>(['get', 'pods', '-n', ns]);
        const up = list.items.filter((p) => p.status.phase === 'Running' && p.status.podIP);
        for (const p of up) ips[p.metadata.name] = p.status.podIP!;
        return up.length === 3;
      },
      120_000,
      1000,
    );
  }, { timeout: 400_000 });

  after(async () => {
    await cluster?.down();
  }, { timeout: 180_000 });

  it('pod to pod on one node: bridged on cairn0 through the forward hook, no tunnel', { timeout: TEST_TIMEOUT }, async () => {
    const t = await trace(`pod/client`, `pod/web-1:8080`);
    assert.deepEqual([t.from.ip, t.to.ip, t.to.port, t.protocol], [ips['client'], ips['web-1'], 8080, 'tcp']);
    const p = only(t);
    assert.deepEqual([p.end.outcome, p.end.at.name], ['delivered', `${ns}/web-1`]);
    assert.ok(!p.hops.some((h) => h.kind.startsWith('vxlan')), 'no VXLAN on one node');
    const bridge = p.hops.find((h) => h.kind === 'bridge');
    assert.ok(bridge && bridge.kind === 'bridge' && bridge.at.name === 'node-1' && bridge.bridge === 'cairn0' && bridge.decision !== 'local', `bridged on node-1's cairn0: ${JSON.stringify(bridge)}`);
    assert.ok(p.hops.some((h) => h.kind === 'nft' && h.hook === 'forward' && h.at.name === 'node-1'), 'bridged traffic meets the forward hook (br_netfilter)');
    // The text form, as a user reads it.
    const text = await cluster.cairn('trace', 'pod/client', 'pod/web-1:http', '-n', ns, '--data-dir', cluster.dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^trace tcp from pod ${ns}/client \\(${ips['client']}\\) to pod ${ns}/web-1 \\(${ips['web-1']}:8080\\)`));
    assert.match(text.stdout, new RegExp(`DELIVERED to pod ${ns}/web-1: ${ips['web-1']}:8080/tcp`));
  });

  it('pod to pod across nodes: VXLAN from node-1 to the VTEP of node-2, decapsulated there', { timeout: TEST_TIMEOUT }, async () => {
    const p = only(await trace('pod/client', 'pod/web-2:8080'));
    assert.deepEqual([p.end.outcome, p.end.at.name], ['delivered', `${ns}/web-2`]);
    const encap = p.hops.find((h) => h.kind === 'vxlan-encap');
    assert.ok(encap && encap.kind === 'vxlan-encap', 'a VXLAN encapsulation hop');
    assert.deepEqual([encap.at.name, encap.dev, encap.vni, encap.localVtep, encap.remoteVtep, encap.dstport], ['node-1', 'cairn.1', 1, underlay(1), underlay(2), 4789]);
    assert.equal(encap.packet.daddr, underlay(2), 'the outer packet goes to the remote VTEP');
    assert.equal(encap.inner.daddr, ips['web-2']);
    const decap = p.hops.find((h) => h.kind === 'vxlan-decap');
    assert.equal(decap?.at.name, 'node-2');
    // The outer packet crosses the underlay bridge on the host.
    assert.ok(p.hops.some((h) => h.kind === 'bridge' && h.at.kind === 'host'));
  });

  it('pod to Service: the verdict map, a numgen draw per endpoint, the DNAT, each endpoint reached', { timeout: TEST_TIMEOUT }, async () => {
    // Wait for the proxy to program both endpoints.
    const t = await until('both endpoints in the trace', async () => {
      const r = await trace('pod/client', 'svc/web:80');
      return paths(r).length === 2 && r;
    }, 60_000, 1000);
    const ps = paths(t);
    assert.deepEqual(ps.map((p) => p.branch?.target).sort(), [`${ips['web-1']}:8080`, `${ips['web-2']}:8080`].sort());
    for (const p of ps) {
      assert.equal(p.branch!.probability, 0.5);
      assert.equal(p.end.outcome, 'delivered');
      assert.equal(p.end.at.name, `${ns}/${p.branch!.target === `${ips['web-1']}:8080` ? 'web-1' : 'web-2'}`);
      const dnat = p.hops.find((h) => h.kind === 'nft' && h.nat.some((n) => n.kind === 'dnat'));
      assert.ok(dnat && dnat.kind === 'nft' && dnat.hook === 'prerouting' && dnat.at.name === 'node-1', 'DNAT at node-1 prerouting');
      assert.ok(dnat.rules.some((r) => r.rule.includes('vmap @service-ips')), 'dispatch by the service-ips verdict map');
      assert.ok(dnat.choices.length === 1 && dnat.choices[0]!.of === 2, 'a numgen draw among 2');
      assert.ok(
        dnat.rules.some((r) => r.effect === `dnat to ${p.branch!.target}` && r.comment?.includes(`${ns}/web`)),
        `the endpoint rule and its comment: ${JSON.stringify(dnat.rules)}`,
      );
    }
    assert.ok(paths(t).some((p) => p.hops.some((h) => h.kind === 'vxlan-encap')), 'the remote endpoint is reached through the tunnel');
  });

  it('pod to Service with a connection open: the endpoint conntrack shows', { timeout: TEST_TIMEOUT }, async () => {
    const svc = await cluster.json<{ spec: { clusterIP: string } }>(['get', 'service', 'web', '-n', ns]);
    // A connection that stays open (nc waits on its idle stdin), in the background with no
    // stream of the exec left open, so the exec returns at once.
    await cluster.ok(['exec', '-n', ns, 'client', '--', 'sh', '-c', `(sleep 120 | nc ${svc.spec.clusterIP} 80) </dev/null >/dev/null 2>&1 &`]);
    const t = await until('a conntrack hop in the trace', async () => {
      const r = await trace('pod/client', 'svc/web:80');
      return r.hops.some((h) => h.kind === 'conntrack') && r;
    }, 30_000, 1000);
    const ct = t.hops.find((h) => h.kind === 'conntrack')!;
    assert.ok(ct.kind === 'conntrack' && ct.at.name === 'node-1');
    assert.deepEqual(ct.possible.sort(), [`${ips['web-1']}:8080`, `${ips['web-2']}:8080`].sort());
    assert.equal(ct.chosen.length, 1, `one endpoint chosen: ${JSON.stringify(ct)}`);
    const p = only(t);
    assert.equal(p.end.outcome, 'delivered');
    assert.ok(nftRules(p.hops).some((r) => r.effect === `dnat to ${ct.chosen[0]}`), 'the path follows the connection conntrack shows');
  });

  it('NodePort from the host and from a node: DNAT to an endpoint, masqueraded', { timeout: TEST_TIMEOUT }, async () => {
    const t = await trace('host', 'svc/web:30080');
    assert.deepEqual([t.to.ip, t.to.port], [underlay(1), 30080], 'the NodePort on the first node');
    const ps = paths(t);
    assert.equal(ps.length, 2);
    for (const p of ps) {
      assert.equal(p.end.outcome, 'delivered', JSON.stringify(p.end));
      assert.equal(p.hops[0]!.at.kind, 'host');
      const rules = nftRules(p.hops);
      assert.ok(rules.some((r) => r.rule.includes('@service-nodeports')), 'the nodeport map');
      assert.ok(rules.some((r) => r.effect?.startsWith('masquerade to ')), 'off-cluster client: masqueraded');
      assert.ok(rules.some((r) => r.effect === `dnat to ${p.branch!.target}`));
    }
    const fromNode = await trace('node/node-2', 'svc/web:30080');
    assert.deepEqual([fromNode.to.ip, fromNode.from.label], [underlay(2), 'node node-2']);
    for (const p of paths(fromNode)) {
      assert.equal(p.end.outcome, 'delivered');
      assert.ok(p.hops.some((h) => h.kind === 'nft' && h.hook === 'output' && h.nat.some((n) => n.kind === 'dnat')), 'the node itself: DNAT at output');
    }
  });

  it('a NetworkPolicy drop: where and why', { timeout: TEST_TIMEOUT }, async () => {
    const deny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-web' }, spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] } };
    await cluster.ok(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(deny) });
    const p = await until('the policy to drop client -> web-2', async () => {
      const x = only(await trace('pod/client', 'pod/web-2:8080'));
      return x.end.outcome === 'dropped' && x;
    }, 30_000, 1000);
    assert.equal(p.end.at.name, 'node-2', 'dropped on the node of the isolated pod');
    const last = p.hops.at(-1)!;
    assert.ok(last.kind === 'nft' && last.hook === 'forward' && last.verdict === 'drop', `the forward hook drops: ${JSON.stringify(last)}`);
    assert.ok(last.rules.some((r) => r.chain.startsWith('policy-') && r.effect === 'drop'), 'a policy chain decides');
    assert.match(p.end.reason, /dropped at forward by policy-/);
    const text = await cluster.cairn('trace', 'pod/client', 'pod/web-2:8080', '-n', ns, '--data-dir', cluster.dir);
    assert.match(text.stdout, /DROPPED at node node-2: dropped at forward by policy-/);
    await cluster.ok(['delete', 'networkpolicy', 'deny-web', '-n', ns]);
  });

  it('bad input: one plain line and exit 1', { timeout: TEST_TIMEOUT }, async () => {
    const fails = async (args: string[], msg: RegExp, dir = cluster.dir) => {
      const r = await cluster.cairn('trace', ...args, '-n', ns, '--data-dir', dir);
      assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, msg);
    };
    await fails(['pod/nope', 'pod/web-1:8080'], /^error: pod "nope" not found in namespace/);
    await fails(['pod/client', 'svc/nope:80'], /^error: service "nope" not found/);
    await fails(['node/node-7', 'pod/web-1:8080'], /^error: node "node-7" not found/);
    await fails(['pod/client', 'pod/web-1'], /needs a port: pod\/web-1:PORT/);
    await fails(['pod/client', 'svc/web:81'], /has no port 81/);
    // A cluster that is not up: its API does not answer.
    const dir = await mkdtemp(join(tmpdir(), 'cairn-trace-down-'));
    try {
      await writeFile(join(dir, 'cluster.json'), await readFile(join(cluster.dir, 'cluster.json')));
      const kc = (await readFile(cluster.kubeconfig, 'utf8')).replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1');
      await writeFile(join(dir, 'kubeconfig'), kc);
      await fails(['pod/client', 'pod/web-1:8080'], /cannot read the API .*is the cluster up/, dir);
      await fails(['pod/client', 'pod/web-1:8080'], /no cluster in .*cairn up/, join(dir, 'none'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
