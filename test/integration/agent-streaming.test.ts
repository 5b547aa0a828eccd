/**
 * `kubectl logs`, `exec` and `attach` end to end (root): the real kubectl against a real API
 * server, which proxies to a real AgentServer whose backend serves real runc containers (the
 * busybox fixture). A Node object carries the agent's endpoint annotation and a Pod is bound to
 * it; the backend maps the pod's containers to the fixture's containers. Interactive sessions
 * (`exec -it`, `attach -it`) run kubectl on a terminal made by the pty helper, which also
 * resizes that terminal. Every step asserts what the user sees: output, messages, exit codes.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import type { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { PTY_HELPER, requirePtyHelper } from '../../src/agent/runtime/pty.js';
import { AgentServer } from '../../src/agent/server/agent-server.js';
import type { ContainerHandle, StreamingBackend } from '../../src/agent/server/backend.js';
import { issueCertificate } from '../../src/api/pki.js';
import { RuntimeFixture, until } from '../support/runtime.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { adminCreate, binding, role, rolePath, roleBindingPath, user, userClient, writeUserKubeconfig } from '../support/users.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let server: TestServer;
let fx: RuntimeFixture;
let agent: AgentServer;
let agentPort: number;
let cacheDir: string;
const children = new Set<ChildProcess>();
const NODE = () => `cairn-test-node-${fx.runId}`;
const stopFile = () => join(fx.rootfs, 'tmp', `stop-${fx.runId}`);

function kubectl(args: string[], opts: { input?: string; kubeconfig?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', opts.kubeconfig ?? server.kubeconfigPath, '--cache-dir', cacheDir, ...args],
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 32 << 20, env: { ...process.env, KUBECONFIG: '' } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
    child.stdin!.end(opts.input ?? '');
  });
}

/** A long-running kubectl; `output()` is what it printed so far, `exited` its exit code. */
function spawnKubectl(args: string[], onTerminal = false) {
  const argv = ['kubectl', '--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args];
  const [cmd, ...rest] = onTerminal ? [PTY_HELPER, ...argv] : argv;
  const child = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '', TERM: 'xterm' } });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => (children.delete(child), r(code))));
  return {
    child,
    output: () => out,
    exited,
    /** The terminal's size (only on a terminal: the pty helper's fd 3). */
    resize: (rows: number, cols: number) => (child.stdio[3] as Writable).write(`${rows} ${cols}\n`),
    type: (text: string) => child.stdin!.write(text),
    waitFor: (re: RegExp, what: string) => until(`${what} (output so far: ${JSON.stringify(out)})`, () => re.test(out), 20_000),
  };
}

