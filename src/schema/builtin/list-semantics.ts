/**
 * How lists and maps of built-in types merge: the strategic-merge-patch tags
 * (`x-kubernetes-patch-strategy` / `-patch-merge-key`) and the server-side-apply tags
 * (`x-kubernetes-list-type` / `-list-map-keys` / `-map-type`), which client-node does not carry.
 *
 * Upstream marks every list of a built-in type; `atomic` (replace as a whole) is the rule, so
 * only the lists that merge differently are tabled here. List kinds' `items` are unmarked.
 */
import type { JSONSchema } from '../types.js';

type Ext = Pick<
  JSONSchema,
  'x-kubernetes-patch-strategy' | 'x-kubernetes-patch-merge-key' | 'x-kubernetes-list-type' | 'x-kubernetes-list-map-keys' | 'x-kubernetes-map-type'
>;

/** A list merged by key, both by strategic merge patch (first key) and by apply (all keys). */
const mergeByKeys = (...keys: string[]): Ext => ({
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': keys,
  'x-kubernetes-patch-strategy': 'merge',
  'x-kubernetes-patch-merge-key': keys[0],
});
/** Like mergeByKeys, and replacing a whole item's fields when its union member changes (volumes). */
const mergeRetainingKeys = (key: string): Ext => ({ ...mergeByKeys(key), 'x-kubernetes-patch-strategy': 'merge,retainKeys' });
/** Apply merges by key; strategic merge patch replaces. */
const applyMap = (...keys: string[]): Ext => ({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys });
const set: Ext = { 'x-kubernetes-list-type': 'set' };
const mergedSet: Ext = { 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge' };
/** Atomic for apply but merged by key in strategic merge patch (older fields kept for compatibility). */
const atomicButPatchMerged = (key: string): Ext => ({
  'x-kubernetes-list-type': 'atomic',
  'x-kubernetes-patch-strategy': 'merge',
  'x-kubernetes-patch-merge-key': key,
});
const conditions = mergeByKeys('type');
const containerLists = {
  env: mergeByKeys('name'),
  ports: mergeByKeys('containerPort', 'protocol'),
  volumeDevices: mergeByKeys('devicePath'),
  volumeMounts: mergeByKeys('mountPath'),
};

/** Per type (upstream short name), per field: the tags that differ from "atomic list". */
export const FIELD_SEMANTICS: Record<string, Record<string, Ext>> = {
  'meta.v1.ObjectMeta': { finalizers: mergedSet, ownerReferences: mergeByKeys('uid') },
  'core.v1.PodSpec': {
    containers: mergeByKeys('name'),
    initContainers: mergeByKeys('name'),
    ephemeralContainers: mergeByKeys('name'),
    imagePullSecrets: mergeByKeys('name'),
    hostAliases: mergeByKeys('ip'),
    schedulingGates: mergeByKeys('name'),
    topologySpreadConstraints: mergeByKeys('topologyKey', 'whenUnsatisfiable'),
    volumes: mergeRetainingKeys('name'),
    resourceClaims: mergeRetainingKeys('name'),
    nodeSelector: { 'x-kubernetes-map-type': 'atomic' },
  },
  'core.v1.Container': containerLists,
  'core.v1.EphemeralContainer': containerLists,
  'core.v1.ContainerStatus': { allocatedResourcesStatus: mergeByKeys('name'), volumeMounts: mergeByKeys('mountPath') },
  'core.v1.ContainerRestartRuleOnExitCodes': { values: set },
  'core.v1.PodStatus': {
    conditions,
    podIPs: mergeByKeys('ip'),
    hostIPs: atomicButPatchMerged('ip'),
    resourceClaimStatuses: mergeRetainingKeys('name'),
  },
  'core.v1.ResourceRequirements': { claims: applyMap('name') },
  'core.v1.ResourceStatus': { resources: applyMap('resourceID') },
  'core.v1.NodeAllocatableResourceClaimStatus': { containers: set },
  'core.v1.NamespaceStatus': { conditions },
  'core.v1.NodeSpec': { podCIDRs: mergedSet },
  'core.v1.NodeStatus': { addresses: mergeByKeys('type'), conditions },
  'core.v1.PersistentVolumeSpec': { claimRef: { 'x-kubernetes-map-type': 'granular' } },
  'core.v1.PersistentVolumeClaimStatus': { conditions, allocatedResourceStatuses: { 'x-kubernetes-map-type': 'granular' } },
  'core.v1.ServiceAccount': { secrets: mergeByKeys('name') },
  'core.v1.ServiceSpec': { ports: mergeByKeys('port', 'protocol'), selector: { 'x-kubernetes-map-type': 'atomic' } },
  'core.v1.ServiceStatus': { conditions },
  'apps.v1.DeploymentSpec': { strategy: { 'x-kubernetes-patch-strategy': 'retainKeys' } },
  'apps.v1.DeploymentStatus': { conditions },
  'apps.v1.ReplicaSetStatus': { conditions },
  'apps.v1.DaemonSetStatus': { conditions },
  'apps.v1.StatefulSetStatus': { conditions },
  'batch.v1.JobStatus': { conditions: atomicButPatchMerged('type') },
  'batch.v1.PodFailurePolicyOnExitCodesRequirement': { values: set },
  'batch.v1.UncountedTerminatedPods': { failed: set, succeeded: set },
  'discovery.v1.Endpoint': { addresses: set },
  'apiextensions.v1.CustomResourceDefinitionStatus': { conditions: applyMap('type') },
  'storage.v1.CSIDriverSpec': { volumeLifecycleModes: set },
  'apiextensions.v1.JSONSchemaProps': { 'x-kubernetes-validations': mergeByKeys('rule') },
};

/** Lists upstream leaves unmarked (neither atomic nor anything else). */
export const UNMARKED_LISTS: Record<string, string[]> = {
  'meta.v1.APIResource': ['verbs'],
};

/** Struct types apply treats as one value (replaced whole): references and selectors. */
export const ATOMIC_TYPES: string[] = [
  'core.v1.ConfigMapKeySelector', 'core.v1.EndpointAddress', 'core.v1.EndpointPort', 'core.v1.FileKeySelector',
  'core.v1.LocalObjectReference', 'core.v1.NodeSelector', 'core.v1.NodeSelectorTerm', 'core.v1.ObjectFieldSelector',
  'core.v1.ObjectReference', 'core.v1.ResourceFieldSelector', 'core.v1.ScopeSelector', 'core.v1.SecretKeySelector',
  'core.v1.SecretReference', 'core.v1.TopologySelectorTerm', 'core.v1.TypedLocalObjectReference',
  'discovery.v1.EndpointPort', 'networking.v1.ServiceBackendPort', 'rbac.v1.RoleRef', 'rbac.v1.Subject',
  'meta.v1.LabelSelector', 'meta.v1.OwnerReference',
];

/** Discriminated unions (`x-kubernetes-unions`): the discriminator field and the member fields it selects. */
export const UNIONS: Record<string, { discriminator?: string; 'fields-to-discriminateBy': Record<string, string> }[]> = {
  'core.v1.SeccompProfile': [{ discriminator: 'type', 'fields-to-discriminateBy': { localhostProfile: 'LocalhostProfile' } }],
  'core.v1.AppArmorProfile': [{ discriminator: 'type', 'fields-to-discriminateBy': { localhostProfile: 'LocalhostProfile' } }],
  'core.v1.PodSchedulingGroup': [{ 'fields-to-discriminateBy': { podGroupName: 'PodGroupName' } }],
};
