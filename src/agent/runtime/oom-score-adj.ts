/**
 * Keeping a container's oom_score_adj within what this process may set. Lowering a process's
 * oom_score_adj needs CAP_SYS_RESOURCE; without it (the agent inside an unprivileged container,
 * as on some CI machines) runc's write of the Guaranteed -997 fails and the container never
 * starts ("nsexec: failed to update /proc/self/oom_score_adj: Permission denied"). containerd has
 * `restrict_oom_score_adj` for exactly this (kind turns it on): a value below the runtime's own
 * is raised to it. Cairn does the same, on its own, only when the capability is missing.
 */
import { readFileSync } from 'node:fs';

const CAP_SYS_RESOURCE = 24n;

/**
 * The lowest value a container may get: the process's own oom_score_adj when `CapEff` in
 * `procStatus` (/proc/self/status) lacks CAP_SYS_RESOURCE, undefined (no floor) otherwise.
 */
export function oomScoreAdjFloor(procStatus: string, ownOomScoreAdj: number): number | undefined {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus);
  if (!m) return ownOomScoreAdj;
  return (BigInt(`0x${m[1]}`) >> CAP_SYS_RESOURCE) & 1n ? undefined : ownOomScoreAdj;
}

let cachedFloor: { value: number | undefined } | undefined;

/** `adj` raised to this process's floor (read from /proc once). */
export function restrictOomScoreAdj(adj: number): number {
  cachedFloor ??= { value: oomScoreAdjFloor(readFileSync('/proc/self/status', 'utf8'), Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim())) };
  const floor = cachedFloor.value;
  return floor !== undefined && adj < floor ? floor : adj;
}
