/**
 * Pods on real containers through the real kubectl (root): one `cairn up` cluster of two nodes —
 * API server, scheduler, controllers, a node agent per node running runc containers of the
 * built-in busybox image — and every test in its own namespace, asserting what a kubectl user
 * sees: the READY / STATUS / RESTARTS columns, `-o json` fields, events, command output and exit
 * codes. The tests are independent, so a few run at a time to keep the file short on a shared
 * machine. Fails (never skips) when kubectl or the network tools are missing; the cluster, its
 * namespaces and every kubectl this file starts are gone when it ends, even after a failure.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, ContainerStatus, Pod, PodSpec } from '../../src/agent/pods/api-types.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

/** Per test: generous for a loaded 2-core machine, but bounded. */
const TEST_TIMEOUT = 240_000;
/** Waiting for one observable change of a pod. */
const WAIT = 90_000;
/** kubectl is a process per call: poll it at a modest rate. */
const POLL = 1000;

let cluster: CairnCluster;

// ---- helpers: what a user does with kubectl ----

async function namespace(short: string): Promise<string> {
  const ns = `cairn-${cluster.name}-${short}`;
  await cluster.ok(['create', 'namespace', ns]);
  return ns;
}

/** `kubectl apply -f -` of these objects (a stream of JSON documents), into the namespace. */
async function apply(ns: string, ...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-n', ns, '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}

function pod(name: string, spec: PodSpec, labels?: Record<string, string>): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...(labels ? { labels } : {}) }, spec };
}

/** A busybox container running a shell script. */
function box(name: string, script: string, extra: Partial<Container> = {}): Container {
  return { name, image: cluster.busybox, command: ['sh', '-c', script], ...extra };
}

const getPod = (ns: string, name: string) => cluster.json<Pod>(['get', 'pod', name, '-n', ns]);

function status(p: Pod, container: string): ContainerStatus {
  const cs = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].find((c) => c.name === container);
  assert.ok(cs, `no status for container ${container}: ${JSON.stringify(p.status)}`);
  return cs;
}

interface Row {
  ready: string;
  status: string;
  restarts: number;
}

/** The columns `kubectl get pod` prints: NAME READY STATUS RESTARTS AGE. */
async function row(ns: string, name: string): Promise<Row> {
  const cols = (await cluster.ok(['get', 'pod', name, '-n', ns, '--no-headers'])).trim().split(/\s{2,}/);
  assert.equal(cols[0], name, `unexpected row: ${cols.join(' | ')}`);
  return { ready: cols[1]!, status: cols[2]!, restarts: parseInt(cols[3]!, 10) };
}

/** Polls until `check` passes; `check` throws (with what it saw) while it does not. */
function waitFor<T>(what: string, check: () => Promise<T>, ms = WAIT): Promise<T> {
  return until(what, async () => ({ value: await check() }), ms, POLL).then((r) => r.value);
}

/** Waits for the pod's row to match, e.g. `{ ready: '1/1', status: 'Running' }`. */
function waitRow(ns: string, name: string, want: Partial<Row> | ((r: Row) => boolean), ms = WAIT): Promise<Row> {
  const ok = typeof want === 'function' ? want : (r: Row) => Object.entries(want).every(([k, v]) => r[k as keyof Row] === v);
  return waitFor(
    `pod ${name} to show ${typeof want === 'function' ? 'the expected row' : JSON.stringify(want)}`,
    async () => {
      const r = await row(ns, name);
      if (!ok(r)) throw new Error(`kubectl shows ${JSON.stringify(r)}`);
      return r;
    },
    ms,
  );
}

async function waitPod(ns: string, name: string, what: string, ok: (p: Pod) => boolean, ms = WAIT): Promise<Pod> {
  return waitFor(
    `pod ${name}: ${what}`,
    async () => {
      const p = await getPod(ns, name);
      if (!ok(p)) throw new Error(`status ${JSON.stringify(p.status)}`);
      return p;
    },
    ms,
  );
}

interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  count?: number;
}

