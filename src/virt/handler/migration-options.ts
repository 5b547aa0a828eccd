/**
 * The pure part of the node side of a live migration: how a MigrationConfiguration becomes QEMU's
 * migration capabilities and parameters on each side, the timeouts KubeVirt's migration monitor
 * applies (and the words its failure reasons use), the progress watermark, and the node ports a
 * target proxy tries. Unit-tested; the QMP sequences that use it are in migration-source.ts and
 * migration-target.ts.
 */
import { createHash } from 'node:crypto';
import { parseQuantity } from '../../registry/validation.js';
import type { MigrationCapability, MigrationParameters } from '../qemu/qmp-client.js';
import type { MigrationConfiguration } from '../migration/migration-state.js';

/**
 * `max-bandwidth` for "unlimited": QEMU's own default caps a migration at 128 MiB/s, so an
 * unlimited migration must say so with a large value (the largest integer JSON carries exactly).
 */
export const UNLIMITED_BANDWIDTH = Number.MAX_SAFE_INTEGER;

export class MigrationConfigError extends Error {
  override name = 'MigrationConfigError';
}

/** Capabilities the source sets before `migrate`. */
export function sourceCapabilities(cfg: MigrationConfiguration, copiesDisks: boolean): MigrationCapability[] {
  return [
    { capability: 'events', state: true },
    // The block mirror must be finished while the source's CPUs are stopped, before the target starts.
    { capability: 'pause-before-switchover', state: copiesDisks },
    { capability: 'auto-converge', state: cfg.allowAutoConverge },
    { capability: 'postcopy-ram', state: cfg.allowPostCopy },
  ];
}

/** Capabilities the target sets before `migrate-incoming` (postcopy-ram must match on both sides). */
export function targetCapabilities(cfg: MigrationConfiguration): MigrationCapability[] {
  return [
    { capability: 'events', state: true },
    { capability: 'postcopy-ram', state: cfg.allowPostCopy },
  ];
}

/** bandwidthPerMigration (a quantity per second, "0" unlimited) in bytes per second. */
export function maxBandwidth(bandwidthPerMigration: string): number {
  let v: number;
  try {
    v = parseQuantity(bandwidthPerMigration);
  } catch {
    throw new MigrationConfigError(`bandwidthPerMigration: invalid quantity ${JSON.stringify(bandwidthPerMigration)}`);
  }
  if (!Number.isFinite(v) || v < 0) throw new MigrationConfigError(`bandwidthPerMigration: invalid quantity ${JSON.stringify(bandwidthPerMigration)}`);
  return v === 0 ? UNLIMITED_BANDWIDTH : Math.max(1, Math.floor(v));
}

/** Parameters the source sets before `migrate`. */
export function sourceParameters(cfg: MigrationConfiguration): MigrationParameters {
  if (!Number.isInteger(cfg.maxDowntimeMs) || cfg.maxDowntimeMs < 1) throw new MigrationConfigError(`maxDowntimeMs: invalid value ${cfg.maxDowntimeMs}`);
  return { 'downtime-limit': cfg.maxDowntimeMs, 'max-bandwidth': maxBandwidth(cfg.bandwidthPerMigration) };
}

/**
 * KubeVirt's acceptable completion time: completionTimeoutPerGiB × the data to move (guest memory
 * plus the copied disks), counted as KubeVirt counts it (whole 10^9 bytes, rounded up).
 */
export function completionTimeoutSeconds(cfg: MigrationConfiguration, memoryBytes: number, copiedDiskBytes: number): number {
  return cfg.completionTimeoutPerGiB * Math.ceil((memoryBytes + copiedDiskBytes) / 1e9);
}

/** failureReason in KubeVirt's words. */
export const FAILURE = {
  stuck: (seconds: number) => `Live migration stuck for ${seconds} seconds and has been aborted`,
  notCompleted: (seconds: number) => `Live migration is not completed after ${seconds} seconds and has been aborted`,
  aborted: 'Live migration has been aborted',
} as const;

/** Event messages of KubeVirt's virt-handler. */
export const EVENT = {
  migrating: 'VirtualMachineInstance is migrating.',
  aborting: 'VirtualMachineInstance is aborting migration.',
  listening: (address: string, ports: number[]) => `Migration Target is listening at ${address}, on ports: ${ports.join(',')}`,
  migrated: (node: string, downtimeMs?: number, totalMs?: number) =>
    `The VirtualMachineInstance migrated to node ${node}.${downtimeMs !== undefined && totalMs !== undefined ? ` (downtime ${downtimeMs} ms, total ${totalMs} ms)` : ''}`,
  failed: (uid: string, reason: string) => `VirtualMachineInstance migration uid ${uid} failed. reason:${reason}`,
  resumedOnSource: (node: string) => `The migration target failed after the hand-over; the VirtualMachineInstance resumed on node ${node}.`,
} as const;

/**
 * The migration monitor's progress watermark (KubeVirt's): progress is the remaining data
 * dropping below the value seen last; none for progressTimeout seconds is a stuck migration.
 */
export class ProgressWatermark {
  private watermark = 0;
  private lastProgressMs: number;

  constructor(startMs: number) {
    this.lastProgressMs = startMs;
  }

  observe(remaining: number, nowMs: number): void {
    if (this.watermark === 0 || remaining < this.watermark) this.lastProgressMs = nowMs;
    this.watermark = remaining;
  }

  stuckForMs(nowMs: number): number {
    return nowMs - this.lastProgressMs;
  }
}

export type TimeoutVerdict = { kind: 'none' } | { kind: 'stuck' | 'notCompleted'; seconds: number };

/** What the monitor does now: nothing, or cancel (a stuck migration first, as KubeVirt checks). */
export function timeoutVerdict(cfg: MigrationConfiguration, o: { stuckForMs: number; elapsedMs: number; completionTimeoutS: number }): TimeoutVerdict {
  if (cfg.progressTimeout > 0 && o.stuckForMs > cfg.progressTimeout * 1000) return { kind: 'stuck', seconds: Math.floor(o.stuckForMs / 1000) };
  if (o.completionTimeoutS > 0 && o.elapsedMs > o.completionTimeoutS * 1000) return { kind: 'notCompleted', seconds: o.completionTimeoutS };
  return { kind: 'none' };
}

/** First node port a migration's target proxies try, and how many after it. */
export const TARGET_PORT_BASE = 50_000;
export const TARGET_PORT_SPAN = 2_000;

/**
 * Node ports a target proxy tries, in order: deterministic for the migration (a restarted agent,
 * or a retry, picks the same first choice), spread over the range so concurrent migrations on a
 * node rarely collide, and walking on from there when one is taken.
 */
export function targetPortCandidates(migrationUid: string, stream: 'memory' | 'block', attempts = 32): number[] {
  const h = createHash('sha256').update(`${migrationUid}/${stream}`).digest().readUInt32BE(0);
  const first = h % TARGET_PORT_SPAN;
  return Array.from({ length: attempts }, (_, i) => TARGET_PORT_BASE + ((first + i) % TARGET_PORT_SPAN));
}
