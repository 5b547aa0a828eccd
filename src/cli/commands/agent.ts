/**
 * `cairn agent`: the node agent (Cairn's kubelet) in the foreground until SIGTERM/SIGINT. Stopping
 * it leaves the node's containers running, as stopping the kubelet does; the next agent over the
 * same data dir takes them over.
 */
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { type AgentConfig, defaultAgentDataDir } from '../../agent/config.js';
import { defaultRouteAddress, deviceWithAddress } from '../../agent/node/addresses.js';
import { ensureServingCert } from '../../agent/node/serving-cert.js';
import { Ip, parseCidr } from '../../net/ip.js';
import { OVERLAY_MODES, type OverlayMode } from '../../net/overlay.js';
import { Logger } from '../../util/log.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { parseListen } from './server.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What the flags say, before anything is looked up on the machine (internal IP, certificate). */
export type AgentFlags = Omit<AgentConfig, 'internalIP' | 'underlayDev' | 'tls'> & {
  internalIP?: string;
  underlayDev?: string;
  tls?: AgentConfig['tls'];
};

const str = (v: Values, k: string) => v[k] as string | undefined;

/** `k=v,k2=v2` → labels, with the API's rules for keys and values. */
export function parseNodeLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new CliError(`--node-labels: "${part}" is not key=value`);
    const [k, val] = [part.slice(0, eq), part.slice(eq + 1)];
    if (!LABEL_KEY.test(k) || k.length > 316) throw new CliError(`--node-labels: "${k}" is not a valid label key`);
    if (!LABEL_VALUE.test(val)) throw new CliError(`--node-labels: "${val}" is not a valid label value (63 characters of A-Z a-z 0-9 - _ . at most)`);
    out[k] = val;
  }
  return out;
}

function wholeNumber(v: string, flag: string, min: number): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw new CliError(`${flag} wants a whole number of at least ${min}, got "${v}"`);
  return Number(v);
}

function ipv4(v: string, flag: string): string {
  if (isIP(v) !== 4) throw new CliError(`${flag} wants an IPv4 address, got "${v}"`);
  return v;
}