async function events(ns: string, name: string): Promise<KubeEvent[]> {
  return (await cluster.json<{ items: KubeEvent[] }>(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`])).items;
}

/** Waits until the pod has an event of this type and reason whose message matches; returns it. */
function waitEvent(ns: string, name: string, type: string, reason: string, message: string | RegExp, ms = WAIT): Promise<KubeEvent> {
  const matches = (m: string) => (typeof message === 'string' ? m === message : message.test(m));
  return waitFor(
    `a ${type} ${reason} event on ${name}`,
    async () => {
      const all = await events(ns, name);
      const e = all.find((x) => x.type === type && x.reason === reason && matches(x.message));
      if (!e) throw new Error(`events: ${JSON.stringify(all.map((x) => `${x.type} ${x.reason} ${x.message}`))}`);
      return e;
    },
    ms,
  );
}

/** The long-running kubectls still alive: stopped in `after` too, should a test time out. */
const running = new Set<KubectlProcess>();

/** A kubectl that keeps running (logs -f, port-forward, get -w); always stopped in `finally`. */
class KubectlProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: string[]) {
    this.child = spawn('kubectl', ['--kubeconfig', cluster.kubeconfig, '--cache-dir', join(cluster.dir, 'kubectl-cache'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      // A kubectl that cannot start reads as one that failed, with the reason in stderr.
      this.child.on('error', (e) => {
        this.stderr += `${e.message}\n`;
        running.delete(this);
        resolve(null);
      });
      this.child.on('close', (code) => {
        running.delete(this);
        resolve(code);
      });
    });
  }

  /** The exit code, failing the test if it does not exit within `ms`. */
  async exit(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`kubectl did not exit within ${ms} ms; output so far:\n${this.stdout}${this.stderr}`)), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const attemptOf = (containerID: string | undefined) => Number(containerID?.split('-').pop());
const lines = (...l: string[]) => l.map((x) => `${x}\n`).join('');
/** Each instance numbers itself: the count lives in an emptyDir at /data, which outlives restarts. */
const COUNT = 'n=$(( $(cat /data/n 2>/dev/null || echo 0) + 1 )); echo $n > /data/n';
const DATA = { volumes: [{ name: 'data', emptyDir: {} }] };
const dataMount = { volumeMounts: [{ name: 'data', mountPath: '/data' }] };

// ---- the tests ----

describe('pods on real containers, through kubectl', { concurrency: 4 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'agent-pods' });
  }, { timeout: 300_000 });
  after(async () => {
    for (const p of running) p.stop();
    await cluster?.down();
  }, { timeout: 180_000 });

  it('runs a pod and shows its logs: current, -c, --tail, -f until the exit, --previous', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('logs');
    // Each instance prints five numbered lines, then ends when the test creates /data/go.
    const main = `${COUNT}; rm -f /data/go; for i in 1 2 3 4 5; do echo "run $n line $i"; done; until [ -e /data/go ]; do sleep 1; done; echo "run $n done"`;
    await apply(ns, pod('talker', { ...DATA, containers: [box('main', main, dataMount), box('side', 'echo side up; exec sleep 3600', dataMount)] }));
    await waitRow(ns, 'talker', { ready: '2/2', status: 'Running', restarts: 0 });
    const run1 = lines(...[1, 2, 3, 4, 5].map((i) => `run 1 line ${i}`));
    await waitFor('five lines from main', async () => assert.equal(await cluster.ok(['logs', '-n', ns, 'talker', '-c', 'main']), run1));

    const byDefault = await cluster.kubectl(['logs', '-n', ns, 'talker']);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.equal(byDefault.stdout, run1);
    assert.match(byDefault.stderr, /Defaulted container "main" out of: main, side/);
    assert.equal(await cluster.ok(['logs', '-n', ns, 'talker', '-c', 'side']), 'side up\n');
    assert.equal(await cluster.ok(['logs', '-n', ns, 'talker', '-c', 'main', '--tail', '2']), lines('run 1 line 4', 'run 1 line 5'));

    // -f streams while the container runs and ends (exit 0) when it exits.
    const follow = new KubectlProcess(['logs', '-f', '-n', ns, 'talker', '-c', 'main']);
    try {
      await until('logs -f to print the lines', () => follow.stdout.includes('run 1 line 5'), WAIT, 200);
      await cluster.ok(['exec', '-n', ns, 'talker', '-c', 'side', '--', 'touch', '/data/go']);
      assert.equal(await follow.exit(60_000), 0, follow.stderr);
      assert.equal(follow.stdout, run1 + 'run 1 done\n');
    } finally {
      follow.stop();
    }

    // The first restart is immediate; --previous shows the instance that ended.
    await waitRow(ns, 'talker', { ready: '2/2', status: 'Running', restarts: 1 });
    const p = await getPod(ns, 'talker');
    assert.deepEqual(
      { exitCode: status(p, 'main').lastState?.terminated?.exitCode, reason: status(p, 'main').lastState?.terminated?.reason },
      { exitCode: 0, reason: 'Completed' },
    );
    await waitFor('the second run to print', async () => assert.equal(await cluster.ok(['logs', '-n', ns, 'talker', '-c', 'main']), run1.replace(/run 1/g, 'run 2')));
    assert.equal(await cluster.ok(['logs', '-n', ns, 'talker', '-c', 'main', '--previous']), run1 + 'run 1 done\n');
  });

  it('exec: exit codes, stdin with -i, a command the image does not have', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('exec');
    await cluster.ok(['run', 'sleeper', '-n', ns, `--image=${cluster.busybox}`, '--command', '--', 'sleep', '3600']);
    await waitRow(ns, 'sleeper', { ready: '1/1', status: 'Running' });

    const three = await cluster.kubectl(['exec', '-n', ns, 'sleeper', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([three.code, three.stdout], [3, 'out\n']);
    assert.match(three.stderr, /^err\ncommand terminated with exit code 3\n$/);

    const upper = await cluster.kubectl(['exec', '-i', '-n', ns, 'sleeper', '--', 'sh', '-c', 'tr a-z A-Z'], { input: 'hello from the test\nsecond line\n' });
    assert.deepEqual([upper.code, upper.stdout], [0, 'HELLO FROM THE TEST\nSECOND LINE\n']);

    const missing = await cluster.kubectl(['exec', '-n', ns, 'sleeper', '--', 'no-such-command', 'arg']);
    assert.notEqual(missing.code, 0);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
  });

  it('port-forward reaches an httpd in the pod from the test', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('pf');
    const page = `served by ${ns}`;
    await apply(ns, pod('web', { containers: [box('httpd', `mkdir -p /www && echo '${page}' > /www/index.html && exec httpd -f -p 8080 -h /www`)] }));
    await waitRow(ns, 'web', { ready: '1/1', status: 'Running' });
    const port = await freeLocalPort();
    const pf = new KubectlProcess(['port-forward', '-n', ns, 'pod/web', `${port}:8080`]);
    try {
      await until('port-forward to listen', () => pf.stdout.includes(`Forwarding from 127.0.0.1:${port} -> 8080`), WAIT, 200);
      const get = async () => {
        const r = await fetch(`http://127.0.0.1:${port}/index.html`);
        return `${r.status} ${await r.text()}`;
      };
      assert.equal(await until('the page through the tunnel', () => get().catch(() => undefined), 30_000, 500), `200 ${page}\n`);
      // Several connections at once, each its own stream.
      assert.deepEqual(await Promise.all([get(), get(), get()]), Array(3).fill(`200 ${page}\n`));
    } finally {
      pf.stop();
    }
  });

  it('a container exiting 1 goes into CrashLoopBackOff; --previous shows the instance that ended', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('crash');
    await apply(ns, pod('crasher', { ...DATA, containers: [box('crasher', `${COUNT}; echo "instance $n failing"; exit 1`, dataMount)] }));
    await waitRow(ns, 'crasher', (r) => r.status === 'CrashLoopBackOff' && r.restarts >= 2);
    const p = await getPod(ns, 'crasher');
    const cs = status(p, 'crasher');
    assert.ok(cs.restartCount >= 2, `restartCount ${cs.restartCount}`);
    assert.equal(cs.state?.waiting?.reason, 'CrashLoopBackOff');
    assert.match(cs.state?.waiting?.message ?? '', new RegExp(`^back-off \\d+s restarting failed container=crasher pod=crasher_${ns}\\(${p.metadata.uid}\\)$`));
    assert.deepEqual([cs.lastState?.terminated?.exitCode, cs.lastState?.terminated?.reason], [1, 'Error']);
    await waitEvent(ns, 'crasher', 'Warning', 'BackOff', `Back-off restarting failed container crasher in pod crasher_${ns}(${p.metadata.uid})`);

    // The kubelet serves --previous from lastState.terminated: instance n is attempt n-1. The
    // container may restart meanwhile, so read the status around the logs until it held still.
    await waitFor('logs --previous of a stable lastState', async () => {
      const then = status(await getPod(ns, 'crasher'), 'crasher').lastState?.terminated?.containerID;
      const out = await cluster.ok(['logs', '-n', ns, 'crasher', '--previous']);
      const now = status(await getPod(ns, 'crasher'), 'crasher').lastState?.terminated?.containerID;
      if (then !== now) throw new Error('restarted meanwhile');
      assert.equal(out, `instance ${attemptOf(now) + 1} failing\n`);
    });
  });

  it('a container over its memory limit is OOMKilled with exit code 137', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('oom');
    const hog = box('hog', `echo start; a=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived`, { resources: { limits: { memory: '16Mi' } } });
    await apply(ns, pod('hog', { restartPolicy: 'Never', containers: [hog] }));
    await waitRow(ns, 'hog', { ready: '0/1', status: 'OOMKilled' });
    const p = await getPod(ns, 'hog');
    assert.equal(p.status?.phase, 'Failed');
    const t = status(p, 'hog').state?.terminated;
    assert.deepEqual([t?.reason, t?.exitCode], ['OOMKilled', 137]);
    // The OOM killer may take a process of the pipeline first (the shell then prints "Killed")
    // before the whole container goes; either way the shell never got past the allocation.
    const logs = await cluster.ok(['logs', '-n', ns, 'hog']);
    assert.match(logs, /^start\n(Killed\n)?$/);
  });

  it('liveness: a failing httpGet probe restarts the container; a passing tcpSocket probe does not', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('live');
    const unhealthy = box('c', 'exec sleep 3600', { livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 2 } });
    // The delay lets httpd bind before the first probe (a probe may run at once otherwise); from
    // then on, a single failure would restart it.
    const healthy = box('c', 'exec httpd -f -p 9000', { livenessProbe: { tcpSocket: { port: 9000 }, initialDelaySeconds: 3, timeoutSeconds: 5, periodSeconds: 1, failureThreshold: 1 } });
    await apply(ns, pod('unhealthy', { terminationGracePeriodSeconds: 1, containers: [unhealthy] }), pod('healthy', { containers: [healthy] }));
    await waitRow(ns, 'healthy', { ready: '1/1', status: 'Running' });
    await waitRow(ns, 'unhealthy', (r) => r.restarts >= 2);
    const ip = (await getPod(ns, 'unhealthy')).status?.podIP;
    await waitEvent(ns, 'unhealthy', 'Warning', 'Unhealthy', `Liveness probe failed: Get "http://${ip}:8080/healthz": dial tcp ${ip}:8080: connect: connection refused`);
    await waitEvent(ns, 'unhealthy', 'Normal', 'Killing', 'Container c failed liveness probe, will be restarted');
    // Restarts after liveness kills are subject to the crash back-off like any other.
    await waitEvent(ns, 'unhealthy', 'Warning', 'BackOff', /^Back-off restarting failed container c in pod unhealthy_/);

    // All the while (a dozen probe periods and more), the healthy pod kept its only instance.
    assert.deepEqual(await row(ns, 'healthy'), { ready: '1/1', status: 'Running', restarts: 0 });
    assert.deepEqual((await events(ns, 'healthy')).filter((e) => e.reason === 'Unhealthy' || e.reason === 'Killing'), []);
  });

  it('readiness gates Endpoints: notReadyAddresses until the probe passes, then addresses', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('ready');
    const c = box('c', 'exec httpd -f -p 8080', { readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 } });
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'gated' }, spec: { selector: { app: 'gated' }, ports: [{ port: 80, targetPort: 8080 }] } };
    await apply(ns, svc, pod('gated', { containers: [c] }, { app: 'gated' }));
    await waitRow(ns, 'gated', { ready: '0/1', status: 'Running' });
    const ip = (await getPod(ns, 'gated')).status?.podIP;
    assert.ok(ip);
    type Endpoints = { subsets?: { addresses?: { ip: string }[]; notReadyAddresses?: { ip: string }[]; ports?: { port: number }[] }[] };
    const endpoints = async (want: 'addresses' | 'notReadyAddresses') =>
      waitFor(`${ip} in Endpoints ${want}`, async () => {
        const ep = await cluster.json<Endpoints>(['get', 'endpoints', 'gated', '-n', ns]);
        const other = want === 'addresses' ? 'notReadyAddresses' : 'addresses';
        const ips = (k: typeof want) => (ep.subsets ?? []).flatMap((s) => s[k] ?? []).map((a) => a.ip);
        if (!ips(want).includes(ip) || ips(other).length) throw new Error(`endpoints: ${JSON.stringify(ep.subsets)}`);
        return ep;
      });
    const notReady = await endpoints('notReadyAddresses');
    assert.deepEqual(notReady.subsets?.[0]?.ports?.map((p) => p.port), [8080]);
    assert.equal(status(await getPod(ns, 'gated'), 'c').ready, false);

    await cluster.ok(['exec', '-n', ns, 'gated', '--', 'touch', '/tmp/ready']);
    await endpoints('addresses');
    await waitRow(ns, 'gated', { ready: '1/1', status: 'Running', restarts: 0 });
    const p = await getPod(ns, 'gated');
    assert.equal(p.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
  });

  it('init containers run in order before the main one; a failing one with restartPolicy Never fails the pod', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('init');
    const step = (name: string) => box(name, `echo ${name} >> /data/order`, dataMount);
    await apply(
      ns,
      pod('inits', { ...DATA, restartPolicy: 'Never', initContainers: [step('first'), step('second')], containers: [box('main', 'echo main >> /data/order; cat /data/order', dataMount)] }),
      pod('init-fail', { restartPolicy: 'Never', initContainers: [box('broken', 'echo init failing; exit 2')], containers: [box('main', 'echo main ran')] }),
    );

    await waitRow(ns, 'inits', { ready: '0/1', status: 'Completed' });
    assert.equal(await cluster.ok(['logs', '-n', ns, 'inits', '-c', 'main']), lines('first', 'second', 'main'));
    const p = await getPod(ns, 'inits');
    assert.equal(p.status?.phase, 'Succeeded');
    const [first, second, main] = ['first', 'second', 'main'].map((n) => status(p, n).state?.terminated);
    assert.deepEqual([first?.reason, first?.exitCode, second?.reason, second?.exitCode], ['Completed', 0, 'Completed', 0]);
    assert.ok(Date.parse(first!.finishedAt!) <= Date.parse(second!.startedAt!) && Date.parse(second!.finishedAt!) <= Date.parse(main!.startedAt!), JSON.stringify(p.status));

    await waitRow(ns, 'init-fail', { ready: '0/1', status: 'Init:Error' });
    const f = await getPod(ns, 'init-fail');
    assert.equal(f.status?.phase, 'Failed');
    assert.deepEqual([status(f, 'broken').state?.terminated?.exitCode, status(f, 'broken').state?.terminated?.reason], [2, 'Error']);
    assert.deepEqual(status(f, 'main').state, { waiting: { reason: 'PodInitializing' } });
    assert.equal(status(f, 'main').containerID, undefined);
    assert.equal(await cluster.ok(['logs', '-n', ns, 'init-fail', '-c', 'broken']), 'init failing\n');
    const mainLogs = await cluster.kubectl(['logs', '-n', ns, 'init-fail', '-c', 'main']);
    assert.notEqual(mainLogs.code, 0);
    assert.match(mainLogs.stderr, /container "main" in pod "init-fail" is waiting to start: PodInitializing/);
    const started = (await events(ns, 'init-fail')).filter((e) => e.reason === 'Started').map((e) => e.message);
    assert.deepEqual(started, ['Started container broken']);
  });

  it('a configMap volume follows updates without a restart; env from configMap, secret and fields', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('config');
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { greeting: 'hello', color: 'blue' } };
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { password: 's3cret' } };
    const c = box('c', 'exec sleep 3600', {
      volumeMounts: [{ name: 'settings', mountPath: '/etc/settings' }],
      env: [
        { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
        { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'MY_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
    });
    await apply(ns, cm, secret, pod('reader', { volumes: [{ name: 'settings', configMap: { name: 'settings' } }], containers: [c] }));
    await waitRow(ns, 'reader', { ready: '1/1', status: 'Running' });
    const initial = await getPod(ns, 'reader');
    const env = (await cluster.ok(['exec', '-n', ns, 'reader', '--', 'env'])).split('\n');
    for (const want of ['GREETING=hello', 'PASSWORD=s3cret', `MY_IP=${initial.status?.podIP}`, 'MY_NAME=reader']) assert.ok(env.includes(want), `${want} in:\n${env.join('\n')}`);
    assert.equal(await cluster.ok(['exec', '-n', ns, 'reader', '--', 'cat', '/etc/settings/color']), 'blue');

    await cluster.ok(['patch', 'configmap', 'settings', '-n', ns, '--type=merge', '-p', '{"data":{"color":"green"}}']);
    await waitFor('the new value in the pod', async () => assert.equal(await cluster.ok(['exec', '-n', ns, 'reader', '--', 'cat', '/etc/settings/color']), 'green'));
    const updated = status(await getPod(ns, 'reader'), 'c');
    assert.deepEqual([updated.restartCount, updated.containerID], [0, status(initial, 'c').containerID]);
  });

  it('bad input: each gets upstream status and events while the other pods keep running', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('bad');
    const hostPort = 20000 + Math.floor(Math.random() * 10000);
    const web = (name: string) =>
      pod(name, { nodeName: 'node-1', containers: [box('web', `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`, { ports: [{ containerPort: 8080, hostPort }] })] });
    // ErrImagePull lasts only until the next sync: `kubectl get pods -w` shows every change.
    const watch = new KubectlProcess(['get', 'pods', '-n', ns, '-w', '--no-headers']);
    try {
      await apply(
        ns,
        pod('bystander', { containers: [box('c', 'exec sleep 3600')] }),
        pod('noimage', { containers: [{ name: 'c', image: '127.0.0.1:1/nope:1' }] }),
        pod('nocm', { volumes: [{ name: 'v', configMap: { name: 'later' } }], containers: [box('c', 'exec sleep 3600', { volumeMounts: [{ name: 'v', mountPath: '/v' }] })] }),
        pod('neverready', { containers: [box('c', 'exec sleep 3600', { readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 } })] }),
        web('port-holder'),
      );

      // An invalid quantity never reaches a node: the API refuses it. Only the words below are
      // upstream's too (its decoder refuses the quantity before validation names the field).
      const badq = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(pod('badq', { containers: [box('c', 'true', { resources: { limits: { memory: '12ab' } } })] })) });
      assert.equal(badq.code, 1);
      assert.ok(badq.stderr.includes("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"), badq.stderr);
      assert.match((await cluster.kubectl(['get', 'pod', 'badq', '-n', ns])).stderr, /pods "badq" not found/);

      // An image that cannot be pulled: ErrImagePull, then ImagePullBackOff.
      const pullStates = () => watch.stdout.split('\n').filter((l) => l.startsWith('noimage ')).map((l) => l.trim().split(/\s+/)[2]);
      await until('ImagePullBackOff in kubectl get pods -w', () => pullStates().includes('ImagePullBackOff'), WAIT, 200);
      const seen = pullStates();
      assert.ok(seen.includes('ErrImagePull') && seen.indexOf('ErrImagePull') < seen.indexOf('ImagePullBackOff'), `STATUS went ${seen.join(' → ')}`);
      await waitEvent(ns, 'noimage', 'Warning', 'Failed', /^Failed to pull image "127\.0\.0\.1:1\/nope:1": /);
      await waitEvent(ns, 'noimage', 'Warning', 'Failed', 'Error: ErrImagePull');
      await waitEvent(ns, 'noimage', 'Normal', 'BackOff', 'Back-off pulling image "127.0.0.1:1/nope:1"');
      await waitEvent(ns, 'noimage', 'Warning', 'Failed', 'Error: ImagePullBackOff');
      const pullLogs = await cluster.kubectl(['logs', '-n', ns, 'noimage']);
      assert.match(pullLogs.stderr, /container "c" in pod "noimage" is waiting to start: (trying and failing to pull image|image can't be pulled)/);
    } finally {
      watch.stop();
    }

    // A volume naming a missing ConfigMap: ContainerCreating with FailedMount until it exists.
    await waitEvent(ns, 'nocm', 'Warning', 'FailedMount', 'MountVolume.SetUp failed for volume "v" : configmap "later" not found');
    assert.deepEqual(await row(ns, 'nocm'), { ready: '0/1', status: 'ContainerCreating', restarts: 0 });
    await apply(ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later' }, data: { k: 'v' } });
    await waitRow(ns, 'nocm', { ready: '1/1', status: 'Running' });

    // A readiness probe that never passes: Running, 0/1, never Ready.
    await waitFor('three failed readiness probes', async () => {
      const e = (await events(ns, 'neverready')).find((x) => x.type === 'Warning' && x.reason === 'Unhealthy' && x.message.startsWith('Readiness probe failed'));
      assert.ok((e?.count ?? 0) >= 3, JSON.stringify(e));
    });
    assert.deepEqual(await row(ns, 'neverready'), { ready: '0/1', status: 'Running', restarts: 0 });
    const ready = (await getPod(ns, 'neverready')).status?.conditions?.find((x) => x.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason], ['False', 'ContainersNotReady']);

    // A hostPort already held by a running pod on the same node: the second pod is rejected
    // by the node (nodeName bypasses the scheduler, whose NodePorts filter would refuse it).
    await waitRow(ns, 'port-holder', { ready: '1/1', status: 'Running' });
    const node1 = await cluster.json<{ status: { addresses: { type: string; address: string }[] } }>(['get', 'node', 'node-1']);
    const nodeIP = node1.status.addresses.find((a) => a.type === 'InternalIP')?.address;
    const viaHostPort = await until('the hostPort to answer', () => fetch(`http://${nodeIP}:${hostPort}/index.html`).then((r) => r.text()).catch(() => undefined), 30_000, 500);
    assert.equal(viaHostPort, 'port-holder\n');
    await apply(ns, web('port-taker'));
    await waitRow(ns, 'port-taker', { ready: '0/1', status: 'NodePorts' });
    const taker = await getPod(ns, 'port-taker');
    assert.equal(taker.status?.phase, 'Failed');
    assert.match(taker.status?.message ?? '', /^Pod was rejected: Predicate NodePorts failed: node\(s\) didn't have free ports for the requested pod ports/);
    await waitEvent(ns, 'port-taker', 'Warning', 'NodePorts', /^Pod was rejected: Predicate NodePorts failed/);
    assert.ok(!(await events(ns, 'port-taker')).some((e) => e.reason === 'Started'), 'the rejected pod started a container');
    assert.equal(await fetch(`http://${nodeIP}:${hostPort}/index.html`).then((r) => r.text()), 'port-holder\n');

    // Through all of it, the others kept running.
    for (const name of ['bystander', 'port-holder']) assert.deepEqual(await row(ns, name), { ready: '1/1', status: 'Running', restarts: 0 });
  });

  it('securityContext and termination messages: runAsUser, readOnlyRootFilesystem, terminationMessagePath', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('sec');
    await apply(
      ns,
      pod('locked', { securityContext: { runAsUser: 1000 }, containers: [box('c', 'exec sleep 3600', { securityContext: { readOnlyRootFilesystem: true } })] }),
      pod('farewell', { restartPolicy: 'Never', containers: [box('c', 'printf "all done: 42" > /dev/termination-log; exit 0')] }),
      pod('lastwords', { containers: [box('c', 'printf "disk on fire" > /tmp/why; exit 7', { terminationMessagePath: '/tmp/why' })] }),
    );
    await waitRow(ns, 'locked', { ready: '1/1', status: 'Running' });
    assert.equal(await cluster.ok(['exec', '-n', ns, 'locked', '--', 'id', '-u']), '1000\n');
    const write = await cluster.kubectl(['exec', '-n', ns, 'locked', '--', 'sh', '-c', 'echo x > /probe']);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /can't create \/probe: Read-only file system/);

    await waitRow(ns, 'farewell', { ready: '0/1', status: 'Completed' });
    const done = status(await getPod(ns, 'farewell'), 'c').state?.terminated;
    assert.deepEqual([done?.exitCode, done?.reason, done?.message], [0, 'Completed', 'all done: 42']);

    const p = await waitPod(ns, 'lastwords', 'restarted once', (x) => status(x, 'c').restartCount >= 1 && !!status(x, 'c').lastState?.terminated);
    const last = status(p, 'c').lastState?.terminated;
    assert.deepEqual([last?.exitCode, last?.reason, last?.message], [7, 'Error', 'disk on fire']);
  });

  it('graceful deletion: a process that handles TERM goes at once; one that ignores it after the grace period', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('grace');
    await apply(
      ns,
      pod('polite', { containers: [box('c', "trap 'echo bye; exit 0' TERM; echo armed; while true; do sleep 1; done")] }),
      pod('stubborn', { terminationGracePeriodSeconds: 3, containers: [box('c', "trap '' TERM; echo armed; while true; do sleep 1; done")] }),
    );
    for (const name of ['polite', 'stubborn']) {
      await waitRow(ns, name, { ready: '1/1', status: 'Running' });
      // The trap is set before "armed" is printed: TERM cannot come before the handler.
      await waitFor(`${name}'s trap`, async () => assert.equal(await cluster.ok(['logs', '-n', ns, name]), 'armed\n'));
    }
    const timedDelete = async (name: string) => {
      const t0 = Date.now();
      await cluster.ok(['delete', 'pod', name, '-n', ns], { timeoutMs: 60_000 });
      const secs = (Date.now() - t0) / 1000;
      assert.match((await cluster.kubectl(['get', 'pod', name, '-n', ns])).stderr, new RegExp(`pods "${name}" not found`));
      return secs;
    };
    // Following the polite pod's log shows its handler ran.
    const politeLog = new KubectlProcess(['logs', '-f', '-n', ns, 'polite']);
    try {
      await until('logs -f to attach', () => politeLog.stdout.includes('armed'), WAIT, 200);
      const [polite, stubborn] = await Promise.all([timedDelete('polite'), timedDelete('stubborn')]);
      // The default grace period is 30 s: the polite pod is gone long before it.
      assert.ok(polite < 15, `polite pod took ${polite} s`);
      assert.ok(stubborn >= 2.8 && stubborn < 20, `stubborn pod took ${stubborn} s (grace period 3 s)`);
      assert.equal(await politeLog.exit(30_000), 0, politeLog.stderr);
      assert.equal(politeLog.stdout, 'armed\nbye\n');
    } finally {
      politeLog.stop();
    }
  });
});
