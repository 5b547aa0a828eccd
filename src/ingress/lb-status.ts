/**
 * status.loadBalancer of the Ingresses we serve: every Ready node answers on :80/:443, so the
 * addresses are the InternalIPs of the Ready nodes (sorted as ingress-nginx sorts them). Every
 * agent runs the controller, but one speaks for it — the Ready node with the lowest name — so
 * agents never fight over the status (or repeat each other's events).
 */
import type { Client } from '../client/index.js';
import { isNodeReady, nodeStatus } from '../controllers/util/nodes.js';
import type { KubeObject } from '../util/object.js';
import { INGRESSES, type Ingress, type LoadBalancerIngress } from './ingress-api.js';


/** The node that writes status and events: the lowest-named Ready node. */
export function speakerNode(nodes: readonly KubeObject[]): string | undefined {
  return nodes
    .filter(isNodeReady)
    .map((n) => n.metadata.name ?? '')
    .sort()[0];
}

/** The InternalIPs of the Ready nodes, sorted. */
export function readyNodeAddresses(nodes: readonly KubeObject[]): string[] {
  return nodes
    .filter(isNodeReady)
    .map((n) => nodeStatus(n).addresses?.find((a) => a.type === 'InternalIP')?.address)
    .filter((ip): ip is string => !!ip)
    .sort();
}

const same = (a: LoadBalancerIngress[], b: LoadBalancerIngress[]) =>
  a.length === b.length && a.every((x, i) => x.ip === b[i]!.ip && x.hostname === b[i]!.hostname);

/** Writes the addresses into the Ingress's status when they differ; returns whether it wrote. */
export async function updateLoadBalancerStatus(client: Client, ing: Ingress, ips: readonly string[]): Promise<boolean> {
  const want: LoadBalancerIngress[] = ips.map((ip) => ({ ip }));
  if (same(ing.status?.loadBalancer?.ingress ?? [], want)) return false;
  await client
    .resource<Ingress>(INGRESSES)
    .patch(ing.metadata.name!, { status: { loadBalancer: { ingress: want } } }, 'merge', { namespace: ing.metadata.namespace, subresource: 'status' });
  return true;
}
