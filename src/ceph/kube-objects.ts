/**
 * The Kubernetes objects that let users of the cluster use Ceph at once: the Secret the classes
 * name (ceph-csi's keys userID/userKey for the drivers' client, plus adminID/adminKey) and the
 * StorageClasses `ceph-rbd` and `cephfs`, with the parameters ceph-csi users know (clusterID is
 * the fsid) and `monitors`, Cairn's addition since it has no ceph-csi config map. Server-side
 * applied, so running `cairn ceph up` again brings back what a user changed or deleted.
 */
import type { Client, ResourceRef } from '../client/index.js';
import { SECRETS } from '../ingress/ingress-api.js';
import { STORAGE_CLASSES } from '../storage/api.js';
import type { KubeObject } from '../util/object.js';
import { FS_NAME, RBD_POOL } from './layout.js';

export const SECRET_NAME = 'cairn-ceph';
export const SECRET_NAMESPACE = 'kube-system';
export const RBD_CLASS = 'ceph-rbd';
export const CEPHFS_CLASS = 'cephfs';
export const RBD_PROVISIONER = 'cairn.io/ceph-rbd';
export const CEPHFS_PROVISIONER = 'cairn.io/cephfs';
const FIELD_MANAGER = 'cairn-ceph';

export interface CephCredentials {
  fsid: string;
  monitors: string[];
  user: { id: string; key: string };
  admin: { id: string; key: string };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function secret(c: CephCredentials): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET_NAME, namespace: SECRET_NAMESPACE },
    type: 'Opaque',
    data: { userID: b64(c.user.id), userKey: b64(c.user.key), adminID: b64(c.admin.id), adminKey: b64(c.admin.key) },
  } as KubeObject;
}

/** The csi.storage.k8s.io secret parameters, each stage pointing at the one Secret. */
function secretParameters(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const stage of ['provisioner', 'node-stage', 'controller-expand']) {
    out[`csi.storage.k8s.io/${stage}-secret-name`] = SECRET_NAME;
    out[`csi.storage.k8s.io/${stage}-secret-namespace`] = SECRET_NAMESPACE;
  }
  return out;
}

function storageClass(name: string, provisioner: string, parameters: Record<string, string>): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner,
    parameters: { ...parameters, ...secretParameters() },
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
    allowVolumeExpansion: true,
  } as KubeObject;
}

async function apply(client: Client, ref: ResourceRef, obj: KubeObject): Promise<void> {
  await client.resource(ref).patch(obj.metadata.name!, obj, 'apply', { namespace: obj.metadata.namespace, fieldManager: FIELD_MANAGER, force: true });
}

export async function ensureKubeObjects(client: Client, c: CephCredentials): Promise<void> {
  const common = { clusterID: c.fsid, monitors: c.monitors.join(',') };
  await apply(client, SECRETS, secret(c));
  await apply(client, STORAGE_CLASSES, storageClass(RBD_CLASS, RBD_PROVISIONER, { ...common, pool: RBD_POOL }));
  await apply(client, STORAGE_CLASSES, storageClass(CEPHFS_CLASS, CEPHFS_PROVISIONER, { ...common, fsName: FS_NAME }));
}
