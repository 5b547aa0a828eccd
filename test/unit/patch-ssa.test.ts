import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.js';
import type { KubeObject } from '../../src/util/object.js';
import { type ApplyOptions, apply } from '../../src/registry/patch/server-side-apply.js';
import { managerOrUserAgent, updateManagedFields } from '../../src/registry/patch/managed-fields.js';
import { deploymentSchema, nginxDeployment, podSchema, resolver } from './patch-fixtures.test.js';

const T0 = new Date('2024-05-01T10:00:00.123Z');
const T1 = new Date('2024-05-01T11:00:00Z');
const base = { schema: deploymentSchema, resolver, apiVersion: 'apps/v1', kind: 'Deployment', resetFields: [['status']] };
const opts = (manager: string, extra: Partial<ApplyOptions> = {}): ApplyOptions => ({ ...base, manager, force: false, now: T0, ...extra });
const update = (live: KubeObject | undefined, obj: KubeObject, manager: string, now = T0) =>
  updateManagedFields(live, obj, { ...base, manager, now });
const entry = (o: KubeObject, manager: string) => o.metadata.managedFields!.find((m) => m.manager === manager);

function conflict(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    return e;
  }
  assert.fail('expected an error');
}

/** The fieldsV1 kubectl shows after `kubectl apply --server-side` of nginxDeployment(). */
const APPLIED_FIELDS = {
  'f:metadata': { 'f:labels': { 'f:app': {} } },
  'f:spec': {
    'f:replicas': {},
    'f:selector': {},
    'f:template': {
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:containers': {
          'k:{"name":"nginx"}': {
            '.': {},
            'f:env': {
              'k:{"name":"LOG"}': { '.': {}, 'f:name': {}, 'f:value': {} },
              'k:{"name":"MODE"}': { '.': {}, 'f:name': {}, 'f:value': {} },
            },
            'f:image': {},
            'f:name': {},
            'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
          },
        },
      },
    },
  },
};

test('ssa: create via apply records one Apply entry shaped as kubectl shows it', () => {
  const out = apply(undefined, nginxDeployment(), opts('kubectl'));
  assert.equal(out.spec && (out.spec as any).replicas, 2);
  assert.deepEqual(out.metadata.managedFields, [
    { manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: APPLIED_FIELDS },
  ]);
  // Key order as upstream serializes it: `.` first, fields sorted.
  assert.ok(JSON.stringify(out.metadata.managedFields![0].fieldsV1).startsWith('{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas"'));
});

test('ssa: a second applier changing a field it does not own gets 409 naming field and manager', () => {
  const live = apply(undefined, nginxDeployment(), opts('kubectl'));
  const cfg = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 5 } };
  const e = conflict(() => apply(live, cfg, opts('hpa-controller')));
  assert.equal(e.code, 409);
  assert.equal(e.reason, 'Conflict');
  assert.equal(e.message, 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
  assert.deepEqual(e.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' }]);

  // The same value is not a conflict: ownership becomes shared.
  const shared = apply(live, { ...cfg, spec: { replicas: 2 } }, opts('hpa-controller'));
  assert.deepEqual(entry(shared, 'hpa-controller')?.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
  assert.ok((entry(shared, 'kubectl')?.fieldsV1 as any)['f:spec']['f:replicas']);
});

test('ssa: conflicts with an Update manager name its apiVersion; several conflicts are listed', () => {
  const created = update(undefined, nginxDeployment() as KubeObject, 'kubectl-client-side-apply');
  const cfg = nginxDeployment();
  cfg.spec.replicas = 3;
  cfg.spec.template.spec.containers[0].image = 'nginx:1.27';
  const e = conflict(() => apply(created, cfg, opts('kubectl')));
  assert.equal(
    e.message,
    'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
  );
  assert.deepEqual(
    e.details?.causes?.map((c) => [c.field, c.message]),
    [
      ['.spec.replicas', 'conflict with "kubectl-client-side-apply" using apps/v1'],
      ['.spec.template.spec.containers[name="nginx"].image', 'conflict with "kubectl-client-side-apply" using apps/v1'],
    ],
  );
});

test('ssa: force takes ownership; an entry left with nothing is dropped', () => {
  const live = apply(undefined, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 1 } }, opts('a'));
  const out = apply(live, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 4 } }, opts('b', { force: true, now: T1 }));
  assert.equal((out.spec as any).replicas, 4);
  assert.deepEqual(out.metadata.managedFields!.map((m) => m.manager), ['b']);
  assert.equal(out.metadata.managedFields![0].time, '2024-05-01T11:00:00Z');
});

test('ssa: a field removed from the applied config is removed; one another manager owns stays', () => {
  const cfg = nginxDeployment();
  cfg.metadata.labels.tier = 'front';
  cfg.metadata.labels.team = 'core';
  let live = apply(undefined, cfg, opts('kubectl'));
  // Another applier also sets team=core (same value: shared, no conflict).
  live = apply(live, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { team: 'core' } } }, opts('labeler'));

  const next = nginxDeployment(); // no tier, no team
  next.spec.template.spec.containers[0].env = [{ name: 'MODE', value: 'prod' }];
  const out = apply(live, next, opts('kubectl', { now: T1 }));
  assert.deepEqual(out.metadata.labels, { app: 'web', team: 'core' });
  assert.deepEqual(
    (out.spec as any).template.spec.containers[0].env,
    [{ name: 'MODE', value: 'prod' }],
    'list item no longer applied is removed',
  );
  assert.deepEqual((entry(out, 'kubectl')!.fieldsV1 as any)['f:metadata'], { 'f:labels': { 'f:app': {} } });
});

