import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import type { KubeObject } from '../../src/util/object.js';
import type { KindDefinition } from '../../src/kinds/types.js';
import { coreKinds } from '../../src/kinds/core/index.js';

const now = new Date('2024-05-01T12:00:00Z');
const ctx = { now, user: { name: 'admin', groups: [] } };
const kind = (k: string) => coreKinds.find((d) => d.kind === k)!;

function mk(k: string, body: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject {
  const def = kind(k);
  return { apiVersion: 'v1', kind: k, metadata: { name: 'x', ...(def.namespaced ? { namespace: 'default' } : {}), creationTimestamp: '2024-05-01T11:00:00Z', ...meta }, ...body };
}
function create(def: KindDefinition, o: KubeObject): string[] {
  def.strategy?.defaults?.(o);
  def.strategy?.prepareForCreate?.(o, ctx);
  return (def.strategy?.validate?.(o) ?? []).map(fieldErrorText);
}
function update(def: KindDefinition, o: KubeObject, old: KubeObject): string[] {
  def.strategy?.defaults?.(o);
  def.strategy?.prepareForUpdate?.(o, old, ctx);
  return [...(def.strategy?.validate?.(o) ?? []), ...(def.strategy?.validateUpdate?.(o, old) ?? [])].map(fieldErrorText);
}

test('identity of every core kind', () => {
  assert.equal(coreKinds.length, 13);
  const short = Object.fromEntries(coreKinds.map((k) => [k.plural, k.shortNames?.[0]]));
  assert.deepEqual(short, {
    configmaps: 'cm', endpoints: 'ep', events: 'ev', limitranges: 'limits', namespaces: 'ns', nodes: 'no', persistentvolumeclaims: 'pvc',
    persistentvolumes: 'pv', pods: 'po', resourcequotas: 'quota', secrets: undefined, serviceaccounts: 'sa', services: 'svc',
  });
  for (const k of coreKinds) {
    assert.equal(k.schemaName, `io.k8s.api.core.v1.${k.kind}`);
    assert.equal(k.printer!.columns.length > 0, true);
    if (k.statusSubresource && k.kind !== 'Pod') assert.equal(k.tracksGeneration, false, k.kind);
  }
  assert.deepEqual(coreKinds.filter((k) => k.statusSubresource).map((k) => k.plural).sort(), ['namespaces', 'nodes', 'persistentvolumeclaims', 'persistentvolumes', 'pods', 'resourcequotas', 'services']);
});

test('namespace: label, finalizer, phase', () => {
  const ns = kind('Namespace');
  const o = mk('Namespace', {}, { name: 'team' });
  assert.deepEqual(create(ns, o), []);
  assert.equal(o.metadata.labels!['kubernetes.io/metadata.name'], 'team');
  assert.deepEqual((o.spec as any).finalizers, ['kubernetes']);
  assert.equal((o.status as any).phase, 'Active');
  assert.deepEqual(ns.printer!.cells(o, now), ['team', 'Active', '60m']);
});

test('secret: stringData, type rules, no values in messages', () => {
  const sec = kind('Secret');
  const o = mk('Secret', { stringData: { password: 's3cret' } });
  assert.deepEqual(create(sec, o), []);
  assert.equal(o.type, 'Opaque');
  assert.deepEqual(o.data, { password: Buffer.from('s3cret').toString('base64') });
  assert.equal(o.stringData, undefined);
  assert.deepEqual(create(sec, mk('Secret', { type: 'kubernetes.io/tls', data: { 'tls.crt': 'YQ==' } })), ['data[tls.key]: Required value']);
  const bad = create(sec, mk('Secret', { data: { 'bad key': 'YQ==', k: 'not base64!' } }));
  assert.ok(bad.includes('data[k]: Invalid value: must be base64-encoded bytes'), bad.join('\n'));
  assert.ok(bad.some((e) => e.startsWith('data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters')));
  assert.ok(!bad.some((e) => e.includes('not base64!')));
  const dj = create(sec, mk('Secret', { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{oops').toString('base64') } }));
  assert.equal(dj.length, 1);
  assert.ok(dj[0].startsWith('data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '));
  assert.deepEqual(sec.secretFields, ['data', 'stringData']);
  assert.deepEqual(sec.printer!.cells(o, now), ['x', 'Opaque', 1, '60m']);
});

test('immutable secrets and config maps', () => {
  for (const k of ['Secret', 'ConfigMap']) {
    const def = kind(k);
    const old = mk(k, { immutable: true, data: { a: 'YQ==' } });
    create(def, old);
    const changed = mk(k, { immutable: true, data: { a: 'Yg==' } });
    assert.deepEqual(update(def, changed, old), ['data: Forbidden: field is immutable when `immutable` is set']);
    const unset = mk(k, { immutable: false, data: { a: 'YQ==' } });
    assert.deepEqual(update(def, unset, old), ['immutable: Forbidden: field is immutable when `immutable` is set']);
  }
  const sec = kind('Secret');
  const old = mk('Secret', {});
  create(sec, old);
  assert.deepEqual(update(sec, mk('Secret', { type: 'kubernetes.io/basic-auth', data: { username: 'YQ==' } }), old), ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']);
});

test('configmap: keys, size, printer', () => {
  const cm = kind('ConfigMap');
  assert.deepEqual(create(cm, mk('ConfigMap', { data: { a: '1' }, binaryData: { a: 'YQ==' } })), [
    'data[a]: Invalid value: "a": duplicate of key present in binaryData',
    'binaryData[a]: Invalid value: "a": duplicate of key present in data',
  ]);
  assert.deepEqual(create(cm, mk('ConfigMap', { data: { big: 'x'.repeat(1024 * 1024 + 1) } })), ['Too long: must have at most 1048576 bytes']);
  assert.deepEqual(cm.printer!.cells(mk('ConfigMap', { data: { a: '1', b: '2' } }), now), ['x', 2, '60m']);
});

test('persistent volumes and claims', () => {
  const pv = kind('PersistentVolume');
  const o = mk('PersistentVolume', { spec: { capacity: { storage: '10Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data' } } });
  assert.deepEqual(create(pv, o), []);
  assert.equal((o.spec as any).persistentVolumeReclaimPolicy, 'Retain');
  assert.equal((o.spec as any).volumeMode, 'Filesystem');
  assert.equal((o.status as any).phase, 'Pending');
  assert.deepEqual(pv.printer!.cells(o, now), ['x', '10Gi', 'RWO', 'Retain', 'Pending', '', '', '<unset>', '', '60m', 'Filesystem']);
  assert.deepEqual(create(pv, mk('PersistentVolume', { spec: {} })), [
    'spec.accessModes: Required value',
    'spec.capacity: Required value',
    'spec.capacity: Unsupported value: {}: supported values: "storage"',
    'spec: Required value: must specify a volume type',
  ]);
  const changed = structuredClone(o);
  (changed.spec as any).hostPath.path = '/other';
  assert.deepEqual(update(pv, changed, o), ['spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation']);

  const pvc = kind('PersistentVolumeClaim');
  assert.deepEqual(create(pvc, mk('PersistentVolumeClaim', { spec: {} })), [
    'spec.accessModes: Required value: at least 1 access mode is required',
    'spec.resources[storage]: Required value',
  ]);
  assert.deepEqual(create(pvc, mk('PersistentVolumeClaim', { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '0' } } } })), [
    'spec.resources[storage]: Invalid value: "0": must be greater than zero',
  ]);
  const claim = mk('PersistentVolumeClaim', { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
  assert.deepEqual(create(pvc, claim), []);
  assert.equal((claim.status as any).phase, 'Pending');
  const bound = structuredClone(claim);
  (bound.spec as any).volumeName = 'pv1';
  (bound.status as any) = { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] };
  assert.deepEqual(update(pvc, structuredClone(bound), claim), []);
  const grown = structuredClone(bound);
  (grown.spec as any).resources.requests.storage = '2Gi';
  assert.deepEqual(update(pvc, grown, bound), []);
  const modes = structuredClone(bound);
  (modes.spec as any).accessModes = ['ReadWriteMany'];
  assert.deepEqual(update(pvc, modes, bound), ['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims']);
  assert.deepEqual(pvc.printer!.cells(bound, now), ['x', 'Bound', 'pv1', '1Gi', 'RWO', '', '<unset>', '60m', 'Filesystem']);
});

test('node: podCIDR once set, taints, printer', () => {
  const no = kind('Node');
  const old = mk('Node', { spec: { podCIDR: '10.244.1.0/24' } }, { labels: { 'node-role.kubernetes.io/control-plane': '' } });
  assert.deepEqual(create(no, old), []);
  assert.deepEqual((old.spec as any).podCIDRs, ['10.244.1.0/24']);
  const changed = mk('Node', { spec: { podCIDRs: ['10.244.2.0/24'] } });
  assert.deepEqual(update(no, changed, old), ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']);
  assert.deepEqual(create(no, mk('Node', { spec: { podCIDRs: ['10.244.1.0'], taints: [{ key: 'k', effect: 'Sometimes' }] } })), [
    'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    'spec.podCIDRs[0]: Invalid value: "10.244.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
  ]);
  old.spec = { ...(old.spec as object), unschedulable: true };
  old.status = {
    conditions: [{ type: 'Ready', status: 'True' }],
    addresses: [{ type: 'InternalIP', address: '10.0.0.2' }],
    nodeInfo: { kubeletVersion: 'v1.31.0', osImage: 'Debian', kernelVersion: '6.1', containerRuntimeVersion: 'runc://1.1' },
  };
  assert.deepEqual(no.printer!.cells(old, now), ['x', 'Ready,SchedulingDisabled', 'control-plane', '60m', 'v1.31.0', '10.0.0.2', '<none>', 'Debian', '6.1', 'runc://1.1']);
});

test('events: namespace match and printer', () => {
  const ev = kind('Event');
  assert.deepEqual(create(ev, mk('Event', { involvedObject: { kind: 'Pod', name: 'p', namespace: 'other' } })), [
    'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
  ]);
  const o = mk('Event', {
    involvedObject: { kind: 'Pod', name: 'p', namespace: 'default', fieldPath: 'spec.containers{a}' },
    reason: 'BackOff',
    type: 'Warning',
    message: 'Back-off restarting failed container ',
    source: { component: 'kubelet', host: 'n1' },
    firstTimestamp: '2024-05-01T11:00:00Z',
    lastTimestamp: '2024-05-01T11:58:00Z',
    count: 7,
  });
  assert.deepEqual(create(ev, o), []);
  assert.deepEqual(ev.printer!.cells(o, now), ['2m', 'Warning', 'BackOff', 'pod/p', 'spec.containers{a}', 'kubelet, n1', 'Back-off restarting failed container', '60m', 7, 'x']);
  assert.equal(ev.fieldSelectors!['involvedObject.name'](o), 'p');
});

test('endpoints printer and validation', () => {
  const ep = kind('Endpoints');
  const o = mk('Endpoints', {
    subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }, { ip: '10.0.0.4' }], ports: [{ port: 80 }] }],
  });
  assert.deepEqual(create(ep, o), []);
  assert.equal(ep.printer!.cells(o, now)[1], '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...');
  assert.deepEqual(create(ep, mk('Endpoints', { subsets: [{ addresses: [{ ip: 'x' }] }] })), [
    'subsets[0].addresses[0].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
});

test('quota and limit range', () => {
  const q = kind('ResourceQuota');
  assert.deepEqual(create(q, mk('ResourceQuota', { spec: { hard: { pods: '1.5', widgets: '1', cpu: '-1' } } })), [
    'spec.hard[pods]: Invalid value: "1.5": must be an integer',
    'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota',
    'spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0',
  ]);
  const o = mk('ResourceQuota', { status: { hard: { 'limits.cpu': '2', pods: '10', 'requests.cpu': '1' }, used: { pods: '3', 'requests.cpu': '500m' } } });
  assert.deepEqual(q.printer!.cells(o, now), ['x', '60m', 'pods: 3/10, requests.cpu: 500m/1', 'limits.cpu: 0/2']);

  const lr = kind('LimitRange');
  const item = mk('LimitRange', { spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { cpu: '100m' } }] } });
  assert.deepEqual(create(lr, item), []);
  assert.deepEqual((item.spec as any).limits[0].default, { cpu: '2' });
  assert.deepEqual((item.spec as any).limits[0].defaultRequest, { cpu: '2' });
  assert.deepEqual(create(lr, mk('LimitRange', { spec: { limits: [{ type: 'Container', max: { cpu: '1' }, min: { cpu: '2' } }] } })), [
    'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1',
    'spec.limits[0].defaultRequest[cpu]: Invalid value: "1": min value 2 is greater than default request value 1',
    'spec.limits[0].default[cpu]: Invalid value: "2": min value 2 is greater than default value 1',
  ]);
  assert.deepEqual(lr.printer!.cells(item, now), ['x', '2024-05-01T11:00:00Z']);
});

