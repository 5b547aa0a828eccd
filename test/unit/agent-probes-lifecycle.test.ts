// postStart / preStop handlers: what succeeds, what fails, and the messages the kubelet gives.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { runLifecycleHandler } from '../../src/agent/probes/lifecycle-hooks.js';
import type { ProbeTarget } from '../../src/agent/probes/probe.js';

let server: Server;
let port = 0;
let closedPort = 0;
const seen: IncomingMessage[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(req.url === '/fail' ? 500 : 200);
    res.end('done');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  closedPort = (tmp.address() as AddressInfo).port;
  await new Promise((r) => tmp.close(r));
});
after(() => new Promise((r) => server.close(r)));

function target(exec: ProbeTarget['exec'] = async () => ({ exitCode: 0, output: '', timedOut: false })): ProbeTarget & { calls: { argv: string[]; timeoutMs: number }[] } {
  const calls: { argv: string[]; timeoutMs: number }[] = [];
  return {
    podIP: '127.0.0.1',
    podDesc: 'web_default(0b0c6a2e)',
    container: { name: 'app', env: [{ name: 'X', value: 'y' }] },
    calls,
    exec: (argv, timeoutMs) => {
      calls.push({ argv, timeoutMs });
      return exec(argv, timeoutMs);
    },
  };
}

test('exec: zero exit succeeds; the command is not $(VAR)-expanded; the time limit is passed on', async () => {
  const t = target();
  assert.deepEqual(await runLifecycleHandler({ exec: { command: ['sh', '-c', 'echo $(X)'] } }, t, 7000), { ok: true, message: '' });
  assert.deepEqual(t.calls, [{ argv: ['sh', '-c', 'echo $(X)'], timeoutMs: 7000 }]);
});

test('exec: a non-zero exit or a timeout fails with the kubelet message', async () => {
  const failing = target(async () => ({ exitCode: 3, output: 'boom\n', timedOut: false }));
  assert.deepEqual(await runLifecycleHandler({ exec: { command: ['sh', '-c', 'exit 3'] } }, failing, 1000), {
    ok: false,
    message: `Exec lifecycle hook ([sh -c exit 3]) for Container "app" in Pod "web_default(0b0c6a2e)" failed - error: command 'sh -c exit 3' exited with 3: boom\n, message: "boom\\n"`,
  });
  const slow = target(async () => ({ exitCode: 137, output: '', timedOut: true }));
  const r = await runLifecycleHandler({ exec: { command: ['sleep', '60'] } }, slow, 1000);
  assert.equal(r.ok, false);
  assert.match(r.message, /failed - error: command "sleep 60" timed out, message: ""$/);
});

test('httpGet: any response is success, even 500; a request that cannot complete fails', async () => {
  seen.length = 0;
  assert.deepEqual(await runLifecycleHandler({ httpGet: { port, path: '/fail' } }, target(), 2000), { ok: true, message: '' });
  assert.equal(seen[0].headers['user-agent'], 'kube-lifecycle/1.32');
  assert.deepEqual(await runLifecycleHandler({ httpGet: { port: closedPort, path: '/hook' } }, target(), 2000), {
    ok: false,
    message: `HTTP lifecycle hook (/hook) for Container "app" in Pod "web_default(0b0c6a2e)" failed - error: Get "http://127.0.0.1:${closedPort}/hook": dial tcp 127.0.0.1:${closedPort}: connect: connection refused`,
  });
});

test('httpGet: an HTTPS hook against a plain HTTP server is retried over HTTP without Authorization', async () => {
  seen.length = 0;
  const hook = { httpGet: { port, path: '/hook', scheme: 'HTTPS' as const, httpHeaders: [{ name: 'Authorization', value: 'Bearer x' }, { name: 'X-Keep', value: '1' }] } };
  assert.deepEqual(await runLifecycleHandler(hook, target(), 2000), { ok: true, message: '' });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers.authorization, undefined);
  assert.equal(seen[0].headers['x-keep'], '1');
});

test('sleep: waits; fails when the time allowed is shorter', async () => {
  const t0 = Date.now();
  assert.deepEqual(await runLifecycleHandler({ sleep: { seconds: 0 } }, target(), 1000), { ok: true, message: '' });
  const r = await runLifecycleHandler({ sleep: { seconds: 30 } }, target(), 100);
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(r, { ok: false, message: 'Sleep lifecycle hook (30) for Container "app" in Pod "web_default(0b0c6a2e)" failed - error: container terminated before sleep hook finished' });
});

test('tcpSocket is not a runnable lifecycle handler (upstream: invalid handler)', async () => {
  assert.deepEqual(await runLifecycleHandler({ tcpSocket: { port: 8080 } }, target(), 1000), {
    ok: false,
    message: 'Cannot run handler: invalid handler: &LifecycleHandler{Exec:nil,HTTPGet:nil,TCPSocket:&TCPSocketAction{Port:{0 8080 },Host:,},Sleep:nil,}',
  });
});
