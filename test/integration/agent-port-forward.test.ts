/**
 * Port-forward end to end on loopback: a small HTTP server plays the API server's part (the
 * discovery, pod and version answers kubectl needs, and the proxy rewriting the portforward
 * upgrade to the agent's `/portForward/{ns}/{pod}` path) and hands upgrades to the agent's
 * handlePortForward, whose `dial` reaches "pod" servers on 127.0.0.1 with dialPodPort.
 *
 * The real `kubectl port-forward` (1.32: SPDY tunnelled in WebSocket messages, plain SPDY as the
 * fallback) moves concurrent and multi-MiB connections, gets the kubelet's error for a refused
 * port, and closing it closes the pod connections. A scripted SPDY client (over the plain upgrade
 * and over a hand-made WebSocket) checks what kubectl cannot show: rejected streams, the stream
 * pair timeout, resets and the idle timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { AgentServer, type AgentServerOptions } from '../../src/agent/server/agent-server.js';
import { dialPodPort, handlePortForward, type PortForwardOptions } from '../../src/agent/server/port-forward.js';
import { FLAG_FIN, RstStatus, type Frame } from '../../src/agent/server/spdy/frames.js';
import { FrameSplitter, SpdyFramer } from '../../src/agent/server/spdy/framer.js';
import { issueCertificate } from '../../src/api/pki.js';
import type { KubeObject } from '../../src/util/object.js';
import { adminClient, podObject, setPodStatus, R } from '../support/objects.js';
import { startTestServer } from '../support/server.js';

const RUN = randomBytes(3).toString('hex');
/** Only a name in error messages: nothing is created under it. */
const NETNS = `/var/run/netns/cairn-pf-${RUN}`;
const NS = 'default';
const POD = `cairn-web-${RUN}`;

const cleanups: Array<() => Promise<void> | void> = [];
let workDir: string;

// ---- pod-side servers on loopback ------------------------------------------------------------

interface PodServer {
  port: number;
  /** Connections currently open on the server side. */
  open: Set<Socket>;
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

/** Echoes each connection, and ends its side once the client has ended its own. */
async function echoServer(): Promise<PodServer> {
  const open = new Set<Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  cleanups.push(() => open.forEach((s) => s.destroy()));
  return { port: await listen(server), open };
}

/** GET /bytes/N sends N bytes of a fixed pattern; POST /sha256 answers the body's sha256. */
async function httpServer(): Promise<number> {
  const server = http.createServer((req, res) => {
    const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && m) {
      res.writeHead(200, { 'content-length': m[1] });
      res.end(pattern(Number(m[1])));
      return;
    }
    const hash = createHash('sha256');
    req.on('data', (b: Buffer) => hash.update(b));
    req.on('end', () => res.end(hash.digest('hex')));
  });
  server.keepAliveTimeout = 500;
  return listen(server);
}

const pattern = (n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 9)) & 0xff;
  return b;
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---- the API server's part and the agent --------------------------------------------------------

interface Front {
  port: number;
  kubeconfig: string;
  /** Upgrades seen: method and Upgrade header. */
  upgrades: Array<{ method: string; upgrade: string }>;
  /** Upgraded connections still open on the agent side. */
  connections: Set<Duplex>;
}

