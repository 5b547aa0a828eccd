/**
 * CustomResourceDefinitions every Cairn cluster serves from its first start: the
 * snapshot.storage.k8s.io kinds (which upstream clusters get from their distribution's addon
 * manifests) and the KubeVirt, CDI and Multus kinds of the virtualization API. Made before CRD
 * serving starts so the kinds are served at once; an existing CRD whose spec differs is brought
 * to this server's version, as an addon manager would.
 */
import { SNAPSHOT_CRDS } from '../storage/snapshot-crds.js';
import { VIRT_CRDS } from '../virt/api/crds.js';
import { deepEqual, type KubeObject } from '../util/object.js';
import type { ApiServer } from './api-server.js';
import { SYSTEM_USER } from './bootstrap.js';
import { ApiError } from './errors.js';

export const BUILTIN_CRDS: KubeObject[] = [...SNAPSHOT_CRDS, ...VIRT_CRDS];

export async function bootstrapCrds(api: ApiServer, crds: KubeObject[] = BUILTIN_CRDS): Promise<void> {
  const kind = api.catalog.byPlural('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  const ctx = () => ({ user: SYSTEM_USER, now: new Date(), dryRun: false, fieldManager: 'cairn-apiserver', fieldValidation: 'Ignore' as const, warnings: [] });
  for (const crd of crds) {
    const name = crd.metadata.name!;
    try {
      await api.registry.create(kind, undefined, crd, ctx());
      continue;
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    }
    const current = await api.registry.get(kind, undefined, name);
    // Compared field by field: the server defaults fields this definition leaves out.
    const spec = current.spec as Record<string, unknown>;
    if (Object.entries(crd.spec as Record<string, unknown>).every(([k, v]) => deepEqual(spec[k], v))) continue;
    try {
      await api.registry.update(kind, undefined, name, { ...current, spec: crd.spec }, ctx());
    } catch (e) {
      // Another server on the same etcd updated it first.
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    }
  }
}
