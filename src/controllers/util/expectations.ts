/**
 * Controller expectations (upstream ControllerExpectations): after a controller creates or
 * deletes pods it waits until its informer has observed those changes before acting on that
 * owner again, so a stale cache never makes it create or delete twice. Expectations are only a
 * guard against cache lag: they expire (and a restart forgets them) without harm.
 */
import { finalStateOf, type Informer, type WorkQueue } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';
import { objectKeyOf } from '../context.js';

const TTL_MS = 30_000;

interface Pending {
  adds: number;
  deletes: Set<string>;
  at: number;
}

export class Expectations {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly ttlMs = TTL_MS) {}

  private entry(key: string): Pending {
    let e = this.pending.get(key);
    if (!e) this.pending.set(key, (e = { adds: 0, deletes: new Set(), at: Date.now() }));
    e.at = Date.now();
    return e;
  }

  /** True when every expected create and delete of `key` has been observed (or expired). */
  satisfied(key: string): boolean {
    const e = this.pending.get(key);
    if (!e) return true;
    if ((e.adds <= 0 && e.deletes.size === 0) || Date.now() - e.at > this.ttlMs) {
      this.pending.delete(key);
      return true;
    }
    return false;
  }

  expectCreations(key: string, n: number): void {
    this.entry(key).adds += n;
  }

  /** A create was observed, or failed (so it never will be). */
  creationObserved(key: string): void {
    const e = this.pending.get(key);
    if (e && e.adds > 0) e.adds--;
  }

  /** `objKey` identifies the object (namespace/name). */
  expectDeletion(key: string, objKey: string): void {
    this.entry(key).deletes.add(objKey);
  }

  deletionObserved(key: string, objKey: string): void {
    this.pending.get(key)?.deletes.delete(objKey);
  }

  forget(key: string): void {
    this.pending.delete(key);
  }
}

export interface OwnedPodEvents {
  expectations: Expectations;
  queue: WorkQueue<string>;
  /** The key of the pod's controlling owner of this controller's kind, or undefined. */
  ownerKey: (pod: KubeObject) => string | undefined;
  /** A pod without such an owner (a candidate for adoption): wake the owners that select it. */
  orphan: (pod: KubeObject) => void;
}

/**
 * Pod events for a controller that creates and deletes pods under expectations (DaemonSet,
 * StatefulSet): the owner observes the pod's creation and (once it is terminating or gone) its
 * deletion and is woken, also when the pod changes owner; other pods go to `orphan`.
 */
export function watchOwnedPods(pods: Informer<KubeObject>, { expectations, queue, ownerKey, orphan }: OwnedPodEvents): void {
  pods.addEventHandler({
    onAdd(p) {
      const k = ownerKey(p);
      if (k) {
        expectations.creationObserved(k);
        if (p.metadata.deletionTimestamp) expectations.deletionObserved(k, objectKeyOf(p));
        queue.add(k);
      } else orphan(p);
    },
    onUpdate(old, p) {
      const k = ownerKey(p);
      const oldK = ownerKey(old);
      if (oldK && oldK !== k) queue.add(oldK);
      if (k) {
        if (p.metadata.deletionTimestamp) expectations.deletionObserved(k, objectKeyOf(p));
        queue.add(k);
      } else orphan(p);
    },
    onDelete(o) {
      const p = finalStateOf(o);
      const k = ownerKey(p);
      if (k) {
        expectations.deletionObserved(k, objectKeyOf(p));
        queue.add(k);
      }
    },
  });
}
