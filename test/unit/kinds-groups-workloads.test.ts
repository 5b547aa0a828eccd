import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import { appsKinds } from '../../src/kinds/apps/index.js';
import { batchKinds } from '../../src/kinds/batch/index.js';
import { cronScheduleError } from '../../src/kinds/batch/cron-schedule.js';
import type { KindDefinition } from '../../src/kinds/types.js';
import type { KubeObject } from '../../src/util/object.js';

const kinds = new Map<string, KindDefinition>([...appsKinds, ...batchKinds].map((k) => [k.kind, k]));
const kind = (k: string) => kinds.get(k)!;
const now = new Date('2024-01-01T00:10:00Z');

function defaulted(k: string, obj: KubeObject): KubeObject {
  kind(k).strategy!.defaults!(obj);
  return obj;
}
const errors = (k: string, obj: KubeObject) => kind(k).strategy!.validate!(defaulted(k, obj)).map(fieldErrorText);

const template = (labels: Record<string, string> = { app: 'x' }, extra: Record<string, unknown> = {}) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'c', image: 'nginx' }], ...extra },
});
const deployment = (spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { selector: { matchLabels: { app: 'x' } }, template: template(), ...spec },
});

test('identity: short names, categories, scale', () => {
  assert.deepEqual(kind('Deployment').shortNames, ['deploy']);
  assert.deepEqual(kind('StatefulSet').categories, ['all']);
  assert.equal(kind('Job').shortNames, undefined);
  assert.deepEqual(kind('Deployment').scale, { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' });
  assert.equal(kind('DaemonSet').scale, undefined);
  assert.equal(kind('CronJob').schemaName, 'io.k8s.api.batch.v1.CronJob');
});

test('deployment defaults', () => {
  const d = defaulted('Deployment', deployment());
  const spec = d.spec as Record<string, any>;
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(spec.revisionHistoryLimit, 10);
  assert.equal(spec.progressDeadlineSeconds, 600);
  assert.equal(spec.template.spec.restartPolicy, 'Always');
  assert.deepEqual(errors('Deployment', deployment()), []);
});

test('deployment validation messages', () => {
  const noSel = deployment();
  delete (noSel.spec as any).selector;
  assert.deepEqual(errors('Deployment', noSel), [
    'spec.selector: Required value',
    'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`',
  ]);
  assert.deepEqual(errors('Deployment', deployment({ selector: { matchLabels: { app: 'y' } } })), [
    'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`',
  ]);
  assert.deepEqual(errors('Deployment', deployment({ replicas: -1 })), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']);
  assert.deepEqual(errors('Deployment', deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } })), [
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0',
  ]);
  assert.deepEqual(errors('Deployment', deployment({ strategy: { type: 'Recreate', rollingUpdate: {} } })), [
    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
  ]);
  assert.deepEqual(errors('Deployment', deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '120%' } } })), [
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%',
  ]);
  assert.deepEqual(errors('Deployment', deployment({ selector: {} })), ['spec.selector: Invalid value: {}: empty selector is invalid for deployment']);
  const badTpl = deployment({ template: template({ app: 'x' }, { restartPolicy: 'Never' }) });
  assert.deepEqual(errors('Deployment', badTpl), ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']);
  assert.ok(errors('Deployment', deployment({ template: { metadata: { labels: { app: 'x' } }, spec: { containers: [] } } })).includes('spec.template.spec.containers: Required value'));
});

test('apps selectors are immutable', () => {
  for (const k of ['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet']) {
    const old = defaulted(k, deployment());
    const upd = defaulted(k, deployment({ selector: { matchLabels: { app: 'x', tier: 'a' } } }));
    assert.deepEqual(kind(k).strategy!.validateUpdate!(upd, old).map(fieldErrorText)[0], 'spec.selector: Invalid value: {"matchLabels":{"app":"x","tier":"a"}}: field is immutable', k);
  }
});

