/** `cairn up`: a cluster on this machine — the API server and N nodes as network namespaces. */
import { ClusterError } from '../../cluster/errors.js';
import { DEFAULT_SPEC } from '../../cluster/layout.js';
import { clusterUp } from '../../cluster/up.js';
import { resolve } from 'node:path';
import { type Cidr, parseCidr } from '../../net/ip.js';
import { DEFAULT_SERVICE_CIDR } from '../../registry/allocators/service-allocation.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

export const DEFAULT_CLUSTER_DIR = '/var/lib/cairn';

function whole(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new CliError(`${flag} wants a whole number from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + b.size && b.base < a.base + a.size;

function cidr(v: string | undefined, flag: string, check: (prefix: number) => string | undefined): string | undefined {
  if (v === undefined) return undefined;
  let prefix: number;
  try {
    prefix = parseCidr(v).prefix;
  } catch (e) {
    throw new CliError(`${flag}: ${(e as Error).message}`);
  }
  const problem = check(prefix);
  if (problem) throw new CliError(`${flag} ${v}: ${problem}`);
  return v;
}

export const upCommand: Command = {
  name: 'up',
  summary: 'start a cluster on this machine (API server + N nodes as network namespaces)',
  usage: [
    'usage: cairn up [--nodes N] [--data-dir DIR] [--name NAME] [options]',
    '',
    `  --nodes N              nodes node-1..node-N (default ${DEFAULT_SPEC.nodes})`,
    `  --data-dir DIR         everything of the cluster: state, logs, kubeconfig (default ${DEFAULT_CLUSTER_DIR})`,
    `  --name NAME            1-20 of a-z 0-9; prefixes the host's namespaces, links and cgroups (default ${DEFAULT_SPEC.name})`,
    `  --api-port PORT        the API server's port on 127.0.0.1 (default ${DEFAULT_SPEC.apiPort})`,
    `  --agent-base-port P    node N's agent listens on 127.0.0.1:P+N (default ${DEFAULT_SPEC.agentBasePort})`,
    `  --underlay-cidr CIDR   the /24 the nodes share with the host bridge (default ${DEFAULT_SPEC.underlayCidr})`,
    `  --cluster-cidr CIDR    the pod network; a /24 per node (default ${DEFAULT_SPEC.clusterCidr})`,
    '  --timeout SECONDS      how long to wait for the server and the nodes (default 120)',
    '  --fabric FILE          build the nodes on this fabric topology (cairn fabric validate FILE): one node per',
    '                         fabric node, cabled as it says, FRR on each, the pod network over EVPN',
    '',
    'Run it again to see the running cluster, or to restart what stopped (after a crash or reboot).',
    'The options of an existing cluster cannot change: `cairn down --purge` first.',
  ].join('\n'),
  options: {
    nodes: { type: 'string' },
    'data-dir': { type: 'string' },
    name: { type: 'string' },
    'api-port': { type: 'string' },
    'agent-base-port': { type: 'string' },
    'underlay-cidr': { type: 'string' },
    'cluster-cidr': { type: 'string' },
    timeout: { type: 'string' },
    fabric: { type: 'string' },
  },
  async run(v) {
    const name = v.name as string | undefined;
    if (name !== undefined && !/^[a-z0-9]{1,20}$/.test(name)) throw new CliError(`--name wants 1-20 lowercase letters and digits, got "${name}"`);
    const nodes = whole(v.nodes as string | undefined, '--nodes', 1, 200);
    const apiPort = whole(v['api-port'] as string | undefined, '--api-port', 1, 65535);
    const agentBasePort = whole(v['agent-base-port'] as string | undefined, '--agent-base-port', 1, 65535 - (nodes ?? DEFAULT_SPEC.nodes));
    const timeout = whole((v.timeout as string | undefined) ?? '120', '--timeout', 1, 86400)!;
    const underlayCidr = cidr(v['underlay-cidr'] as string | undefined, '--underlay-cidr', (p) => (p === 24 ? undefined : 'the underlay must be a /24'));
    const clusterCidr = cidr(v['cluster-cidr'] as string | undefined, '--cluster-cidr', (p) => (p <= 24 ? undefined : 'must be a /24 or larger'));
    // Pods inside the Service network would be Service addresses to every node's proxy.
    if (clusterCidr && overlaps(parseCidr(clusterCidr, false), parseCidr(DEFAULT_SERVICE_CIDR, false))) throw new CliError(`--cluster-cidr ${clusterCidr} overlaps the Service network ${DEFAULT_SERVICE_CIDR}`);
    const dataDir = (v['data-dir'] as string | undefined) ?? DEFAULT_CLUSTER_DIR;
    const fabric = v.fabric === undefined ? undefined : resolve(v.fabric as string);
    let result;
    try {
      result = await clusterUp({ dataDir, name, nodes, apiPort, agentBasePort, underlayCidr, clusterCidr, fabric, timeoutMs: timeout * 1000, progress: (l) => console.log(l) });
    } catch (e) {
      if (e instanceof ClusterError) throw new CliError(e.message);
      throw e;
    }
    const { spec } = result.layout;
    console.log(
      [
        '',
        `cluster "${spec.name}" ${result.alreadyRunning ? 'is already running' : 'is up'}: ${spec.nodes} ${spec.nodes === 1 ? 'node' : 'nodes'} Ready`,
        '',
        `  export KUBECONFIG=${result.layout.adminKubeconfig}`,
        '  kubectl get nodes',
        '',
        `  cairn status --data-dir ${result.layout.dataDir}    cairn down --data-dir ${result.layout.dataDir}`,
      ].join('\n'),
    );
  },
};
