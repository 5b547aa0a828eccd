/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: the holder
 * renews the lease every retry period; a candidate takes it over once it has not been renewed
 * for leaseDuration. Whoever holds it runs the controllers; losing it stops them.
 */
import { type Client, isAlreadyExists, isConflict, isNotFound, type ResourceRef, sleep } from '../client/index.js';
import type { Logger } from '../client/log.js';
import type { KubeObject } from '../util/object.js';

export const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' };

export interface LeaderElectionOptions {
  client: Client;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  signal: AbortSignal;
  /** Called on becoming leader; the signal aborts when leadership is lost or election stops. */
  onStartedLeading(signal: AbortSignal): void;
  onStoppedLeading?(): void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');

/** Runs until `signal` aborts. */
export async function runLeaderElection(o: LeaderElectionOptions): Promise<void> {
  const leaseDurationMs = o.leaseDurationMs ?? 10_000;
  const renewDeadlineMs = o.renewDeadlineMs ?? 7_000;
  const retryMs = o.retryPeriodMs ?? 2_000;
  const leases = o.client.resource(LEASES);
  let leading: AbortController | undefined;
  let lastRenew = 0;

  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = new Date();
    let lease: KubeObject | undefined;
    try {
      lease = await leases.get(o.name, o.namespace);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const spec: LeaseSpec = { holderIdentity: o.identity, leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
    if (!lease) {
      try {
        await leases.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: o.name, namespace: o.namespace }, spec } as KubeObject);
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const cur = (lease.spec ?? {}) as LeaseSpec;
    const renewed = cur.renewTime ? Date.parse(cur.renewTime) : 0;
    const expired = renewed + (cur.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
    if (cur.holderIdentity && cur.holderIdentity !== o.identity && !expired) return false;
    if (cur.holderIdentity === o.identity) {
      spec.acquireTime = cur.acquireTime;
      spec.leaseTransitions = cur.leaseTransitions ?? 0;
    } else spec.leaseTransitions = (cur.leaseTransitions ?? 0) + 1;
    try {
      await leases.update({ ...lease, spec } as KubeObject);
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  };

  const stopLeading = () => {
    if (!leading) return;
    leading.abort();
    leading = undefined;
    o.logger({ level: 'info', msg: 'lost leadership', lease: `${o.namespace}/${o.name}`, identity: o.identity });
    o.onStoppedLeading?.();
  };

  while (!o.signal.aborted) {
    let ok = false;
    try {
      ok = await tryAcquireOrRenew();
    } catch (e) {
      o.logger({ level: 'warn', msg: 'leader election request failed', error: (e as Error).message });
    }
    if (ok) {
      lastRenew = Date.now();
      if (!leading) {
        leading = new AbortController();
        o.logger({ level: 'info', msg: 'became leader', lease: `${o.namespace}/${o.name}`, identity: o.identity });
        o.onStartedLeading(leading.signal);
      }
    } else if (leading && Date.now() - lastRenew > renewDeadlineMs) {
      stopLeading();
    }
    await sleep(retryMs, o.signal).catch(() => {});
  }
  stopLeading();
  // Give the lease up so another candidate need not wait for it to expire.
  try {
    const lease = await leases.get(o.name, o.namespace);
    if ((lease.spec as LeaseSpec | undefined)?.holderIdentity === o.identity)
      await leases.update({ ...lease, spec: { ...(lease.spec as LeaseSpec), holderIdentity: undefined, renewTime: undefined } } as KubeObject);
  } catch {
    // best effort
  }
}
