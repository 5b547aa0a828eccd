// grpc probes against a real HTTP/2 server on 127.0.0.1 that speaks the gRPC health protocol
// (grpc.health.v1.Health/Check), with its messages decoded and encoded by hand here.
import assert from 'node:assert/strict';
import http2, { type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { runProbe, type ProbeTarget } from '../../src/agent/probes/probe.js';

const SERVING = 1;
const NOT_SERVING = 2;
/** service → status; absent services answer NOT_FOUND, as grpc-go's health server does. */
const statuses = new Map<string, number>([
  ['', SERVING],
  ['db', NOT_SERVING],
]);
const requests: { headers: http2.IncomingHttpHeaders; service: string }[] = [];
let health: Http2Server;
let bare: Http2Server;
let healthPort = 0;
let barePort = 0;
const sockets = new Set<Socket>();

function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** HealthCheckRequest.service (field 1, length-delimited; short strings only). */
function serviceOf(body: Buffer): string {
  const msg = body.subarray(5, 5 + body.readUInt32BE(1));
  return msg.length && msg[0] === 0x0a ? msg.subarray(2, 2 + msg[1]).toString('utf8') : '';
}

function answer(stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  stream.on('end', () => {
    const service = serviceOf(Buffer.concat(chunks));
    requests.push({ headers, service });
    if (service === 'slow') return; // never answers
    const status = statuses.get(service);
    if (status === undefined) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'unknown%20service' }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame(Buffer.from([0x08, status])));
  });
}

before(async () => {
  health = http2.createServer();
  health.on('stream', (stream, headers) => {
    if (headers[':path'] === '/grpc.health.v1.Health/Check') return answer(stream, headers);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
  });
  // A gRPC server without the health service.
  bare = http2.createServer();
  bare.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown service grpc.health.v1.Health' }, { endStream: true });
  });
  for (const s of [health, bare]) s.on('connection', (c: Socket) => (sockets.add(c), c.on('close', () => sockets.delete(c))));
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  healthPort = (health.address() as AddressInfo).port;
  barePort = (bare.address() as AddressInfo).port;
});

after(async () => {
  for (const c of sockets) c.destroy();
  await new Promise((r) => health.close(r));
  await new Promise((r) => bare.close(r));
});

const target: ProbeTarget = {
  podIP: '127.0.0.1',
  container: { name: 'api' },
  exec: async () => {
    throw new Error('no exec here');
  },
};

test('SERVING is success; the request is a gRPC health Check with the service', async () => {
  requests.length = 0;
  assert.deepEqual(await runProbe({ grpc: { port: healthPort } }, target, 2000), { result: 'success', message: 'service healthy' });
  const r = requests[0];
  assert.equal(r.service, '');
  assert.equal(r.headers['content-type'], 'application/grpc');
  assert.equal(r.headers.te, 'trailers');
  assert.equal(r.headers['user-agent'], 'kube-probe/1.32');
  assert.equal(r.headers[':method'], 'POST');
});

test('another status fails with its name; unknown services and servers without the protocol fail as upstream', async () => {
  requests.length = 0;
  assert.deepEqual(await runProbe({ grpc: { port: healthPort, service: 'db' } }, target, 2000), { result: 'failure', message: 'service unhealthy (responded with "NOT_SERVING")' });
  assert.equal(requests[0].service, 'db');
  assert.deepEqual(await runProbe({ grpc: { port: healthPort, service: 'other' } }, target, 2000), {
    result: 'failure',
    message: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
  });
  assert.deepEqual(await runProbe({ grpc: { port: barePort } }, target, 2000), {
    result: 'failure',
    message: 'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health',
  });
});

test('timeouts: no answer, and no server', async () => {
  assert.deepEqual(await runProbe({ grpc: { port: healthPort, service: 'slow' } }, target, 300), { result: 'failure', message: 'timeout: health rpc did not complete within 300ms' });
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const closed = (tmp.address() as AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  const t0 = Date.now();
  assert.deepEqual(await runProbe({ grpc: { port: closed } }, target, 1500), {
    result: 'failure',
    message: `timeout: failed to connect service "127.0.0.1:${closed}" within 1.5s: context deadline exceeded`,
  });
  assert.ok(Date.now() - t0 >= 1400, 'the dial is retried until the deadline, as grpc WithBlock');
});
