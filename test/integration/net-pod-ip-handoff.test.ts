// Pod IP handoff on real `cairn up` clusters, once per overlay mode — 2 nodes with the vxlan
// overlay, then the 3-node switchless iBGP fabric example with EVPN (the scenario uses node-1
// and node-2) — seen through kubectl, the host and pods on both nodes. Pod A on node-1 serves "A"; pod B on node-2, a migration target
// launcher (labels) created by the controller manager's identity with the handoff annotation,
// gets A's address routed (not bridged) and serves "B". Before activation the address answers
// "A" everywhere; activation — the agent's own `PodIpHandoffs.activate`, run here with node-2's
// credentials in node-2's namespace, exactly the call the VirtHandler makes — moves it to B for
// the host and pods on both nodes, untranslated, also across a restart of node-2's agent; A
// ends and its address stays out of node-1's IPAM; deleting B removes its routes and the Node
// annotation.
//
// `cairn up` runs the controller manager inside the API server (its loopback identity has no
// credentials on disk), so the test impersonates kube-controller-manager's user name, which the
// admission plugin accepts as a controller manager; the same create as the admin is refused.
// Host side, the test only reaches pod addresses of its own cluster; `down()` removes it all.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, HttpsTransport, silentLogger } from '../../src/client/index.js';
import { PodIpHandoffs } from '../../src/agent/pod-ip-handoff.js';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { Ip } from '../../src/net/ip.js';
import { hostVethName, podMac } from '../../src/net/pod-network.js';
import { POD_IP_HANDOFFS_ANNOTATION } from '../../src/net/pod-ip-handoff.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const ANN = 'cairn.io/pod-ip-handoff';
const AS_CONTROLLER_MANAGER = ['--as=system:kube-controller-manager', '--as-group=system:masters'];
const WAIT = 90_000;

const FABRIC = new URL('../../../examples/fabric/switchless-3node-ibgp.yaml', import.meta.url).pathname;

/** The cluster of the describe block running (they run one after the other). */
let cluster: CairnCluster;

const nodeNs = (n: number) => Ip.ns(`cairn-${cluster.name}-node-${n}`);

