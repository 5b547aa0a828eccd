// `cairn up` / `cairn status` / `cairn down` end to end, as a user runs them (root): two nodes
// Ready through the real kubectl, a pod reached from the host at its pod IP, a second `cairn up`
// finding the running cluster, an agent killed with SIGKILL brought back by `cairn up`, and
// `cairn down --purge` leaving the host exactly as it was — network namespaces, root links and
// routes, nft tables, mounts, cgroups, processes — with that pod's container still running.
// The cluster name, ports and networks are unique per run, so other tests may run alongside.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cgroupMounts } from '../../src/agent/runtime/cgroups.js';
import { portFree } from '../../src/cluster/preflight.js';
import { teardownCluster } from '../../src/net/lab.js';
import { Ip } from '../../src/net/ip.js';
import { requireNetTools, runClusterName, snapshotCairn } from '../support/net-lab.js';
import { until } from '../support/until.js';

const CAIRN = new URL('../../../bin/cairn.js', import.meta.url).pathname;
const RUN = runClusterName();
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
const UNDERLAY = `172.21.${rand(0, 256)}`;
const CLUSTER_CIDR = `10.${rand(150, 250)}.0.0/16`;
let dir: string;
let apiPort: number;
let agentBase: number;
let before0: HostSnapshot;
/** The pod the tests run: its node's index and its IP. */
let web: { node: number; ip: string } | undefined;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const cairn = (...args: string[]) => run(process.execPath, [CAIRN, ...args]);
const up = () => cairn('up', '--nodes', '2', '--data-dir', dir, '--name', RUN, '--api-port', String(apiPort), '--agent-base-port', String(agentBase), '--underlay-cidr', `${UNDERLAY}.0/24`, '--cluster-cidr', CLUSTER_CIDR, '--timeout', '150');
const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);

