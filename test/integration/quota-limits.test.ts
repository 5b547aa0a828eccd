/**
 * ResourceQuota and LimitRange at admission, and the resourcequota controller's status: object
 * counts and compute resources, upstream's refusal messages, pods without requests refused when
 * the quota tracks them, concurrent creates never overshooting, usage going down on delete, and
 * LimitRange defaults and min/max/ratio checks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { adminClient, createNamespace, podObject, R, refused, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let c: Client;

const quota = (ns: string, name: string, hard: Record<string, string>, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  metadata: { name, namespace: ns },
  spec: { hard, ...spec },
});
const statusOf = async (ns: string, name: string) => (await c.resource(R.resourcequotas).get(name, ns)).status as { hard?: Record<string, string>; used?: Record<string, string> };
const synced = (ns: string, name: string) =>
  waitFor(async () => {
    const st = await statusOf(ns, name);
    return st.hard && st.used && Object.keys(st.hard).every((k) => st.used![k] !== undefined) ? st : undefined;
  }, `quota ${name} status`);
const cm = (ns: string, name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { a: 'b' } } as KubeObject);

before(async () => {
  server = await startTestServer();
  c = adminClient(server);
});
after(async () => {
  await server?.stop();
});

/** Every namespace gets the kube-root-ca.crt ConfigMap (root CA publisher), which counts against quotas too. */
async function rootCaPublished(ns: string): Promise<void> {
  await waitFor(async () => (await c.resource(R.configmaps).list({ namespace: ns })).items.some((x) => x.metadata.name === 'kube-root-ca.crt'), 'kube-root-ca.crt published');
}

describe('ResourceQuota', () => {
  it('counts pods and refuses the one over the limit with upstream message', async () => {
    const ns = 'q-pods';
    await createNamespace(c, ns);
    await rootCaPublished(ns);
    await c.resource(R.resourcequotas).create(quota(ns, 'compute', { pods: '2', 'count/configmaps': '2' }));
    const st = await synced(ns, 'compute');
    assert.deepEqual(st.hard, { 'count/configmaps': '2', pods: '2' });
    assert.equal(st.used!.pods, '0');
    await c.resource(R.pods).create(podObject(ns, 'p1'));
    await c.resource(R.pods).create(podObject(ns, 'p2'));
    const err = await refused(c.resource(R.pods).create(podObject(ns, 'p3')), 403);
    assert.equal(err.reason, 'Forbidden');
    assert.equal(err.message, 'pods "p3" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2');
    assert.equal((await statusOf(ns, 'compute')).used!.pods, '2');

    await c.resource(R.configmaps).create(cm(ns, 'one'));
    const e2 = await refused(c.resource(R.configmaps).create(cm(ns, 'two')), 403);
    assert.equal(e2.message, 'configmaps "two" is forbidden: exceeded quota: compute, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2');

    // Deleting frees quota: the controller brings used down.
    await c.resource(R.pods).delete('p1', { namespace: ns, gracePeriodSeconds: 0 });
    await waitFor(async () => (await statusOf(ns, 'compute')).used!.pods === '1', 'used pods back to 1');
    await c.resource(R.pods).create(podObject(ns, 'p3'));
  });

  it('never overshoots under concurrent creates', async () => {
    const ns = 'q-race';
    await createNamespace(c, ns);
    await rootCaPublished(ns);
    await c.resource(R.resourcequotas).create(quota(ns, 'cms', { configmaps: '6' }));
    await synced(ns, 'cms');
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => c.resource(R.configmaps).create(cm(ns, `cm-${i}`))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
    const list = await c.resource(R.configmaps).list({ namespace: ns });
    assert.equal(list.items.filter((x) => x.metadata.name!.startsWith('cm-')).length, 5);
    assert.equal((await statusOf(ns, 'cms')).used!.configmaps, '6');
  });

  it('tracks compute resources and refuses pods that do not state what the quota counts', async () => {
    const ns = 'q-compute';
    await createNamespace(c, ns);
    await c.resource(R.resourcequotas).create(quota(ns, 'cpu', { 'requests.cpu': '1', 'limits.cpu': '2', 'requests.memory': '1Gi' }));
    await synced(ns, 'cpu');
    const none = await refused(c.resource(R.pods).create(podObject(ns, 'bare')), 403);
    assert.equal(none.message, 'pods "bare" is forbidden: failed quota: cpu: must specify limits.cpu,requests.cpu,requests.memory');
    const res = { requests: { cpu: '600m', memory: '512Mi' }, limits: { cpu: '1' } };
    await c.resource(R.pods).create(podObject(ns, 'one', { resources: res }));
    const st = (await statusOf(ns, 'cpu')).used!;
    assert.deepEqual([st['requests.cpu'], st['limits.cpu'], st['requests.memory']], ['600m', '1', '512Mi']);
    const over = await refused(c.resource(R.pods).create(podObject(ns, 'two', { resources: res })), 403);
    assert.equal(over.message, 'pods "two" is forbidden: exceeded quota: cpu, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1');
  });

  it('counts Deployments by count/deployments.apps', async () => {
    const ns = 'q-apps';
    await createNamespace(c, ns);
    await c.resource(R.resourcequotas).create(quota(ns, 'apps', { 'count/deployments.apps': '1' }));
    await synced(ns, 'apps');
    const dep = (name: string): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
    });
    await c.resource(R.deployments).create(dep('d1'));
    const e = await refused(c.resource(R.deployments).create(dep('d2')), 403);
    assert.match(e.message ?? '', /^deployments\.apps "d2" is forbidden: exceeded quota: apps, requested: count\/deployments\.apps=1, used: count\/deployments\.apps=1, limited: count\/deployments\.apps=1$/);
  });
});

describe('LimitRange', () => {
  it('defaults container requests and limits and enforces min, max and ratio', async () => {
    const ns = 'lr';
    await createNamespace(c, ns);
    await c.resource(R.limitranges).create({
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'limits', namespace: ns },
      spec: {
        limits: [
          { type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' }, max: { cpu: '1' }, min: { cpu: '50m' }, maxLimitRequestRatio: { cpu: '5' } },
          { type: 'PersistentVolumeClaim', max: { storage: '2Gi' } },
        ],
      },
    } as KubeObject);
    const p = await c.resource(R.pods).create(podObject(ns, 'defaulted'));
    const res = (p.spec as { containers: { resources: unknown }[] }).containers[0].resources;
    assert.deepEqual(res, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    assert.equal(p.metadata.annotations?.['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c');

    const big = await refused(c.resource(R.pods).create(podObject(ns, 'big', { resources: { limits: { cpu: '2' } } })), 403);
    assert.equal(big.message, 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2');
    const ratio = await refused(c.resource(R.pods).create(podObject(ns, 'ratio', { resources: { requests: { cpu: '100m' }, limits: { cpu: '1' } } })), 403);
    assert.equal(ratio.message, 'pods "ratio" is forbidden: cpu max limit to request ratio per Container is 5, but provided ratio is 10.000000');
    const small = await refused(c.resource(R.pods).create(podObject(ns, 'small', { resources: { requests: { cpu: '10m' }, limits: { cpu: '20m' } } })), 403);
    assert.equal(small.message, 'pods "small" is forbidden: minimum cpu usage per Container is 50m, but request is 10m');
    const pvc = await refused(
      c.resource(R.pvcs).create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'huge', namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } } }),
      403,
    );
    assert.equal(pvc.message, 'persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi');
  });
});