/** A busybox pod pinned to node n serving `text` on :80 and the caller's address on /cgi-bin/peer. */
function server(name: string, n: number, text: string, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): object {
  const script = [
    'mkdir -p /w/cgi-bin',
    `echo ${text} > /w/index.html`,
    `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /w/cgi-bin/peer`,
    'chmod +x /w/cgi-bin/peer',
    'exec httpd -f -p 80 -h /w',
  ].join(' && ');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name, ...meta.labels }, ...(meta.annotations ? { annotations: meta.annotations } : {}) },
    spec: { nodeName: `node-${n}`, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: cluster.busybox, command: ['sh', '-c', script] }] },
  };
}
const client = (name: string, n: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { nodeName: `node-${n}`, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: cluster.busybox, command: ['sleep', '3600'] }] },
});
const launcherLabels = { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': 'test-migration' };

async function create(obj: object, extra: string[] = []): Promise<{ code: number; out: string }> {
  const r = await cluster.kubectl(['create', ...extra, '-f', '-'], { input: JSON.stringify(obj) });
  return { code: r.code ?? -1, out: r.stdout + r.stderr };
}

async function running(name: string): Promise<Pod> {
  return until(
    `pod ${name} Running`,
    async () => {
      const p = await cluster.json<Pod>(['get', 'pod', name]);
      if (p.status?.phase === 'Running' && p.status.podIP && p.status.containerStatuses?.every((c) => c.ready)) return p;
      throw new Error(`pod ${name}: ${JSON.stringify(p.status)}`);
    },
    WAIT,
    500,
  );
}

/** GET from the host (root namespace: routed to the address's podCIDR node). */
function hostGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // busybox httpd passes a CGI's LF-only header lines through.
    const req = get(url, { timeout: 5000, insecureHTTPParser: true }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

async function podGet(pod: string, url: string): Promise<string> {
  const r = await cluster.kubectl(['exec', pod, '--', 'timeout', '5', 'wget', '-qO-', url], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`wget ${url} from ${pod} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** Waits until the host and both client pods get `want` from http://ip/. */
async function answersEverywhere(ip: string, want: string): Promise<void> {
  for (const [from, fetch] of [
    ['the host', () => hostGet(`http://${ip}/`)],
    ['a pod on node-1', () => podGet('client-1', `http://${ip}/`)],
    ['a pod on node-2', () => podGet('client-2', `http://${ip}/`)],
  ] as const) {
    await until(`${ip} to answer ${want} from ${from}`, async () => {
      const body = await fetch();
      if (body !== want) throw new Error(`got ${JSON.stringify(body)}`);
      return true;
    }, 30_000, 500);
  }
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILLs node n's agent (the pid `cairn up` recorded). */
async function killAgent(n: number): Promise<void> {
  const pid = (JSON.parse(readFileSync(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> }).agentPids[String(n)]!;
  assert.ok(alive(pid), `node-${n}'s agent runs (pid ${pid})`);
  process.kill(pid, 'SIGKILL');
  await until(`node-${n}'s agent to die`, () => !alive(pid), 10_000);
}

const nodeAnnotation = async (n: number) => (await cluster.json<{ metadata: { annotations?: Record<string, string> } }>(['get', 'node', `node-${n}`])).metadata.annotations?.[POD_IP_HANDOFFS_ANNOTATION];
const routeTo = async (n: number, ip: string) => (await nodeNs(n).routes()).filter((r) => r.dst === ip);

/** The overlay's route on node-1 toward node-2 for the address (vxlan: via node-2's .0 on cairn.1; evpn: via its .1 on cairn0). */
const TOWARD_NODE_2 = { vxlan: { dev: 'cairn.1', gw: /\.0$/ }, evpn: { dev: 'cairn0', gw: /\.1$/ } } as const;

for (const mode of ['vxlan', 'evpn'] as const) {
  describe(`${mode} overlay`, () => {
    before(
      async () => {
        // The fabric example has three nodes; the scenario uses node-1 and node-2.
        cluster = mode === 'vxlan' ? await upCluster({ nodes: 2, label: 'iph' }) : await upCluster({ nodes: 3, label: 'iphevpn', upArgs: ['--fabric', FABRIC] });
      },
      { timeout: 400_000 },
    );
    after(async () => {
      await cluster?.down();
    });
    it('a migration target takes over its source pod\'s IP: routed, inactive, then activated, then gone', { timeout: 360_000 }, () => scenario(mode));
  });
}

async function scenario(mode: 'vxlan' | 'evpn'): Promise<void> {
  const t0 = Date.now();
  assert.equal((await create(server('pod-a', 1, 'A'))).code, 0);
  assert.equal((await create(client('client-1', 1))).code, 0);
  assert.equal((await create(client('client-2', 2))).code, 0);
  const a = await running('pod-a');
  const ip = a.status!.podIP!;
  await running('client-1');
  await running('client-2');

  // The admin may not create a pod that takes over an address; the controller manager may.
  const target = server('pod-b', 2, 'B', { labels: launcherLabels, annotations: { [ANN]: ip } });
  const refused = await create(target);
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /Forbidden.*metadata\.annotations\[cairn\.io\/pod-ip-handoff\]/);
  const created = await create(target, AS_CONTROLLER_MANAGER);
  assert.equal(created.code, 0, created.out);
  const b = await running('pod-b');
  assert.equal(b.status!.podIP, ip, 'the target pod reports the source pod\'s IP');

  // Adding the annotation to an existing pod is refused for everyone.
  const annotate = await cluster.kubectl(['annotate', 'pod', 'client-1', `${ANN}=${ip}`, ...AS_CONTROLLER_MANAGER]);
  assert.notEqual(annotate.code, 0);
  assert.match(annotate.stdout + annotate.stderr, /metadata\.annotations\[cairn\.io\/pod-ip-handoff\]/);

  // The annotation on anything but a migration target launcher: the pod cannot start, and says why.
  assert.equal((await create(server('pod-bad', 2, 'X', { annotations: { [ANN]: ip } }), AS_CONTROLLER_MANAGER)).code, 0);
  await until('a FailedCreatePodSandBox event for pod-bad', async () => {
    const ev = await cluster.ok(['get', 'events', '--field-selector', 'involvedObject.name=pod-bad', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    if (!/FailedCreatePodSandBox: .*cairn\.io\/pod-ip-handoff.*migration target/.test(ev)) throw new Error(`events: ${ev}`);
    return true;
  }, WAIT, 1000);
  assert.equal((await cluster.json<Pod>(['get', 'pod', 'pod-bad'])).status?.phase, 'Pending');
  await cluster.ok(['delete', 'pod', 'pod-bad', '--wait=false']);

  // Routed: eth0 <ip>/32 with its own MAC, the host veth no bridge port and down, no route to it yet.
  const bUid = b.metadata.uid!;
  const veth = hostVethName(bUid);
  const n2 = nodeNs(2);
  const hostEnd = await n2.link(veth);
  assert.equal(hostEnd?.master, undefined, 'the target\'s host veth is not on cairn0');
  assert.ok(!hostEnd?.flags.includes('UP'), 'the target is cut off until activation');
  const addrs = await cluster.ok(['exec', 'pod-b', '--', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  assert.match(addrs, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/32 `));
  const defaultRoute = await cluster.ok(['exec', 'pod-b', '--', 'ip', 'route', 'show', 'default']);
  assert.match(defaultRoute, /default via 169\.254\.1\.1 dev eth0 onlink/);
  const mac = (await cluster.ok(['exec', 'pod-b', '--', 'cat', '/sys/class/net/eth0/address'])).trim();
  assert.notEqual(mac, podMac(ip), 'the target has a MAC of its own');
  assert.deepEqual(await routeTo(2, ip), [], 'no route to the address through the target before activation');

  // Before activation the address is A's, from everywhere.
  await answersEverywhere(ip, 'A');

  // Activation, as the VirtHandler calls it on node-2.
  const transport = HttpsTransport.fromKubeconfig(join(cluster.dir, 'nodes', '2', 'kubeconfig'));
  try {
    const handoffs = new PodIpHandoffs({ client: new Client(transport), nodeName: 'node-2', node: n2, nodes: () => [], pod: (uid) => (uid === bUid ? b : undefined), logger: silentLogger });
    const activatedAt = Date.now();
    const entry = await handoffs.activate(bUid);
    // How long the host, whose route goes to node-1, still reaches A: node-1's informer and reconcile.
    await until('the host to reach B', async () => (await hostGet(`http://${ip}/`).catch(() => '')) === 'B', 30_000, 20);
    console.log(`pod IP handoff (${mode}): ${Date.now() - activatedAt} ms from activate() until the host reached B`);
    assert.equal((await handoffs.activate(bUid)).since, entry.since, 'activate is idempotent');
  } finally {
    transport.close();
  }
  const listed = JSON.parse((await nodeAnnotation(2)) ?? '[]') as { ip: string; podUid: string }[];
  assert.deepEqual(listed.map((e) => [e.ip, e.podUid]), [[ip, bUid]]);
  await answersEverywhere(ip, 'B');
  // Untranslated: B sees the host's own address, as A did.
  assert.match(await hostGet(`http://${ip}/cgi-bin/peer`), new RegExp(`^\\[?(::ffff:)?${cluster.underlayPrefix.replace(/\./g, '\\.')}\\.1\\]?$`));
  const toward = TOWARD_NODE_2[mode];
  const n1Route = await until('node-1 to route the address to node-2', async () => (await routeTo(1, ip)).find((r) => r.dev === toward.dev), 30_000, 500);
  assert.ok(toward.gw.test(n1Route.gateway ?? '') && n1Route.flags.includes('onlink'), JSON.stringify(n1Route));
  assert.deepEqual((await routeTo(2, ip)).map((r) => r.dev), [veth]);

  // Restart-safe: node-2's agent, killed, its route lost meanwhile, restores it from its Node
  // entry and the live sandbox.
  await killAgent(2);
  assert.ok(await n2.removeRoute({ dst: ip, dev: veth }));
  const up = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
  assert.equal(up.code, 0, `cairn up again failed:\n${up.stdout}${up.stderr}`);
  await until('node-2\'s restarted agent to route the address to pod-b again', async () => (await routeTo(2, ip)).some((r) => r.dev === veth), 60_000, 500);
  await answersEverywhere(ip, 'B');

  // The source pod ends; its address stays out of node-1's IPAM while node-2 lists it.
  await cluster.ok(['delete', 'pod', 'pod-a', '--wait=true', '--timeout=60s']);
  assert.equal((await create(client('client-3', 1))).code, 0);
  assert.notEqual((await running('client-3')).status!.podIP, ip);
  await answersEverywhere(ip, 'B');

  // The target ends: its Node entry and every route for the address go.
  await cluster.ok(['delete', 'pod', 'pod-b', '--wait=true', '--timeout=60s']);
  await until('node-2 to drop its handoff annotation', async () => (await nodeAnnotation(2)) === undefined, 30_000, 500);
  await until('the /32 routes to go from both nodes', async () => !(await routeTo(1, ip)).length && !(await routeTo(2, ip)).length, 30_000, 500);
  await assert.rejects(hostGet(`http://${ip}/`), 'nothing answers for the address any more');
  console.log(`pod IP handoff scenario (${mode}): ${Math.round((Date.now() - t0) / 1000)} s`);
}