test('deployment and replicaset printers', () => {
  const d = defaulted('Deployment', deployment({ replicas: 3 }));
  d.status = { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 };
  assert.deepEqual(kind('Deployment').printer!.cells(d, now), ['web', '2/3', 3, 2, '10m', 'c', 'nginx', 'app=x']);
  const rs = defaulted('ReplicaSet', deployment({ selector: { matchLabels: { app: 'x' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] } }));
  (rs.spec as any).template.metadata.labels.tier = 'a';
  rs.status = { replicas: 1, readyReplicas: 1 };
  assert.deepEqual(kind('ReplicaSet').printer!.cells(rs, now), ['web', 1, 1, 1, '10m', 'c', 'nginx', 'app=x,tier in (a,b)']);
  assert.equal(kind('ReplicaSet').fieldSelectors!['status.replicas'](rs), '1');
});

test('daemonset defaults, rolling update rules, template generation, printer', () => {
  const ds = defaulted('DaemonSet', deployment({ template: template({ app: 'x' }, { nodeSelector: { disk: 'ssd' } }) }));
  assert.deepEqual((ds.spec as any).updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.deepEqual(errors('DaemonSet', deployment({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } })), [
    'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero',
  ]);
  const ctx = { now, user: { name: 'a', groups: [] } };
  kind('DaemonSet').strategy!.prepareForCreate!(ds, ctx);
  assert.equal(ds.metadata.annotations!['deprecated.daemonset.template.generation'], '1');
  const upd = structuredClone(ds);
  (upd.spec as any).template.spec.containers[0].image = 'nginx:2';
  kind('DaemonSet').strategy!.prepareForUpdate!(upd, ds, ctx);
  assert.equal(upd.metadata.annotations!['deprecated.daemonset.template.generation'], '2');
  assert.deepEqual(kind('DaemonSet').printer!.cells(ds, now), ['web', 0, 0, 0, 0, 0, 'disk=ssd', '10m', 'c', 'nginx', 'app=x']);
});

test('statefulset defaults, claim-template mounts and update rules', () => {
  const claims = [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }];
  const tpl = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'db', volumeMounts: [{ name: 'data', mountPath: '/d' }] }] } };
  const sts = defaulted('StatefulSet', deployment({ serviceName: 'db', volumeClaimTemplates: claims, template: tpl }));
  const spec = sts.spec as any;
  assert.equal(spec.podManagementPolicy, 'OrderedReady');
  assert.deepEqual(spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  assert.equal(spec.volumeClaimTemplates[0].spec.volumeMode, 'Filesystem');
  assert.deepEqual(kind('StatefulSet').strategy!.validate!(sts), []);
  const upd = structuredClone(sts);
  (upd.spec as any).replicas = 5;
  assert.deepEqual(kind('StatefulSet').strategy!.validateUpdate!(upd, sts), []);
  (upd.spec as any).serviceName = 'other';
  assert.deepEqual(kind('StatefulSet').strategy!.validateUpdate!(upd, sts).map(fieldErrorText), [
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
  ]);
  assert.deepEqual(errors('StatefulSet', deployment({ podManagementPolicy: 'Sometimes' })), ["spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'"]);
  sts.status = { readyReplicas: 1 };
  assert.deepEqual(kind('StatefulSet').printer!.cells(sts, now), ['web', '1/1', '10m', 'c', 'db']);
});

const job = (spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'pi', namespace: 'default', uid: 'u-1', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }], restartPolicy: 'Never' } }, ...spec },
});

