/**
 * A node's heartbeat Lease kube-node-lease/<node> (the kubelet's lease controller): each renew
 * writes holderIdentity = node, leaseDurationSeconds (40) and renewTime = now, updating from the
 * last lease it wrote (no GET) and falling back to get-or-create when that fails; the Lease is
 * owned by the Node (ownerReference), so it goes when the Node is deleted.
 * Used by the node agent and by the simulated nodes.
 */
import { type Client, isAlreadyExists, isConflict, isNotFound } from '../../client/index.js';
import { LEASES, microTime, NODE_LEASE_NAMESPACE } from '../../controllers/util/nodes.js';
import type { KubeObject } from '../../util/object.js';

export const DEFAULT_LEASE_DURATION_SECONDS = 40;

export class NodeLease {
  private lease?: KubeObject;
  /** The Node's uid, for the owner reference (set once the Node is registered). */
  ownerUid?: string;

  constructor(
    private readonly client: Client,
    readonly nodeName: string,
    private readonly durationSeconds = DEFAULT_LEASE_DURATION_SECONDS,
  ) {}

  async renew(now: Date = new Date()): Promise<void> {
    const leases = this.client.resource(LEASES);
    const spec = { holderIdentity: this.nodeName, leaseDurationSeconds: this.durationSeconds, renewTime: microTime(now) };
    if (this.lease) {
      try {
        this.lease = await leases.update(this.withSpec(this.lease, spec));
        return;
      } catch (e) {
        if (!isConflict(e) && !isNotFound(e)) throw e;
      }
    }
    let cur: KubeObject | undefined;
    try {
      cur = await leases.get(this.nodeName, NODE_LEASE_NAMESPACE);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (cur) {
      this.lease = await leases.update(this.withSpec(cur, spec));
      return;
    }
    try {
      this.lease = await leases.create(this.withSpec({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.nodeName, namespace: NODE_LEASE_NAMESPACE } }, spec));
    } catch (e) {
      // Someone made it meanwhile (a previous run of this node): the next renew updates that one.
      if (!isAlreadyExists(e)) throw e;
      this.lease = undefined;
    }
  }

  private withSpec(lease: KubeObject, spec: Record<string, unknown>): KubeObject {
    const metadata = { ...lease.metadata };
    if (this.ownerUid && !metadata.ownerReferences?.length)
      metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.ownerUid }];
    return { ...lease, metadata, spec: { ...(lease.spec as object | undefined), ...spec } } as KubeObject;
  }
}
