/**
 * What goes into configMap, secret and downwardAPI volumes: keys or items with their paths and
 * modes, base64 decoding, optional sources, the kubelet's error texts, the labels/annotations
 * file format, resource values, and the tmpfs size of memory-backed volumes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { configMapPayload } from '../../src/agent/volumes/config-map.js';
import { downwardAPIPayload, formatMap, goQuote, volumeFieldValue } from '../../src/agent/volumes/downward-api.js';
import { emptyDirMemorySize } from '../../src/agent/volumes/empty-dir.js';
import { secretPayload } from '../../src/agent/volumes/secret.js';
import type { Payload } from '../../src/agent/volumes/atomic-writer.js';

const show = (p: Payload) => Object.fromEntries([...p].map(([k, f]) => [k, [f.data.toString('utf8'), f.mode.toString(8)]]));
const b64 = (s: string) => Buffer.from(s).toString('base64');

function pod(extra: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', ...meta },
    spec: { containers: [{ name: 'app', image: 'busybox' }], ...extra },
  };
}

describe('configMap payload', () => {
  const cm = { metadata: { name: 'cfg' }, data: { 'app.conf': 'a=1', 'log.level': 'debug' }, binaryData: { 'logo.bin': b64('\x00\x01') } };

  it('projects every key (data and binaryData) with the default mode', () => {
    const p = configMapPayload(undefined, cm, 0o644, false);
    assert.deepEqual(show(p), { 'app.conf': ['a=1', '644'], 'log.level': ['debug', '644'], 'logo.bin': ['\x00\x01', '644'] });
  });

  it('projects only the listed items, at their paths, with their own mode', () => {
    const p = configMapPayload([{ key: 'app.conf', path: 'etc/app.conf', mode: 0o600 }, { key: 'logo.bin', path: 'logo' }], cm, 0o440, false);
    assert.deepEqual(show(p), { 'etc/app.conf': ['a=1', '600'], logo: ['\x00\x01', '440'] });
  });

  it('fails on a missing key unless optional', () => {
    assert.throws(() => configMapPayload([{ key: 'nope', path: 'x' }], cm, 0o644, false), { message: 'configmap references non-existent config key: nope' });
    assert.deepEqual(show(configMapPayload([{ key: 'nope', path: 'x' }, { key: 'log.level', path: 'l' }], cm, 0o644, true)), { l: ['debug', '644'] });
  });
});

describe('secret payload', () => {
  const secret = { metadata: { name: 'db' }, data: { password: b64('s3cr3t'), 'tls.key': b64('KEY') } };

  it('decodes base64 data', () => {
    assert.deepEqual(show(secretPayload(undefined, secret, 0o400, false)), { password: ['s3cr3t', '400'], 'tls.key': ['KEY', '400'] });
    assert.deepEqual(show(secretPayload([{ key: 'password', path: 'db/pw', mode: 0o600 }], secret, 0o644, false)), { 'db/pw': ['s3cr3t', '600'] });
  });

  it('fails on a missing key unless optional', () => {
    assert.throws(() => secretPayload([{ key: 'user', path: 'u' }], secret, 0o644, false), { message: 'references non-existent secret key: user' });
    assert.equal(secretPayload([{ key: 'user', path: 'u' }], secret, 0o644, true).size, 0);
  });
});

describe('downward API', () => {
  it('quotes values as Go %q', () => {
    assert.equal(goQuote('plain'), '"plain"');
    assert.equal(goQuote('say "hi"\\'), '"say \\"hi\\"\\\\"');
    assert.equal(goQuote('a\nb\tc\x07\x00\x7f'), '"a\\nb\\tc\\a\\x00\\x7f"');
    assert.equal(goQuote('héllo ✓ 日本'), '"héllo ✓ 日本"');
    assert.equal(goQuote('nb\u00a0sp\u200b'), '"nb\\u00a0sp\\u200b"');
  });

  it('formats labels and annotations as sorted key="value" lines without a final newline', () => {
    assert.equal(formatMap({ tier: 'web', app: 'shop', 'example.com/z': 'a"b' }), 'app="shop"\nexample.com/z="a\\"b"\ntier="web"');
    assert.equal(formatMap({}), '');
    assert.equal(formatMap(undefined), '');
  });

  it('reads pod metadata fields and subscripts', () => {
    const p = pod({}, { labels: { app: 'shop', tier: 'web' }, annotations: { note: 'multi\nline' } });
    assert.equal(volumeFieldValue(p, 'metadata.name'), 'web-0');
    assert.equal(volumeFieldValue(p, 'metadata.namespace'), 'shop');
    assert.equal(volumeFieldValue(p, 'metadata.uid'), '1b4e28ba-2fa1-11d2-883f-0016d3cca427');
    assert.equal(volumeFieldValue(p, 'metadata.labels'), 'app="shop"\ntier="web"');
    assert.equal(volumeFieldValue(p, 'metadata.annotations'), 'note="multi\\nline"');
    assert.equal(volumeFieldValue(p, "metadata.labels['app']"), 'shop');
    assert.equal(volumeFieldValue(p, "metadata.annotations['missing']"), '');
    assert.throws(() => volumeFieldValue(p, 'spec.nodeName'), { message: 'unsupported fieldPath: spec.nodeName' });
    assert.throws(() => volumeFieldValue(p, "metadata.name['x']"), { message: `fieldPath "metadata.name['x']" does not support subscript` });
  });

  it('builds the payload: items with modes, resources divided and rounded up, allocatable for unset limits', () => {
    const p = pod({ containers: [{ name: 'app', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } } }] }, { labels: { app: 'shop' } });
    const payload = downwardAPIPayload(
      [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'name', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o400 },
        { path: 'cpu_req_milli', resourceFieldRef: { containerName: 'app', resource: 'requests.cpu', divisor: '1m' } },
        { path: 'cpu_req', resourceFieldRef: { containerName: 'app', resource: 'requests.cpu' } },
        { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu' } },
        { path: 'mem_limit_mi', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
      ],
      p,
      { cpu: '2', memory: '4Gi' },
      0o644,
    );
    assert.deepEqual(show(payload), {
      labels: ['app="shop"', '644'],
      name: ['web-0', '400'],
      cpu_req_milli: ['250', '644'],
      cpu_req: ['1', '644'],
      cpu_limit: ['2', '644'],
      mem_limit_mi: ['128', '644'],
    });
  });

  it('reports every failing item at once, as an aggregate', () => {
    const items = [
      { path: 'a', fieldRef: { fieldPath: 'status.podIP' } },
      { path: 'b', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } },
    ];
    assert.throws(() => downwardAPIPayload(items, pod(), {}, 0o644), { message: '[unsupported fieldPath: status.podIP, container ghost not found]' });
  });
});

describe('memory-backed emptyDir size', () => {
  const limited = (mem: string) => pod({ containers: [{ name: 'a', resources: { limits: { memory: mem } } }, { name: 'b', resources: { limits: { memory: mem } } }] });

  it('is the node allocatable memory when nothing smaller applies', () => {
    assert.equal(emptyDirMemorySize(pod(), '4Gi', undefined), 4 * 2 ** 30);
  });
  it('is the pod memory limit when every container has one', () => {
    assert.equal(emptyDirMemorySize(limited('256Mi'), '4Gi', undefined), 512 * 2 ** 20);
    const partly = pod({ containers: [{ name: 'a', resources: { limits: { memory: '1Mi' } } }, { name: 'b' }] });
    assert.equal(emptyDirMemorySize(partly, '4Gi', undefined), 4 * 2 ** 30);
  });
  it('is the sizeLimit when smaller than both', () => {
    assert.equal(emptyDirMemorySize(limited('256Mi'), '4Gi', '64Mi'), 64 * 2 ** 20);
    assert.equal(emptyDirMemorySize(pod(), '4Gi', '8Gi'), 4 * 2 ** 30);
  });
  it('is left to the kernel when the node allocatable is unknown', () => {
    assert.equal(emptyDirMemorySize(pod(), undefined, '64Mi'), undefined);
  });
});
