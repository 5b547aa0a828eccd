/**
 * The expansion bookkeeping on a claim's status, as external-resizer and the kubelet keep it
 * (with RecoverVolumeExpansionFailure): conditions Resizing / FileSystemResizePending /
 * ControllerResizeError / NodeResizeError, allocatedResources and allocatedResourceStatuses.
 */
import { rfc3339 } from '../controllers/util/nodes.js';
import type { KubeObject } from '../util/object.js';
import { type PVCCondition, type PVCStatus, pvcStatus } from './api.js';

export const FS_RESIZE_PENDING_MESSAGE = 'Waiting for user to (re-)start a pod to finish file system resize of volume on node.';

export type ResizeStatus = 'ControllerResizeInProgress' | 'ControllerResizeInfeasible' | 'NodeResizePending' | 'NodeResizeInProgress' | 'NodeResizeInfeasible';

export interface ResizeState {
  condition?: { type: string; message?: string };
  /** allocatedResources.storage; undefined keeps what is there. */
  allocated?: string;
  /** allocatedResourceStatuses.storage; null removes it. */
  resizeStatus?: ResizeStatus | null;
  /** status.capacity.storage once the resize is complete. */
  capacity?: string;
}

/** The claim's status with the resize state applied (conditions replaced, transition times kept). */
export function withResizeState(claim: KubeObject, s: ResizeState): PVCStatus {
  const cur = pvcStatus(claim);
  const next: PVCStatus = { ...cur };
  const old = (cur.conditions ?? []).find((c) => c.type === s.condition?.type);
  const conditions: PVCCondition[] = s.condition
    ? [{ type: s.condition.type, status: 'True', lastProbeTime: null, lastTransitionTime: old?.lastTransitionTime ?? rfc3339(), ...(s.condition.message ? { message: s.condition.message } : {}) }]
    : [];
  const kept = (cur.conditions ?? []).filter((c) => !['Resizing', 'FileSystemResizePending', 'ControllerResizeError', 'NodeResizeError'].includes(c.type));
  next.conditions = [...kept, ...conditions];
  if (!next.conditions.length) delete next.conditions;
  if (s.allocated) next.allocatedResources = { ...(cur.allocatedResources ?? {}), storage: s.allocated };
  if (s.resizeStatus === null) {
    const rest = { ...(cur.allocatedResourceStatuses ?? {}) };
    delete rest.storage;
    if (Object.keys(rest).length) next.allocatedResourceStatuses = rest;
    else delete next.allocatedResourceStatuses;
  } else if (s.resizeStatus) next.allocatedResourceStatuses = { ...(cur.allocatedResourceStatuses ?? {}), storage: s.resizeStatus };
  if (s.capacity) next.capacity = { ...(cur.capacity ?? {}), storage: s.capacity };
  return next;
}
