import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import type { KubeObject } from '../../src/util/object.js';
import { service } from '../../src/kinds/core/service.js';

const now = new Date('2024-05-01T12:00:00Z');
const ctx = { now, user: { name: 'admin', groups: [] } };
const st = service.strategy!;

function mkSvc(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default', creationTimestamp: '2024-05-01T11:00:00Z' }, spec, ...extra };
}
function create(o: KubeObject): string[] {
  st.defaults!(o);
  st.prepareForCreate!(o, ctx);
  return st.validate!(o).map(fieldErrorText);
}

test('service defaults', () => {
  const o = mkSvc({ selector: { app: 'a' }, ports: [{ port: 80 }] });
  assert.deepEqual(create(o), []);
  const s = o.spec as any;
  assert.equal(s.type, 'ClusterIP');
  assert.equal(s.sessionAffinity, 'None');
  assert.deepEqual(s.ports[0], { port: 80, protocol: 'TCP', targetPort: 80 });
  assert.equal(s.internalTrafficPolicy, 'Cluster');
  assert.equal(s.externalTrafficPolicy, undefined);
  assert.equal(s.ipFamilyPolicy, 'SingleStack');
  assert.deepEqual(s.ipFamilies, ['IPv4']);
  const np = mkSvc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] });
  assert.deepEqual(create(np), []);
  assert.equal((np.spec as any).externalTrafficPolicy, 'Cluster');
});

test('service validation', () => {
  assert.deepEqual(create(mkSvc({})), ['spec.ports: Required value']);
  assert.deepEqual(create(mkSvc({ clusterIP: 'None' })), []);
  const errs = create(mkSvc({ type: 'Weird', clusterIP: '10.96.0.300', ports: [{ port: 80 }, { port: 0, protocol: 'ICMP', name: 'b' }] }));
  for (const want of [
    'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    'spec.ports[0].name: Required value',
    'spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    'spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ])
    assert.ok(errs.includes(want), `missing ${want} in\n${errs.join('\n')}`);
  assert.deepEqual(create(mkSvc({ type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] })), [
    'spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
  ]);
  assert.deepEqual(create(mkSvc({ ports: [{ port: 80, nodePort: 30001 }] })), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]);
  assert.deepEqual(create(mkSvc({ type: 'ExternalName' })), ['spec.externalName: Required value']);
  assert.deepEqual(create(mkSvc({ type: 'ExternalName', externalName: 'db.example.com.' })), []);
});

test('cluster IPs may not change once set, and are kept when omitted', () => {
  const old = mkSvc({ clusterIP: '10.96.0.10', ports: [{ port: 53 }] });
  create(old);
  const changed = structuredClone(old);
  (changed.spec as any).clusterIP = '10.96.0.11';
  (changed.spec as any).clusterIPs = ['10.96.0.11'];
  st.defaults!(changed);
  st.prepareForUpdate!(changed, old, ctx);
  assert.deepEqual(st.validateUpdate!(changed, old).map(fieldErrorText), ['spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set']);
  const omitted = mkSvc({ ports: [{ port: 53 }] });
  st.defaults!(omitted);
  st.prepareForUpdate!(omitted, old, ctx);
  assert.equal((omitted.spec as any).clusterIP, '10.96.0.10');
  assert.deepEqual(st.validateUpdate!(omitted, old), []);
  assert.deepEqual(st.validate!(omitted), []);
});

test('service printer', () => {
  const o = mkSvc({ type: 'NodePort', clusterIP: '10.96.0.5', selector: { b: '2', a: '1' }, ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] });
  st.defaults!(o);
  assert.deepEqual(service.printer!.cells(o, now), ['s', 'NodePort', '10.96.0.5', '<none>', '80:30080/TCP,53/UDP', '60m', 'a=1,b=2']);
  const lb = mkSvc({ type: 'LoadBalancer', ports: [{ port: 80 }] }, { status: { loadBalancer: {} } });
  st.defaults!(lb);
  assert.deepEqual(service.printer!.cells(lb, now).slice(2, 4), ['<none>', '<pending>']);
});
