// What `cairn trace` accepts as FROM and TO (no cluster needed): kinds and their short names,
// namespaces, ports and port names, IPs, and one clear line for anything else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TraceError } from '../../src/trace/errors.js';
import { parseRef } from '../../src/trace/resolve.js';

test('pods, services, nodes, the host and IPs, with namespaces and ports', () => {
  const pick = (t: string) => {
    const r = parseRef(t);
    return [r.kind, r.namespace, r.name, r.port];
  };
  assert.deepEqual(pick('pod/web-1'), ['pod', undefined, 'web-1', undefined]);
  assert.deepEqual(pick('po/team-a/web-1:8080'), ['pod', 'team-a', 'web-1', '8080']);
  assert.deepEqual(pick('pod/web-1:http'), ['pod', undefined, 'web-1', 'http']);
  assert.deepEqual(pick('svc/api:80'), ['svc', undefined, 'api', '80']);
  assert.deepEqual(pick('service/kube-system/kube-dns:dns-tcp'), ['svc', 'kube-system', 'kube-dns', 'dns-tcp']);
  assert.deepEqual(pick('node/node-1'), ['node', undefined, 'node-1', undefined]);
  assert.deepEqual(pick('node/node-2:30080'), ['node', undefined, 'node-2', '30080']);
  assert.deepEqual(pick('host:6443'), ['host', undefined, 'host', '6443']);
  assert.deepEqual(pick('10.244.1.5:8080'), ['ip', undefined, '10.244.1.5', '8080']);
  assert.deepEqual(pick('172.20.0.224'), ['ip', undefined, '172.20.0.224', undefined]);
});

test('anything else is one readable error', () => {
  for (const [text, msg] of [
    ['deploy/web', /use pod\/NAME/],
    ['web', /use pod\/NAME/],
    ['node/ns/node-1', /use pod\/NAME/],
    ['pod/a/b/c', /use pod\/NAME/],
    ['pod/Web', /invalid name "Web"/],
    ['pod/web:', /invalid port ""/],
    ['pod/web:8080x!', /invalid port/],
    ['10.0.0.300:80', /not an IPv4 address/],
    ['1.2.3:80', /not an IPv4 address/],
  ] as const) {
    assert.throws(() => parseRef(text), (e: unknown) => e instanceof TraceError && msg.test((e as Error).message), text);
  }
});
