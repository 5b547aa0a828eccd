/**
 * Pods as NetworkPolicy sees them: which pods have an address a policy can name, and what a
 * named port means on a pod. hostNetwork pods share their node's address, so selecting them
 * would select the node (upstream leaves them undefined; CNIs ignore them); pods that have
 * finished may have handed their address to a new pod, so they are left out too.
 */
import type { Pod } from '../agent/pods/api-types.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** A pod with the fields policy decisions use. */
export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  nodeName?: string;
  ip: string;
  /** Container port names → ports, per protocol. */
  namedPorts: { name: string; protocol: Protocol; port: number }[];
}

function podIPv4(pod: Pod): string | undefined {
  const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)];
  return ips.find((ip): ip is string => !!ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip));
}

/** The pod as policies see it, or undefined when no policy can name it. */
export function policyPod(pod: Pod): PolicyPod | undefined {
  if (pod.spec?.hostNetwork) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ip = podIPv4(pod);
  if (!ip) return undefined;
  // Sidecars (init containers that keep running) serve ports too.
  const containers = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  const namedPorts = containers.flatMap((c) =>
    (c.ports ?? []).filter((p) => p.name).map((p) => ({ name: p.name!, protocol: p.protocol ?? 'TCP', port: p.containerPort })),
  );
  return { namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', labels: pod.metadata.labels ?? {}, nodeName: pod.spec.nodeName, ip, namedPorts };
}
