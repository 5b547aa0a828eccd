/**
 * Cluster DNS on a real `cairn up` cluster (two nodes, real kubectl, busybox pods): `cairn up`
 * runs `cairn dns` on the host bridge address and makes the kube-dns Service and Endpoints;
 * dig from the host at the bridge address gets every record kind from live workloads (a
 * Deployment behind a ClusterIP Service, a StatefulSet behind a headless one, an ExternalName,
 * pod names, PTR, NXDOMAIN, NODATA, truncation and the TCP retry); a second `cairn dns` with the
 * cluster's DNS credentials forwards to a stand-in upstream on 127.0.0.x; busybox nslookup in a
 * pod finds a Service by its short name through the pod's resolv.conf (search path, ndots:5,
 * 10.96.0.10); the dnsPolicy variants write the right resolv.conf; `cairn status` reports the
 * server, `cairn up` restarts it after a SIGKILL and `cairn down` stops it. Fails (never skips)
 * when kubectl, dig or the network tools are missing; the cluster goes away even on failure.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, Pod, PodSpec } from '../../src/agent/pods/api-types.js';
import { findCairn } from '../../src/cluster/processes.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { dig, rdata, requireDig } from '../support/dig.js';
import { startFakeUpstream, type FakeUpstream } from '../support/dns-fake-upstream.js';
import { until } from '../support/until.js';

const CAIRN = new URL('../../../bin/cairn.js', import.meta.url).pathname;
const TEST_TIMEOUT = 240_000;
const WAIT = 120_000;

let cluster: CairnCluster;
let bridge: string;
let ns: string;
let down = false;
const extra: { child?: ChildProcess; upstream?: FakeUpstream } = {};

const q = (args: string[]) => dig(bridge, 53, args);
const box = (name: string, script: string, extraFields: Partial<Container> = {}): Container => ({ name, image: cluster.busybox, command: ['sh', '-c', script], ...extraFields });
const pod = (name: string, spec: PodSpec, labels?: Record<string, string>): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, ...(labels ? { labels } : {}) }, spec });
const apply = (...items: object[]) => cluster.ok(['apply', '-n', ns, '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
const exec = (podName: string, ...cmd: string[]) => cluster.kubectl(['exec', '-n', ns, podName, '--', ...cmd], { timeoutMs: 60_000 });
const waitReady = (selector: string[]) => cluster.ok(['wait', '-n', ns, '--for=condition=Ready', 'pod', ...selector, '--timeout=120s'], { timeoutMs: 150_000 });
const clusterIP = async (name: string, namespace = ns) => (await cluster.json<{ spec: { clusterIP: string } }>(['get', 'service', name, '-n', namespace])).spec.clusterIP;
const podIP = async (name: string) => (await cluster.json<{ status: { podIP: string } }>(['get', 'pod', name, '-n', ns])).status.podIP;

before(async () => {
  requireDig();
  cluster = await upCluster({ nodes: 2, label: 'dns' });
  bridge = `${cluster.underlayPrefix}.1`;
  ns = `dns-${cluster.name}`;
  await cluster.ok(['create', 'namespace', ns]);
  const sleeper = (labels: Record<string, string>) => ({ metadata: { labels }, spec: { terminationGracePeriodSeconds: 1, containers: [box('c', 'sleep 3600')] } });
  await apply(
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: sleeper({ app: 'web' }) } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] } },
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { serviceName: 'db', replicas: 2, selector: { matchLabels: { app: 'db' } }, template: sleeper({ app: 'db' }) } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'alias' }, spec: { type: 'ExternalName', externalName: `web.${ns}.svc.cluster.local` } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'big' }, spec: { clusterIP: 'None', ports: [{ name: 'p', port: 1 }] } },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'big' }, subsets: [{ addresses: Array.from({ length: 60 }, (_, i) => ({ ip: `10.250.0.${i + 1}` })), ports: [{ name: 'p', port: 1 }] }] },
    pod('client', { terminationGracePeriodSeconds: 1, containers: [box('c', 'sleep 3600')] }),
  );
  await waitReady(['-l', 'app=web']);
  await until('two db pods', async () => (await cluster.kubectl(['get', 'pod', 'db-1', '-n', ns])).code === 0, WAIT, 1000);
  await waitReady(['db-0', 'db-1', 'client']);
});

after(async () => {
  extra.child?.kill('SIGKILL');
  await extra.upstream?.close();
  if (!down) await cluster?.down();
});

describe('cairn up', { timeout: TEST_TIMEOUT }, () => {
  it('makes the kube-dns Service at 10.96.0.10 with its Endpoints on the bridge address', async () => {
    const svc = await cluster.json<{ metadata: { labels: Record<string, string> }; spec: { clusterIP: string; selector?: unknown; ports: { name: string; port: number; protocol: string }[] } }>(['get', 'service', 'kube-dns', '-n', 'kube-system']);
    assert.equal(svc.spec.clusterIP, '10.96.0.10');
    assert.equal(svc.metadata.labels['k8s-app'], 'kube-dns');
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(svc.spec.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`), ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP']);
    const ep = await cluster.json<{ subsets: { addresses: { ip: string }[] }[] }>(['get', 'endpoints', 'kube-dns', '-n', 'kube-system']);
    assert.deepEqual(ep.subsets[0]!.addresses.map((a) => a.ip), [bridge]);
    const slices = await cluster.json<{ items: { endpoints: { addresses: string[] }[] }[] }>(['get', 'endpointslices', '-n', 'kube-system', '-l', 'kubernetes.io/service-name=kube-dns']);
    assert.deepEqual(slices.items.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)), [bridge]);
  });

  it('cairn status shows the DNS server running and answering; its pid is in cluster.json', async () => {
    const r = await cluster.cairn('status', '--data-dir', cluster.dir, '--output', 'json');
    const status = JSON.parse(r.stdout) as { components: { name: string; pid: number; running: boolean; health: { ok: boolean; detail: string } }[] };
    const dns = status.components.find((c) => c.name === 'dns');
    assert.ok(dns?.running && dns.health.ok, JSON.stringify(dns));
    const state = JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { dnsPid: number };
    assert.equal(state.dnsPid, dns.pid);
    assert.match((await cluster.cairn('status', '--data-dir', cluster.dir)).stdout, new RegExp(`dns\\s+${dns.pid}\\s+running\\s+ok \\(dns://${bridge.replaceAll('.', '\\.')}:53\\)`));
  });
});

describe('dig from the host', { timeout: TEST_TIMEOUT }, () => {
  it('A of a ClusterIP Service, AAAA NODATA, NXDOMAIN with the SOA', async () => {
    assert.deepEqual(rdata((await q([`web.${ns}.svc.cluster.local`, 'A'])).answer), [await clusterIP('web')]);
    const nodata = await q([`web.${ns}.svc.cluster.local`, 'AAAA']);
    assert.equal(nodata.status, 'NOERROR');
    assert.deepEqual(nodata.answer, []);
    assert.equal(nodata.authority.length, 1);
    const nx = await q([`nope.${ns}.svc.cluster.local`, 'A']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.match(nx.authority[0] ?? '', / SOA ns\.dns\.cluster\.local\. /);
    assert.deepEqual(rdata((await q(['kubernetes.default.svc.cluster.local', 'A'])).answer), ['10.96.0.1']);
  });

  it('a headless Service: one A per ready pod, the StatefulSet pods by hostname, SRV per pod', async () => {
    const ips = [await podIP('db-0'), await podIP('db-1')];
    assert.deepEqual(rdata((await q([`db.${ns}.svc.cluster.local`, 'A'])).answer), [...ips].sort());
    assert.deepEqual(rdata((await q([`db-0.db.${ns}.svc.cluster.local`, 'A'])).answer), [ips[0]]);
    assert.deepEqual(rdata((await q([`db-1.db.${ns}.svc.cluster.local`, 'A'])).answer), [ips[1]]);
    const srv = await q([`_pg._tcp.db.${ns}.svc.cluster.local`, 'SRV']);
    assert.deepEqual(rdata(srv.answer), [`0 50 5432 db-0.db.${ns}.svc.cluster.local.`, `0 50 5432 db-1.db.${ns}.svc.cluster.local.`]);
  });

  it('SRV of a named port, PTR of a Service and of a pod, CNAME of an ExternalName, pod A records', async () => {
    const web = await clusterIP('web');
    assert.deepEqual(rdata((await q([`_http._tcp.web.${ns}.svc.cluster.local`, 'SRV'])).answer), [`0 100 80 web.${ns}.svc.cluster.local.`]);
    assert.deepEqual(rdata((await q(['-x', web])).answer), [`web.${ns}.svc.cluster.local.`]);
    assert.deepEqual(rdata((await q(['-x', await podIP('db-0')])).answer), [`db-0.db.${ns}.svc.cluster.local.`]);
    assert.deepEqual((await q([`alias.${ns}.svc.cluster.local`, 'A'])).answer, [`alias.${ns}.svc.cluster.local. 30 IN CNAME web.${ns}.svc.cluster.local.`, `web.${ns}.svc.cluster.local. 30 IN A ${web}`]);
    const clientIP = await podIP('client');
    assert.deepEqual(rdata((await q([`${clientIP.replaceAll('.', '-')}.${ns}.pod.cluster.local`, 'A'])).answer), [clientIP]);
  });

  it('truncates a big answer over UDP; dig retries over TCP and gets all of it', async () => {
    const udp = await q(['+ignore', '+noedns', `big.${ns}.svc.cluster.local`, 'A']);
    assert.ok(udp.flags.includes('tc'));
    const full = await q(['+noedns', `big.${ns}.svc.cluster.local`, 'A']);
    assert.ok(full.retriedTcp);
    assert.equal(full.answer.length, 60);
  });

  it("forwards outside names: a second `cairn dns` with the cluster's DNS credentials and a stand-in upstream", async () => {
    extra.upstream = await startFakeUpstream({ host: '127.0.0.81', records: { 'outside.test A': [{ name: 'outside.test', type: 'A', ttl: 60, data: '192.0.2.9' }] } });
    const child = spawn(process.execPath, [CAIRN, 'dns', '--data-dir', join(cluster.dir, 'dns'), '--listen', '127.0.0.1:0', '--upstream', `127.0.0.81:${extra.upstream.address.port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    extra.child = child;
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d));
    const port = await until('the second cairn dns to serve', () => {
      if (child.exitCode !== null) assert.fail(`cairn dns exited ${child.exitCode}: ${log}`);
      return Number(/serving on 127\.0\.0\.1:(\d+)/.exec(log)?.[1] ?? 0);
    }, 30_000);
    await until('its caches', async () => (await dig('127.0.0.1', port, [`web.${ns}.svc.cluster.local`, 'A'])).status === 'NOERROR', 30_000, 200);
    assert.deepEqual(rdata((await dig('127.0.0.1', port, ['outside.test', 'A'])).answer), ['192.0.2.9']);
    child.kill('SIGTERM');
  });
});

describe('from pods', { timeout: TEST_TIMEOUT }, () => {
  it('busybox nslookup finds a Service by its short name through resolv.conf (search path, 10.96.0.10)', async () => {
    const conf = (await exec('client', 'cat', '/etc/resolv.conf')).stdout;
    assert.match(conf, /^nameserver 10\.96\.0\.10$/m);
    assert.match(conf, new RegExp(`^search ${ns}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`, 'm'));
    assert.match(conf, /^options ndots:5$/m);
    const web = await clusterIP('web');
    // busybox's nslookup (1.28+) asks every search-path candidate and prints each one's fate: the
    // first (<ns>.svc) answers, the others are NXDOMAIN, and it exits 1 for those — its known
    // quirk with any Kubernetes DNS (CoreDNS too). What counts is the answer it prints.
    const r = await exec('client', 'nslookup', 'web');
    assert.match(r.stdout, new RegExp(`Name:\\s+web\\.${ns}\\.svc\\.cluster\\.local\\s+Address:\\s+${web.replaceAll('.', '\\.')}`), `nslookup web:\n${r.stdout}${r.stderr}`);
    // It applies the search path only to names without a dot (another quirk): a dotted name goes as it is.
    const other = await exec('client', 'nslookup', 'kubernetes.default.svc.cluster.local');
    assert.match(other.stdout, /Address:\s+10\.96\.0\.1\b/, other.stdout + other.stderr);
  });

  it('the pod reaches the server at the bridge address too', async () => {
    const r = await exec('client', 'nslookup', `db-0.db.${ns}.svc.cluster.local`, bridge);
    assert.match(r.stdout, new RegExp(`Address:\\s+${(await podIP('db-0')).replaceAll('.', '\\.')}`), r.stdout + r.stderr);
  });

  it('dnsPolicy Default, None with dnsConfig, and ClusterFirstWithHostNet write the resolv.conf upstream does', async () => {
    await apply(
      pod('p-default', { dnsPolicy: 'Default', terminationGracePeriodSeconds: 1, containers: [box('c', 'sleep 3600')] }),
      pod('p-none', { dnsPolicy: 'None', dnsConfig: { nameservers: ['192.0.2.53'], searches: ['corp.test'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] }, terminationGracePeriodSeconds: 1, containers: [box('c', 'sleep 3600')] }),
      pod('p-hostnet', { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet', terminationGracePeriodSeconds: 1, containers: [box('c', 'sleep 3600')] }),
    );
    await waitReady(['p-default', 'p-none', 'p-hostnet']);
    const host = await readFile('/etc/resolv.conf', 'utf8');
    const hostServers = host.split('\n').filter((l) => l.startsWith('nameserver'));
    const def = (await exec('p-default', 'cat', '/etc/resolv.conf')).stdout;
    assert.deepEqual(def.split('\n').filter((l) => l.startsWith('nameserver')), hostServers, def);
    assert.doesNotMatch(def, /10\.96\.0\.10|svc\.cluster\.local/);
    assert.equal((await exec('p-none', 'cat', '/etc/resolv.conf')).stdout, 'search corp.test\nnameserver 192.0.2.53\noptions ndots:2 edns0\n');
    const hostnet = (await exec('p-hostnet', 'cat', '/etc/resolv.conf')).stdout;
    assert.match(hostnet, /^nameserver 10\.96\.0\.10$/m);
    assert.match(hostnet, new RegExp(`^search ${ns}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`, 'm'));
  });
});

describe('the process', { timeout: TEST_TIMEOUT }, () => {
  it('`cairn up` starts it again after a SIGKILL; a second `cairn up` leaves it alone', async () => {
    const dnsDir = join(cluster.dir, 'dns');
    const [pid] = await findCairn('dns', dnsDir);
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await until('the DNS server gone', async () => !(await findCairn('dns', dnsDir)).includes(pid), 10_000, 100);
    const up = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /dns: starting \(pid \d+\)/);
    assert.match(up.stdout, /dns: ready at /);
    assert.deepEqual(rdata((await q([`web.${ns}.svc.cluster.local`, 'A'])).answer), [await clusterIP('web')]);
    const again = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
    assert.match(again.stdout, /dns: running \(pid \d+\)/);
    assert.match(again.stdout, /is already running/);
  });

  it('`cairn down` stops it', async () => {
    const dnsDir = join(cluster.dir, 'dns');
    assert.equal((await findCairn('dns', dnsDir)).length, 1);
    down = true;
    await cluster.down();
    assert.deepEqual(await findCairn('dns', dnsDir), []);
  });
});
