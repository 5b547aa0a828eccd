/**
 * Controller references (metav1.GetControllerOf / NewControllerRef) and upstream's
 * ControllerRefManager adoption rules: a controller owns the objects whose controlling
 * ownerReference names its UID; it adopts orphans its selector matches and releases owned objects
 * its selector no longer matches (both by patch, with the UID as a precondition on the owner).
 */
import type { ResourceClient } from '../../client/index.js';
import { isNotFound } from '../../client/index.js';
import type { Selector } from '../../kinds/label-selector.js';
import type { KubeObject, OwnerReference } from '../../util/object.js';

/** The ownerReference with controller: true, if any. */
export function controllerRefOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  return controllerRefOf(obj)?.uid === owner.metadata.uid;
}

/** A controlling, deletion-blocking reference to `owner` (apiVersion and kind from the object). */
export function newControllerRef(owner: KubeObject, apiVersion = owner.apiVersion!, kind = owner.kind!): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Index function: objects by the UID of their controller (`controller-uid` index). */
export const CONTROLLER_UID_INDEX = 'controller-uid';
export const byControllerUid = (o: KubeObject): string[] => {
  const r = controllerRefOf(o);
  return r ? [r.uid] : [];
};

/**
 * Index function: objects with no controller, by namespace (`orphans-by-namespace` index), so a
 * controller finds its adoption candidates without scanning every object of the namespace.
 */
export const ORPHAN_NAMESPACE_INDEX = 'orphans-by-namespace';
export const orphansByNamespace = (o: KubeObject): string[] => (controllerRefOf(o) ? [] : [o.metadata.namespace ?? '']);

/**
 * The objects `owner` controls now, after adopting matching orphans and releasing owned objects
 * the selector no longer matches (upstream ClaimPods). `candidates` are the objects of the
 * owner's namespace; an owner being deleted adopts nothing.
 */
export async function claimObjects<T extends KubeObject>(
  rc: ResourceClient<T>,
  owner: KubeObject,
  selector: Selector,
  candidates: T[],
  ownerRef: OwnerReference,
  canAdopt: (o: T) => boolean = () => true,
): Promise<T[]> {
  const claimed: T[] = [];
  for (const o of candidates) {
    const ref = controllerRefOf(o);
    if (ref) {
      if (ref.uid !== owner.metadata.uid) continue;
      if (selector.matches(o.metadata.labels) || o.metadata.deletionTimestamp || owner.metadata.deletionTimestamp) {
        claimed.push(o);
        continue;
      }
      // Release: drop our reference (only if it is still ours).
      try {
        await rc.patch(
          o.metadata.name!,
          { metadata: { ownerReferences: [{ $patch: 'delete', uid: ref.uid }], uid: o.metadata.uid } },
          'strategic',
          { namespace: o.metadata.namespace },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      continue;
    }
    if (owner.metadata.deletionTimestamp || o.metadata.deletionTimestamp || !selector.matches(o.metadata.labels) || !canAdopt(o)) continue;
    try {
      const adopted = await rc.patch(
        o.metadata.name!,
        { metadata: { ownerReferences: [ownerRef], uid: o.metadata.uid } },
        'strategic',
        { namespace: o.metadata.namespace },
      );
      claimed.push(adopted);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return claimed;
}