describe('kubectl logs, exec and attach through the agent', () => {
  const ids: Record<string, string> = {};
  let webPod: Pod;

  before(async () => {
    fx = new RuntimeFixture('streaming');
    requirePtyHelper();
    server = await startTestServer();
    cacheDir = await mkdtemp(join(tmpdir(), 'cairn-kubectl-cache-'));

    // The containers of pod "web": app's previous instance (exited), then the running ones.
    const make = async (name: string, args: string[], extra: { stdin?: boolean; stdinOnce?: boolean; terminal?: boolean } = {}) => {
      const id = fx.id(name);
      await fx.runtime.createContainer({ id, bundleDir: fx.bundle(id), spec: fx.spec(id, { args, terminal: extra.terminal }), logPath: fx.logPath(id), stdin: extra.stdin, stdinOnce: extra.stdinOnce });
      await fx.runtime.start(id);
      return id;
    };
    ids.previous = await make('app-0', ['sh', '-c', 'echo previous-run; exit 1']);
    ids.app = await make('app-1', ['sh', '-c', 'echo hello; sleep 0.1; echo err >&2; sleep 0.1; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done']);
    ids.shell = await make('shell', ['sh'], { stdin: true, terminal: true });
    ids.reader = await make('reader', ['sh', '-c', 'while read l; do echo got:$l; done; echo eof'], { stdin: true, stdinOnce: true });
    ids.waiter = await make('waiter', ['sh', '-c', `echo start; while [ ! -e /tmp/stop-${fx.runId} ]; do sleep 0.1; done; echo stopping`]);
    await until('the previous instance to exit', async () => (await fx.runtime.status(ids.previous)).state === 'exited');

    const handles: Record<string, ContainerHandle> = {
      app: { name: 'app', currentLog: fx.logPath(ids.app), previousLog: fx.logPath(ids.previous), running: { id: ids.app }, stdin: false, tty: false },
      shell: { name: 'shell', currentLog: fx.logPath(ids.shell), running: { id: ids.shell }, stdin: true, tty: true },
      reader: { name: 'reader', currentLog: fx.logPath(ids.reader), running: { id: ids.reader }, stdin: true, tty: false },
      waiter: { name: 'waiter', currentLog: fx.logPath(ids.waiter), running: { id: ids.waiter }, stdin: false, tty: false },
      pending: { name: 'pending', stdin: false, tty: false },
    };
    const spec = {
      nodeName: NODE(),
      containers: [
        { name: 'app', image: 'busybox' },
        { name: 'shell', image: 'busybox', stdin: true, tty: true },
        { name: 'reader', image: 'busybox', stdin: true, stdinOnce: true },
        { name: 'waiter', image: 'busybox' },
        { name: 'pending', image: 'busybox' },
      ],
    };
    const running = { running: { startedAt: new Date().toISOString() } };
    webPod = {
      metadata: { name: 'web', namespace: 'default' },
      spec: spec as Pod['spec'],
      status: {
        phase: 'Running',
        containerStatuses: [
          ...['app', 'shell', 'reader', 'waiter'].map((name) => ({ name, ready: true, restartCount: name === 'app' ? 1 : 0, image: 'busybox', imageID: '', state: running })),
          { name: 'pending', ready: false, restartCount: 0, image: 'busybox', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } },
        ],
      },
    };
    const backend: StreamingBackend = {
      pod: (ns, name) => (ns === 'default' && name === 'web' ? webPod : undefined),
      container: (pod, name) => handles[name || 'app'] ?? { error: `container ${name} is not valid for pod ${pod.metadata.name}` },
      dialPod: () => Promise.reject(new Error('no pod network in this test')),
    };
    const tls = await issueCertificate(server.server.pki.ca, { commonName: 'cairn-test-agent', ips: ['127.0.0.1'], usage: 'server' });
    agent = new AgentServer({ host: '127.0.0.1', port: 0, tls: { ...tls, caPem: server.server.pki.ca.certPem }, backend, runtime: fx.runtime });
    const { port } = await agent.start();
    agentPort = port;

    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE(), annotations: { 'cairn.io/agent-endpoint': `127.0.0.1:${port}` } } };
    const create = async (obj: object) => {
      // Pods wait for the namespace's default service account, which a controller makes.
      await until(`creating ${JSON.stringify(obj).slice(0, 60)}`, async () => (await kubectl(['create', '-f', '-'], { input: JSON.stringify(obj) })).code === 0);
    };
    await create(node);
    await create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec });
    await create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unscheduled', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await agent?.stop();
    await server?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
    await fx?.cleanup();
  });

  // stdout and stderr are two pipes: lines written close together may be logged in either order
  // (as with containerd), hence the pause between them in app's command.
  // stdout and stderr are two pipes: lines written close together may be read in either order (as
  // under containerd), so the container leaves 100 ms between them.
  it('logs: the default container, stdout and stderr in order', async () => {
    const r = await kubectl(['logs', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^hello\nerr\ntick 1\n/);
    assert.match(r.stderr, /Defaulted container "app" out of: app, shell, reader, waiter, pending/);
  });

  it('logs --tail, --limit-bytes, --timestamps, --since, --since-time', async () => {
    await until('a few ticks', async () => /tick 3\n/.test((await kubectl(['logs', 'web', '-c', 'app'])).stdout));
    const tail = await kubectl(['logs', 'web', '-c', 'app', '--tail', '2']);
    assert.match(tail.stdout, /^tick \d+\ntick \d+\n$/);
    assert.equal((await kubectl(['logs', 'web', '-c', 'app', '--limit-bytes', '5'])).stdout, 'hello');
    const ts = await kubectl(['logs', 'web', '-c', 'app', '--timestamps', '--tail', '1']);
    assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n$/);
    assert.match((await kubectl(['logs', 'web', '-c', 'app', '--since', '1h'])).stdout, /^hello\n/);
    const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    assert.equal((await kubectl(['logs', 'web', '-c', 'app', '--since-time', future])).stdout, '');
  });

  it('logs --previous, and the kubelet errors for what has no log', async () => {
    assert.equal((await kubectl(['logs', 'web', '-c', 'app', '--previous'])).stdout, 'previous-run\n');
    const noPrev = await kubectl(['logs', 'web', '-c', 'shell', '--previous']);
    assert.equal(noPrev.code, 1);
    assert.equal(noPrev.stderr.trim(), 'Error from server (BadRequest): previous terminated container "shell" in pod "web" not found');
    const waiting = await kubectl(['logs', 'web', '-c', 'pending']);
    assert.equal(waiting.stderr.trim(), 'Error from server (BadRequest): container "pending" in pod "web" is waiting to start: ContainerCreating');
    const unknown = await kubectl(['logs', 'web', '-c', 'nope']);
    assert.equal(unknown.stderr.trim(), 'error: container nope is not valid for pod web');
    const missing = await kubectl(['logs', 'nosuchpod']);
    assert.equal(missing.stderr.trim(), 'error: error from server (NotFound): pods "nosuchpod" not found in namespace "default"');
    // Not scheduled yet: nothing to show, as upstream.
    const unscheduled = await kubectl(['logs', 'unscheduled']);
    assert.deepEqual([unscheduled.code, unscheduled.stdout], [0, '']);
  });

  it('logs -f streams until the container exits', async () => {
    const f = spawnKubectl(['logs', '-f', 'web', '-c', 'waiter']);
    await f.waitFor(/^start\n/, 'the first line');
    writeFileSync(stopFile(), '');
    assert.equal(await f.exited, 0);
    assert.equal(f.output(), 'start\nstopping\n');
  });

  it('exec: output, stdin, and the exit code as kubectl exits with it', async () => {
    const r = await kubectl(['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\ncommand terminated with exit code 3\n');
    const ok = await kubectl(['exec', 'web', '-c', 'app', '--', 'echo', 'hi']);
    assert.deepEqual([ok.code, ok.stdout], [0, 'hi\n']);
    // v5 carries the end of stdin: `cat` sees EOF.
    const cat = await kubectl(['exec', '-i', 'web', '-c', 'app', '--', 'sh', '-c', 'cat; echo done'], { input: 'abc\n' });
    assert.deepEqual([cat.code, cat.stdout], [0, 'abc\ndone\n']);
  });

  it('exec: the errors a user sees', async () => {
    const nope = await kubectl(['exec', 'web', '-c', 'app', '--', 'nope']);
    assert.notEqual(nope.code, 0);
    assert.match(nope.stderr, /Internal error occurred: error executing command in container: .*executable file not found in \$PATH/);
    const notRunning = await kubectl(['exec', 'web', '-c', 'pending', '--', 'true']);
    assert.equal(notRunning.stderr.trim(), 'error: unable to upgrade connection: container not found ("pending")');
    const noHost = await kubectl(['exec', 'unscheduled', '--', 'true']);
    assert.equal(noHost.stderr.trim(), 'Error from server (BadRequest): pod unscheduled does not have a host assigned');
    const badContainer = await kubectl(['exec', 'web', '-c', 'nope', '--', 'true']);
    assert.equal(badContainer.stderr.trim(), 'Error from server (BadRequest): container nope is not valid for pod web');
  });

  it('exec: a client that goes away takes its process with it', async () => {
    const ps = async () => (await kubectl(['exec', 'web', '-c', 'app', '--', 'ps', '-o', 'args'])).stdout;
    const e = spawnKubectl(['exec', 'web', '-c', 'app', '--', 'sleep', '1234']);
    await until('the exec\'d process to run', async () => /sleep 1234/.test(await ps()));
    e.child.kill('SIGKILL');
    await e.exited;
    await until('the exec\'d process to be gone', async () => !/sleep 1234/.test(await ps()));
  });

  it('exec -it: a real terminal that follows kubectl’s window size', async () => {
    const t = spawnKubectl(['exec', '-it', 'web', '-c', 'app', '--', 'sh'], true);
    t.resize(24, 80);
    await t.waitFor(/# /, 'the shell prompt');
    t.type('stty size\r');
    await t.waitFor(/\r\n24 80\r\n/, 'the first size');
    t.resize(40, 132);
    // kubectl sends the new size on SIGWINCH; the shell sees it on its next command.
    await until('the new size inside', async () => {
      t.type('stty size\r');
      await new Promise((r) => setTimeout(r, 200));
      return /\r\n40 132\r\n/.test(t.output());
    });
    t.type('exit 7\r');
    assert.equal(await t.exited, 7);
  });

  it('attach: output only', async () => {
    const a = spawnKubectl(['attach', 'web', '-c', 'app']);
    await a.waitFor(/tick \d+\n.*tick \d+\n/s, 'two ticks');
    a.child.kill('SIGINT');
    await a.exited;
  });

  it('attach -i: stdin to a container that keeps it open, closed after the session (stdinOnce)', async () => {
    const r = await kubectl(['attach', '-i', 'web', '-c', 'reader'], { input: 'hello\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got:hello\neof\n');
    await until('the reader to exit', async () => (await fx.runtime.status(ids.reader)).state === 'exited');
  });

  it('attach -it: the container’s own terminal', async () => {
    const a = spawnKubectl(['attach', '-it', 'web', '-c', 'shell'], true);
    a.resize(30, 100);
    await a.waitFor(/If you don't see a command prompt, try pressing enter\./, 'the attach banner');
    // On a loaded machine the banner can precede the stream's stdin: type until the shell answers.
    await until('the command output', async () => {
      a.type('stty size; echo attached-$((40+2))\r');
      await new Promise((r) => setTimeout(r, 1000));
      return /\r\n30 100\r\nattached-42\r\n/.test(a.output());
    });
    // The shell exits: the container ends, and so does the attach.
    a.type('exit\r');
    assert.equal(await a.exited, 0);
  });

  it('the agent serves only clients with the API server\'s certificate', async () => {
    const ca = server.server.pki.ca;
    const get = (path: string, cert?: { certPem: string; keyPem: string }) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: agentPort, path, ca: ca.certPem, cert: cert?.certPem, key: cert?.keyPem, agent: false }, (res) => {
          let body = '';
          res.on('data', (b: Buffer) => (body += b.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    assert.deepEqual(await get('/healthz', server.server.pki.kubeletClient), { status: 200, body: 'ok' });
    assert.deepEqual(await get('/healthz'), { status: 401, body: 'Unauthorized' });
    const someone = await issueCertificate(ca, { commonName: 'someone', usage: 'client' });
    assert.deepEqual(await get('/containerLogs/default/web/app', someone), { status: 403, body: 'Forbidden (user=someone, verb=get, resource=nodes, subresource(s)=[proxy])' });
    assert.equal((await get('/containerLogs/default/nope/app', server.server.pki.kubeletClient)).status, 404);
  });

  it('RBAC: exec needs create on pods/exec (a WebSocket GET too), logs get on pods/log', async () => {
    const admin = await userClient(server, 'admin', ['system:masters']);
    const grant = async (who: string, resources: string[]) => {
      await adminCreate(admin, rolePath('default'), role(`${who}-role`, [{ apiGroups: [''], resources, verbs: ['get'] }], 'default'));
      await adminCreate(admin, roleBindingPath('default'), { ...binding(`${who}-binding`, 'Role', `${who}-role`, [user(who)]), metadata: { name: `${who}-binding`, namespace: 'default' } });
      return writeUserKubeconfig(server, join(cacheDir, `${who}.kubeconfig`), who);
    };
    const viewer = await grant('viewer', ['pods', 'pods/log', 'pods/exec']);
    const nolog = await grant('nolog', ['pods']);
    await until('the roles to apply', async () => (await kubectl(['logs', 'web', '-c', 'app', '--tail', '1'], { kubeconfig: viewer })).code === 0);
    const r = await kubectl(['exec', 'web', '-c', 'app', '--', 'true'], { kubeconfig: viewer });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error from server (Forbidden): pods "web" is forbidden: User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "default"');
    const logs = await until('the second role to apply', async () => {
      const x = await kubectl(['logs', 'web', '-c', 'app'], { kubeconfig: nolog });
      return /pods\/log/.test(x.stderr) && x;
    });
    assert.equal(logs.stderr.trim(), 'Error from server (Forbidden): pods "web" is forbidden: User "nolog" cannot get resource "pods/log" in API group "" in the namespace "default"');
  });
});
