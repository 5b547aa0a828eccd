/**
 * Objects every cluster has from its first start: the default, kube-system, kube-public and
 * kube-node-lease namespaces. Idempotent, so every server start (and every server on a shared
 * etcd) may run it.
 */
import type { ApiServer } from './api-server.js';
import { ApiError } from './errors.js';

export const SYSTEM_USER = { name: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };
export const BOOTSTRAP_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function bootstrapNamespaces(api: ApiServer): Promise<void> {
  const kind = api.catalog.byPlural('', 'v1', 'namespaces')!;
  for (const name of BOOTSTRAP_NAMESPACES) {
    try {
      await api.registry.create(kind, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {
        user: SYSTEM_USER,
        now: new Date(),
        dryRun: false,
        fieldManager: 'cairn-apiserver',
        fieldValidation: 'Ignore',
        warnings: [],
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    }
  }
}

/**
 * The `kubernetes` Service in `default` (first address of the service range, port 443) and its
 * Endpoints pointing at this API server, as every Kubernetes cluster has. Created when missing;
 * the endpoint follows the server's current address.
 */
/** The `kubernetes` Service's address: the first of the default service range 10.96.0.0/12. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

export async function bootstrapKubernetesService(api: ApiServer, advertise: { ip: string; port: number }, serviceIP = KUBERNETES_SERVICE_IP): Promise<void> {
  const ctx = {
    user: SYSTEM_USER,
    now: new Date(),
    dryRun: false,
    fieldManager: 'cairn-apiserver',
    fieldValidation: 'Ignore' as const,
    warnings: [],
  };
  const svcKind = api.catalog.byPlural('', 'v1', 'services')!;
  const epKind = api.catalog.byPlural('', 'v1', 'endpoints')!;
  const labels = { component: 'apiserver', provider: 'kubernetes' };
  // On a restart the Service exists and its address is allocated: a create would fail allocation first.
  const exists = await api.registry.get(svcKind, 'default', 'kubernetes').then(
    () => true,
    (e) => {
      if (e instanceof ApiError && e.code === 404) return false;
      throw e;
    },
  );
  if (!exists) try {
    await api.registry.create(svcKind, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels },
      spec: { type: 'ClusterIP', clusterIP: serviceIP, clusterIPs: [serviceIP], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: advertise.port }], sessionAffinity: 'None' },
    }, { ...ctx });
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 409)) throw e;
  }
  const endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: advertise.ip }], ports: [{ name: 'https', port: advertise.port, protocol: 'TCP' }] }],
  };
  // The slice too, as upstream's endpoint reconciler writes it (the Endpoints are not mirrored):
  // service proxies read slices.
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [advertise.ip], conditions: { ready: true } }],
    ports: [{ name: 'https', port: advertise.port, protocol: 'TCP' }],
  };
  const upsert = async (kind: NonNullable<typeof epKind>, obj: { metadata: { name: string; labels: Record<string, string> } }) => {
    try {
      const current = await api.registry.get(kind, 'default', obj.metadata.name);
      await api.registry.update(kind, 'default', obj.metadata.name, { ...obj, metadata: { ...current.metadata, labels: obj.metadata.labels } }, { ...ctx });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
      await api.registry.create(kind, 'default', obj, { ...ctx });
    }
  };
  await upsert(epKind, endpoints);
  // A loopback address is not a valid EndpointSlice address (a server on 127.0.0.1 alone has no
  // address pods could reach anyway): then there is no slice, as no proxy could use it.
  if (!advertise.ip.startsWith('127.')) await upsert(api.catalog.byPlural('discovery.k8s.io', 'v1', 'endpointslices')!, slice);
}
