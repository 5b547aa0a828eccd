/**
 * Where each client-node model class lives upstream. Client-node names classes by version only
 * (V1Pod, V1DeploymentSpec), so the group is lost; upstream's OpenAPI names components by Go
 * package (`io.k8s.api.apps.v1.DeploymentSpec`). This table restores the package.
 */

/** Short package aliases used in Cairn's tables, to their full upstream OpenAPI prefixes. */
const PACKAGE_PREFIX: Record<string, string> = {
  'meta.v1': 'io.k8s.apimachinery.pkg.apis.meta.v1',
  'apiextensions.v1': 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1',
};

/** Expands a table key like `core.v1.PodSpec` to `io.k8s.api.core.v1.PodSpec`. */
export function upstreamName(shortName: string): string {
  const i = shortName.lastIndexOf('.');
  const pkg = shortName.slice(0, i);
  return `${PACKAGE_PREFIX[pkg] ?? `io.k8s.api.${pkg}`}.${shortName.slice(i + 1)}`;
}

/**
 * Unprefixed `V1*` classes that are not core/v1, by package. Everything else named `V1*` is core/v1.
 * Only types reachable from the kinds Cairn serves need to be here.
 */
const V1_CLASSES_BY_PACKAGE: Record<string, string[]> = {
  'meta.v1': [
    'ObjectMeta', 'ListMeta', 'ManagedFieldsEntry', 'OwnerReference', 'LabelSelector', 'LabelSelectorRequirement',
    'Condition', 'Status', 'StatusDetails', 'StatusCause', 'DeleteOptions', 'Preconditions', 'WatchEvent',
    'APIResourceList', 'APIResource', 'APIGroupList', 'APIGroup', 'GroupVersionForDiscovery', 'ServerAddressByClientCIDR',
    'APIVersions',
  ],
  'apps.v1': [
    'Deployment', 'DeploymentList', 'DeploymentSpec', 'DeploymentStrategy', 'RollingUpdateDeployment', 'DeploymentStatus',
    'DeploymentCondition', 'ReplicaSet', 'ReplicaSetList', 'ReplicaSetSpec', 'ReplicaSetStatus', 'ReplicaSetCondition',
    'DaemonSet', 'DaemonSetList', 'DaemonSetSpec', 'DaemonSetUpdateStrategy', 'RollingUpdateDaemonSet', 'DaemonSetStatus',
    'DaemonSetCondition', 'StatefulSet', 'StatefulSetList', 'StatefulSetSpec', 'StatefulSetOrdinals',
    'StatefulSetPersistentVolumeClaimRetentionPolicy', 'StatefulSetUpdateStrategy', 'RollingUpdateStatefulSetStrategy',
    'StatefulSetStatus', 'StatefulSetCondition', 'ControllerRevision', 'ControllerRevisionList',
  ],
  'batch.v1': [
    'Job', 'JobList', 'JobSpec', 'PodFailurePolicy', 'PodFailurePolicyRule', 'PodFailurePolicyOnExitCodesRequirement',
    'PodFailurePolicyOnPodConditionsPattern', 'SuccessPolicy', 'SuccessPolicyRule', 'JobStatus', 'JobCondition',
    'UncountedTerminatedPods', 'CronJob', 'CronJobList', 'CronJobSpec', 'JobTemplateSpec', 'CronJobStatus',
  ],
  'networking.v1': [
    'Ingress', 'IngressList', 'IngressSpec', 'IngressBackend', 'IngressServiceBackend', 'ServiceBackendPort', 'IngressRule',
    'HTTPIngressRuleValue', 'HTTPIngressPath', 'IngressTLS', 'IngressStatus', 'IngressLoadBalancerStatus',
    'IngressLoadBalancerIngress', 'IngressPortStatus', 'IngressClass', 'IngressClassList', 'IngressClassSpec',
    'IngressClassParametersReference', 'NetworkPolicy', 'NetworkPolicyList', 'NetworkPolicySpec', 'NetworkPolicyEgressRule',
    'NetworkPolicyPort', 'NetworkPolicyPeer', 'IPBlock', 'NetworkPolicyIngressRule',
  ],
  'storage.v1': ['StorageClass', 'StorageClassList', 'CSIDriver', 'CSIDriverList', 'CSIDriverSpec', 'CSIStorageCapacity', 'CSIStorageCapacityList'],
  'discovery.v1': ['EndpointSlice', 'EndpointSliceList', 'Endpoint', 'EndpointConditions', 'EndpointHints', 'ForNode', 'ForZone'],
  'coordination.v1': ['Lease', 'LeaseList', 'LeaseSpec'],
  'rbac.v1': [
    'Role', 'RoleList', 'PolicyRule', 'ClusterRole', 'ClusterRoleList', 'AggregationRule', 'RoleBinding', 'RoleBindingList',
    'RoleRef', 'ClusterRoleBinding', 'ClusterRoleBindingList',
  ],
  'apiextensions.v1': [
    'CustomResourceDefinition', 'CustomResourceDefinitionList', 'CustomResourceDefinitionSpec', 'CustomResourceConversion',
    'WebhookConversion', 'CustomResourceDefinitionNames', 'CustomResourceDefinitionVersion', 'CustomResourceColumnDefinition',
    'CustomResourceValidation', 'JSONSchemaProps', 'ExternalDocumentation', 'ValidationRule', 'SelectableField',
    'CustomResourceSubresources', 'CustomResourceSubresourceScale', 'CustomResourceDefinitionStatus',
    'CustomResourceDefinitionCondition',
  ],
  'autoscaling.v1': ['Scale', 'ScaleSpec', 'ScaleStatus'],
  'authentication.v1': ['TokenRequestSpec', 'TokenRequestStatus', 'BoundObjectReference'],
  'policy.v1': ['Eviction'],
};

const V1_PACKAGE = new Map<string, string>();
for (const [pkg, names] of Object.entries(V1_CLASSES_BY_PACKAGE)) for (const n of names) V1_PACKAGE.set(n, pkg);

/**
 * The upstream component name of a client-node model class, e.g. `V1PodSpec` →
 * `io.k8s.api.core.v1.PodSpec`, `RbacV1Subject` → `io.k8s.api.rbac.v1.Subject`. Group-prefixed
 * classes (client-node's way to disambiguate same-named types) carry their package in the prefix.
 */
export function upstreamNameOfModel(cls: string): string {
  const prefixed = /^([A-Z][a-z]+)V1([A-Z]\w*)$/.exec(cls);
  if (prefixed) return upstreamName(`${prefixed[1].toLowerCase()}.v1.${prefixed[2]}`);
  const v1 = /^V1([A-Z]\w*)$/.exec(cls);
  if (!v1) throw new Error(`no upstream package known for model class ${cls}`);
  return upstreamName(`${V1_PACKAGE.get(v1[1]) ?? 'core.v1'}.${v1[1]}`);
}

/** The inverse of upstreamName: `io.k8s.api.core.v1.PodSpec` → `core.v1.PodSpec`. */
export function shortNameOf(full: string): string {
  for (const [alias, prefix] of Object.entries(PACKAGE_PREFIX)) if (full.startsWith(`${prefix}.`)) return `${alias}${full.slice(prefix.length)}`;
  return full.startsWith('io.k8s.api.') ? full.slice('io.k8s.api.'.length) : full;
}
