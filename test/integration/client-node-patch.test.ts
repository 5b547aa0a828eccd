/**
 * Patches and subresources through @kubernetes/client-node: JSON patch, merge patch, strategic
 * merge patch (merge keys, $patch: delete), server-side apply (managedFields, conflicts, force,
 * create), the status subresource's spec/status split and the scale subresource for deployments,
 * replicasets, statefulsets and a custom resource.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { apiError, clientsFor, patchAs, PatchStrategy, raw, randomSuffix, until, type Clients } from '../support/client-node.js';

let server: TestServer;
let c: Clients;
const ns = `patch-${randomSuffix()}`;

const deployment = (name: string): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'nginx:1.27',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
            ports: [{ containerPort: 80 }],
          },
          { name: 'sidecar', image: 'busybox:1', env: [{ name: 'S', value: 's' }] },
        ],
      },
    },
  },
});

describe(`client-node patches and subresources (${testStore()})`, () => {
  before(async () => {
    // API semantics only: no controllers racing the assertions (status writers, garbage collector).
    server = await startTestServer({ server: { controllers: false } });
    c = clientsFor(server);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => server?.stop());

  test('JSON patch (the generated clients\' default content type), with test ops', async () => {
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'jp' }, data: { a: '1', b: '2' } } });
    const out = await c.core.patchNamespacedConfigMap({
      name: 'jp',
      namespace: ns,
      body: [
        { op: 'test', path: '/data/a', value: '1' },
        { op: 'replace', path: '/data/a', value: 'x' },
        { op: 'remove', path: '/data/b' },
        { op: 'add', path: '/metadata/labels', value: { l: 'v' } },
      ],
    });
    assert.deepEqual(out.data, { a: 'x' });
    assert.deepEqual(out.metadata!.labels, { l: 'v' });
    // A failing test op: 422, as upstream answers a JSON patch that cannot be applied.
    const failed = await apiError(
      c.core.patchNamespacedConfigMap({ name: 'jp', namespace: ns, body: [{ op: 'test', path: '/data/a', value: 'nope' }] }),
      422,
    );
    assert.ok(failed.message);
    // Removing a missing path is an error too.
    await apiError(c.core.patchNamespacedConfigMap({ name: 'jp', namespace: ns, body: [{ op: 'remove', path: '/data/zzz' }] }), 422);
  });

  test('merge patch: null deletes, lists replaced wholesale', async () => {
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('mp') });
    const out = await c.apps.patchNamespacedDeployment(
      {
        name: 'mp',
        namespace: ns,
        body: { metadata: { labels: { app: 'mp', extra: 'e' } }, spec: { template: { spec: { containers: [{ name: 'only', image: 'x:1' }] } } } },
      },
      patchAs(PatchStrategy.MergePatch),
    );
    assert.deepEqual(
      out.spec!.template.spec!.containers.map((x) => x.name),
      ['only'],
      'merge patch replaces lists',
    );
    const out2 = await c.apps.patchNamespacedDeployment(
      { name: 'mp', namespace: ns, body: { metadata: { labels: { extra: null } } } },
      patchAs(PatchStrategy.MergePatch),
    );
    assert.deepEqual(out2.metadata!.labels, { app: 'mp' });
  });

  test('strategic merge patch: containers and env merged by name, $patch: delete / replace', async () => {
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('smp') });
    const out = await c.apps.patchNamespacedDeployment(
      {
        name: 'smp',
        namespace: ns,
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'web', image: 'nginx:1.28', env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }] },
                  { name: 'new', image: 'redis:7' },
                ],
              },
            },
          },
        },
      },
      patchAs(PatchStrategy.StrategicMergePatch),
    );
    const containers = out.spec!.template.spec!.containers;
    assert.deepEqual(
      containers.map((x) => x.name),
      ['web', 'new', 'sidecar'],
      'patch items first in patch order, then the untouched ones (upstream order)',
    );
    const web = containers.find((x) => x.name === 'web')!;
    assert.equal(web.image, 'nginx:1.28');
    assert.deepEqual(
      web.env!.map((e) => [e.name, e.value]),
      [
        ['A', '1'],
        ['B', 'two'],
        ['C', '3'],
      ],
    );
    assert.equal(web.ports![0].containerPort, 80, 'untouched fields stay');
    const newC = containers.find((x) => x.name === 'new')!;
    assert.equal(newC.imagePullPolicy, 'IfNotPresent', 'defaults applied to merged-in items');
    assert.equal(newC.terminationMessagePath, '/dev/termination-log');

    const out2 = await c.apps.patchNamespacedDeployment(
      {
        name: 'smp',
        namespace: ns,
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'sidecar', $patch: 'delete' },
                  { name: 'web', env: [{ name: 'A', $patch: 'delete' }] },
                ],
              },
            },
          },
        },
      },
      patchAs(PatchStrategy.StrategicMergePatch),
    );
    const c2 = out2.spec!.template.spec!.containers;
    assert.deepEqual(c2.map((x) => x.name).sort(), ['new', 'web']);
    assert.deepEqual(
      c2.find((x) => x.name === 'web')!.env!.map((e) => e.name),
      ['B', 'C'],
    );
    // $patch: replace on a map replaces it wholesale.
    const out3 = await c.apps.patchNamespacedDeployment(
      { name: 'smp', namespace: ns, body: { metadata: { labels: { $patch: 'replace', only: 'this' } } } },
      patchAs(PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(out3.metadata!.labels, { only: 'this' });
  });

  test('patch of a missing object → 404 NotFound (every patch type but apply)', async () => {
    for (const s of [PatchStrategy.JsonPatch, PatchStrategy.MergePatch, PatchStrategy.StrategicMergePatch]) {
      const body = s === PatchStrategy.JsonPatch ? [{ op: 'add', path: '/data', value: {} }] : { data: { a: 'b' } };
      const st = await apiError(c.core.patchNamespacedConfigMap({ name: 'missing', namespace: ns, body }, patchAs(s)), 404, 'NotFound');
      assert.equal(st.message, 'configmaps "missing" not found');
    }
  });

  test('server-side apply: creates, records managedFields, conflicts name the manager, force takes over', async () => {
    const cm = (data: Record<string, string>): KubernetesObject & { data: Record<string, string> } => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ssa', namespace: ns },
      data,
    });
    // Apply creates.
    const created = await c.objects.patch(cm({ a: '1', b: '2' }), undefined, undefined, 'alice', false, PatchStrategy.ServerSideApply);
    assert.ok(created.metadata!.uid);
    const mf = created.metadata!.managedFields!;
    assert.equal(mf.length, 1);
    assert.equal(mf[0].manager, 'alice');
    assert.equal(mf[0].operation, 'Apply');
    assert.equal(mf[0].apiVersion, 'v1');
    assert.equal(mf[0].fieldsType, 'FieldsV1');
    // An applier owns exactly what it applied: leaves, not the maps around them.
    assert.deepEqual(mf[0].fieldsV1, { 'f:data': { 'f:a': {}, 'f:b': {} } });

    // Another applier changing alice's field: 409 Conflict naming alice and the field.
    const conflict = await apiError(
      c.objects.patch(cm({ a: 'bob' }), undefined, undefined, 'bob', false, PatchStrategy.ServerSideApply),
      409,
      'Conflict',
    );
    assert.match(conflict.message!, /Apply failed with 1 conflict: conflict with "alice": \.data\.a/);
    assert.deepEqual(conflict.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "alice"', field: '.data.a' }]);

    // An applier agreeing on the value shares ownership without conflict.
    const shared = await c.objects.patch(cm({ a: '1', c: '3' }), undefined, undefined, 'carol', false, PatchStrategy.ServerSideApply);
    assert.deepEqual(shared.data, { a: '1', b: '2', c: '3' });
    const carol = shared.metadata!.managedFields!.find((m) => m.manager === 'carol')!;
    assert.deepEqual(carol.fieldsV1, { 'f:data': { 'f:a': {}, 'f:c': {} } });

    // force=true takes the field over.
    const forced = await c.objects.patch(cm({ a: 'bob' }), undefined, undefined, 'bob', true, PatchStrategy.ServerSideApply);
    assert.equal(forced.data!.a, 'bob');
    const alice = forced.metadata!.managedFields!.find((m) => m.manager === 'alice')!;
    assert.deepEqual(alice.fieldsV1, { 'f:data': { 'f:b': {} } }, 'alice lost data.a');
    const carol2 = forced.metadata!.managedFields!.find((m) => m.manager === 'carol')!;
    assert.deepEqual(carol2.fieldsV1, { 'f:data': { 'f:c': {} } }, 'carol lost data.a');

    // Re-applying without a field removes it when no one else owns it.
    const { data: _d, ...withoutData } = cm({});
    const pruned = await c.objects.patch(withoutData, undefined, undefined, 'alice', false, PatchStrategy.ServerSideApply);
    assert.deepEqual((pruned as { data?: unknown }).data, { a: 'bob', c: '3' });
    assert.equal(pruned.metadata!.managedFields!.find((m) => m.manager === 'alice'), undefined, 'alice manages nothing now');

    // An update (non-apply) records operation Update for its manager.
    const upd = await c.core.patchNamespacedConfigMap(
      { name: 'ssa', namespace: ns, body: { data: { d: '4' } }, fieldManager: 'dave' },
      patchAs(PatchStrategy.MergePatch),
    );
    const dave = upd.metadata!.managedFields!.find((m) => m.manager === 'dave')!;
    assert.equal(dave.operation, 'Update');
    assert.deepEqual(dave.fieldsV1, { 'f:data': { 'f:d': {} } });

    // Apply requires a fieldManager (client-node sends none when undefined).
    const noMgr = await raw(c.kc, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/ssa`, JSON.stringify(cm({ a: 'x' })), {
      'content-type': 'application/apply-patch+yaml',
    });
    assert.equal(noMgr.status, 400);
    // YAML apply bodies.
    const yamlBody = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa-yaml\n  namespace: ${ns}\ndata:\n  k: v\n`;
    const y = await raw(c.kc, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/ssa-yaml?fieldManager=yamler`, yamlBody, {
      'content-type': 'application/apply-patch+yaml',
    });
    assert.equal(y.status, 201, y.text);
    assert.deepEqual(y.json.data, { k: 'v' });

    // Apply to a deployment through the typed client (apply body as JSON, which is YAML).
    const d = deployment('ssa-deploy');
    const applied = await c.apps.patchNamespacedDeployment(
      { name: 'ssa-deploy', namespace: ns, body: d, fieldManager: 'deployer', force: true },
      patchAs(PatchStrategy.ServerSideApply),
    );
    assert.equal(applied.metadata!.generation, 1);
    assert.equal(applied.spec!.strategy!.type, 'RollingUpdate', 'defaults on apply-create');
    // Another manager changing the image conflicts; the containers list is keyed by name.
    const conflictD = await apiError(
      c.apps.patchNamespacedDeployment(
        {
          name: 'ssa-deploy',
          namespace: ns,
          body: {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'ssa-deploy' },
            spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:9' }] } } },
          },
          fieldManager: 'other',
        },
        patchAs(PatchStrategy.ServerSideApply),
      ),
      409,
      'Conflict',
    );
    assert.match(conflictD.message!, /conflict with "deployer": \.spec\.template\.spec\.containers\[name="web"\]\.image/);
  });

  test('status subresource: /status ignores spec, the main resource ignores status (deployments)', async () => {
    const d = await c.apps.createNamespacedDeployment({ namespace: ns, body: { ...deployment('st'), status: { replicas: 99 } } });
    assert.equal(d.status?.replicas, undefined, 'status dropped on create');
    // PUT /status with a spec change: spec ignored, status taken.
    const cur = await c.apps.readNamespacedDeploymentStatus({ name: 'st', namespace: ns });
    cur.spec!.replicas = 7;
    cur.status = { replicas: 1, readyReplicas: 1, observedGeneration: 1 };
    const afterStatus = await c.apps.replaceNamespacedDeploymentStatus({ name: 'st', namespace: ns, body: cur });
    assert.equal(afterStatus.spec!.replicas, 1);
    assert.equal(afterStatus.status!.readyReplicas, 1);
    assert.equal(afterStatus.metadata!.generation, 1);
    // Labels are ignored on /status too.
    const lab = await c.apps.patchNamespacedDeploymentStatus(
      { name: 'st', namespace: ns, body: { metadata: { labels: { sneaky: 'x' } }, status: { availableReplicas: 1 } } },
      patchAs(PatchStrategy.MergePatch),
    );
    assert.equal(lab.metadata!.labels!.sneaky, undefined);
    assert.equal(lab.status!.availableReplicas, 1);
    // PUT main resource with a status change: status ignored, spec taken.
    const main = await c.apps.readNamespacedDeployment({ name: 'st', namespace: ns });
    main.spec!.replicas = 3;
    main.status = { replicas: 42 };
    const afterMain = await c.apps.replaceNamespacedDeployment({ name: 'st', namespace: ns, body: main });
    assert.equal(afterMain.spec!.replicas, 3);
    assert.equal(afterMain.status!.replicas, 1);
    assert.equal(afterMain.status!.readyReplicas, 1);
    assert.equal(afterMain.metadata!.generation, 2);
    // A merge patch of status on the main resource: ignored.
    const p = await c.apps.patchNamespacedDeployment({ name: 'st', namespace: ns, body: { status: { replicas: 5 } } }, patchAs(PatchStrategy.MergePatch));
    assert.equal(p.status!.replicas, 1);
    assert.equal(p.metadata!.resourceVersion, afterMain.metadata!.resourceVersion, 'a no-op write does not bump resourceVersion');
    // Status of a missing object: 404.
    await apiError(c.apps.readNamespacedDeploymentStatus({ name: 'nope', namespace: ns }), 404, 'NotFound');
  });

  test('scale subresource: deployments, replicasets, statefulsets', async () => {
    const labels = (n: string) => ({ app: n });
    const tmpl = (n: string) => ({ metadata: { labels: labels(n) }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } });
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('sc-d') });
    await c.apps.createNamespacedReplicaSet({ namespace: ns, body: { metadata: { name: 'sc-rs' }, spec: { replicas: 1, selector: { matchLabels: labels('sc-rs') }, template: tmpl('sc-rs') } } });
    await c.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: { metadata: { name: 'sc-ss' }, spec: { replicas: 1, serviceName: 'sc-ss', selector: { matchLabels: labels('sc-ss') }, template: tmpl('sc-ss') } },
    });

    // Deployment: GET, PUT, PATCH (merge and JSON).
    const s = await c.apps.readNamespacedDeploymentScale({ name: 'sc-d', namespace: ns });
    assert.equal(s.kind, 'Scale');
    assert.equal(s.apiVersion, 'autoscaling/v1');
    assert.equal(s.spec!.replicas, 1);
    assert.equal(s.status!.replicas, 0);
    assert.equal(s.status!.selector, 'app=sc-d');
    s.spec!.replicas = 4;
    const put = await c.apps.replaceNamespacedDeploymentScale({ name: 'sc-d', namespace: ns, body: s });
    assert.equal(put.spec!.replicas, 4);
    const d = await c.apps.readNamespacedDeployment({ name: 'sc-d', namespace: ns });
    assert.equal(d.spec!.replicas, 4);
    assert.equal(d.metadata!.generation, 2);
    assert.equal(put.metadata!.resourceVersion, d.metadata!.resourceVersion);
    // Stale resourceVersion on PUT /scale: 409.
    await apiError(c.apps.replaceNamespacedDeploymentScale({ name: 'sc-d', namespace: ns, body: s }), 409, 'Conflict');
    const mp = await c.apps.patchNamespacedDeploymentScale({ name: 'sc-d', namespace: ns, body: { spec: { replicas: 2 } } }, patchAs(PatchStrategy.MergePatch));
    assert.equal(mp.spec!.replicas, 2);
    const jp = await c.apps.patchNamespacedDeploymentScale({ name: 'sc-d', namespace: ns, body: [{ op: 'replace', path: '/spec/replicas', value: 5 }] });
    assert.equal(jp.spec!.replicas, 5);
    assert.equal((await c.apps.readNamespacedDeployment({ name: 'sc-d', namespace: ns })).spec!.replicas, 5);
    // Negative replicas: 422 on spec.replicas.
    const neg = await apiError(
      c.apps.patchNamespacedDeploymentScale({ name: 'sc-d', namespace: ns, body: { spec: { replicas: -1 } } }, patchAs(PatchStrategy.MergePatch)),
      422,
      'Invalid',
    );
    assert.deepEqual(neg.details?.causes?.map((x) => x.field), ['spec.replicas']);
    await apiError(c.apps.readNamespacedDeploymentScale({ name: 'nope', namespace: ns }), 404, 'NotFound');

    // ReplicaSet.
    const rs = await c.apps.readNamespacedReplicaSetScale({ name: 'sc-rs', namespace: ns });
    assert.equal(rs.spec!.replicas, 1);
    assert.equal(rs.status!.selector, 'app=sc-rs');
    rs.spec!.replicas = 3;
    assert.equal((await c.apps.replaceNamespacedReplicaSetScale({ name: 'sc-rs', namespace: ns, body: rs })).spec!.replicas, 3);
    await c.apps.patchNamespacedReplicaSetScale({ name: 'sc-rs', namespace: ns, body: { spec: { replicas: 0 } } }, patchAs(PatchStrategy.MergePatch));
    assert.equal((await c.apps.readNamespacedReplicaSet({ name: 'sc-rs', namespace: ns })).spec!.replicas, 0);

    // StatefulSet.
    const ss = await c.apps.readNamespacedStatefulSetScale({ name: 'sc-ss', namespace: ns });
    assert.equal(ss.spec!.replicas, 1);
    ss.spec!.replicas = 6;
    assert.equal((await c.apps.replaceNamespacedStatefulSetScale({ name: 'sc-ss', namespace: ns, body: ss })).spec!.replicas, 6);
    await c.apps.patchNamespacedStatefulSetScale({ name: 'sc-ss', namespace: ns, body: { spec: { replicas: 2 } } }, patchAs(PatchStrategy.StrategicMergePatch));
    assert.equal((await c.apps.readNamespacedStatefulSet({ name: 'sc-ss', namespace: ns })).spec!.replicas, 2);
  });

  test('scale subresource on a custom resource', async () => {
    await c.objects.create({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.scale.example.com' },
      spec: {
        group: 'scale.example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { size: { type: 'integer' }, sel: { type: 'string' } } },
                  status: { type: 'object', properties: { count: { type: 'integer' }, selector: { type: 'string' } } },
                },
              },
            },
            subresources: { status: {}, scale: { specReplicasPath: '.spec.size', statusReplicasPath: '.status.count', labelSelectorPath: '.status.selector' } },
          },
        ],
      },
    } as KubernetesObject);
    const path = `/apis/scale.example.com/v1/namespaces/${ns}/widgets`;
    // Wait until the kind is served.
    await until(async () => (await raw(c.kc, 'GET', path)).status === 200, 'the CRD to be served');
    await c.custom.createNamespacedCustomObject({
      group: 'scale.example.com',
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      body: { apiVersion: 'scale.example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 2 } },
    });
    await c.custom.patchNamespacedCustomObjectStatus(
      { group: 'scale.example.com', version: 'v1', namespace: ns, plural: 'widgets', name: 'w', body: { status: { count: 1, selector: 'app=w' } } },
      patchAs(PatchStrategy.MergePatch),
    );
    const sc = (await c.custom.getNamespacedCustomObjectScale({ group: 'scale.example.com', version: 'v1', namespace: ns, plural: 'widgets', name: 'w' })) as {
      kind: string;
      spec: { replicas: number };
      status: { replicas: number; selector?: string };
      metadata: { resourceVersion: string };
    };
    assert.equal(sc.kind, 'Scale');
    assert.equal(sc.spec.replicas, 2);
    assert.equal(sc.status.replicas, 1);
    assert.equal(sc.status.selector, 'app=w');
    const put = (await c.custom.replaceNamespacedCustomObjectScale({
      group: 'scale.example.com',
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      name: 'w',
      body: { ...sc, spec: { replicas: 5 } },
    })) as { spec: { replicas: number } };
    assert.equal(put.spec.replicas, 5);
    await c.custom.patchNamespacedCustomObjectScale(
      { group: 'scale.example.com', version: 'v1', namespace: ns, plural: 'widgets', name: 'w', body: { spec: { replicas: 7 } } },
      patchAs(PatchStrategy.MergePatch),
    );
    const w = (await c.custom.getNamespacedCustomObject({ group: 'scale.example.com', version: 'v1', namespace: ns, plural: 'widgets', name: 'w' })) as {
      spec: { size: number };
      metadata: { generation: number };
    };
    assert.equal(w.spec.size, 7);
    assert.equal(w.metadata.generation, 3);
    // Strategic merge patch on a custom resource: 415.
    await apiError(
      c.custom.patchNamespacedCustomObject(
        { group: 'scale.example.com', version: 'v1', namespace: ns, plural: 'widgets', name: 'w', body: { spec: { size: 1 } } },
        patchAs(PatchStrategy.StrategicMergePatch),
      ),
      415,
      'UnsupportedMediaType',
    );
  });
});
