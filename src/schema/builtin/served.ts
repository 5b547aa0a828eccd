/**
 * The built-in kinds whose schemas Cairn publishes, with the client-node model class each is
 * generated from. Kept here so the schema build does not depend on the kind registry (which
 * reads its schema names from this module's output).
 */
export interface BuiltinKindModel {
  group: string;
  version: string;
  kind: string;
  /** Client-node model class of the kind; its List is `<class>List`. */
  model: string;
  /** Served as a subresource or request body only: no List type. */
  noList?: boolean;
}

const k = (group: string, version: string, kind: string, model = `V1${kind}`, noList = false): BuiltinKindModel => ({
  group,
  version,
  kind,
  model,
  ...(noList ? { noList } : {}),
});

export const BUILTIN_KIND_MODELS: BuiltinKindModel[] = [
  ...['Namespace', 'Pod', 'Service', 'Endpoints', 'ConfigMap', 'Secret', 'Node', 'ServiceAccount', 'PersistentVolume',
    'PersistentVolumeClaim', 'ResourceQuota', 'LimitRange', 'PodTemplate'].map((kind) => k('', 'v1', kind)),
  k('', 'v1', 'Event', 'CoreV1Event'),
  ...['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet', 'ControllerRevision'].map((kind) => k('apps', 'v1', kind)),
  k('batch', 'v1', 'Job'),
  k('batch', 'v1', 'CronJob'),
  ...['Ingress', 'IngressClass', 'NetworkPolicy'].map((kind) => k('networking.k8s.io', 'v1', kind)),
  ...['StorageClass', 'CSIDriver', 'CSIStorageCapacity'].map((kind) => k('storage.k8s.io', 'v1', kind)),
  k('discovery.k8s.io', 'v1', 'EndpointSlice'),
  k('coordination.k8s.io', 'v1', 'Lease'),
  k('events.k8s.io', 'v1', 'Event', 'EventsV1Event'),
  ...['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].map((kind) => k('rbac.authorization.k8s.io', 'v1', kind)),
  k('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition'),
  // Subresource bodies.
  k('autoscaling', 'v1', 'Scale', 'V1Scale', true),
  k('authentication.k8s.io', 'v1', 'TokenRequest', 'AuthenticationV1TokenRequest', true),
  k('policy', 'v1', 'Eviction', 'V1Eviction', true),
];

/** meta/v1 types served from every group-version (request options, errors, watch frames). */
export const META_MODELS = ['V1Status', 'V1DeleteOptions', 'V1WatchEvent', 'V1APIResourceList', 'V1APIGroupList', 'V1APIGroup', 'V1APIVersions'];
