/**
 * The RLIMIT_CORE a container gets so its crashes leave a core. The kernel pipes a core to the
 * core_pattern handler whatever the limit is; the handler (core-handler.ts) reads the crashing
 * process's soft limit (%c) and keeps nothing when it is 0 and at most that many bytes
 * otherwise — so this limit is both the opt-in and the per-core size cap.
 */

/** Per-core cap by default: large enough for most processes' useful cores, small beside the node's 1 GiB budget. */
export const DEFAULT_CORE_LIMIT_BYTES = 256 * 1024 * 1024;

/** The entry for the OCI spec's process.rlimits. */
export function coreRlimit(limitBytes = DEFAULT_CORE_LIMIT_BYTES): { type: 'RLIMIT_CORE'; soft: number; hard: number } {
  return { type: 'RLIMIT_CORE', soft: limitBytes, hard: limitBytes };
}
