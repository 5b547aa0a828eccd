/**
 * `cairn status`: the local cluster's components (the server's /readyz, the DNS server answering
 * for the `kubernetes` Service, each agent's /healthz, their pids and whether those processes
 * run) and its nodes (Ready, non-terminated pods against allocatable pods, addresses), read
 * through the admin kubeconfig.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Client, HttpsTransport } from '../client/index.js';
import { isNodeReady, isPodTerminal, NODES, nodeSpec, nodeStatus, PODS, podNodeName } from '../controllers/util/nodes.js';
import { probeDns } from '../dns/probe.js';
import { ClusterError } from './errors.js';
import { checkHealth, type HealthResult } from './health.js';
import { ClusterLayout } from './layout.js';
import { aliveCairn } from './processes.js';
import { readState } from './state.js';

export interface ComponentStatus {
  name: string;
  pid?: number;
  running: boolean;
  endpoint: string;
  health: HealthResult;
}

export interface NodeRow {
  name: string;
  ready: string;
  pods: number;
  maxPods?: string;
  internalIP?: string;
  podCIDR?: string;
}

export interface ClusterStatus {
  name: string;
  dataDir: string;
  kubeconfig: string;
  components: ComponentStatus[];
  /** Undefined when the API could not be read (the error is in apiError). */
  nodes?: NodeRow[];
  apiError?: string;
}

export async function clusterStatus(dataDirIn: string): Promise<ClusterStatus> {
  const dataDir = resolve(dataDirIn);
  const state = await readState(dataDir);
  if (!state) throw new ClusterError(`no cluster in ${dataDir} (no cluster.json); start one with 'cairn up --data-dir ${dataDir}'`);
  const layout = new ClusterLayout(dataDir, state.spec);
  let tls;
  try {
    tls = { ca: await readFile(layout.caCertFile, 'utf8'), cert: await readFile(layout.adminCertFile, 'utf8'), key: await readFile(layout.adminKeyFile, 'utf8') };
  } catch (e) {
    throw new ClusterError(`the cluster in ${dataDir} has no certificates yet (${(e as Error).message}); run 'cairn up --data-dir ${dataDir}'`);
  }
  const components: ComponentStatus[] = [];
  const serverEndpoint = `${layout.apiURL}/readyz`;
  components.push({
    name: 'server',
    pid: state.serverPid,
    running: await aliveCairn(state.serverPid, 'server', layout.serverDir),
    endpoint: serverEndpoint,
    health: await checkHealth(serverEndpoint, tls),
  });
  const dnsAddress = { host: layout.lab.hostIP, port: 53 };
  components.push({
    name: 'dns',
    pid: state.dnsPid,
    running: await aliveCairn(state.dnsPid, 'dns', layout.dnsDir),
    endpoint: `dns://${dnsAddress.host}:${dnsAddress.port}`,
    health: await probeDns(dnsAddress),
  });
  for (const n of layout.indexes()) {
    const endpoint = `https://127.0.0.1:${layout.agentPort(n)}/healthz`;
    const pid = state.agentPids[n];
    components.push({ name: layout.nodeName(n), pid, running: await aliveCairn(pid, 'agent', layout.nodeDir(n)), endpoint, health: await checkHealth(endpoint, tls) });
  }
  const status: ClusterStatus = { name: state.spec.name, dataDir, kubeconfig: layout.adminKubeconfig, components };
  const transport = HttpsTransport.fromKubeconfig(layout.adminKubeconfig, { timeoutMs: 5000 });
  try {
    const client = new Client(transport);
    const [nodes, pods] = await Promise.all([client.resource(NODES).list(), client.resource(PODS).list()]);
    const counts = new Map<string, number>();
    for (const p of pods.items) if (!isPodTerminal(p) && podNodeName(p)) counts.set(podNodeName(p), (counts.get(podNodeName(p)) ?? 0) + 1);
    status.nodes = nodes.items.map((node) => {
      const name = node.metadata.name!;
      const st = nodeStatus(node);
      return {
        name,
        ready: isNodeReady(node) ? 'Ready' : 'NotReady',
        pods: counts.get(name) ?? 0,
        maxPods: st.allocatable?.pods,
        internalIP: st.addresses?.find((a) => a.type === 'InternalIP')?.address,
        podCIDR: nodeSpec(node).podCIDR,
      };
    });
  } catch (e) {
    status.apiError = (e as Error).message;
  } finally {
    transport.close();
  }
  return status;
}
