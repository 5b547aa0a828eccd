/**
 * ServiceAccount admission and the root CA publisher, through the API as a client sees them:
 * pods get the `kube-api-access-*` projected volume and its read-only mounts (unless
 * automountServiceAccountToken says no, on the pod or the account), the account's pull secrets,
 * and every namespace gets a `kube-root-ca.crt` ConfigMap with the cluster CA, put back when
 * deleted or edited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { apiError, clientsFor, randomSuffix, until, type Clients } from '../support/client-node.js';
import { startTestServer, testStore, type TestServer } from '../support/server.js';

const MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const run = randomSuffix();
const ns = `cairn-sa-${run}`;

let server: TestServer;
let c: Clients;
/** The generated client returns class instances; compare their JSON. */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

const podBody = (name: string, spec: Partial<NonNullable<V1Pod['spec']>> = {}, annotations?: Record<string, string>): V1Pod => ({
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'app', image: 'busybox' }], ...spec },
});

describe(`ServiceAccount admission and kube-root-ca.crt (${testStore()})`, () => {
  before(async () => {
    server = await startTestServer();
    c = clientsFor(server);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
    // The serviceaccount controller makes `default`; wait so the account's settings are what admission sees.
    await until(() => c.core.readNamespacedServiceAccount({ name: 'default', namespace: ns }).catch(() => undefined), 'default service account');
  });
  after(async () => {
    await server?.stop();
  });

  test('a pod gets the token volume and a read-only mount in every container', async () => {
    const pod = await c.core.createNamespacedPod({
      namespace: ns,
      body: podBody('web', {
        initContainers: [{ name: 'init', image: 'busybox' }],
        containers: [
          { name: 'app', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] },
          { name: 'own', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: MOUNT }] },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      }),
    });
    const spec = pod.spec!;
    assert.equal(spec.serviceAccountName, 'default');
    assert.equal(spec.serviceAccount, 'default', 'the deprecated alias follows');
    assert.equal(spec.volumes!.length, 2);
    const vol = spec.volumes![1];
    assert.match(vol.name, /^kube-api-access-[a-z0-9]{5}$/);
    assert.deepEqual(plain(vol.projected), {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' }] } },
      ],
    });
    const tokenMount = { mountPath: MOUNT, name: vol.name, readOnly: true };
    assert.deepEqual(plain(spec.initContainers![0].volumeMounts), [tokenMount]);
    assert.deepEqual(plain(spec.containers[0].volumeMounts), [{ mountPath: '/data', name: 'data' }, tokenMount]);
    // A container that already mounts something at the path keeps it.
    assert.deepEqual(plain(spec.containers[1].volumeMounts), [{ mountPath: MOUNT, name: 'data' }]);
    // Stored that way: a read returns the same.
    const read = await c.core.readNamespacedPod({ name: 'web', namespace: ns });
    assert.deepEqual(read.spec!.volumes!.map((v) => v.name), ['data', vol.name]);
  });

  test('automountServiceAccountToken: false on the pod, or on the account unless the pod says true', async () => {
    const off = await c.core.createNamespacedPod({ namespace: ns, body: podBody('off', { automountServiceAccountToken: false }) });
    assert.equal(off.spec!.serviceAccountName, 'default');
    assert.equal(off.spec!.volumes, undefined);
    assert.equal(off.spec!.containers[0].volumeMounts, undefined);

    await c.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'quiet' }, automountServiceAccountToken: false, imagePullSecrets: [{ name: 'regcred' }] } });
    const quiet = await c.core.createNamespacedPod({ namespace: ns, body: podBody('quiet', { serviceAccountName: 'quiet' }) });
    assert.equal(quiet.spec!.volumes, undefined);
    assert.deepEqual(plain(quiet.spec!.imagePullSecrets), [{ name: 'regcred' }]);

    const loud = await c.core.createNamespacedPod({ namespace: ns, body: podBody('loud', { serviceAccountName: 'quiet', automountServiceAccountToken: true, imagePullSecrets: [{ name: 'mine' }] }) });
    assert.match(loud.spec!.volumes![0].name, /^kube-api-access-/);
    assert.deepEqual(plain(loud.spec!.imagePullSecrets), [{ name: 'mine' }]);
  });

  test('mirror pods are left alone and may not name a service account', async () => {
    const mirror = { 'kubernetes.io/config.mirror': 'abc' };
    const m = await c.core.createNamespacedPod({ namespace: ns, body: podBody('mirror', {}, mirror) });
    assert.equal(m.spec!.serviceAccountName, undefined);
    assert.equal(m.spec!.volumes, undefined);
    const err = await apiError(c.core.createNamespacedPod({ namespace: ns, body: podBody('mirror-sa', { serviceAccountName: 'default' }, mirror) }), 403, 'Forbidden');
    assert.equal(err.message, 'pods "mirror-sa" is forbidden: a mirror pod may not reference service accounts');
  });

  test('every namespace gets kube-root-ca.crt with the cluster CA, restored after deletion or edits', async () => {
    const caPem = server.server.pki.ca.certPem;
    const fresh = `cairn-ca-${run}`;
    await c.core.createNamespace({ body: { metadata: { name: fresh } } });
    try {
      const read = () => c.core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: fresh }).catch(() => undefined);
      const cm = await until(read, 'kube-root-ca.crt in a new namespace');
      assert.deepEqual(plain(cm.data), { 'ca.crt': caPem });
      assert.match(cm.metadata!.annotations!['kubernetes.io/description'], /^Contains a CA bundle that can be used to verify the kube-apiserver/);
      // The bootstrap namespaces have it too.
      for (const n of ['default', 'kube-system']) await until(() => c.core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: n }).catch(() => undefined), `kube-root-ca.crt in ${n}`);

      await c.core.deleteNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: fresh });
      const again = await until(async () => {
        const got = await read();
        return got && got.metadata!.uid !== cm.metadata!.uid ? got : undefined;
      }, 'kube-root-ca.crt recreated');
      assert.deepEqual(plain(again.data), { 'ca.crt': caPem });

      await c.core.replaceNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: fresh, body: { ...again, data: { 'ca.crt': 'tampered', extra: 'x' } } });
      await until(async () => {
        const got = await read();
        return got?.data?.['ca.crt'] === caPem && Object.keys(got.data).length === 1;
      }, 'kube-root-ca.crt restored');
    } finally {
      await c.core.deleteNamespace({ name: fresh });
    }
  });
});
