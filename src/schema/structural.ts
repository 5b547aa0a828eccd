/** Schema-driven operations on objects: the one import for the registry and the CRD machinery. */
export { findUnknownFields, pruneUnknownFields, unknownFieldMessage } from './unknown-fields.js';
export { applyDefaults } from './defaults.js';
export { validateValue } from './validate-value.js';
export { validateStructuralSchema } from './structural-schema.js';
export { findDuplicateFields } from './duplicate-fields.js';
