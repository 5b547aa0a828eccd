/** ResourceRefs of the kinds the workload controllers read and write. */
import type { Informer, ResourceRef } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';
import { byControllerUid, CONTROLLER_UID_INDEX, ORPHAN_NAMESPACE_INDEX, orphansByNamespace } from './controller-ref.js';

export const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
export const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' };
export const PVCS: ResourceRef = { group: '', version: 'v1', plural: 'persistentvolumeclaims', namespaced: true, kind: 'PersistentVolumeClaim' };
export const DAEMONSETS: ResourceRef = { group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true, kind: 'DaemonSet' };
export const STATEFULSETS: ResourceRef = { group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true, kind: 'StatefulSet' };
export const JOBS: ResourceRef = { group: 'batch', version: 'v1', plural: 'jobs', namespaced: true, kind: 'Job' };
export const CRONJOBS: ResourceRef = { group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true, kind: 'CronJob' };

/** Adds the by-controller-UID and orphans-by-namespace indexes to a shared informer unless another controller already did. */
export function withControllerIndex<T extends KubeObject>(inf: Informer<T>): Informer<T> {
  if (!inf.hasIndexer(CONTROLLER_UID_INDEX)) inf.addIndexers({ [CONTROLLER_UID_INDEX]: byControllerUid });
  if (!inf.hasIndexer(ORPHAN_NAMESPACE_INDEX)) inf.addIndexers({ [ORPHAN_NAMESPACE_INDEX]: orphansByNamespace });
  return inf;
}