test('job defaults and generated selector', () => {
  const j = defaulted('Job', job());
  const spec = j.spec as any;
  assert.equal(spec.completions, 1);
  assert.equal(spec.parallelism, 1);
  assert.equal(spec.backoffLimit, 6);
  assert.equal(spec.completionMode, 'NonIndexed');
  assert.equal(spec.suspend, false);
  assert.equal(spec.podReplacementPolicy, 'TerminatingOrFailed');
  assert.equal(spec.manualSelector, undefined);
  assert.deepEqual(kind('Job').strategy!.validate!(j), []);
  assert.deepEqual(spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u-1' } });
  assert.deepEqual(spec.template.metadata.labels, {
    'job-name': 'pi',
    'batch.kubernetes.io/job-name': 'pi',
    'controller-uid': 'u-1',
    'batch.kubernetes.io/controller-uid': 'u-1',
  });
  const parallel = defaulted('Job', job({ parallelism: 3 }));
  assert.equal((parallel.spec as any).completions, undefined);
});

test('job validation messages', () => {
  const noRestart = job();
  delete (noRestart.spec as any).template.spec.restartPolicy;
  assert.deepEqual(errors('Job', noRestart), ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']);
  assert.deepEqual(errors('Job', job({ completionMode: 'Indexed', completions: undefined, parallelism: 2 })), ['spec.completions: Required value: when completion mode is Indexed']);
  assert.deepEqual(errors('Job', job({ backoffLimit: -1 })), ['spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0']);
  assert.deepEqual(errors('Job', job({ manualSelector: true })), ['spec.selector: Required value', 'spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`']);
});

test('job update immutability', () => {
  const old = defaulted('Job', job());
  kind('Job').strategy!.validate!(old);
  const upd = structuredClone(old);
  (upd.spec as any).completions = 4;
  (upd.spec as any).template.spec.containers[0].image = 'perl:2';
  assert.deepEqual(kind('Job').strategy!.validateUpdate!(upd, old).map((e) => `${e.field}: ${e.detail}`), [
    'spec.completions: field is immutable',
    'spec.template: field is immutable',
  ]);
  // A suspended job that never started may change its template's scheduling directives.
  (old.spec as any).suspend = true;
  const moved = structuredClone(old);
  (moved.spec as any).template.spec.nodeSelector = { zone: 'a' };
  assert.deepEqual(kind('Job').strategy!.validateUpdate!(moved, old), []);
});

test('job printer', () => {
  const j = defaulted('Job', job());
  kind('Job').strategy!.validate!(j);
  j.status = { succeeded: 1, startTime: '2024-01-01T00:00:00Z', completionTime: '2024-01-01T00:00:42Z', conditions: [{ type: 'Complete', status: 'True' }] };
  assert.deepEqual(kind('Job').printer!.cells(j, now), ['pi', 'Complete', '1/1', '42s', '10m', 'pi', 'perl', 'batch.kubernetes.io/controller-uid=u-1']);
  assert.equal(kind('Job').fieldSelectors!['status.successful'](j), '1');
});

const cronJob = (spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'hello', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'h', image: 'busybox' }], restartPolicy: 'OnFailure' } } } }, ...spec },
});

test('cronjob defaults, validation and printer', () => {
  const cj = defaulted('CronJob', cronJob());
  const spec = cj.spec as any;
  assert.equal(spec.concurrencyPolicy, 'Allow');
  assert.equal(spec.suspend, false);
  assert.equal(spec.successfulJobsHistoryLimit, 3);
  assert.equal(spec.failedJobsHistoryLimit, 1);
  assert.deepEqual(kind('CronJob').strategy!.validate!(cj), []);
  assert.deepEqual(errors('CronJob', cronJob({ schedule: '61 * * * *' })), ['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']);
  assert.deepEqual(errors('CronJob', cronJob({ schedule: 'TZ=UTC 0 * * * *' })), [
    'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
  ]);
  assert.deepEqual(errors('CronJob', cronJob({ timeZone: 'Mars/Olympus' })), ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']);
  assert.deepEqual(errors('CronJob', cronJob({ concurrencyPolicy: 'Sometimes' })), [
    'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
  ]);
  cj.status = { active: [{}], lastScheduleTime: '2024-01-01T00:05:00Z' };
  assert.deepEqual(kind('CronJob').printer!.cells(cj, now), ['hello', '*/5 * * * *', '<none>', 'False', 1, '5m', '10m', 'h', 'busybox', '<none>']);
});

test('cron schedule parser', () => {
  for (const ok of ['@hourly', '@every 1h30m', '0 0 * * MON-FRI', '*/15 9-17 1,15 jan-jun *', '0 0 ? * sun']) assert.equal(cronScheduleError(ok), undefined, ok);
  assert.equal(cronScheduleError('* * *'), 'expected exactly 5 fields, found 3: [* * *]');
  assert.equal(cronScheduleError('@fortnightly'), 'unrecognized descriptor: @fortnightly');
  assert.equal(cronScheduleError('x * * * *'), 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax');
  assert.equal(cronScheduleError('*/0 * * * *'), 'step of range should be a positive number: */0');
  assert.equal(cronScheduleError('5-2 * * * *'), 'beginning of range (5) beyond end of range (2): 5-2');
});
