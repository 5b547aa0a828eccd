import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import { FieldPath } from '../../src/registry/field-errors.js';
import { coordinationKinds } from '../../src/kinds/coordination/index.js';
import { discoveryKinds } from '../../src/kinds/discovery/index.js';
import { eventsKinds } from '../../src/kinds/events/index.js';
import { formatLabelSelector, labelSelectorAsSelector, validateLabelSelector } from '../../src/kinds/label-selector.js';
import { networkingKinds } from '../../src/kinds/networking/index.js';
import { rbacKinds } from '../../src/kinds/rbac/index.js';
import { storageKinds } from '../../src/kinds/storage/index.js';
import type { KindDefinition } from '../../src/kinds/types.js';
import type { KubeObject } from '../../src/util/object.js';

const all = [...networkingKinds, ...storageKinds, ...discoveryKinds, ...coordinationKinds, ...eventsKinds, ...rbacKinds];
const kinds = new Map<string, KindDefinition>(all.map((k) => [k.kind, k]));
const kind = (k: string) => kinds.get(k)!;
const now = new Date('2024-01-01T00:10:00Z');
const meta = (name: string, namespace?: string) => ({ name, namespace, creationTimestamp: '2024-01-01T00:00:00Z' });
function defaulted(k: string, obj: KubeObject): KubeObject {
  kind(k).strategy?.defaults?.(obj);
  return obj;
}
const errors = (k: string, obj: KubeObject) => kind(k).strategy!.validate!(defaulted(k, obj)).map(fieldErrorText);

test('label selectors: validation, matching, formatting', () => {
  const sel = { matchLabels: { b: '1' }, matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['y', 'x'] }, { key: 'c', operator: 'DoesNotExist' }] };
  assert.equal(formatLabelSelector(sel), 'a notin (x,y),b=1,!c');
  assert.equal(formatLabelSelector({}), '<none>');
  assert.equal(formatLabelSelector(undefined), '<none>');
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In' }] }), '<error>');
  const s = labelSelectorAsSelector(sel)!;
  assert.equal(s.matches({ b: '1', a: 'z' }), true);
  assert.equal(s.matches({ b: '1', a: 'x' }), false);
  assert.deepEqual(validateLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['v'] }, { key: 'b', operator: 'Near' }] }, FieldPath.root('s')).map(fieldErrorText), [
    "s.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    's.matchExpressions[1].operator: Invalid value: "Near": not a valid selector operator',
  ]);
});

const ingress = (spec: Record<string, unknown>): KubeObject => ({ metadata: meta('web', 'default'), spec });
const svc = { service: { name: 'web', port: { number: 80 } } };

