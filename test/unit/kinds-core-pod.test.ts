import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorText, FieldPath } from '../../src/registry/field-errors.js';
import type { KubeObject } from '../../src/util/object.js';
import { pod } from '../../src/kinds/core/pod.js';
import { defaultPodSpec, validatePodTemplateSpec } from '../../src/kinds/core/pod-spec.js';
import { imageTag } from '../../src/kinds/core/container.js';

const now = new Date('2024-05-01T12:00:00Z');
const ctx = { now, user: { name: 'admin', groups: [] } };

function mkPod(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', creationTimestamp: '2024-05-01T11:00:00Z' }, spec, ...extra };
}
/** Defaults then validation, as the registry runs them on create. */
function createErrors(o: KubeObject): string[] {
  pod.strategy!.defaults!(o);
  pod.strategy!.prepareForCreate!(o, ctx);
  return pod.strategy!.validate!(o).map(fieldErrorText);
}

test('pod defaults match upstream SetDefaults_Pod/PodSpec/Container', () => {
  const o = mkPod({
    containers: [{ name: 'a', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '1' } } }, { name: 'b', image: 'nginx:1.25' }],
  });
  pod.strategy!.defaults!(o);
  const s = o.spec as any;
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.terminationGracePeriodSeconds, 30);
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.deepEqual(s.securityContext, {});
  assert.equal(s.enableServiceLinks, true);
  assert.equal(s.containers[0].imagePullPolicy, 'Always');
  assert.equal(s.containers[1].imagePullPolicy, 'IfNotPresent');
  assert.equal(s.containers[0].terminationMessagePath, '/dev/termination-log');
  assert.equal(s.containers[0].terminationMessagePolicy, 'File');
  assert.equal(s.containers[0].ports[0].protocol, 'TCP');
  assert.deepEqual(s.containers[0].resources.requests, { cpu: '1' });
});

test('image tags decide the pull policy', () => {
  assert.equal(imageTag('nginx'), 'latest');
  assert.equal(imageTag('registry:5000/nginx'), 'latest');
  assert.equal(imageTag('registry:5000/nginx:1.2'), '1.2');
  assert.equal(imageTag('nginx@sha256:abc'), '');
});

test('templates get spec defaults but not pod-only ones', () => {
  const spec: Record<string, unknown> = { containers: [{ name: 'a', image: 'x:1', resources: { limits: { cpu: '1' } } }], volumes: [{ name: 'v' }] };
  defaultPodSpec(spec);
  assert.equal(spec.enableServiceLinks, undefined);
  assert.equal((spec.containers as any)[0].resources.requests, undefined);
  assert.deepEqual((spec.volumes as any)[0], { name: 'v', emptyDir: {} });
});