test('ssa: Update operations steal ownership; applying the old value again conflicts', () => {
  const live = apply(undefined, nginxDeployment(), opts('kubectl'));
  const edited = structuredClone(live) as any;
  edited.spec.template.spec.containers[0].image = 'nginx:1.27';
  edited.metadata.labels.edited = 'yes';
  const afterEdit = update(live, edited, 'kubectl-edit', T1);
  assert.deepEqual(entry(afterEdit, 'kubectl-edit'), {
    manager: 'kubectl-edit',
    operation: 'Update',
    apiVersion: 'apps/v1',
    time: '2024-05-01T11:00:00Z',
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:metadata': { 'f:labels': { 'f:edited': {} } },
      'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { 'f:image': {} } } } } },
    },
  });
  const k = entry(afterEdit, 'kubectl')!.fieldsV1 as any;
  assert.equal(k['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"nginx"}']['f:image'], undefined);
  assert.equal(entry(afterEdit, 'kubectl')!.time, '2024-05-01T10:00:00Z', 'losing fields does not touch the time');

  const e = conflict(() => apply(afterEdit, nginxDeployment(), opts('kubectl')));
  assert.equal(e.message, 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.template.spec.containers[name="nginx"].image');
});

test('ssa: Update on create owns what it wrote, with "." for new maps and list items but not structs', () => {
  const out = update(undefined, nginxDeployment() as KubeObject, 'kubectl-create');
  assert.deepEqual(out.metadata.managedFields, [
    {
      manager: 'kubectl-create',
      operation: 'Update',
      apiVersion: 'apps/v1',
      time: '2024-05-01T10:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
        'f:spec': {
          'f:replicas': {},
          'f:selector': {},
          'f:template': {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': {
              'f:containers': {
                'k:{"name":"nginx"}': {
                  '.': {},
                  'f:env': {
                    '.': {},
                    'k:{"name":"LOG"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                    'k:{"name":"MODE"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                  },
                  'f:image': {},
                  'f:name': {},
                  'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                },
              },
            },
          },
        },
      },
    },
  ]);
});

test('ssa: re-applying the same configuration changes nothing, not even the time', () => {
  const live = apply(undefined, nginxDeployment(), opts('kubectl'));
  const again = apply(live, nginxDeployment(), opts('kubectl', { now: T1 }));
  assert.deepEqual(again, live);
});

test('ssa: first apply to an object nobody applied before conflicts with "before-first-apply"', () => {
  const live = nginxDeployment() as KubeObject; // created before field tracking: no managedFields
  live.metadata.uid = 'u1';
  const cfg = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 9 } };
  const e = conflict(() => apply(live, cfg, opts('kubectl')));
  assert.equal(e.message, 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas');
  // An existing untracked object stays untracked through updates.
  assert.equal(update(live, { ...live, spec: { replicas: 1 } } as KubeObject, 'kubectl-edit').metadata.managedFields, undefined);
});

test('ssa: status is a reset field; sets are owned by value; request validation', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', finalizers: ['example.com/hold'] },
    spec: { containers: [{ name: 'a', image: 'busybox' }] },
    status: { phase: 'Running' },
  };
  const podOpts = { ...opts('kubectl'), schema: podSchema, apiVersion: 'v1', kind: 'Pod' };
  const out = apply(undefined, pod, podOpts);
  const f = out.metadata.managedFields![0].fieldsV1 as any;
  assert.deepEqual(f['f:metadata'], { 'f:finalizers': { 'v:"example.com/hold"': {} } });
  assert.equal(f['f:status'], undefined);

  const bad = (cfg: unknown, o = podOpts) => conflict(() => apply(undefined, cfg, o));
  assert.equal(bad({ ...pod, kind: 'Service' }).message, 'invalid object type: /v1, Kind=Service');
  assert.equal(bad({ ...pod, metadata: { name: 'p', managedFields: [] } }).message, 'metadata.managedFields must be nil');
  const noManager = bad(pod, { ...podOpts, manager: '' });
  assert.equal(noManager.code, 422);
  assert.equal(noManager.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  const dup = bad({ ...pod, spec: { containers: [{ name: 'a' }, { name: 'a' }] } });
  assert.equal(dup.code, 500);
  assert.match(dup.message, /duplicate entries for key \[name="a"\]/);
});

test('managedFields: request may reset them; manager defaults to the user agent', () => {
  const live = update(undefined, nginxDeployment() as KubeObject, 'kubectl-create');
  const cleared = update(live, { ...live, metadata: { ...live.metadata, managedFields: [] } } as KubeObject, 'kubectl-edit');
  assert.equal(cleared.metadata.managedFields, undefined);
  assert.equal(managerOrUserAgent(undefined, 'kubectl/v1.30.0 (linux/amd64) kubernetes/abc'), 'kubectl');
  assert.equal(managerOrUserAgent('helm', 'kubectl/v1.30.0'), 'helm');
});
