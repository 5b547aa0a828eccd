// tcpSocket probes against 127.0.0.1.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runProbe, type ProbeTarget } from '../../src/agent/probes/probe.js';

const target = (ports: { name: string; containerPort: number }[] = []): ProbeTarget => ({
  podIP: '127.0.0.1',
  container: { name: 'db', ports },
  exec: async () => {
    throw new Error('no exec here');
  },
});

test('an open port is success; the connection is closed again', async () => {
  const server = createServer();
  let accepted = 0;
  let closed = 0;
  server.on('connection', (s) => {
    accepted++;
    s.on('close', () => closed++);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    assert.deepEqual(await runProbe({ tcpSocket: { port } }, target(), 1000), { result: 'success', message: '' });
    assert.deepEqual(await runProbe({ tcpSocket: { port: 'pg' } }, target([{ name: 'pg', containerPort: port }]), 1000), { result: 'success', message: '' });
    assert.deepEqual(await runProbe({ tcpSocket: { port, host: '127.0.0.1' } }, { ...target(), podIP: '127.0.0.7' }, 1000), { result: 'success', message: '' });
    const deadline = Date.now() + 2000;
    while (closed < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(accepted, 3);
    assert.equal(closed, 3, 'the probe does not leave connections open');
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('a closed port fails with Go dial error text; a bad port cannot run', async () => {
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const port = (tmp.address() as AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  assert.deepEqual(await runProbe({ tcpSocket: { port } }, target(), 1000), { result: 'failure', message: `dial tcp 127.0.0.1:${port}: connect: connection refused` });
  assert.deepEqual(await runProbe({ tcpSocket: { port: 70000 } }, target(), 1000), { result: 'unknown', message: 'invalid port number: 70000' });
  assert.deepEqual(await runProbe({ tcpSocket: { port: 'missing' } }, target(), 1000), { result: 'unknown', message: 'strconv.Atoi: parsing "missing": invalid syntax' });
});
