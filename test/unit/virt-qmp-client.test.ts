// The QMP client against a fake QMP server on a unix socket: greeting and capabilities
// negotiation, replies matched by id (also out of order), QmpError with QEMU's class and
// description, events to waiters, timeouts, and a closed connection failing what is pending.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpError, QmpTimeoutError, QmpClosedError, QmpProtocolError } from '../../src/virt/qemu/qmp-client.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-qmp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

type Handler = (cmd: { execute: string; arguments?: Record<string, unknown>; id?: string }, sock: Socket) => void;

/** A fake QEMU monitor: sends the greeting, answers qmp_capabilities, hands other commands to `handle`. */
function fakeQmp(handle: Handler, greeting = true): Promise<{ path: string; server: Server; received: string[] }> {
  const path = join(dir, `qmp-${n++}.sock`);
  const received: string[] = [];
  const server = createServer((sock) => {
    if (greeting) sock.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'fake' }, capabilities: ['oob'] } }) + '\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, i)) as { execute: string; id?: string };
        buf = buf.slice(i + 1);
        received.push(cmd.execute);
        if (cmd.execute === 'qmp_capabilities') sock.write(JSON.stringify({ return: {}, id: cmd.id }) + '\r\n');
        else handle(cmd, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server, received })));
}

test('greeting, capabilities, typed commands, replies matched by id', async () => {
  const pending: { id?: string; execute: string }[] = [];
  const f = await fakeQmp((cmd, sock) => {
    if (cmd.execute === 'query-status') sock.write(JSON.stringify({ return: { running: true, singlestep: false, status: 'running' }, id: cmd.id }) + '\n');
    else if (cmd.execute === 'migrate-set-capabilities') {
      assert.deepEqual(cmd.arguments, { capabilities: [{ capability: 'auto-converge', state: true }] });
      sock.write(JSON.stringify({ return: {}, id: cmd.id }) + '\n');
    } else {
      // Answer the two query-migrate/query-block commands in reverse order.
      pending.push(cmd);
      if (pending.length === 2) {
        for (const c of pending.reverse()) sock.write(JSON.stringify({ return: c.execute === 'query-migrate' ? { status: 'active' } : [], id: c.id }) + '\n');
      }
    }
  });
  const qmp = await QmpClient.connect(f.path);
  assert.equal(qmp.greeting.version.qemu.major, 7);
  assert.deepEqual(f.received, ['qmp_capabilities']);
  assert.deepEqual(await qmp.queryStatus(), { running: true, singlestep: false, status: 'running' });
  await qmp.migrateSetCapabilities([{ capability: 'auto-converge', state: true }]);
  const [m, b] = await Promise.all([qmp.queryMigrate(), qmp.queryBlock()]);
  assert.deepEqual([m, b], [{ status: 'active' }, []]);
  qmp.close();
  f.server.close();
});

test('a failed command is a QmpError with class and description; events reach waiters', async () => {
  const f = await fakeQmp((cmd, sock) => {
    if (cmd.execute === 'cont') sock.write(JSON.stringify({ error: { class: 'GenericError', desc: 'Resetting the Virtual Machine is required' }, id: cmd.id }) + '\n');
    if (cmd.execute === 'stop') {
      sock.write(JSON.stringify({ return: {}, id: cmd.id }) + '\n');
      sock.write(JSON.stringify({ event: 'STOP', timestamp: { seconds: 1, microseconds: 2 } }) + '\n');
    }
    if (cmd.execute === 'migrate') {
      sock.write(JSON.stringify({ return: {}, id: cmd.id }) + '\n');
      for (const status of ['setup', 'active', 'completed']) sock.write(JSON.stringify({ event: 'MIGRATION', data: { status }, timestamp: { seconds: 1, microseconds: 3 } }) + '\n');
    }
  });
  const qmp = await QmpClient.connect(f.path);
  const e = await qmp.cont().catch((x: unknown) => x);
  assert.ok(e instanceof QmpError);
  assert.equal(e.errorClass, 'GenericError');
  assert.equal(e.desc, 'Resetting the Virtual Machine is required');
  assert.equal(e.command, 'cont');
  const events: string[] = [];
  qmp.on('event', (ev: { event: string }) => events.push(ev.event));
  const stopped = qmp.waitForEvent('STOP', { timeoutMs: 2000 });
  await qmp.stop();
  assert.equal((await stopped).timestamp.microseconds, 2);
  const done = qmp.waitForEvent('MIGRATION', { timeoutMs: 2000, match: (ev) => ev.data?.['status'] === 'completed' });
  await qmp.migrate('tcp:10.0.0.2:4444');
  assert.equal((await done).data?.['status'], 'completed');
  assert.deepEqual(events, ['STOP', 'MIGRATION', 'MIGRATION', 'MIGRATION']);
  qmp.close();
  f.server.close();
});

test('timeouts, a closing peer, a peer that is not QMP', async () => {
  const f = await fakeQmp((cmd, sock) => {
    if (cmd.execute === 'quit') sock.destroy();
  });
  const qmp = await QmpClient.connect(f.path, { commandTimeoutMs: 200 });
  await assert.rejects(qmp.execute('query-status'), QmpTimeoutError);
  await assert.rejects(qmp.waitForEvent('SHUTDOWN', { timeoutMs: 100 }), QmpTimeoutError);
  const hanging = qmp.execute('query-block', undefined, { timeoutMs: 5000 });
  const shutdown = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 5000 });
  await qmp.quit(); // the peer closes instead of answering: quit() treats that as done
  await assert.rejects(hanging, QmpClosedError);
  await assert.rejects(shutdown, QmpClosedError);
  assert.equal(qmp.closed, true);
  await assert.rejects(qmp.queryStatus(), QmpClosedError);
  f.server.close();

  const silent = await fakeQmp(() => undefined, false);
  await assert.rejects(QmpClient.connect(silent.path, { connectTimeoutMs: 200 }), QmpTimeoutError);
  silent.server.close();

  const path = join(dir, 'garbage.sock');
  const g = createServer((s) => s.end('this is not json\n'));
  await new Promise<void>((r) => g.listen(path, () => r()));
  await assert.rejects(QmpClient.connect(path), QmpProtocolError);
  g.close();
  await assert.rejects(QmpClient.connect(join(dir, 'missing.sock')), QmpClosedError);
});