/** Parses and checks the flags; every problem is one CliError line naming the flag. */
export function parseAgentFlags(v: Values): AgentFlags {
  const kubeconfig = str(v, 'kubeconfig');
  if (!kubeconfig) throw new CliError('--kubeconfig is required (how the agent reaches the API server)');
  const nodeName = str(v, 'node-name');
  if (!nodeName) throw new CliError('--node-name is required');
  if (!DNS_SUBDOMAIN.test(nodeName) || nodeName.length > 253) throw new CliError(`--node-name "${nodeName}" is not a valid node name (lowercase letters, digits, '-' and '.')`);
  const hostname = (str(v, 'hostname-override') ?? osHostname()).toLowerCase();
  if (!DNS_SUBDOMAIN.test(hostname) || hostname.length > 63) throw new CliError(`hostname "${hostname}" is not a valid label value; pass --hostname-override`);
  const listen = parseListen(str(v, 'listen') ?? '0.0.0.0:10250');
  const cert = str(v, 'tls-cert-file');
  const key = str(v, 'tls-private-key-file');
  if (!!cert !== !!key) throw new CliError('--tls-cert-file and --tls-private-key-file go together');
  const cgroupRoot = str(v, 'cgroup-root') ?? '/cairn';
  if (!/^\/[A-Za-z0-9_.\-/]*$/.test(cgroupRoot) || cgroupRoot.split('/').includes('..')) throw new CliError(`--cgroup-root wants an absolute cgroup path like /cairn, got "${cgroupRoot}"`);
  const clusterCIDR = str(v, 'cluster-cidr') ?? '10.244.0.0/16';
  try {
    if (parseCidr(clusterCIDR).prefix > 24) throw new Error('smaller than a /24');
  } catch (e) {
    throw new CliError(`--cluster-cidr wants an IPv4 CIDR of /24 or larger, got "${clusterCIDR}": ${(e as Error).message}`);
  }
  const serviceCIDR = str(v, 'service-cidr') ?? '10.96.0.0/12';
  try {
    parseCidr(serviceCIDR);
  } catch (e) {
    throw new CliError(`--service-cidr wants an IPv4 CIDR, got "${serviceCIDR}": ${(e as Error).message}`);
  }
  const dnsRaw = (v['cluster-dns'] as string[] | undefined) ?? ['10.96.0.10'];
  const clusterDNS = dnsRaw.flatMap((d) => d.split(',')).map((d) => ipv4(d.trim(), '--cluster-dns'));
  const clusterDomain = str(v, 'cluster-domain') ?? 'cluster.local';
  if (!DNS_SUBDOMAIN.test(clusterDomain)) throw new CliError(`--cluster-domain "${clusterDomain}" is not a DNS domain`);
  const podNetnsPrefix = str(v, 'pod-netns-prefix') ?? 'cairn-pod-';
  if (!/^cairn[a-z0-9-]*-$/.test(podNetnsPrefix) || podNetnsPrefix.length > 40) throw new CliError(`--pod-netns-prefix must start with "cairn", end with "-" and use a-z 0-9 -, got "${podNetnsPrefix}"`);
  const nodeNetns = str(v, 'node-netns');
  if (nodeNetns !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(nodeNetns)) throw new CliError(`--node-netns "${nodeNetns}" is not a network namespace name`);
  const internalIP = str(v, 'internal-ip');
  const overlay = str(v, 'overlay') ?? 'vxlan';
  if (!OVERLAY_MODES.includes(overlay as OverlayMode)) throw new CliError(`--overlay wants one of ${OVERLAY_MODES.join(', ')}, got "${overlay}"`);
  const vtepIP = str(v, 'vtep-ip');
  const podMtu = str(v, 'pod-mtu');
  return {
    kubeconfig,
    nodeName,
    hostname,
    dataDir: str(v, 'data-dir') ?? defaultAgentDataDir(nodeName),
    nodeNetns,
    internalIP: internalIP === undefined ? undefined : ipv4(internalIP, '--internal-ip'),
    underlayDev: str(v, 'underlay-dev'),
    listenHost: listen.host,
    listenPort: listen.port,
    tls: cert && key ? { certFile: cert, keyFile: key } : undefined,
    cgroupRoot,
    clusterCIDR,
    serviceCIDR,
    overlay: overlay as OverlayMode,
    vtepIP: vtepIP === undefined ? undefined : ipv4(vtepIP, '--vtep-ip'),
    podMtu: podMtu === undefined ? undefined : wholeNumber(podMtu, '--pod-mtu', 68),
    clusterDNS,
    clusterDomain,
    maxPods: wholeNumber(str(v, 'max-pods') ?? '110', '--max-pods', 1),
    labels: parseNodeLabels(str(v, 'node-labels') ?? ''),
    podNetnsPrefix,
  };
}