test('prepareForCreate sets phase, QoS class and priority', () => {
  const o = mkPod({ containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1', memory: '1Gi' } } }] });
  assert.deepEqual(createErrors(o), []);
  assert.equal((o.status as any).phase, 'Pending');
  assert.equal((o.status as any).qosClass, 'Guaranteed');
  assert.equal((o.spec as any).priority, 0);
  const be = mkPod({ containers: [{ name: 'a', image: 'x' }] });
  createErrors(be);
  assert.equal((be.status as any).qosClass, 'BestEffort');
});

test('pod validation messages and paths', () => {
  assert.deepEqual(createErrors(mkPod({ containers: [] })), ['spec.containers: Required value']);
  assert.deepEqual(createErrors(mkPod({ containers: [{ name: 'a' }] })), ['spec.containers[0].image: Required value']);
  const errs = createErrors(
    mkPod({
      restartPolicy: 'Sometimes',
      containers: [
        { name: 'a', image: 'x', ports: [{ containerPort: 70000 }], volumeMounts: [{ name: 'missing', mountPath: '/m' }], env: [{ name: 'A=B' }] },
        { name: 'a', image: 'x', resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } },
      ],
      tolerations: [{ operator: 'Equal', value: 'x' }],
      hostAliases: [{ ip: 'nope', hostnames: ['a'] }],
    }),
  );
  for (const want of [
    'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
    `spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
    'spec.containers[1].name: Duplicate value: "a"',
    'spec.containers[1].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
    'spec.hostAliases[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ])
    assert.ok(errs.includes(want), `missing ${want} in\n${errs.join('\n')}`);
});

test('volumes: unique names, one source', () => {
  const errs = createErrors(mkPod({ containers: [{ name: 'a', image: 'x' }], volumes: [{ name: 'v', emptyDir: {}, hostPath: { path: '/x' } }, { name: 'v', emptyDir: {} }] }));
  // hostPath is checked before emptyDir upstream, so the second source is the one reported.
  assert.deepEqual(errs, ['spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type']);
  const dup = createErrors(mkPod({ containers: [{ name: 'a', image: 'x' }], volumes: [{ name: 'v' }, { name: 'v' }] }));
  assert.deepEqual(dup, ['spec.volumes[1].name: Duplicate value: "v"']);
});

test('template validation reports at the template path', () => {
  const errs = validatePodTemplateSpec({ metadata: { labels: { 'a b': 'x' } }, spec: { containers: [{ name: 'c' }] } }, FieldPath.root('spec').child('template')).map(fieldErrorText);
  assert.ok(errs.some((e) => e.startsWith('spec.template.labels: Invalid value: "a b"')));
  assert.ok(errs.includes('spec.template.spec.containers[0].image: Required value'));
});

test('pod spec is immutable except images, deadline, added tolerations', () => {
  const old = mkPod({ containers: [{ name: 'a', image: 'x:1' }], tolerations: [{ key: 'k', operator: 'Exists' }] });
  createErrors(old);
  const ok = structuredClone(old);
  (ok.spec as any).containers[0].image = 'x:2';
  (ok.spec as any).activeDeadlineSeconds = 30;
  (ok.spec as any).tolerations.push({ key: 'k2', operator: 'Exists' });
  assert.deepEqual(pod.strategy!.validateUpdate!(ok, old), []);
  const bad = structuredClone(old);
  (bad.spec as any).nodeName = 'n1';
  const [e] = pod.strategy!.validateUpdate!(bad, old).map(fieldErrorText);
  assert.match(e, /^spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`,`spec\.initContainers\[\*\]\.image`,`spec\.activeDeadlineSeconds`,/);
  assert.match(e, /nodeName/);
  const removed = structuredClone(old);
  (removed.spec as any).tolerations = [];
  assert.deepEqual(pod.strategy!.validateUpdate!(removed, old).map(fieldErrorText), ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds']);
});

test('printer: crashlooping container', () => {
  const o = mkPod(
    { containers: [{ name: 'a', image: 'x' }], nodeName: 'n1' },
    {
      status: {
        phase: 'Running',
        podIPs: [{ ip: '10.244.0.5' }],
        containerStatuses: [
          {
            name: 'a',
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, finishedAt: '2024-05-01T11:55:00Z' } },
          },
        ],
      },
    },
  );
  assert.deepEqual(pod.printer!.cells(o, now), ['p', '0/1', 'CrashLoopBackOff', '3 (5m ago)', '60m', '10.244.0.5', 'n1', '<none>', '<none>']);
});

test('printer: init progress, completion, termination', () => {
  const init = mkPod(
    { initContainers: [{ name: 'i1', image: 'x' }, { name: 'i2', image: 'x' }], containers: [{ name: 'a', image: 'x' }] },
    { status: { phase: 'Pending', initContainerStatuses: [{ name: 'i1', state: { terminated: { exitCode: 0 } } }, { name: 'i2', state: { running: {} } }] } },
  );
  assert.equal(pod.printer!.cells(init, now)[2], 'Init:1/2');
  const done = mkPod({ containers: [{ name: 'a', image: 'x' }] }, { status: { phase: 'Succeeded', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] } });
  assert.equal(pod.printer!.cells(done, now)[2], 'Completed');
  const creating = mkPod({ containers: [{ name: 'a', image: 'x' }] }, { status: { phase: 'Pending', containerStatuses: [{ name: 'a', state: { waiting: { reason: 'ContainerCreating' } } }] } });
  assert.deepEqual(pod.printer!.cells(creating, now).slice(1, 4), ['0/1', 'ContainerCreating', '0']);
  const running = mkPod({ containers: [{ name: 'a', image: 'x' }] }, { status: { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, state: { running: {} } }] } });
  assert.deepEqual(pod.printer!.cells(running, now).slice(1, 3), ['1/1', 'Running']);
  running.metadata.deletionTimestamp = '2024-05-01T11:59:00Z';
  assert.equal(pod.printer!.cells(running, now)[2], 'Terminating');
});

test('pod field selectors', () => {
  const o = mkPod({ containers: [], nodeName: 'n1' }, { status: { phase: 'Running', podIPs: [{ ip: '10.0.0.1' }] } });
  assert.equal(pod.fieldSelectors!['spec.nodeName'](o), 'n1');
  assert.equal(pod.fieldSelectors!['spec.hostNetwork'](o), 'false');
  assert.equal(pod.fieldSelectors!['status.podIP'](o), '10.0.0.1');
});
