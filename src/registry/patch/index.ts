/**
 * Patch engines for PATCH requests and server-side apply; the registry picks one by the
 * request's Content-Type and then runs defaulting, validation and storage on the result.
 */
export { decodeApplyBody, decodeJsonBody } from './decode.js';
export { MAX_JSON_PATCH_OPERATIONS, applyJsonPatch } from './json-patch.js';
export { applyMergePatch } from './merge-patch.js';
export { CUSTOM_RESOURCE_PATCH_TYPES, type StrategicMergeOptions, applyStrategicMergePatch } from './strategic-merge-patch.js';
export { type ApplyOptions, apply } from './server-side-apply.js';
export {
  type FieldManagerOptions,
  type UpdateOptions,
  MAX_UPDATE_MANAGERS,
  managerOrUserAgent,
  updateManagedFields,
} from './managed-fields.js';
