/** The node's image subsystem: registry client, content-addressed store, unpacking, import, GC. */
export * from './errors.js';
export * from './reference.js';
export * from './auth.js';
export * from './media.js';
export { sha256 } from './digest.js';
export { RegistryClient, type Progress, type RegistryClientOptions, type ResolvedImage } from './registry-client.js';
export { readTar, writeTar, type TarEntry, type TarHeader, type TarWriteEntry } from './tar.js';
export { applyLayer, cleanName } from './unpack.js';
export * from './store.js';
export { importArchive, type ImportOptions } from './import.js';
