/**
 * The VMI console, vnc, pause and unpause subresources through a real API server to a real
 * agent server, whose VirtHandler is a fake with real unix sockets (test/support/fake-virt-node):
 * what a user of `cairn vm` or of a raw WebSocket sees — the bytes of the serial console and the
 * RFB greeting, KubeVirt's errors for a missing or not-running VMI, pause reaching the node (a dry
 * run not), the Paused condition refusing a second pause, RBAC on the subresources, discovery.
 * Controllers are off: the test writes the VMI's status as the VMI controller would.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { requirePtyHelper } from '../../src/agent/runtime/pty.js';
import { AgentServer, type AgentServerOptions } from '../../src/agent/server/agent-server.js';
import { issueCertificate } from '../../src/api/pki.js';
import { run } from '../support/cairn-cluster.js';
import { adminClient } from '../support/objects.js';
import { CONSOLE_GREETING, FakeVirtNode, RFB_GREETING } from '../support/fake-virt-node.js';
import { adminCredentials, RawClient } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';
import { adminCreate, binding, role, rolePath, roleBindingPath, user, writeUserKubeconfig } from '../support/users.js';

const CAIRN = new URL('../../../bin/cairn.js', import.meta.url).pathname;
const NS = 'default';
const VMI = 'testvmi';
const NODE = 'cairn-virt-node';
const SUB = `/apis/subresources.kubevirt.io/v1/namespaces/${NS}/virtualmachineinstances`;
const VMIS = `/apis/kubevirt.io/v1/namespaces/${NS}/virtualmachineinstances`;
const VMI_KIND = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespaced: true, kind: 'VirtualMachineInstance' };

let server: TestServer;
let admin: RawClient;
let fake: FakeVirtNode;
let agent: AgentServer;

const cairn = (...args: string[]) => run(process.execPath, [CAIRN, ...args, '--kubeconfig', server.kubeconfigPath]);

/** As the VMI controller writes it: only KubeVirt's components may change a VMI's status. */
async function setStatus(name: string, status: object): Promise<void> {
  await adminClient(server).resource(VMI_KIND).patch(name, { status }, 'merge', { namespace: NS });
}

async function createVmi(name: string, spec: object = {}): Promise<void> {
  const r = await admin.request({
    method: 'POST',
    path: VMIS,
    body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: { domain: { devices: {}, resources: { requests: { memory: '64Mi' } } }, ...spec } },
  });
  assert.equal(r.status, 201, r.text);
}