test('claim data sources: dataSource and dataSourceRef mirrored at create, checked as upstream', () => {
  const pvc = kind('PersistentVolumeClaim');
  const base = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };
  const snap = { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 's1' };
  const old = mk('PersistentVolumeClaim', { spec: { ...base, dataSource: snap } });
  assert.deepEqual(create(pvc, old), []);
  assert.deepEqual((old.spec as any).dataSourceRef, snap);
  const clone = mk('PersistentVolumeClaim', { spec: { ...base, dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'src' } } });
  assert.deepEqual(create(pvc, clone), []);
  assert.deepEqual((clone.spec as any).dataSource, { kind: 'PersistentVolumeClaim', name: 'src' });
  assert.deepEqual(create(pvc, mk('PersistentVolumeClaim', { spec: { ...base, dataSource: { kind: 'Secret', name: 'x' } } })), [
    "spec.dataSource.kind: Invalid value: \"Secret\": must be 'PersistentVolumeClaim' when referencing the default apiGroup",
    "spec.dataSourceRef.kind: Invalid value: \"Secret\": must be 'PersistentVolumeClaim' when referencing the default apiGroup",
  ]);
  assert.deepEqual(create(pvc, mk('PersistentVolumeClaim', { spec: { ...base, dataSource: snap, dataSourceRef: { ...snap, name: 's2' } } })), ['spec.dataSource: Invalid value: null: must match dataSourceRef']);
  assert.deepEqual(create(pvc, mk('PersistentVolumeClaim', { spec: { ...base, dataSourceRef: { apiGroup: 'x.io', kind: 'Thing' } } })), ['spec.dataSource.name: Required value', 'spec.dataSourceRef.name: Required value']);
});
