/**
 * The agent's VMI routes (virt-routes.ts) on a real AgentServer over TLS, with a fake
 * VirtHandler whose launcher sockets are unix-socket servers at a path longer than a
 * sockaddr_un holds: console and vnc bytes both ways in binary WebSocket messages under
 * `plain.kubevirt.io`, one session per VMI (a new one cuts the old, a vnc asking to preserve an
 * active one is refused), pause and unpause reaching the handler, and the handler's errors as
 * Status objects with its code and message.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { AgentServer, type AgentServerOptions } from '../../src/agent/server/agent-server.js';
import { PLAIN_STREAM_PROTOCOL, virtAgentPath } from '../../src/agent/server/virt-routes.js';
import { createCa, issueCertificate, type KeyPairPem } from '../../src/api/pki.js';
import { CONSOLE_GREETING, FakeVirtNode, RFB_GREETING } from '../support/fake-virt-node.js';
import { until } from '../support/until.js';

const NS = 'vms';
const VMI = 'testvmi';

let ca: KeyPairPem;
let client: KeyPairPem;
let fake: FakeVirtNode;
let agent: AgentServer;
let noVirt: AgentServer;
let port: number;
let noVirtPort: number;

async function startAgent(virt: FakeVirtNode | undefined): Promise<[AgentServer, number]> {
  const serving = await issueCertificate(ca, { commonName: 'cairn-node-virt', ips: ['127.0.0.1'], usage: 'server' });
  const server = new AgentServer({
    host: '127.0.0.1',
    port: 0,
    tls: { ...serving, caPem: ca.certPem },
    backend: { pod: () => undefined, container: () => ({ error: 'none' }), dialPod: () => Promise.reject(new Error('no pods')) },
    runtime: {} as AgentServerOptions['runtime'],
    virt,
  });
  return [server, (await server.start()).port];
}

interface Session {
  ws: WebSocket;
  text: () => string;
  waitFor: (s: string) => Promise<void>;
  closed: Promise<number>;
}

/** A WebSocket to the agent; resolves once open, or rejects with the refusal's status and body. */
function connect(path: string, p = port, protocols: string[] = [PLAIN_STREAM_PROTOCOL]): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${p}${path}`, protocols, { ca: ca.certPem, cert: client.certPem, key: client.keyPem });
    let got = Buffer.alloc(0);
    const binary: boolean[] = [];
    ws.on('message', (data: Buffer, isBinary) => {
      binary.push(isBinary);
      got = Buffer.concat([got, data]);
    });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body) })));
    });
    ws.on('error', () => {});
    ws.on('open', () =>
      resolve({
        ws,
        text: () => got.toString('latin1'),
        waitFor: async (s) => void (await until(`"${s}" (got ${JSON.stringify(got.toString('latin1'))}, binary ${binary.every(Boolean)})`, () => got.toString('latin1').includes(s) && binary.every(Boolean), 5000)),
        closed,
      }),
    );
  });
}

function put(path: string, p = port): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: p, path, method: 'PUT', ca: ca.certPem, cert: client.certPem, key: client.keyPem, agent: false }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('{"dryRun":[]}');
  });
}

async function refusal(p: Promise<Session>): Promise<{ status: number; body: { code: number; message: string; reason: string; kind: string } }> {
  return p.then(
    () => assert.fail('the upgrade was accepted'),
    (e: { status: number; body: { code: number; message: string; reason: string; kind: string } }) => e,
  );
}

describe('agent VMI routes: console, vnc, pause, unpause', () => {
  before(async () => {
    ca = await createCa('virt-routes-test-ca');
    client = await issueCertificate(ca, { commonName: 'cairn-apiserver-kubelet-client', usage: 'client' });
    fake = await FakeVirtNode.start(NS, VMI);
    assert.ok(fake.paths.serial.length > 107, 'the fake launcher sockets have paths longer than a sockaddr_un');
    [agent, port] = await startAgent(fake);
    [noVirt, noVirtPort] = await startAgent(undefined);
  });
  after(async () => {
    await agent?.stop();
    await noVirt?.stop();
    await fake?.stop();
  });

  it('console carries the serial bytes both ways in binary messages under plain.kubevirt.io', async () => {
    const s = await connect(virtAgentPath('console', NS, VMI));
    assert.equal(s.ws.protocol, PLAIN_STREAM_PROTOCOL);
    await s.waitFor(CONSOLE_GREETING);
    s.ws.send(Buffer.from('ls /\r'));
    await s.waitFor('LS /\r');
    s.ws.close(1000);
    assert.equal(await s.closed, 1000);
    await until('the serial connection to close', () => fake.connections.serial.size === 0, 5000);
  });

  it('vnc carries the RFB greeting, also to a client that offers no subprotocol', async () => {
    const s = await connect(virtAgentPath('vnc', NS, VMI), port, []);
    assert.equal(s.ws.protocol, '');
    await s.waitFor(RFB_GREETING);
    s.ws.send(Buffer.from('RFB 003.008\n'));
    await s.waitFor(`${RFB_GREETING}RFB 003.008\n`);
    s.ws.close(1000);
    await s.closed;
  });

  it('a second console session cuts the first, as virt-handler does', async () => {
    const first = await connect(virtAgentPath('console', NS, VMI));
    await first.waitFor(CONSOLE_GREETING);
    const second = await connect(virtAgentPath('console', NS, VMI));
    assert.equal(await first.closed, 1006, 'the first session is cut without a close frame');
    await second.waitFor(CONSOLE_GREETING);
    second.ws.send(Buffer.from('x'));
    await second.waitFor('X');
    assert.equal(fake.connections.serial.size, 1);
    second.ws.close(1000);
    await second.closed;
  });

  it('vnc with preserveSession=true is refused while a session is active', async () => {
    const first = await connect(virtAgentPath('vnc', NS, VMI));
    await first.waitFor(RFB_GREETING);
    const r = await refusal(connect(`${virtAgentPath('vnc', NS, VMI)}?preserveSession=true`));
    assert.equal(r.status, 503);
    assert.equal(r.body.message, 'Active VNC connection. Request denied.');
    first.ws.send(Buffer.from('still here'));
    await first.waitFor('STILL HERE');
    first.ws.close(1000);
    await first.closed;
  });

  it('pause and unpause reach the handler (202); its errors are Status objects with its code and message', async () => {
    fake.calls.length = 0;
    assert.deepEqual(await put(virtAgentPath('pause', NS, VMI)), { status: 202, body: '' });
    assert.equal(fake.paused, true);
    const again = await put(virtAgentPath('pause', NS, VMI));
    assert.equal(again.status, 409);
    assert.deepEqual(JSON.parse(again.body), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'VMI is already paused', reason: 'Conflict', code: 409 });
    assert.deepEqual(await put(virtAgentPath('unpause', NS, VMI)), { status: 202, body: '' });
    assert.equal(fake.paused, false);
    assert.deepEqual(fake.calls, [`pause ${NS}/${VMI}`, `pause ${NS}/${VMI}`, `unpause ${NS}/${VMI}`]);
  });

  it('a VMI the handler does not run: 404 Status for the upgrade and for pause', async () => {
    const r = await refusal(connect(virtAgentPath('console', NS, 'other')));
    assert.equal(r.status, 404);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'NotFound');
    assert.equal(r.body.message, `VMI ${NS}/other does not exist`);
    const p = await put(virtAgentPath('pause', NS, 'other'));
    assert.equal(p.status, 404);
    assert.equal(JSON.parse(p.body).message, `VMI ${NS}/other does not exist`);
  });

  it('wrong methods, unknown routes and a node without a VirtHandler', async () => {
    const getPause = await refusal(connect(virtAgentPath('pause', NS, VMI)));
    assert.equal(getPause.status, 405);
    assert.equal((await put(virtAgentPath('console', NS, VMI))).status, 400);
    assert.equal((await put('/virt/reset/vms/x')).status, 404);
    const none = await refusal(connect(virtAgentPath('console', NS, VMI), noVirtPort));
    assert.equal(none.status, 503);
    assert.equal(none.body.message, 'this node runs no VirtHandler');
    assert.equal((await put(virtAgentPath('unpause', NS, VMI), noVirtPort)).status, 503);
  });

  it('a launcher whose socket is gone is a 500 before any upgrade', async () => {
    const gone = await FakeVirtNode.start(NS, VMI);
    const [server, p] = await startAgent(gone);
    try {
      await gone.stop();
      const r = await refusal(connect(virtAgentPath('console', NS, VMI), p));
      assert.equal(r.status, 500);
      assert.match(r.body.message, /^failed to dial unix socket .*serial\.sock: .*ENOENT/);
    } finally {
      await server.stop();
    }
  });
});