/** Fills in what the machine knows: the node address and its device, and a serving certificate when none was given. */
async function resolveConfig(f: AgentFlags): Promise<AgentConfig> {
  const node = f.nodeNetns ? Ip.ns(f.nodeNetns) : Ip.root;
  try {
    let { internalIP, underlayDev } = f;
    if (!internalIP) {
      const found = await defaultRouteAddress(node);
      internalIP = found.address;
      underlayDev ??= found.dev;
    }
    underlayDev ??= await deviceWithAddress(node, internalIP);
    const tls = f.tls ?? (await ensureServingCert(f.dataDir, { hostname: f.hostname, ips: [internalIP] }));
    return { ...f, internalIP, underlayDev, tls };
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

export const agentCommand: Command = {
  name: 'agent',
  summary: "run the node agent (Cairn's kubelet) for one node",
  usage: [
    'usage: cairn agent --kubeconfig FILE --node-name NAME [options]',
    '',
    '  --kubeconfig FILE          how to reach the API server (a node client certificate: CN system:node:NAME, O system:nodes)',
    '  --node-name NAME           the Node this agent registers and runs pods for',
    '  --hostname-override NAME   the kubernetes.io/hostname label and Hostname address (default: this machine\'s hostname)',
    '  --data-dir DIR             state: runtime, images, pods, IPAM, certificate (default /var/lib/cairn/agent/NAME)',
    "  --node-netns NS            the node's network namespace (default: the host's own)",
    "  --internal-ip IP           the node's address (default: the default route's interface address)",
    '  --underlay-dev DEV         the device carrying that address (default: found from the address)',
    '  --listen HOST:PORT         the agent\'s HTTPS endpoint for logs, exec and port-forward (default 0.0.0.0:10250)',
    '  --tls-cert-file FILE       its certificate, with --tls-private-key-file FILE (default: DATA/pki/agent.crt, made once)',
    '  --cgroup-root PATH         cgroup parent of every pod (default /cairn)',
    '  --cluster-cidr CIDR        the pod network (default 10.244.0.0/16)',
    '  --service-cidr CIDR        the Service network: unallocated addresses in it are dropped (default 10.96.0.0/12)',
    "  --overlay vxlan|evpn       how pods reach other nodes: vxlan (default) programs each remote node's VTEP,",
    '                             evpn leaves that to FRR running on the node (EVPN, advertise-all-vni)',
    '  --vtep-ip IP               the VXLAN source address (default: the internal IP)',
    "  --pod-mtu N                the pods' MTU (default: the underlay device's minus 50 for VXLAN)",
    '  --cluster-dns IP           DNS server for pods (repeatable or comma-separated; default 10.96.0.10)',
    '  --cluster-domain DOMAIN    the cluster DNS domain (default cluster.local)',
    '  --max-pods N               pods this node accepts (default 110)',
    '  --node-labels K=V,...      extra labels for the Node',
    '  --pod-netns-prefix PREFIX  name prefix of pod network namespaces (default cairn-pod-)',
  ].join('\n'),
  options: {
    kubeconfig: { type: 'string' },
    'node-name': { type: 'string' },
    'hostname-override': { type: 'string' },
    'data-dir': { type: 'string' },
    'node-netns': { type: 'string' },
    'internal-ip': { type: 'string' },
    'underlay-dev': { type: 'string' },
    listen: { type: 'string' },
    'tls-cert-file': { type: 'string' },
    'tls-private-key-file': { type: 'string' },
    'cgroup-root': { type: 'string' },
    'cluster-cidr': { type: 'string' },
    'service-cidr': { type: 'string' },
    overlay: { type: 'string' },
    'vtep-ip': { type: 'string' },
    'pod-mtu': { type: 'string' },
    'cluster-dns': { type: 'string', multiple: true },
    'cluster-domain': { type: 'string' },
    'max-pods': { type: 'string' },
    'node-labels': { type: 'string' },
    'pod-netns-prefix': { type: 'string' },
  },
  async run(v) {
    const config = await resolveConfig(parseAgentFlags(v));
    const log = new Logger('agent');
    // Loaded here, not at the top: every other cairn command would otherwise load the whole agent.
    const { startAgent } = await import('../../agent/agent.js');
    let agent;
    try {
      agent = await startAgent(config, log.clientLogger);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new CliError(`cannot listen on ${config.listenHost}:${config.listenPort}: the address is in use`);
      throw new CliError(`agent failed to start: ${err.message}`);
    }
    process.stderr.write(`cairn agent running for node ${config.nodeName}\n`);
    // The agent's own timers do not hold the process open; this does, until a signal.
    const keepAlive = setInterval(() => {}, 1 << 30);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        clearInterval(keepAlive);
        void agent.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
