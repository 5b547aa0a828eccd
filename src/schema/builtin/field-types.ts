/**
 * What client-node's type maps cannot say about a field's type: which strings and string maps
 * are resource Quantities, what its untyped (`any`) fields are, and fields newer than the
 * client-node release Cairn builds on (it carries the v1.34 API; Cairn serves v1.35).
 */
import type { JSONSchema } from '../types.js';
import { upstreamName } from './packages.js';

export const ref = (shortName: string): JSONSchema => ({ $ref: `#/components/schemas/${upstreamName(shortName)}` });

/** Fields holding a Quantity (or a map of them); client-node types them as plain strings. Keyed by upstream short name. */
export const QUANTITY_FIELDS: Record<string, string[]> = {
  'core.v1.ResourceFieldSelector': ['divisor'],
  'core.v1.EmptyDirVolumeSource': ['sizeLimit'],
  'core.v1.ResourceRequirements': ['limits', 'requests'],
  'core.v1.VolumeResourceRequirements': ['limits', 'requests'],
  'core.v1.PodSpec': ['overhead'],
  'core.v1.ContainerStatus': ['allocatedResources'],
  'core.v1.NodeStatus': ['allocatable', 'capacity'],
  'core.v1.PersistentVolumeSpec': ['capacity'],
  'core.v1.PersistentVolumeClaimStatus': ['allocatedResources', 'capacity'],
  'core.v1.ResourceQuotaSpec': ['hard'],
  'core.v1.ResourceQuotaStatus': ['hard', 'used'],
  'core.v1.LimitRangeItem': ['default', 'defaultRequest', 'max', 'maxLimitRequestRatio', 'min'],
  'storage.v1.CSIStorageCapacity': ['capacity', 'maximumVolumeSize'],
};

/** Component names of the hand-written leaf types (see primitives.ts). */
export const LEAF = {
  quantity: 'io.k8s.apimachinery.pkg.api.resource.Quantity',
  intOrString: 'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  time: 'io.k8s.apimachinery.pkg.apis.meta.v1.Time',
  microTime: 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime',
  rawExtension: 'io.k8s.apimachinery.pkg.runtime.RawExtension',
  fieldsV1: 'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1',
  patch: 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
  json: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON',
  propsOrBool: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool',
  propsOrArray: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray',
  propsOrStringArray: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray',
  subresourceStatus: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresourceStatus',
} as const;

export const leaf = (name: string): JSONSchema => ({ $ref: `#/components/schemas/${name}` });
const quantityMap = (): JSONSchema => ({ type: 'object', additionalProperties: leaf(LEAF.quantity) });

/** Fields client-node types as `any`: what they really are. */
export const ANY_FIELDS: Record<string, Record<string, JSONSchema>> = {
  'meta.v1.ManagedFieldsEntry': { fieldsV1: leaf(LEAF.fieldsV1) },
  'meta.v1.WatchEvent': { object: leaf(LEAF.rawExtension) },
  'apps.v1.ControllerRevision': { data: leaf(LEAF.rawExtension) },
  'apiextensions.v1.JSONSchemaProps': {
    additionalItems: leaf(LEAF.propsOrBool),
    additionalProperties: leaf(LEAF.propsOrBool),
    default: leaf(LEAF.json),
    example: leaf(LEAF.json),
    items: leaf(LEAF.propsOrArray),
    enum: { type: 'array', items: leaf(LEAF.json) },
    dependencies: { type: 'object', additionalProperties: leaf(LEAF.propsOrStringArray) },
  },
  'apiextensions.v1.CustomResourceSubresources': { status: leaf(LEAF.subresourceStatus) },
};

const str: JSONSchema = { type: 'string' };
const strList: JSONSchema = { type: 'array', items: str };
const int64: JSONSchema = { type: 'integer', format: 'int64' };

/**
 * Fields added upstream after the client-node release Cairn builds on, so the published schemas
 * describe everything a v1.35 client may send. Keyed by the type that gains the field.
 */
export const SUPPLEMENTARY_FIELDS: Record<string, Record<string, JSONSchema>> = {
  'core.v1.PodSpec': { schedulingGroup: ref('core.v1.PodSchedulingGroup') },
  'core.v1.PodCertificateProjection': { userAnnotations: { type: 'object', additionalProperties: str } },
  'core.v1.PodStatus': {
    allocatedResources: quantityMap(),
    resources: ref('core.v1.ResourceRequirements'),
    nodeAllocatableResourceClaimStatuses: { type: 'array', items: ref('core.v1.NodeAllocatableResourceClaimStatus') },
  },
  'core.v1.ResourceHealth': { message: str },
  'core.v1.VolumeMountStatus': { volumeStatus: ref('core.v1.VolumeStatus') },
  'core.v1.NodeStatus': { declaredFeatures: strList },
  'storage.v1.CSIDriverSpec': { preventPodSchedulingIfMissing: { type: 'boolean' }, serviceAccountTokenInSecrets: { type: 'boolean' } },
  'apiextensions.v1.CustomResourceDefinitionCondition': { observedGeneration: int64 },
  'apiextensions.v1.CustomResourceDefinitionStatus': { observedGeneration: int64 },
  'meta.v1.ListMeta': { shardInfo: ref('meta.v1.ShardInfo') },
};

/** Whole types newer than client-node, written out in Cairn's terms. */
export const SUPPLEMENTARY_TYPES: Record<string, JSONSchema> = {
  'core.v1.PodSchedulingGroup': { type: 'object', properties: { podGroupName: str } },
  'core.v1.VolumeStatus': { type: 'object', properties: { image: ref('core.v1.ImageVolumeStatus') } },
  'core.v1.ImageVolumeStatus': { type: 'object', properties: { imageRef: str } },
  'core.v1.NodeAllocatableResourceClaimStatus': {
    type: 'object',
    properties: { containers: strList, resourceClaimName: str, resources: quantityMap() },
  },
  'meta.v1.ShardInfo': { type: 'object', properties: { selector: str } },
};
