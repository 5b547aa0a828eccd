/**
 * The VMI fields the migration controller writes (migration-state.ts says who writes what), each
 * as a pure change on a copy of the VMI: the hand-off that starts the target's preparation, the
 * abort request, the move to the target once the guest runs there, and the failure KubeVirt
 * marks itself when the target pod is gone before the source ever started.
 */
import { podNodeName } from '../../controllers/util/nodes.js';
import type { KubeObject } from '../../util/object.js';
import type { Vmi, VmiVolume } from '../launcher/vmi-types.js';
import { LABEL_MIGRATION_TARGET_NODE, type MigrationConfiguration, type MigrationState, migrationStateOf } from '../migration/migration-state.js';
import { LABEL_NODE_NAME } from './vmi-status.js';

/** What KubeVirt's controller writes when the target pod went down before the migration started. */
export const TARGET_POD_DOWN = 'Target pod is down';


/** A disk the guest cannot write (a CD-ROM unless made writable, a read-only disk or LUN): KubeVirt's isReadOnlyDisk. */
function readOnlyVolumes(vmi: Vmi): Set<string> {
  const disks = vmi.spec.domain.devices.disks ?? [];
  return new Set(disks.filter((d) => (d.cdrom && d.cdrom.readonly !== false) || d.disk?.readonly || d.lun?.readonly).map((d) => d.name));
}

/**
 * KubeVirt's migration method (virt-handler's checkVolumesForMigration): the guest's writable
 * disks that are not claims — containerDisks, emptyDisks, ephemeral overlays, cloud-init and
 * config disks — are copied to the target, which makes it a BlockMigration; claims are shared
 * (the VMI is only LiveMigratable when they are RWX).
 */
export function migrationMethodOf(vmi: Vmi): 'BlockMigration' | 'LiveMigration' {
  const readOnly = readOnlyVolumes(vmi);
  const local = (v: VmiVolume) => !v.persistentVolumeClaim && !v.dataVolume && !readOnly.has(v.name);
  return (vmi.spec.volumes ?? []).some(local) ? 'BlockMigration' : 'LiveMigration';
}

function withoutTargetLabel(next: Vmi): void {
  if (next.metadata.labels?.[LABEL_MIGRATION_TARGET_NODE] === undefined) return;
  const { [LABEL_MIGRATION_TARGET_NODE]: _gone, ...labels } = next.metadata.labels;
  next.metadata.labels = labels;
}

export interface HandOff {
  migrationUid: string;
  sourcePod: KubeObject;
  targetPod: KubeObject;
  configuration: MigrationConfiguration;
  policyName?: string;
}

/**
 * KubeVirt's handleTargetPodHandoff: a fresh migrationState naming both ends and the resolved
 * configuration, and the label that makes the target node's VirtHandler pick the VMI up.
 */
export function handOff(vmi: Vmi, h: HandOff): Vmi {
  const next = structuredClone(vmi);
  const targetNode = podNodeName(h.targetPod);
  const state: MigrationState = {
    migrationUid: h.migrationUid,
    sourceNode: vmi.status?.nodeName ?? podNodeName(h.sourcePod),
    sourcePod: h.sourcePod.metadata.name!,
    targetNode,
    targetPod: h.targetPod.metadata.name!,
    migrationConfiguration: h.configuration,
    ...(h.policyName ? { migrationPolicyName: h.policyName } : {}),
  };
  next.status = { ...next.status, migrationState: state as unknown as Record<string, unknown>, migrationMethod: migrationMethodOf(vmi) };
  next.metadata.labels = { ...next.metadata.labels, [LABEL_MIGRATION_TARGET_NODE]: targetNode };
  return next;
}

/** KubeVirt's markMigrationAbortInVmiStatus: the source VirtHandler cancels the running migration. */
export function requestAbort(vmi: Vmi): Vmi {
  const next = structuredClone(vmi);
  next.status!.migrationState = { ...next.status!.migrationState, abortRequested: true };
  return next;
}

/**
 * The guest runs on the target: the VMI follows it (node, node label, active pods) and the
 * migration's label and any evacuation mark go (KubeVirt's target handler does this in
 * ackMigrationCompletion; here the controller, the one writer of these fields).
 */
export function moveToTarget(vmi: Vmi, targetPod: KubeObject | undefined): Vmi {
  const next = structuredClone(vmi);
  const state = migrationStateOf(vmi)!;
  const status = next.status!;
  status.nodeName = state.targetNode;
  next.metadata.labels = { ...next.metadata.labels, [LABEL_NODE_NAME]: state.targetNode };
  withoutTargetLabel(next);
  delete status.evacuationNodeName;
  status.migrationMethod = migrationMethodOf(vmi);
  if (targetPod) status.activePods = { ...status.activePods, [targetPod.metadata.uid!]: podNodeName(targetPod) };
  return next;
}

/** KubeVirt's handleMarkMigrationFailedOnVMI: the migration ended, failed, before the source started it. */
export function markFailed(vmi: Vmi, now: string): Vmi {
  const next = structuredClone(vmi);
  const state = migrationStateOf(vmi)!;
  next.status!.migrationState = {
    ...next.status!.migrationState,
    failed: true,
    completed: true,
    ...(state.endTimestamp ? {} : { endTimestamp: now }),
    ...(state.failureReason ? {} : { failureReason: TARGET_POD_DOWN }),
  };
  withoutTargetLabel(next);
  return next;
}

/** A migration that ended leaves no target label on the VMI. */
export function dropTargetLabel(vmi: Vmi): Vmi {
  const next = structuredClone(vmi);
  withoutTargetLabel(next);
  return next;
}
