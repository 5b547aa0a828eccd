/**
 * The console, vnc, pause and unpause of a real guest on a 2-node `cairn up` cluster: a VM (its
 * root disk the offline test guest's qcow2 imported over HTTP, a cloudInitNoCloud disk) runs
 * under QEMU in its launcher pod; `cairn vm console` shows the guest's `cairn-guest: tick N`
 * lines; `cairn vm pause` stops them and the VMI gets its Paused condition, `unpause` resumes
 * them; `cairn vm vnc --proxy-only` opens a local port that answers with QEMU's RFB greeting.
 * Before any of that, KubeVirt's errors through a raw WebSocket (no kubectl, no cairn code) and
 * through `cairn vm console`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { loadKubeconfig } from '../../src/client/kubeconfig.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';
import { type GuestDiskServer, guestVmManifest, serveGuestDisk } from '../support/virt.js';

const CAIRN = new URL('../../../bin/cairn.js', import.meta.url).pathname;
const NS = 'vms';
const VM = 'con';
const BOOT = 300_000;

let cluster: CairnCluster;
let disks: GuestDiskServer;
const children = new Set<ChildProcess>();

/** A long-running `cairn vm ...`; `output()` is its stdout so far. */
function spawnCairn(...args: string[]) {
  const child = spawn(process.execPath, [CAIRN, 'vm', ...args, '-n', NS, '--kubeconfig', cluster.kubeconfig], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => (children.delete(child), r(code))));
  return { child, output: () => out, errors: () => err, exited };
}

/** `waiting`, unless the command exits first (then its stderr is the failure). */
function whileRunning<T>(c: ReturnType<typeof spawnCairn>, waiting: Promise<T>): Promise<T> {
  return Promise.race([waiting, c.exited.then((code) => assert.fail(`cairn vm exited (${code}): ${c.errors()}`))]);
}

const cli = async (...args: string[]) => cluster.cairn('vm', ...args, '-n', NS, '--kubeconfig', cluster.kubeconfig);

/** The numbers of the `cairn-guest: tick N` lines seen so far. */
const ticks = (text: string) => [...text.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));

async function pausedCondition(): Promise<string | undefined> {
  const vmi = await cluster.json<{ status?: { conditions?: { type: string; status: string }[] } }>(['get', 'vmi', VM, '-n', NS]);
  return vmi.status?.conditions?.find((c) => c.type === 'Paused')?.status;
}

/** A raw WebSocket to a VMI subresource with the kubeconfig's credentials: its refusal's code and Status. */
function refusal(path: string): Promise<{ code: number; status: { message: string; reason: string } }> {
  const conn = loadKubeconfig(cluster.kubeconfig);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${conn.server.replace('https:', 'wss:')}${path}`, ['plain.kubevirt.io'], { ca: conn.ca, cert: conn.clientCert, key: conn.clientKey });
    ws.on('open', () => (ws.terminate(), reject(new Error(`${path}: the upgrade was accepted`))));
    ws.on('error', () => {});
    ws.on('unexpected-response', (_r, res: IncomingMessage) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, status: JSON.parse(body) }));
    });
  });
}

describe('VM console, vnc, pause and unpause on a cairn up cluster', { timeout: 1_200_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'vmconsole' });
    disks = await serveGuestDisk(cluster);
    await cluster.ok(['create', 'namespace', NS]);
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await disks?.close();
    await cluster?.down();
  });

  it("KubeVirt's errors for a VMI that does not exist, over a raw WebSocket and through cairn vm", async () => {
    const sub = `/apis/subresources.kubevirt.io/v1/namespaces/${NS}/virtualmachineinstances`;
    const r = await refusal(`${sub}/${VM}/console`);
    assert.equal(r.code, 404);
    assert.equal(r.status.message, `virtualmachineinstance.kubevirt.io "${VM}" not found`);
    const c = await cli('console', VM, '--timeout', '0');
    assert.equal(c.code, 1);
    assert.equal(c.stderr, `error: cairn vm console ${VM}: virtualmachineinstance.kubevirt.io "${VM}" not found\n`);
    const p = await cli('pause', VM);
    assert.equal(p.stderr, `error: cairn vm pause ${VM}: virtualmachineinstance.kubevirt.io "${VM}" not found\n`);
  });

  it('cairn vm console shows the guest ticking; pause stops the ticks (Paused condition), unpause resumes them', async () => {
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: guestVmManifest({ name: VM, base: disks.base, userData: '#cloud-config\nhostname: console-guest\n' }) });
    await until('the VM controller to make the VMI', async () => (await cluster.kubectl(['get', 'vmi', VM, '-n', NS])).code === 0, 60_000, 1000);
    // Started before the VMI runs: the console waits for it (virtctl's retry on "VMI is not running").
    const con = spawnCairn('console', VM);
    await whileRunning(
      con,
      until(`two ticks on the console (stdout ${JSON.stringify(con.output().slice(-300))}, stderr ${JSON.stringify(con.errors())})`, () => ticks(con.output()).length >= 2, BOOT, 500),
    );
    assert.equal(con.errors(), `Successfully connected to ${VM} console. The escape sequence is ^]\n`);

    const p = await cli('pause', VM);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, `VMI ${VM} was scheduled to pause\n`);
    await until('the VMI Paused condition', async () => (await pausedCondition()) === 'True', 60_000, 1000);
    const atPause = ticks(con.output()).length;
    await new Promise((r) => setTimeout(r, 5000));
    assert.ok(ticks(con.output()).length <= atPause + 1, `no ticks while paused (${atPause} then ${ticks(con.output()).length})`);
    const again = await cli('pause', VM);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /VMI is already paused/);

    const u = await cli('unpause', VM);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout, `VMI ${VM} was scheduled to unpause\n`);
    const resumed = ticks(con.output()).length;
    await until('ticks again after unpause', () => ticks(con.output()).length >= resumed + 2, 60_000, 500);
    await until('the Paused condition gone', async () => (await pausedCondition()) === undefined, 60_000, 1000);

    con.child.stdin!.write(Buffer.from([0x1d]));
    assert.equal(await con.exited, 0);
  });

  it("cairn vm vnc --proxy-only opens a local port that answers with QEMU's RFB greeting", async () => {
    const vnc = spawnCairn('vnc', VM, '--proxy-only');
    const line = await whileRunning(vnc, until(`the port line (${JSON.stringify(vnc.output())})`, () => /^\{"port":\d+\}\n/.exec(vnc.output())?.[0], 60_000));
    const { port } = JSON.parse(line) as { port: number };
    const c = tcpConnect(port, '127.0.0.1');
    let got = '';
    c.on('data', (b: Buffer) => (got += b.toString('latin1')));
    c.on('error', () => {});
    await until(`the RFB greeting (${JSON.stringify(got)})`, () => got.startsWith('RFB 003.008\n'), 30_000);
    c.destroy();
    vnc.child.kill('SIGINT');
    assert.equal(await vnc.exited, 0);
  });
});