async function startFront(opts: PortForwardOptions & { refuseWebSocket?: boolean } = {}): Promise<Front> {
  const upgrades: Front['upgrades'] = [];
  const connections = new Set<Duplex>();
  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/version') return json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    if (path === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (path === '/apis') return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (path === '/api/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
          { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
        ],
      });
    }
    if (path === `/api/v1/namespaces/${NS}/pods/${POD}`) {
      return json(res, 200, {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { name: POD, namespace: NS, uid: `cairn-uid-${RUN}` },
        spec: { containers: [{ name: 'web', image: 'busybox' }] },
        status: { phase: 'Running', podIP: '127.0.0.1' },
      });
    }
    json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push({ method: req.method ?? '', upgrade: req.headers.upgrade ?? '' });
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    if (opts.refuseWebSocket && req.headers.upgrade?.toLowerCase() === 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    // The API server's proxy sends the upgrade on to the agent's path for the pod.
    if (req.url?.split('?')[0] === `/api/v1/namespaces/${NS}/pods/${POD}/portforward`) req.url = `/portForward/${NS}/${POD}`;
    handlePortForward(req, socket, head, (port) => dialPodPort({ ip: '127.0.0.1', netns: NETNS }, port), undefined, opts);
  });
  const port = await listen(server);
  cleanups.push(() => connections.forEach((c) => c.destroy()));
  const kubeconfig = join(workDir, `kubeconfig-${port}`);
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: cairn, cluster: {server: "http://127.0.0.1:${port}"}}]`,
      'users: [{name: cairn, user: {}}]',
      `contexts: [{name: cairn, context: {cluster: cairn, user: cairn, namespace: ${NS}}}]`,
      'current-context: cairn',
      '',
    ].join('\n'),
  );
  return { port, kubeconfig, upgrades, connections };
}

// ---- the real kubectl ---------------------------------------------------------------------------

interface PortForward {
  localPort: number;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function kubectlPortForward(front: { kubeconfig: string }, remotePort: number): Promise<PortForward> {
  const proc = spawn(
    'kubectl',
    ['--kubeconfig', front.kubeconfig, '--cache-dir', join(workDir, `kube-cache-${createHash('sha1').update(front.kubeconfig).digest('hex')}`), 'port-forward', `pod/${POD}`, `0:${remotePort}`],
    { env: { ...process.env, KUBECONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const localPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl port-forward did not start:\n${out}${err}`)), 30_000);
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => reject(new Error(`kubectl port-forward exited (${code}):\n${out}${err}`)));
  });
  return { localPort, proc, stderr: () => err, exited };
}

/** Sends `data` on a new connection, half-closes, and returns everything received until the end. */
function exchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(got));
    });
    s.on('error', reject);
    s.end(data);
  });
}

function httpRequest(port: number, method: string, path: string, body?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---- a scripted SPDY client -----------------------------------------------------------------

/** Upgrades with `Upgrade: SPDY/3.1` and returns the raw connection. */
async function spdyUpgrade(front: Front, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; socket?: Duplex }> {
  const req = http.request({
    host: '127.0.0.1',
    port: front.port,
    method: 'POST',
    path: `/api/v1/namespaces/${NS}/pods/${POD}/portforward`,
    headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io', ...headers },
  });
  req.end();
  return responseOrUpgrade(req);
}

/** Upgrades to a WebSocket by hand (ws's client refuses kubectl's subprotocol) and returns its bytes. */
async function webSocketUpgrade(front: Front, protocol = 'SPDY/3.1+portforward.k8s.io'): Promise<{ res: IncomingMessage; socket?: Duplex }> {
  const req = http.request({
    host: '127.0.0.1',
    port: front.port,
    path: `/api/v1/namespaces/${NS}/pods/${POD}/portforward`,
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': protocol,
    },
  });
  req.end();
  const r = await responseOrUpgrade(req);
  return r.socket ? { res: r.res, socket: new WebSocketBytes(r.socket as Socket) } : r;
}

function responseOrUpgrade(req: http.ClientRequest): Promise<{ res: IncomingMessage; socket?: Duplex }> {
  return new Promise((resolve, reject) => {
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (head.length) socket.unshift(head);
      cleanups.push(() => void socket.destroy());
      resolve({ res, socket });
    });
    req.on('response', (res: IncomingMessage) => resolve({ res }));
    req.on('error', reject);
  });
}

const readBody = async (res: IncomingMessage) => {
  const parts: Buffer[] = [];
  for await (const b of res) parts.push(b as Buffer);
  return Buffer.concat(parts).toString();
};