async function kubectlNodes(): Promise<{ name: string; ready: string; internalIP: string; podCIDR: string }[]> {
  const r = await run('kubectl', ['get', 'nodes', '-o', 'json'], { KUBECONFIG: join(dir, 'kubeconfig') });
  ok(r, 'kubectl get nodes');
  const list = JSON.parse(r.stdout) as { items: { metadata: { name: string }; spec: { podCIDR?: string }; status: { conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[] } }[] };
  return list.items
    .map((n) => ({
      name: n.metadata.name,
      ready: n.status.conditions.find((c) => c.type === 'Ready')?.status ?? '',
      internalIP: n.status.addresses.find((a) => a.type === 'InternalIP')?.address ?? '',
      podCIDR: n.spec.podCIDR ?? '',
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const state = async () => JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as { serverPid: number; agentPids: Record<string, number> };
const alive = (pid: number) => {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** The status line of an HTTP answer from host:port (a pod IP, through the root-namespace route). */
function httpHead(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 5000 }, () => s.write('HEAD / HTTP/1.0\r\n\r\n'));
    let data = '';
    s.on('data', (d: Buffer) => (data += d));
    s.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    s.on('timeout', () => s.destroy(new Error(`no answer from ${host}:${port}`)));
    s.on('error', reject);
  });
}

// ---- the host snapshot ----

interface HostSnapshot {
  netns: string[];
  links: string[];
  nftTables: string[];
  routes: string[];
  mounts: string[];
  cgroups: string[];
  processes: string[];
}

async function cairnCgroups(): Promise<string[]> {
  const { v1, v2 } = cgroupMounts();
  const out: string[] = [];
  const walk = async (root: string, rel: string) => {
    out.push(`${root}:${rel}`);
    for (const e of await readdir(join(root, rel), { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await walk(root, `${rel}/${e.name}`);
  };
  for (const root of new Set([...v1.values(), ...(v2 ? [v2] : [])])) {
    for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) if (e.isDirectory() && e.name.startsWith('cairn')) await walk(root, `/${e.name}`);
  }
  return out.sort();
}

async function snapshot(): Promise<HostSnapshot> {
  const base = await snapshotCairn();
  const routes = (await Ip.root.routes()).map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`).sort();
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter(Boolean).sort();
  const processes: string[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir)) processes.push(`${p} ${cmd.replace(/\0/g, ' ')}`);
  }
  return { ...base, routes, mounts, cgroups: await cairnCgroups(), processes };
}

/**
 * Everything that differs between two snapshots, both ways, leaving out what other clusters and
 * tests on this machine make meanwhile: objects named for another cluster (`cairn-<other>-…`
 * namespaces, links, tables, routes on its bridge, `/cairn-<other>` cgroups, its mounts) and
 * mounts in other temporary directories. Anything of this run's cluster or data dir counts.
 */
function differences(a: HostSnapshot, b: HostSnapshot): Partial<HostSnapshot> {
  const tmp = tmpdir();
  const others = (x: string) => {
    if (x.includes(dir)) return false;
    const m = /cairn-([a-z0-9]{1,20})(-|\/|$| )/.exec(x);
    if (m && m[1] !== RUN) return true;
    return x.startsWith(`${tmp}/`);
  };
  const out: Partial<HostSnapshot> = {};
  for (const k of Object.keys(a) as (keyof HostSnapshot)[]) {
    const gone = a[k].filter((x) => !b[k].includes(x) && !others(x));
    const added = b[k].filter((x) => !a[k].includes(x) && !others(x));
    const d = [...gone.map((x) => `- ${x}`), ...added.map((x) => `+ ${x}`)];
    if (d.length) out[k] = d;
  }
  return out;
}

async function freeBase(): Promise<number> {
  for (;;) {
    const base = rand(20000, 60000);
    if ((await portFree(base + 1)) && (await portFree(base + 2))) return base;
  }
}

before(async () => {
  requireNetTools();
  const k = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (k.error || k.status !== 0) throw new Error(`kubectl is missing (scripts/setup.sh installs it): ${k.error?.message ?? k.stderr}`);
  dir = await mkdtemp(join(tmpdir(), `cairn-up-${RUN}-`));
  before0 = await snapshot();
  apiPort = rand(20000, 60000);
  while (!(await portFree(apiPort))) apiPort = rand(20000, 60000);
  agentBase = await freeBase();
});

after(async () => {
  // Whatever the tests did or did not get to: bring everything down, then make sure.
  if (dir && existsSync(dir)) await cairn('down', '--data-dir', dir, '--purge');
  await teardownCluster(RUN).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('cairn up brings two nodes Ready, seen by kubectl', { timeout: 240_000 }, async () => {
  const r = await up();
  ok(r, 'cairn up');
  assert.match(r.stdout, new RegExp(`cluster "${RUN}" is up: 2 nodes Ready`));
  assert.ok(r.stdout.includes(`export KUBECONFIG=${join(dir, 'kubeconfig')}`), r.stdout);
  const nodes = await kubectlNodes();
  assert.deepEqual(
    nodes.map((n) => [n.name, n.ready, n.internalIP]),
    [
      ['node-1', 'True', `${UNDERLAY}.11`],
      ['node-2', 'True', `${UNDERLAY}.12`],
    ],
  );
  const clusterPrefix = CLUSTER_CIDR.split('.').slice(0, 2).join('.');
  for (const n of nodes) assert.match(n.podCIDR, new RegExp(`^${clusterPrefix.replace('.', '\\.')}\\.\\d+\\.0/24$`));
  // The host reaches each node's pods through its underlay address.
  const routes = await Ip.root.routes({ dev: `cairn-${RUN}-br` });
  for (const [i, n] of nodes.entries()) assert.ok(routes.some((x) => x.dst === n.podCIDR && x.gateway === `${UNDERLAY}.${11 + i}`), `route to ${n.podCIDR}: ${JSON.stringify(routes)}`);
});

test('cairn status shows the components and the nodes', { timeout: 60_000 }, async () => {
  const r = await cairn('status', '--data-dir', dir);
  ok(r, 'cairn status');
  const s = await state();
  assert.match(r.stdout, new RegExp(`server\\s+${s.serverPid}\\s+running\\s+ok`));
  for (const n of ['1', '2']) {
    assert.match(r.stdout, new RegExp(`node-${n}\\s+${s.agentPids[n]}\\s+running\\s+ok`), r.stdout);
    assert.match(r.stdout, new RegExp(`node-${n}\\s+Ready\\s+\\d+/110\\s+${UNDERLAY.replace(/\./g, '\\.')}\\.1${n}`), r.stdout);
  }
});

test('a pod runs, and the host reaches it at its pod IP', { timeout: 120_000 }, async () => {
  const images = await cairn('image', 'list', '--data-dir', join(dir, 'nodes', '1'), '--output', 'json');
  ok(images, 'cairn image list');
  const busybox = (JSON.parse(images.stdout) as { references: string[] }[]).flatMap((i) => i.references).find((r) => r.startsWith('cairn.local/busybox:'));
  assert.ok(busybox, `the node's built-in busybox image: ${images.stdout}`);
  const env = { KUBECONFIG: join(dir, 'kubeconfig') };
  ok(await run('kubectl', ['run', 'web', `--image=${busybox}`, '--image-pull-policy=Never', '--command', '--', 'httpd', '-f', '-p', '8080', '-h', '/'], env), 'kubectl run');
  const pod = await until(
    'the pod to run',
    async () => {
      const r = await run('kubectl', ['get', 'pod', 'web', '-o', 'json'], env);
      const p = JSON.parse(r.stdout) as { spec: { nodeName: string }; status: { phase: string; podIP?: string } };
      return p.status.phase === 'Running' && p.status.podIP ? p : undefined;
    },
    90_000,
    500,
  );
  const node = (await kubectlNodes()).find((n) => n.name === pod.spec.nodeName)!;
  assert.ok(pod.status.podIP!.startsWith(node.podCIDR.replace(/0\/24$/, '')), `${pod.status.podIP} in ${node.podCIDR}`);
  const answer = await httpHead(pod.status.podIP!, 8080);
  assert.match(answer, /^HTTP\/1\.[01] /);
  web = { node: Number(pod.spec.nodeName.replace('node-', '')), ip: pod.status.podIP! };
});

test('a second cairn up finds the running cluster and starts nothing', { timeout: 240_000 }, async () => {
  const s = await state();
  const r = await up();
  ok(r, 'second cairn up');
  assert.match(r.stdout, new RegExp(`cluster "${RUN}" is already running: 2 nodes Ready`));
  assert.ok(r.stdout.includes(`server: running (pid ${s.serverPid})`), r.stdout);
  assert.ok(r.stdout.includes(`node-1: agent running (pid ${s.agentPids['1']})`), r.stdout);
  assert.deepEqual(await state(), s);
  // Its shape cannot change underneath it.
  const other = await cairn('up', '--data-dir', dir, '--nodes', '3');
  assert.equal(other.code, 1);
  assert.equal(other.stderr.trim(), `error: the cluster in ${dir} was made with --nodes 2, not 3; run 'cairn down --data-dir ${dir} --purge' first to make a different one`);
});

test("the pod's agent killed with SIGKILL is restarted by cairn up; the pod keeps running", { timeout: 240_000 }, async () => {
  assert.ok(web, 'the pod test ran');
  const [killed, other] = web.node === 1 ? ['1', '2'] : ['2', '1'];
  const s = await state();
  const old = s.agentPids[killed]!;
  process.kill(old, 'SIGKILL');
  await until('the agent to die', () => !alive(old), 10_000);
  const r = await up();
  ok(r, 'cairn up after the kill');
  assert.ok(r.stdout.includes(`server: running (pid ${s.serverPid})`), r.stdout);
  assert.ok(r.stdout.includes(`node-${other}: agent running (pid ${s.agentPids[other]})`), r.stdout);
  assert.match(r.stdout, new RegExp(`node-${killed}: agent starting \\(pid \\d+\\)`));
  assert.match(r.stdout, new RegExp(`cluster "${RUN}" is up: 2 nodes Ready`));
  const now = await state();
  assert.notEqual(now.agentPids[killed], old);
  assert.ok(alive(now.agentPids[killed]!));
  assert.deepEqual((await kubectlNodes()).map((n) => n.ready), ['True', 'True']);
  assert.match(await httpHead(web.ip, 8080), /^HTTP\/1\.[01] /);
});

test('cairn down --purge leaves the host as it was', { timeout: 120_000 }, async () => {
  const r = await cairn('down', '--data-dir', dir, '--purge');
  ok(r, 'cairn down --purge');
  assert.match(r.stdout, /cluster removed/);
  assert.equal(existsSync(dir), false);
  assert.deepEqual(differences(before0, await snapshot()), {});
});

test('cairn up refuses a pod network inside the Service network, in one line', { timeout: 30_000 }, async () => {
  const r = await cairn('up', '--data-dir', `${dir}-never`, '--cluster-cidr', '10.100.0.0/16');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: --cluster-cidr 10.100.0.0/16 overlaps the Service network 10.96.0.0/12\n');
  assert.equal(existsSync(`${dir}-never`), false);
});
