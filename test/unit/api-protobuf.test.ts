/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies (what client-go's typed
 * clients send) to the value the same object has in JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtobufDecodeError, decodeProtobufBody } from '../../src/api/protobuf/decode.js';
import { decodeBody } from '../../src/api/decode.js';
import { ApiError } from '../../src/api/errors.js';

// A tiny protobuf writer for building bodies.
const varint = (n: number | bigint): number[] => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const bytesField = (num: number, data: number[] | Buffer | string): number[] => {
  const b = typeof data === 'string' ? [...Buffer.from(data)] : [...data];
  return [...varint((num << 3) | 2), ...varint(b.length), ...b];
};
const intField = (num: number, v: number | bigint): number[] => [...varint(num << 3), ...varint(v)];
const msg = (...fields: number[][]) => fields.flat();
const envelope = (apiVersion: string, kind: string, raw: number[]) =>
  Buffer.from([0x6b, 0x38, 0x73, 0x00, ...bytesField(1, msg(bytesField(1, apiVersion), bytesField(2, kind))), ...bytesField(2, raw)]);

test('a Namespace as kubectl create namespace sends it', () => {
  // Captured from `kubectl create namespace shop -v=8` (client-go v1.32).
  const body = Buffer.from(
    '6b3873000a0f0a02763112094e616d657370616365121c0a140a0473686f7012001a0022002a00320038004200120' + '01a020a001a002200',
    'hex',
  );
  const d = decodeProtobufBody(body);
  assert.equal(d.kind, 'Namespace');
  assert.deepEqual(d.object, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' }, spec: {}, status: {} });
});

test('pointers keep zero values; omitempty non-pointers drop them; maps, bytes, times, quantities, int-or-string', () => {
  const meta = msg(bytesField(1, 'web'), bytesField(3, ''), intField(7, 0), bytesField(8, msg(intField(1, 1700000000))), bytesField(11, msg(bytesField(1, 'app'), bytesField(2, 'web'))));
  const container = msg(
    bytesField(1, 'nginx'),
    bytesField(2, 'nginx:1.25'),
    bytesField(6, msg(intField(3, 80), bytesField(4, 'TCP'))), // ports[0]: containerPort, protocol
    bytesField(8, msg(bytesField(1, msg(bytesField(1, 'cpu'), bytesField(2, msg(bytesField(1, '250m'))))))), // resources.limits
  );
  const spec = msg(
    intField(1, 0), // replicas: *int32 0
    bytesField(3, msg(bytesField(1, msg()), bytesField(2, msg(bytesField(2, container))))), // template{metadata{}, spec{containers}}
    bytesField(4, msg(bytesField(1, 'RollingUpdate'), bytesField(2, msg(bytesField(1, msg(intField(1, 1), bytesField(3, '25%'))), bytesField(2, msg(intField(1, 0), intField(2, 2))))))),
    intField(5, 0), // minReadySeconds int32, omitempty, zero: dropped
  );
  const d = decodeProtobufBody(envelope('apps/v1', 'Deployment', msg(bytesField(1, meta), bytesField(2, spec))));
  assert.deepEqual(d.object, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', creationTimestamp: '2023-11-14T22:13:20Z', labels: { app: 'web' } },
    spec: {
      replicas: 0,
      template: {
        metadata: {},
        spec: { containers: [{ name: 'nginx', image: 'nginx:1.25', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: { limits: { cpu: '250m' } } }] },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 2 } },
    },
  });

  const secret = decodeProtobufBody(envelope('v1', 'Secret', msg(bytesField(1, msg(bytesField(1, 's'))), bytesField(2, msg(bytesField(1, 'pw'), bytesField(2, 'hunter2'))), bytesField(3, 'Opaque'))));
  assert.deepEqual(secret.object, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { pw: Buffer.from('hunter2').toString('base64') }, type: 'Opaque' });
});

test('inline structs are flattened; DeleteOptions resolve from meta/v1', () => {
  // core/v1 Volume{name, VolumeSource{configMap{LocalObjectReference{name}}}}
  const volume = msg(bytesField(1, 'cfg'), bytesField(2, msg(bytesField(19, msg(bytesField(1, msg(bytesField(1, 'settings'))))))));
  const pod = decodeProtobufBody(envelope('v1', 'Pod', msg(bytesField(1, msg(bytesField(1, 'p'))), bytesField(2, msg(bytesField(1, volume))))));
  assert.deepEqual((pod.object.spec as { volumes: unknown[] }).volumes, [{ name: 'cfg', configMap: { name: 'settings' } }]);

  const del = decodeProtobufBody(envelope('v1', 'DeleteOptions', msg(intField(1, 0), bytesField(4, 'Foreground'))));
  assert.deepEqual(del.object, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, propagationPolicy: 'Foreground' });
});

test('errors: no envelope, unknown kinds (custom resources are unsupported media), truncation', () => {
  assert.throws(() => decodeProtobufBody(Buffer.from('{}')), ProtobufDecodeError);
  assert.throws(
    () => decodeBody(envelope('example.com/v1', 'Widget', []), 'application/vnd.kubernetes.protobuf', { findDuplicates: false }),
    (e) => e instanceof ApiError && e.code === 415,
  );
  const truncated = envelope('v1', 'ConfigMap', msg(bytesField(1, msg(bytesField(1, 'x')))));
  assert.throws(
    () => decodeBody(truncated.subarray(0, truncated.length - 2), 'application/vnd.kubernetes.protobuf', { findDuplicates: false }),
    (e) => e instanceof ApiError && e.code === 400,
  );
  const ok = decodeBody(truncated, 'application/vnd.kubernetes.protobuf', { findDuplicates: true });
  assert.deepEqual(ok, { value: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, duplicates: [] });
});
