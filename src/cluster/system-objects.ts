/**
 * The objects every `cairn up` cluster has beyond what the API server bootstraps itself, made
 * (or brought back) with the admin credentials once the nodes are Ready. Idempotent: an object
 * that exists is updated to the wanted spec, one a user deleted is made again on the next `up`.
 *
 * - kube-system/kube-dns: the cluster DNS Service at 10.96.0.10 (what kubeadm makes for
 *   CoreDNS: no selector, ports dns 53/UDP, dns-tcp 53/TCP, metrics 9153/TCP) and its Endpoints
 *   pointing at `cairn dns` on the host bridge address (the mirroring controller makes the slice).
 * - IngressClass `cairn`: the default class, served by the Ingress controller in every agent.
 * - StorageClass `local`: the default class, `cairn.io/local` volumes on the nodes' disks
 *   (WaitForFirstConsumer, expandable), and the CSIDriver of its driver with storageCapacity, so
 *   the scheduler places claims by the capacity each node's agent publishes.
 * - The common cluster instancetypes (u1.*, o1.*, cx1.*, m1.*) and preferences (fedora,
 *   ubuntu, windows.11, ...) that KubeVirt manifests name.
 * - The namespace `kubevirt` and the KubeVirt CR `kubevirt` in it, when the cluster has no
 *   KubeVirt CR (only one is allowed, and a user's edits to it are never applied over).
 */
import type { Client, ResourceRef } from '../client/index.js';
import { ENDPOINTS, SERVICES } from '../controllers/util/service-endpoints.js';
import { INGRESS_CLASSES } from '../ingress/ingress-api.js';
import { cairnIngressClass } from '../ingress/ingress-class.js';
import type { KubeObject } from '../util/object.js';
import { CSI_DRIVERS, STORAGE_CLASSES } from '../storage/api.js';
import { DEFAULT_LOCAL_CLASS, LOCAL_DRIVER_NAME, LOCAL_PROVISIONER } from '../storage/names.js';
import { COMMON_INSTANCETYPE_OBJECTS } from '../virt/api/common-instancetypes.js';
import { defaultKubeVirt, KUBEVIRT_NAMESPACE, KUBEVIRTS } from '../virt/api/kubevirt-cr.js';
import { NAMESPACES } from '../controllers/namespace.js';
import type { ClusterLayout } from './layout.js';

/** The cluster DNS address every agent writes into pods' resolv.conf (the agent's --cluster-dns default). */
export const CLUSTER_DNS_IP = '10.96.0.10';
/** Where `cairn dns` serves /metrics: the kube-dns Service's metrics port. */
export const DNS_METRICS_PORT = 9153;
const FIELD_MANAGER = 'cairn-up';

const DNS_PORTS = [
  { name: 'dns', port: 53, protocol: 'UDP' },
  { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  { name: 'metrics', port: DNS_METRICS_PORT, protocol: 'TCP' },
];

/** Server-side apply: creates the object or brings the fields this manager owns back to `obj`. */
async function apply(client: Client, ref: ResourceRef, obj: KubeObject): Promise<void> {
  await client.resource(ref).patch(obj.metadata.name!, obj, 'apply', { namespace: obj.metadata.namespace, fieldManager: FIELD_MANAGER, force: true });
}

function kubeDnsService(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    spec: { type: 'ClusterIP', clusterIP: CLUSTER_DNS_IP, clusterIPs: [CLUSTER_DNS_IP], ports: DNS_PORTS.map((p) => ({ ...p, targetPort: p.port })) },
  };
}

function kubeDnsEndpoints(layout: ClusterLayout): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    subsets: [{ addresses: [{ ip: layout.lab.hostIP }], ports: DNS_PORTS }],
  } as KubeObject;
}

function localStorageClass(): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: DEFAULT_LOCAL_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: LOCAL_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    allowVolumeExpansion: true,
  } as KubeObject;
}

function localCsiDriver(): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSIDriver',
    metadata: { name: LOCAL_DRIVER_NAME },
    spec: { attachRequired: false, podInfoOnMount: false, storageCapacity: true, fsGroupPolicy: 'ReadWriteOnceWithFSType', volumeLifecycleModes: ['Persistent'] },
  };
}

export async function ensureSystemObjects(client: Client, layout: ClusterLayout): Promise<void> {
  await apply(client, SERVICES, kubeDnsService());
  await apply(client, ENDPOINTS, kubeDnsEndpoints(layout));
  await apply(client, INGRESS_CLASSES, cairnIngressClass());
  await apply(client, CSI_DRIVERS, localCsiDriver());
  await apply(client, STORAGE_CLASSES, localStorageClass());
  await Promise.all(COMMON_INSTANCETYPE_OBJECTS.map(({ ref, obj }) => apply(client, ref, obj)));
  await apply(client, NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: KUBEVIRT_NAMESPACE } });
  if (!(await client.resource(KUBEVIRTS).list()).items.length) await client.resource(KUBEVIRTS).create(defaultKubeVirt(), { namespace: KUBEVIRT_NAMESPACE });
}