/** A raw WebSocket through the API server; resolves when open, rejects with the refusal's code and Status. */
function webSocket(path: string, creds = adminCredentials(server.dataDir)): Promise<{ ws: WebSocket; text: () => string; waitFor: (s: string) => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('https:', 'wss:')}${path}`, ['plain.kubevirt.io'], creds);
    let got = '';
    ws.on('message', (b: Buffer, binary) => (got += binary ? b.toString('latin1') : `<text:${b}>`));
    ws.on('error', () => {});
    ws.on('unexpected-response', (_r, res: IncomingMessage) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { code: res.statusCode, status: JSON.parse(body) })));
    });
    ws.on('open', () => resolve({ ws, text: () => got, waitFor: async (s) => void (await until(`"${s}" (got ${JSON.stringify(got)})`, () => got.includes(s), 10_000)) }));
  });
}

async function refusedWith(p: Promise<unknown>): Promise<{ code: number; status: { message: string; reason: string } }> {
  return p.then(
    () => assert.fail('accepted'),
    (e: { code: number; status: { message: string; reason: string } }) => e,
  );
}

describe('VMI console, vnc, pause and unpause through the API server and the agent', () => {
  before(async () => {
    server = await startTestServer({ server: { controllers: false } });
    admin = RawClient.admin(server.url, server.dataDir);
    const pki = join(server.dataDir, 'pki');
    const ca = { certPem: await readFile(join(pki, 'ca.crt'), 'utf8'), keyPem: await readFile(join(pki, 'ca.key'), 'utf8') };
    const serving = await issueCertificate(ca, { commonName: NODE, ips: ['127.0.0.1'], usage: 'server' });
    fake = await FakeVirtNode.start(NS, VMI);
    agent = new AgentServer({
      host: '127.0.0.1',
      port: 0,
      tls: { ...serving, caPem: ca.certPem },
      backend: { pod: () => undefined, container: () => ({ error: 'none' }), dialPod: () => Promise.reject(new Error('no pods')) },
      runtime: {} as AgentServerOptions['runtime'],
      virt: fake,
    });
    const { port } = await agent.start();
    const node = await admin.request({ method: 'POST', path: '/api/v1/nodes', body: { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, annotations: { 'cairn.io/agent-endpoint': `https://127.0.0.1:${port}` } } } });
    assert.equal(node.status, 201, node.text);
    await createVmi(VMI);
    await setStatus(VMI, { phase: 'Running', nodeName: NODE });
  });
  after(async () => {
    await agent?.stop();
    await fake?.stop();
    await server?.stop();
  });

  it('discovery lists the VMI subresources', async () => {
    const r = await admin.request({ path: '/apis/subresources.kubevirt.io/v1' });
    const names = (r.json.resources as { name: string; verbs: string[] }[]).map((x) => `${x.name}:${x.verbs}`);
    for (const n of ['virtualmachineinstances/console:get', 'virtualmachineinstances/vnc:get', 'virtualmachineinstances/pause:update', 'virtualmachineinstances/unpause:update']) assert.ok(names.includes(n), `${n} in ${names}`);
  });

  it('a raw WebSocket gets the serial console both ways, and vnc the RFB greeting', async () => {
    const con = await webSocket(`${SUB}/${VMI}/console`);
    assert.equal(con.ws.protocol, 'plain.kubevirt.io');
    await con.waitFor(CONSOLE_GREETING);
    con.ws.send(Buffer.from('echo hi\r'));
    await con.waitFor('ECHO HI\r');
    con.ws.close(1000);
    const vnc = await webSocket(`${SUB}/${VMI}/vnc`);
    await vnc.waitFor(RFB_GREETING);
    vnc.ws.close(1000);
  });

  it('cairn vm console joins stdin and stdout to the console and quits on Ctrl+]', async () => {
    const child = spawn(process.execPath, [CAIRN, 'vm', 'console', VMI, '--kubeconfig', server.kubeconfigPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (err += b));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      await until(`the greeting (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`, () => out.includes(CONSOLE_GREETING), 20_000);
      assert.equal(err, `Successfully connected to ${VMI} console. The escape sequence is ^]\n`);
      child.stdin.write('uname\r');
      await until(`the echo (stdout ${JSON.stringify(out)})`, () => out.includes('UNAME\r'), 10_000);
      child.stdin.write(Buffer.from([0x1d]));
      assert.equal(await exited, 0);
    } finally {
      child.kill();
    }
  });

  it('on a terminal cairn vm console runs it raw (no local echo, no line buffering) and Ctrl+] quits it', async () => {
    const child = spawn(requirePtyHelper(), [process.execPath, CAIRN, 'vm', 'console', VMI, '--kubeconfig', server.kubeconfigPath], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (out += b));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      // A terminal in Node's raw mode still maps \n to \r\n on output (libuv keeps ONLCR).
      await until('the greeting on the terminal', () => out.includes(CONSOLE_GREETING.trim()), 20_000);
      assert.match(out, /Successfully connected to testvmi console\. The escape sequence is \^\]/);
      // No newline: a cooked terminal would hold this line back, and echo it.
      child.stdin.write('ping');
      await until("the guest's echo of an unfinished line", () => out.includes('PING'), 10_000);
      assert.ok(!out.includes('ping'), `the terminal did not echo locally: ${JSON.stringify(out)}`);
      child.stdin.write(Buffer.from([0x1d]));
      assert.equal(await exited, 0);
    } finally {
      child.kill();
    }
  });

  it("cairn vm vnc --proxy-only prints the port, and each viewer gets the VMI's VNC stream", async () => {
    const child = spawn(process.execPath, [CAIRN, 'vm', 'vnc', VMI, '--proxy-only', '--kubeconfig', server.kubeconfigPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      const line = await until(`the port line (${JSON.stringify(out)})`, () => /^\{"port":\d+\}\n/.exec(out)?.[0], 20_000);
      const { port } = JSON.parse(line) as { port: number };
      for (let i = 0; i < 2; i++) {
        const c = tcpConnect(port, '127.0.0.1');
        let got = '';
        c.on('data', (b: Buffer) => (got += b));
        await until(`viewer ${i} to get the RFB greeting (${JSON.stringify(got)})`, () => got.startsWith(RFB_GREETING), 10_000);
        c.destroy();
      }
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      child.kill();
    }
  });

  it('pause and unpause reach the node; a dry run does not; the Paused condition refuses a second pause', async () => {
    fake.calls.length = 0;
    const dry = await cairn('vm', 'pause', VMI, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout, `Dry Run execution\nVMI ${VMI} was scheduled to pause\n`);
    assert.deepEqual(fake.calls, []);
    const p = await cairn('vm', 'pause', 'vmi', VMI);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, `VMI ${VMI} was scheduled to pause\n`);
    assert.equal(fake.paused, true);
    await setStatus(VMI, { conditions: [{ type: 'Paused', status: 'True', reason: 'PausedByUser' }] });
    const again = await cairn('vm', 'pause', VMI);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `error: cairn vm pause ${VMI}: Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "${VMI}": VMI is already paused\n`);
    const u = await cairn('vm', 'unpause', VMI);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout, `VMI ${VMI} was scheduled to unpause\n`);
    assert.equal(fake.paused, false);
    await setStatus(VMI, { conditions: [] });
    const raw = await admin.request({ method: 'PUT', path: `${SUB}/${VMI}/unpause`, body: {} });
    assert.equal(raw.status, 409);
    assert.equal(raw.json.message, `Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "${VMI}": VMI is not paused`);
  });

  it("KubeVirt's errors for a missing VMI and one that is not running", async () => {
    const missing = await refusedWith(webSocket(`${SUB}/nope/console`));
    assert.equal(missing.code, 404);
    assert.equal(missing.status.message, 'virtualmachineinstance.kubevirt.io "nope" not found');
    const c = await cairn('vm', 'console', 'nope', '--timeout', '0');
    assert.equal(c.code, 1);
    assert.equal(c.stderr, 'error: cairn vm console nope: virtualmachineinstance.kubevirt.io "nope" not found\n');
    await createVmi('pending');
    await setStatus('pending', { phase: 'Scheduling' });
    const notRunning = await refusedWith(webSocket(`${SUB}/pending/vnc`));
    assert.equal(notRunning.code, 400);
    assert.equal(notRunning.status.message, 'VMI is not running');
    const cc = await cairn('vm', 'console', 'pending', '--timeout', '0');
    assert.equal(cc.stderr, 'error: cairn vm console pending: VMI is not running\n');
    const v = await cairn('vm', 'vnc', 'pending');
    assert.equal(v.stderr, "error: can't access VMI pending: VMI is not running\n");
    const p = await cairn('vm', 'pause', 'pending');
    assert.equal(p.stderr, 'error: cairn vm pause pending: Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "pending": VM is not running\n');
    // virtctl's VM form: the VM is read first, and a VM that is not set to run says so.
    const noVm = await cairn('vm', 'pause', 'vm', 'novm');
    assert.equal(noVm.stderr, 'error: cairn vm pause novm: Error getting VirtualMachine novm: virtualmachines.kubevirt.io "novm" not found\n');
    const vm = await admin.request({
      method: 'POST',
      path: `/apis/kubevirt.io/v1/namespaces/${NS}/virtualmachines`,
      body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'halted' }, spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: {} } } } } },
    });
    assert.equal(vm.status, 201, vm.text);
    const halted = await cairn('vm', 'pause', 'vm', 'halted');
    assert.equal(halted.stderr, 'error: cairn vm pause halted: VirtualMachine halted is not set to run\n');
    const plain = await admin.request({ path: `${SUB}/${VMI}/console` });
    assert.equal(plain.status, 400);
    assert.match(plain.json.message, /^websocket: the client is not using the websocket protocol/);
    const badBody = await admin.request({ method: 'PUT', path: `${SUB}/${VMI}/pause`, body: '{not json' });
    assert.equal(badBody.status, 400);
    assert.match(badBody.json.message, /^Can not unmarshal Request body to struct, error: /);
  });

  it('RBAC: get on virtualmachineinstances/console lets a user in; pause needs update on virtualmachineinstances/pause', async () => {
    const kubeconfig = await writeUserKubeconfig(server, join(server.dataDir, 'viewer.kubeconfig'), 'console-viewer');
    await adminCreate(admin, rolePath(NS), role('console-only', [{ apiGroups: ['subresources.kubevirt.io'], resources: ['virtualmachineinstances/console'], verbs: ['get'] }], NS));
    await adminCreate(admin, roleBindingPath(NS), binding('console-only', 'Role', 'console-only', [user('console-viewer')]));
    const asViewer = (...args: string[]) => run(process.execPath, [CAIRN, ...args, '--kubeconfig', kubeconfig]);
    const denied = await asViewer('vm', 'pause', VMI);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /virtualmachineinstances\.subresources\.kubevirt\.io "testvmi" is forbidden: User "console-viewer" cannot update resource "virtualmachineinstances\/pause" in API group "subresources\.kubevirt\.io"/);
    assert.equal(fake.paused, false);
    const vnc = await asViewer('vm', 'vnc', VMI);
    assert.match(vnc.stderr, /^error: can't access VMI testvmi: .*cannot get resource "virtualmachineinstances\/vnc"/);
    // The binding reaches the RBAC cache through a watch: retry until the console opens.
    await until('the viewer to reach the console', async () => {
      const child = spawn(process.execPath, [CAIRN, 'vm', 'console', VMI, '--timeout', '0', '--kubeconfig', kubeconfig], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b));
      const exited = new Promise<number | null>((r) => child.on('close', r));
      const seen = await Promise.race([until('greeting', () => out.includes(CONSOLE_GREETING), 10_000).then(() => true), exited.then(() => false)]);
      child.kill();
      await exited;
      return seen;
    }, 30_000, 200);
  });
});