test('ingress validation', () => {
  assert.deepEqual(errors('Ingress', ingress({ rules: [{ host: 'a.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: svc }] } }] })), []);
  assert.deepEqual(errors('Ingress', ingress({})), ['spec: Invalid value: null: either `defaultBackend` or `rules` must be specified']);
  assert.deepEqual(errors('Ingress', ingress({ rules: [{ http: { paths: [{ path: '/', backend: svc }] } }] })), [
    'spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified',
  ]);
  assert.deepEqual(errors('Ingress', ingress({ rules: [{ http: { paths: [{ path: 'api', pathType: 'Exact', backend: svc }] } }] })), [
    'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
  ]);
  assert.deepEqual(errors('Ingress', ingress({ rules: [{ http: { paths: [{ path: '/', pathType: 'Glob', backend: svc }] } }] })), [
    'spec.rules[0].http.paths[0].pathType: Unsupported value: "Glob": supported values: "Exact", "ImplementationSpecific", "Prefix"',
  ]);
  assert.deepEqual(errors('Ingress', ingress({ defaultBackend: { service: { name: 'web', port: {} } } })), ['spec.defaultBackend: Required value: port name or number is required']);
  assert.deepEqual(errors('Ingress', ingress({ rules: [{ host: '10.0.0.1' }] })), ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address']);
  assert.match(errors('Ingress', ingress({ rules: [{ host: 'a.*.com' }] }))[0], /^spec\.rules\[0\]\.host: Invalid value: "a\.\*\.com": a wildcard DNS-1123 subdomain/);
});

test('ingress printer', () => {
  const ing = ingress({
    ingressClassName: 'nginx',
    tls: [{ hosts: ['a.example.com'] }],
    rules: ['a', 'b', 'c', 'd'].map((h) => ({ host: `${h}.example.com` })),
  });
  ing.status = { loadBalancer: { ingress: [{ ip: '192.168.100.10' }, { ip: '192.168.100.11' }] } };
  assert.deepEqual(kind('Ingress').printer!.cells(ing, now), ['web', 'nginx', 'a.example.com,b.example.com,c.example.com + 1 more...', '192.168.100.1...', '80, 443', '10m']);
  assert.deepEqual(kind('Ingress').printer!.cells(ingress({ defaultBackend: svc }), now).slice(1, 5), ['<none>', '*', '', '80']);
});

test('ingressclass: controller format, immutability, printer', () => {
  const ic = (spec: Record<string, unknown>): KubeObject => ({ metadata: meta('nginx'), spec });
  assert.deepEqual(errors('IngressClass', ic({ controller: 'nginx' })), ['spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")']);
  const ok = defaulted('IngressClass', ic({ controller: 'cairn.io/ingress', parameters: { apiGroup: 'k8s.example.com', kind: 'Params', name: 'p' } }));
  assert.equal((ok.spec as any).parameters.scope, 'Cluster');
  assert.deepEqual(kind('IngressClass').strategy!.validate!(ok), []);
  const upd = structuredClone(ok);
  (upd.spec as any).controller = 'other.io/x';
  assert.deepEqual(kind('IngressClass').strategy!.validateUpdate!(upd, ok).map(fieldErrorText), ['spec.controller: Invalid value: "other.io/x": field is immutable']);
  assert.deepEqual(kind('IngressClass').printer!.cells(ok, now), ['nginx', 'cairn.io/ingress', 'Params.k8s.example.com/p', '10m']);
});

test('networkpolicy defaults, validation, printer', () => {
  const np = (spec: Record<string, unknown>): KubeObject => ({ metadata: meta('deny', 'default'), spec });
  const d = defaulted('NetworkPolicy', np({ egress: [{ ports: [{ port: 53 }] }] }));
  assert.deepEqual(d.spec, { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 'TCP' }] }], policyTypes: ['Ingress', 'Egress'] });
  assert.deepEqual(errors('NetworkPolicy', np({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24', '10.0.0.0/8'] } }] }] })), [
    'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
    'spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
  ]);
  assert.deepEqual(errors('NetworkPolicy', np({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16' }, podSelector: {} }, {}] }] })), [
    'spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer',
    'spec.ingress[0].from[1]: Required value: must specify a peer',
  ]);
  assert.deepEqual(errors('NetworkPolicy', np({ ingress: [{ ports: [{ port: 'http', endPort: 90 }, { port: 100, endPort: 90 }] }] })), [
    'spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric',
    'spec.ingress[0].ports[1].endPort: Invalid value: 90: must be greater than or equal to `port`',
  ]);
  assert.deepEqual(errors('NetworkPolicy', np({ policyTypes: ['Sideways'] })), ['spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"']);
  assert.deepEqual(kind('NetworkPolicy').printer!.cells(np({ podSelector: { matchLabels: { app: 'db' } } }), now), ['deny', 'app=db', '10m']);
  assert.equal(kind('NetworkPolicy').statusSubresource, undefined);
});

test('storageclass defaults, validation, immutability, printer', () => {
  const sc = (extra: Record<string, unknown>): KubeObject => ({ metadata: meta('fast'), ...extra });
  const d = defaulted('StorageClass', sc({ provisioner: 'cairn.io/local' }));
  assert.equal(d.reclaimPolicy, 'Delete');
  assert.equal(d.volumeBindingMode, 'Immediate');
  assert.deepEqual(errors('StorageClass', sc({})), ['provisioner: Required value']);
  assert.deepEqual(errors('StorageClass', sc({ provisioner: 'p', reclaimPolicy: 'Recycle', volumeBindingMode: 'Later' })), [
    'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
    'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
  ]);
  const upd = structuredClone(d);
  upd.parameters = { type: 'ssd' };
  upd.reclaimPolicy = 'Retain';
  assert.deepEqual(kind('StorageClass').strategy!.validateUpdate!(upd, d).map(fieldErrorText), [
    'parameters: Forbidden: updates to parameters are forbidden.',
    'reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.',
  ]);
  d.metadata.annotations = { 'storageclass.kubernetes.io/is-default-class': 'true' };
  assert.deepEqual(kind('StorageClass').printer!.cells(d, now), ['fast (default)', 'cairn.io/local', 'Delete', 'Immediate', false, '10m']);
});

test('endpointslice defaults, validation, printer', () => {
  const es = (extra: Record<string, unknown>): KubeObject => ({ metadata: meta('web-abc', 'default'), ...extra });
  const d = defaulted('EndpointSlice', es({ addressType: 'IPv4', ports: [{ port: 80 }, { port: 443, name: 'https' }], endpoints: [{ addresses: ['10.244.0.5'] }] }));
  assert.deepEqual((d.ports as any)[0], { port: 80, name: '', protocol: 'TCP' });
  assert.deepEqual(kind('EndpointSlice').strategy!.validate!(d), []);
  assert.deepEqual(kind('EndpointSlice').printer!.cells(d, now), ['web-abc', 'IPv4', '80,443', '10.244.0.5', '10m']);
  assert.deepEqual(errors('EndpointSlice', es({ addressType: 'IPv4', endpoints: [{ addresses: ['fe80::1', '127.0.0.1'] }, { addresses: [] }] })), [
    'endpoints[0].addresses[0]: Invalid value: "fe80::1": must be a valid IPv4 address',
    'endpoints[0].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
    'endpoints[1].addresses: Required value: must contain at least 1 address',
  ]);
  assert.deepEqual(errors('EndpointSlice', es({ addressType: 'IP' })), ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']);
  const upd = structuredClone(d);
  upd.addressType = 'IPv6';
  assert.deepEqual(kind('EndpointSlice').strategy!.validateUpdate!(upd, d).map(fieldErrorText), ['addressType: Invalid value: "IPv6": field is immutable']);
  assert.equal(kind('EndpointSlice').printer!.cells(es({ addressType: 'IPv4' }), now)[2], '<unset>');
});

test('lease validation and printer', () => {
  const lease = (spec: Record<string, unknown>): KubeObject => ({ metadata: meta('node-1', 'kube-node-lease'), spec });
  assert.deepEqual(errors('Lease', lease({ leaseDurationSeconds: 0 })), ['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0']);
  assert.deepEqual(errors('Lease', lease({ preferredHolder: 'a' })), ['spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined']);
  assert.deepEqual(kind('Lease').printer!.cells(lease({ holderIdentity: 'node-1' }), now), ['node-1', 'node-1', '10m']);
});

test('events.k8s.io Event validation, immutability, printer', () => {
  const ev = (extra: Record<string, unknown>): KubeObject => ({
    metadata: meta('pod.1', 'default'),
    eventTime: '2024-01-01T00:00:00.000000Z',
    reportingController: 'cairn.io/kubelet',
    reportingInstance: 'node-1',
    action: 'Pulling',
    reason: 'Pulling',
    type: 'Normal',
    regarding: { kind: 'Pod', name: 'web-1', namespace: 'default', fieldPath: 'spec.containers{c}' },
    note: 'Pulling image',
    ...extra,
  });
  assert.deepEqual(errors('Event', ev({})), []);
  assert.deepEqual(errors('Event', ev({ eventTime: undefined, type: 'Odd' })), ['eventTime: Required value', 'type: Invalid value: "": has invalid value: Odd']);
  assert.deepEqual(errors('Event', ev({ reportingController: '', action: '' })), [
    'reportingController: Required value',
    'reportingController: Invalid value: "": name part must be non-empty',
    'action: Required value',
  ]);
  const old = ev({});
  assert.deepEqual(kind('Event').strategy!.validateUpdate!(ev({ series: { count: 2, lastObservedTime: '2024-01-01T00:05:00Z' } }), old), []);
  assert.deepEqual(kind('Event').strategy!.validateUpdate!(ev({ note: 'changed' }), old).map(fieldErrorText), ['message: Invalid value: "changed": field is immutable']);
  assert.deepEqual(kind('Event').printer!.cells(ev({ series: { count: 4, lastObservedTime: '2024-01-01T00:05:00Z' } }), now), [
    '5m', 'Normal', 'Pulling', 'pod/web-1', 'spec.containers{c}', 'cairn.io/kubelet, node-1', 'Pulling image', '10m', 4, 'pod.1',
  ]);
});

test('rbac rules, bindings, defaults and printers', () => {
  const role = (rules: unknown[]): KubeObject => ({ metadata: meta('r', 'default'), rules });
  assert.deepEqual(errors('Role', role([{ resources: ['pods'] }, { verbs: ['get'], nonResourceURLs: ['/healthz'] }])), [
    'rules[0].verbs: Required value: verbs must contain at least one value',
    'rules[0].apiGroups: Required value: resource rules must supply at least one api group',
    'rules[1].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs',
  ]);
  assert.deepEqual(errors('ClusterRole', { metadata: meta('cr'), rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }] }), []);
  assert.deepEqual(kind('Role').printer!.cells(role([]), now), ['r', '2024-01-01T00:00:00Z']);

  const rb = defaulted('RoleBinding', {
    metadata: meta('rb', 'default'),
    roleRef: { kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'User', name: 'alice' }, { kind: 'ServiceAccount', name: 'bot', namespace: 'ci' }, { kind: 'Group', name: 'devs' }],
  });
  assert.equal((rb.roleRef as any).apiGroup, 'rbac.authorization.k8s.io');
  assert.deepEqual((rb.subjects as any).map((s: any) => s.apiGroup), ['rbac.authorization.k8s.io', '', 'rbac.authorization.k8s.io']);
  assert.deepEqual(kind('RoleBinding').strategy!.validate!(rb), []);
  assert.deepEqual(kind('RoleBinding').printer!.cells(rb, now), ['rb', 'ClusterRole/view', '10m', 'alice', 'devs', 'ci/bot']);
  const upd = structuredClone(rb);
  (upd.roleRef as any).name = 'admin';
  assert.deepEqual(kind('RoleBinding').strategy!.validateUpdate!(upd, rb).map((e) => `${e.field}: ${e.detail}`), ['roleRef: cannot change roleRef']);
  assert.deepEqual(errors('ClusterRoleBinding', { metadata: meta('crb'), roleRef: { kind: 'Role', name: 'x' }, subjects: [{ kind: 'ServiceAccount', name: 'bot' }, { kind: 'Robot', name: 'r' }] }), [
    'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    'subjects[0].namespace: Required value',
    'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
  ]);
  assert.ok(rbacKinds.every((k) => k.nameFormat === 'path'));
});
