/**
 * The garbage collector through the API, as a user sees it: Background, Foreground and Orphan
 * propagation, several owners, and an owner deleted while no collector was running.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, InProcessTransport, isNotFound, type ResourceRef } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, createNamespace, until } from '../support/workloads.js';

const CM: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
const NS = 'gc-test';

let server: TestServer;
let client: Client;
let dataDir: string;

const cms = () => client.resource(CM);
const gone = async (name: string) => {
  try {
    await cms().get(name, NS);
    return false;
  } catch (e) {
    if (isNotFound(e)) return true;
    throw e;
  }
};

async function owner(name: string): Promise<KubeObject> {
  return cms().create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS } });
}

async function dependent(name: string, owners: KubeObject[], extra: Partial<KubeObject['metadata']> = {}): Promise<KubeObject> {
  return cms().create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: NS,
      ...extra,
      ownerReferences: owners.map((o) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name!, uid: o.metadata.uid!, blockOwnerDeletion: true })),
    },
  });
}

async function start(controllers: boolean) {
  server = await startTestServer({ dataDir, server: { controllers } });
  client = new Client(new InProcessTransport(server.handler, ADMIN));
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cairn-gc-'));
  await start(true);
  await createNamespace(client, NS);
});
after(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('garbage collector', () => {
  it('Background: dependents go after their owner', async () => {
    const o = await owner('bg-owner');
    await dependent('bg-dep', [o]);
    await cms().delete('bg-owner', { namespace: NS, propagationPolicy: 'Background' });
    assert.ok(await gone('bg-owner'), 'the owner goes at once');
    await until('dependent collected', () => gone('bg-dep'));
  });

  it('Foreground: the owner waits, marked, until its blocking dependents are gone', async () => {
    const o = await owner('fg-owner');
    // A finalizer holds the dependent, so the owner's wait can be seen.
    await dependent('fg-dep', [o], { finalizers: ['test.cairn.io/hold'] });
    await cms().delete('fg-owner', { namespace: NS, propagationPolicy: 'Foreground' });
    const marked = await cms().get('fg-owner', NS);
    assert.ok(marked.metadata.deletionTimestamp, 'owner is marked for deletion');
    assert.deepEqual(marked.metadata.finalizers, ['foregroundDeletion']);
    await until('dependent marked for deletion', async () => !!(await cms().get('fg-dep', NS)).metadata.deletionTimestamp);
    assert.equal(await gone('fg-owner'), false, 'owner still waits for the dependent');
    const dep = await cms().get('fg-dep', NS);
    await cms().update({ ...dep, metadata: { ...dep.metadata, finalizers: [] } });
    await until('dependent gone', () => gone('fg-dep'));
    await until('owner gone after its dependents', () => gone('fg-owner'));
  });

  it('Orphan: dependents stay, without the reference to their deleted owner', async () => {
    const o = await owner('or-owner');
    const keep = await owner('or-other');
    await dependent('or-dep', [o, keep]);
    await cms().delete('or-owner', { namespace: NS, propagationPolicy: 'Orphan' });
    await until('owner gone', () => gone('or-owner'));
    const dep = await cms().get('or-dep', NS);
    assert.deepEqual(
      dep.metadata.ownerReferences?.map((r) => r.name),
      ['or-other'],
    );
  });

  it('a dependent with another live owner stays; the dangling reference is removed', async () => {
    const a = await owner('multi-a');
    const b = await owner('multi-b');
    await dependent('multi-dep', [a, b]);
    await cms().delete('multi-a', { namespace: NS });
    await until('dangling reference removed', async () => (await cms().get('multi-dep', NS)).metadata.ownerReferences?.length === 1);
    assert.equal((await cms().get('multi-dep', NS)).metadata.ownerReferences?.[0].name, 'multi-b');
    await cms().delete('multi-b', { namespace: NS });
    await until('dependent collected with its last owner', () => gone('multi-dep'));
  });

  it('an owner deleted while no collector runs: its dependents go once one starts', async () => {
    await server.stop();
    await start(false);
    const o = await owner('down-owner');
    await dependent('down-dep', [o]);
    await cms().delete('down-owner', { namespace: NS });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await gone('down-dep'), false, 'without a collector the dependent stays');
    await server.stop();
    await start(true);
    await until('dependent collected after the collector started', () => gone('down-dep'));
  });
});