/** The client side of RFC 6455 framing, binary messages only: enough to carry SPDY. */
class WebSocketBytes extends Duplex {
  private pending = Buffer.alloc(0);

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (b: Buffer) => this.parse(b));
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.socket.write(frame(0x2, chunk), done);
  }

  /** A text message, which the tunnel does not carry. */
  sendText(text: string): void {
    this.socket.write(frame(0x1, Buffer.from(text)));
  }

  override _final(done: () => void): void {
    this.socket.write(frame(0x8, Buffer.from([0x03, 0xe8])), () => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }

  private parse(b: Buffer): void {
    this.pending = Buffer.concat([this.pending, b]);
    for (;;) {
      if (this.pending.length < 2) return;
      let len = this.pending[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.pending.length < 4) return;
        len = this.pending.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.pending.length < 10) return;
        len = Number(this.pending.readBigUInt64BE(2));
        at = 10;
      }
      if (this.pending.length < at + len) return;
      const opcode = this.pending[0]! & 0x0f;
      const payload = this.pending.subarray(at, at + len);
      this.pending = this.pending.subarray(at + len);
      if (opcode === 0x2 || opcode === 0x0) this.push(payload);
      else if (opcode === 0x8) this.push(null);
    }
  }
}

/** One masked client frame. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, masked]);
}

class SpdyClient {
  readonly frames: Frame[] = [];
  ended = false;
  private readonly framer = new SpdyFramer();
  private readonly splitter = new FrameSplitter();
  private decoding: Promise<void> = Promise.resolve();
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly conn: Duplex) {
    conn.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk);
      this.decoding = this.decoding.then(async () => {
        for (let raw = this.splitter.next(); raw; raw = this.splitter.next()) {
          const f = await this.framer.decode(raw);
          if (f) this.frames.push(f);
        }
      });
    });
    conn.on('end', () => (this.decoding = this.decoding.then(() => void (this.ended = true))));
    conn.on('error', () => {});
    cleanups.push(() => {
      this.framer.close();
      conn.destroy();
    });
  }

  send(frame: Frame): Promise<void> {
    const bytes = this.framer.encode(frame);
    this.writing = this.writing.then(async () => void this.conn.write(await bytes));
    return this.writing;
  }

  open(id: number, headers: Record<string, string>): Promise<void> {
    const block = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
    return this.send({ type: 'syn_stream', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers: block });
  }

  async frame<T extends Frame['type']>(type: T, match: (f: Extract<Frame, { type: T }>) => boolean = () => true): Promise<Extract<Frame, { type: T }>> {
    const find = () => this.frames.find((f): f is Extract<Frame, { type: T }> => f.type === type && match(f as Extract<Frame, { type: T }>));
    await until(`a ${type} frame (got ${this.frames.map((f) => f.type).join(',')})`, () => !!find());
    return find()!;
  }

  dataOf(streamId: number): { text: string; fin: boolean } {
    const mine = this.frames.filter((f): f is Extract<Frame, { type: 'data' }> => f.type === 'data' && f.streamId === streamId);
    return { text: Buffer.concat(mine.map((f) => f.data)).toString(), fin: mine.some((f) => (f.flags & FLAG_FIN) !== 0) };
  }
}

// ---- the tests ----------------------------------------------------------------------------------

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), `cairn-pf-${RUN}-`));
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await rm(workDir, { recursive: true, force: true });
});

describe('kubectl port-forward through the agent (WebSocket tunnel)', () => {
  let front: Front;
  let echo: PodServer;
  let web: number;
  let pf: PortForward;

  before(async () => {
    front = await startFront();
    echo = await echoServer();
    web = await httpServer();
  });

  test('concurrent connections each get their own bytes back, half-close included', async () => {
    pf = await kubectlPortForward(front, echo.port);
    const payloads = Array.from({ length: 8 }, (_, i) => Buffer.concat([Buffer.from(`conn ${i}:`), randomBytes(200_000 + i * 1000)]));
    const results = await Promise.all(payloads.map((p) => exchange(pf.localPort, p)));
    results.forEach((r, i) => assert.ok(r.equals(payloads[i]!), `connection ${i} got ${r.length} bytes back instead of its ${payloads[i]!.length}`));
    assert.deepEqual(front.upgrades, [{ method: 'GET', upgrade: 'websocket' }], 'one tunnelled connection carries them all');
    await until('pod connections to close', () => echo.open.size === 0);
    assert.equal(pf.proc.exitCode, null, 'kubectl keeps forwarding');
    pf.proc.kill('SIGINT');
    await pf.exited;
  });

  test('multi-MiB transfers in both directions arrive intact', async () => {
    pf = await kubectlPortForward(front, web);
    const size = 6 * 1024 * 1024;
    const down = await httpRequest(pf.localPort, 'GET', `/bytes/${size}`);
    assert.equal(down.length, size);
    assert.equal(sha256(down), sha256(pattern(size)));
    const up = randomBytes(5 * 1024 * 1024);
    const [a, b] = await Promise.all([httpRequest(pf.localPort, 'POST', '/sha256', up), httpRequest(pf.localPort, 'GET', `/bytes/${size}`)]);
    assert.equal(a.toString(), sha256(up));
    assert.equal(sha256(b), sha256(pattern(size)));
    pf.proc.kill('SIGINT');
    await pf.exited;
  });

  test("a refused port: kubectl prints the kubelet's error and gives up", async () => {
    const port = await closedPort();
    pf = await kubectlPortForward(front, port);
    const got = await exchange(pf.localPort, Buffer.from('hello?'));
    assert.equal(got.length, 0);
    const code = await pf.exited;
    assert.notEqual(code, 0);
    const expected =
      `an error occurred forwarding ${pf.localPort} -> ${port}: error forwarding port ${port} to pod ${POD}_${NS}, uid : ` +
      `failed to execute portforward in network namespace \\"${NETNS}\\": dial tcp 127.0.0.1:${port}: connect: connection refused`;
    assert.ok(pf.stderr().includes(expected), `kubectl said:\n${pf.stderr()}\nexpected to contain:\n${expected}`);
    assert.match(pf.stderr(), /error: lost connection to pod/);
  });

  test('kubectl exiting closes its connection and the pod connections behind it', async () => {
    await until('earlier connections to close', () => front.connections.size === 0 && echo.open.size === 0);
    pf = await kubectlPortForward(front, echo.port);
    const s = net.connect({ host: '127.0.0.1', port: pf.localPort });
    s.on('error', () => {});
    s.write('still here');
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    assert.equal(echo.open.size, 1);
    assert.equal(front.connections.size, 1);
    pf.proc.kill('SIGKILL');
    await pf.exited;
    await until('the pod connection to close', () => echo.open.size === 0);
    await until('the agent connection to close', () => front.connections.size === 0);
    s.destroy();
  });
});

describe('kubectl port-forward through the agent (plain SPDY fallback)', () => {
  test('when the WebSocket upgrade is refused kubectl upgrades to SPDY/3.1 and forwarding works', async () => {
    const front = await startFront({ refuseWebSocket: true });
    const echo = await echoServer();
    const pf = await kubectlPortForward(front, echo.port);
    const data = randomBytes(300_000);
    const [a, b] = await Promise.all([exchange(pf.localPort, data), exchange(pf.localPort, Buffer.from('second'))]);
    assert.ok(a.equals(data));
    assert.equal(b.toString(), 'second');
    assert.deepEqual(front.upgrades, [
      { method: 'GET', upgrade: 'websocket' },
      { method: 'POST', upgrade: 'SPDY/3.1' },
    ]);
    pf.proc.kill('SIGINT');
    await pf.exited;
  });
});

describe('kubectl port-forward through the Cairn API server and the agent server', () => {
  test('the API server proxies the tunnelled upgrade to the agent, which forwards to the pod', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const pki = join(server.dataDir, 'pki');
    const ca = { certPem: await readFile(join(pki, 'ca.crt'), 'utf8'), keyPem: await readFile(join(pki, 'ca.key'), 'utf8') };
    const serving = await issueCertificate(ca, { commonName: `cairn-node-${RUN}`, ips: ['127.0.0.1'], usage: 'server' });
    const client = adminClient(server);
    const nodeName = `cairn-node-${RUN}`;
    let pod: KubeObject | undefined;
    const agent = new AgentServer({
      host: '127.0.0.1',
      port: 0,
      tls: { ...serving, caPem: ca.certPem },
      backend: {
        pod: (ns, name) => (ns === NS && name === POD ? (pod as unknown as Pod) : undefined),
        container: () => ({ error: 'no containers in this test' }),
        dialPod: (_pod, port) => dialPodPort({ ip: '127.0.0.1', netns: NETNS }, port),
      },
      // Port-forward needs no container runtime.
      runtime: {} as AgentServerOptions['runtime'],
    });
    const { port: agentPort } = await agent.start();
    cleanups.push(() => agent.stop());
    await client.resource({ group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' }).create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName, annotations: { 'cairn.io/agent-endpoint': `https://127.0.0.1:${agentPort}` } },
    });
    pod = await client.resource(R.pods).create(podObject(NS, POD, { nodeName }));
    pod = await setPodStatus(client, pod, '127.0.0.1', true);

    const echo = await echoServer();
    const pf = await kubectlPortForward({ kubeconfig: server.kubeconfigPath }, echo.port);
    const payloads = [randomBytes(2 * 1024 * 1024), randomBytes(1000), Buffer.from('third')];
    const got = await Promise.all(payloads.map((p) => exchange(pf.localPort, p)));
    got.forEach((g, i) => assert.ok(g.equals(payloads[i]!), `connection ${i} came back different`));

    const refused = await closedPort();
    const pf2 = await kubectlPortForward({ kubeconfig: server.kubeconfigPath }, refused);
    await exchange(pf2.localPort, Buffer.from('x'));
    await pf2.exited;
    assert.ok(
      pf2.stderr().includes(`error forwarding port ${refused} to pod ${POD}_${NS}, uid : failed to execute portforward in network namespace \\"${NETNS}\\": dial tcp 127.0.0.1:${refused}: connect: connection refused`),
      pf2.stderr(),
    );
    pf.proc.kill('SIGINT');
    await pf.exited;
  });
});

describe('port-forward protocol details (scripted SPDY client)', () => {
  test('upgrade negotiation failures are answered as the kubelet and API server word them', async () => {
    const front = await startFront();
    const noTunnel = await webSocketUpgrade(front, 'v4.channel.k8s.io');
    assert.equal(noTunnel.res.statusCode, 400);
    assert.equal(await readBody(noTunnel.res), 'unable to upgrade: no tunneling spdy protocols provided\n');

    const wrong = await spdyUpgrade(front, { 'X-Stream-Protocol-Version': 'v9.portforward.k8s.io' });
    assert.equal(wrong.res.statusCode, 403);
    assert.equal(wrong.res.headers['x-accepted-stream-protocol-versions'], 'portforward.k8s.io');
    assert.equal(
      await readBody(wrong.res),
      'unable to upgrade: unable to negotiate protocol: client supports [v9.portforward.k8s.io], server accepts [portforward.k8s.io]\n',
    );

    const ok = await webSocketUpgrade(front);
    assert.equal(ok.res.statusCode, 101);
    assert.equal(ok.res.headers['sec-websocket-protocol'], 'SPDY/3.1+portforward.k8s.io');
  });

  test('streams with bad headers are reset; a stream whose pair never comes times out with an error', async () => {
    const front = await startFront({ streamCreationTimeoutMs: 300 });
    const { socket } = await spdyUpgrade(front);
    const c = new SpdyClient(socket!);
    await c.open(1, { streamType: 'data', requestID: '1' });
    await c.open(3, { streamType: 'bogus', port: '80', requestID: '1' });
    await c.open(5, { streamType: 'data', port: '0', requestID: '1' });
    await c.open(7, { streamType: 'error', port: '80', requestID: '9' });
    for (const id of [1, 3, 5]) assert.equal((await c.frame('rst_stream', (f) => f.streamId === id)).status, RstStatus.Cancel);
    await c.frame('syn_reply', (f) => f.streamId === 7);
    await until('the error stream to end', () => c.dataOf(7).fin);
    assert.match(c.dataOf(7).text, /^\(conn=127\.0\.0\.1:\d+, request=9\) timed out waiting for streams$/);
  });

  test('over the WebSocket tunnel: a reset data stream closes the pod connection, then the error stream ends', async () => {
    const front = await startFront();
    const echo = await echoServer();
    const { socket } = await webSocketUpgrade(front);
    const c = new SpdyClient(socket!);
    const port = String(echo.port);
    await c.open(1, { streamType: 'error', port, requestID: '0' });
    await c.send({ type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) });
    await c.open(3, { streamType: 'data', port, requestID: '0' });
    await c.frame('syn_reply', (f) => f.streamId === 3);
    await c.send({ type: 'data', streamId: 3, flags: 0, data: Buffer.from('echo me') });
    await until('the echo', () => c.dataOf(3).text === 'echo me');
    assert.equal(echo.open.size, 1);
    await c.send({ type: 'rst_stream', streamId: 3, status: RstStatus.Cancel });
    await until('the pod connection to close', () => echo.open.size === 0);
    await until('the error stream to end', () => c.dataOf(1).fin);
    assert.equal(c.dataOf(1).text, '', 'a reset is not an error');
  });

  test('a pod connection reset is reported on the error stream in the kubelet\'s words', async () => {
    const front = await startFront();
    const resetter = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    const port = await listen(resetter);
    const { socket } = await spdyUpgrade(front);
    const c = new SpdyClient(socket!);
    await c.open(1, { streamType: 'error', port: String(port), requestID: '0' });
    await c.open(3, { streamType: 'data', port: String(port), requestID: '0' });
    await c.frame('syn_reply', (f) => f.streamId === 3);
    await c.send({ type: 'data', streamId: 3, flags: 0, data: Buffer.from('boom') });
    await until('the error stream to end', () => c.dataOf(1).fin);
    assert.match(
      c.dataOf(1).text,
      new RegExp(
        `^error forwarding port ${port} to pod ${POD}_${NS}, uid : failed to execute portforward for "${POD}_${NS}" port ${port}: ` +
          `read tcp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${port}: read: connection reset by peer$`,
      ),
    );
    assert.ok(c.dataOf(3).fin, 'the data stream is closed');
  });

  test('a text message on the WebSocket tunnel ends the connection', async () => {
    const front = await startFront();
    const { socket } = await webSocketUpgrade(front);
    const c = new SpdyClient(socket!);
    await c.send({ type: 'ping', id: 1 });
    await c.frame('ping', (f) => f.id === 1);
    (socket as WebSocketBytes).sendText('not spdy');
    await until('the connection to end', () => c.ended || socket!.destroyed);
    await until('the agent side to close', () => front.connections.size === 0);
  });

  test('an idle connection is closed after the idle timeout', async () => {
    const front = await startFront({ idleTimeoutMs: 400 });
    const { socket } = await spdyUpgrade(front);
    const c = new SpdyClient(socket!);
    await c.send({ type: 'ping', id: 1 });
    await c.frame('ping', (f) => f.id === 1);
    await c.frame('goaway');
    await until('the connection to end', () => c.ended);
    await until('the agent side to close', () => front.connections.size === 0);
  });
});
