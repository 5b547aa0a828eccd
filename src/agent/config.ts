import type { OverlayMode } from '../net/overlay.js';

/**
 * What one node agent is told at start: `cairn agent` parses its flags into this, `cairn up`
 * writes the flags for each of its nodes, and `startAgent(config)` runs from it alone.
 */
export interface AgentConfig {
  /** How to reach the API server (the node's client certificate: CN system:node:<name>, O system:nodes). */
  kubeconfig: string;
  nodeName: string;
  /** The node's hostname: the kubernetes.io/hostname label and the Hostname address (kubelet's --hostname-override). */
  hostname: string;
  /** Everything the agent keeps across restarts (layout in src/agent/README.md). */
  dataDir: string;
  /** The node's network namespace (cairn up); undefined = the host's root namespace. */
  nodeNetns?: string;
  /** The node's underlay address (InternalIP) and the device it is on. */
  internalIP: string;
  underlayDev: string;
  /** Agent HTTPS endpoint: listen host/port, advertised as annotation cairn.io/agent-endpoint. */
  listenHost: string;
  listenPort: number;
  tls: { certFile: string; keyFile: string };
  /** cgroup parent of all pods, e.g. /cairn-<cluster>/<node>. */
  cgroupRoot: string;
  /** The pod network, of which this node's podCIDR is a /24 (the overlay routes the rest). */
  clusterCIDR: string;
  /** The Service network (cluster IPs): traffic to an address in it that no Service has is dropped. */
  serviceCIDR: string;
  /**
   * How pods reach other nodes' pods: `vxlan`, the agent programs every remote node's VTEP; or
   * `evpn`, FRR running on the node does it from EVPN routes (`cairn up --fabric`).
   */
  overlay: OverlayMode;
  /** The VXLAN source address when it is not the InternalIP (the node's VTEP on a fabric). */
  vtepIP?: string;
  /** The pod MTU when not the underlay device's minus the VXLAN overhead. */
  podMtu?: number;
  clusterDNS: string[];
  clusterDomain: string;
  maxPods: number;
  /** Extra node labels (kubelet's --node-labels), set at registration and kept on restarts. */
  labels: Record<string, string>;
  /** For pod namespace names: cairn-<cluster>-pod- */
  podNetnsPrefix: string;
}

/** The agent's data dir when none is given: one per node name, so several agents can share a host. */
export const defaultAgentDataDir = (nodeName: string) => `/var/lib/cairn/agent/${nodeName}`;

/** Annotation on the Node telling the API server where the agent serves logs, exec and port-forward. */
export const AGENT_ENDPOINT_ANNOTATION = 'cairn.io/agent-endpoint';

/**
 * The URL the API server dials for this agent: the listen address, or the node's InternalIP when
 * the agent listens on every address.
 */
export function agentEndpoint(config: Pick<AgentConfig, 'listenHost' | 'listenPort' | 'internalIP'>): string {
  const host = config.listenHost === '0.0.0.0' || config.listenHost === '::' || config.listenHost === '' ? config.internalIP : config.listenHost;
  return `https://${host.includes(':') ? `[${host}]` : host}:${config.listenPort}`;
}
