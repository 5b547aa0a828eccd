/**
 * `cairn up`: a whole cluster on this machine. The control plane is a detached `cairn server`
 * and the cluster DNS a detached `cairn dns` on the host bridge address (the kube-dns Service's
 * endpoint); each node is a lab network namespace (src/net/lab.ts) with a detached `cairn agent`
 * in the root namespace driving it (--node-netns). Idempotent: what runs is kept (pids checked against
 * /proc/PID/cmdline), what is missing — after a crash or a reboot — is made again from the same
 * data; the root-namespace routes to the pod networks are reconciled on every run.
 *
 * With `fabric` (`cairn up --fabric FILE`) the nodes are also cabled to each other as the
 * topology says and run FRR (fabric-underlay.ts), and the agents run the `evpn` overlay on
 * their VTEPs; the management link to the host bridge stays for the API server, DNS and the host.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Client, HttpsTransport } from '../client/index.js';
import { conditionOf, NODES, nodeSpec } from '../controllers/util/nodes.js';
import type { KubeObject } from '../util/object.js';
import { probeDns } from '../dns/probe.js';
import { ensureDnsCredentials, ensureNodeCredentials, writeAdminKubeconfig } from './credentials.js';
import { checkFrrInstalled } from '../fabric/lab/frr.js';
import { LabError } from '../fabric/lab/errors.js';
import { type ClusterFabric, resolveFabric } from './fabric.js';
import { ensureFabric, waitForEvpn } from './fabric-underlay.js';
import { ClusterError } from './errors.js';
import { checkHealth } from './health.js';
import { reconcilePodRoutes } from './host-routes.js';
import { ClusterLayout, type ClusterSpec, DEFAULT_SPEC } from './layout.js';
import { checkNameFree, checkNetworksFree, requirePortFree, requireRoot } from './preflight.js';
import { aliveCairn, type CairnRole, findCairn, spawnCairn } from './processes.js';
import { type ClusterState, readState, writeState } from './state.js';
import { DNS_METRICS_PORT, ensureSystemObjects } from './system-objects.js';

export interface UpOptions extends Partial<ClusterSpec> {
  dataDir: string;
  /** How long to wait for the server to answer and for every node to be Ready (default 120 s). */
  timeoutMs?: number;
  progress?: (line: string) => void;
}

export interface UpResult {
  layout: ClusterLayout;
  /** Everything was already running: nothing was started. */
  alreadyRunning: boolean;
  serverPid: number;
  dnsPid: number;
  agentPids: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The spec: what the data dir's cluster has, with any option given on the command line that must agree. */
export function resolveSpec(prior: ClusterSpec | undefined, opts: Partial<ClusterSpec>, dataDir: string): ClusterSpec {
  // The fabric is resolved apart (resolveFabric): its file may move while its content may not change.
  const flags: Record<Exclude<keyof ClusterSpec, 'fabric'>, string> = {
    name: '--name',
    nodes: '--nodes',
    apiPort: '--api-port',
    agentBasePort: '--agent-base-port',
    underlayCidr: '--underlay-cidr',
    clusterCidr: '--cluster-cidr',
  };
  const spec = { ...(prior ?? DEFAULT_SPEC) };
  for (const k of Object.keys(flags) as (keyof typeof flags)[]) {
    const v = opts[k];
    if (v === undefined) continue;
    if (prior && prior[k] !== v)
      throw new ClusterError(`the cluster in ${dataDir} was made with ${flags[k]} ${prior[k]}, not ${v}; run 'cairn down --data-dir ${dataDir} --purge' first to make a different one`);
    (spec as Record<string, unknown>)[k] = v;
  }
  return spec;
}

async function logTail(path: string, lines = 12): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function clusterUp(opts: UpOptions): Promise<UpResult> {
  const progress = opts.progress ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 120_000;
  requireRoot('cairn up');
  const dataDir = resolve(opts.dataDir);
  const prior = await readState(dataDir);
  const fabric = await resolveFabric(dataDir, prior?.spec, opts.fabric);
  // A new cluster on a fabric has a node on every fabric node unless told otherwise (and then refused).
  const spec = resolveSpec(prior?.spec, { ...opts, nodes: opts.nodes ?? (prior ? undefined : fabric?.topology.nodes.length) }, dataDir);
  if (!prior && fabric) spec.fabric = opts.fabric;
  fabric?.check(spec);
  const layout = new ClusterLayout(dataDir, spec);
  const { lab } = layout;
  if (fabric) await asClusterError(checkFrrInstalled());
  if (!prior) await checkNameFree(layout);
  await checkNetworksFree(layout);
  await mkdir(layout.logsDir, { recursive: true, mode: 0o700 });
  if (!prior && fabric) await copyFile(fabric.source, layout.fabricFile);
  // The state goes down before anything is made, so `cairn down` can always find what to remove.
  const state: ClusterState = { spec, serverPid: prior?.serverPid, dnsPid: prior?.dnsPid, agentPids: { ...prior?.agentPids }, cephPids: prior?.cephPids };
  await writeState(dataDir, state);
  progress(`cluster "${spec.name}" in ${dataDir} (${spec.nodes} nodes${spec.fabric ? ` on the fabric ${spec.fabric}` : ''})`);

  await lab.up();
  for (const n of layout.indexes()) await lab.addNode(n, { vmTrunk: !fabric });
  progress(`network: bridge ${lab.bridge} ${lab.hostIP}/24, node namespaces ${lab.nodeNetns(1)}..${spec.nodes}`);
  if (fabric) await asClusterError(ensureFabric(layout, fabric, progress));

  let startedSomething = false;
  const serverPid = await running(state.serverPid, 'server', layout.serverDir);
  if (serverPid) {
    state.serverPid = serverPid;
    progress(`server: running (pid ${serverPid})`);
  } else {
    await requirePortFree(spec.apiPort, '--api-port', 'the API server');
    state.serverPid = spawnCairn(
      [
        'server',
        '--data-dir', layout.serverDir,
        '--listen', `127.0.0.1:${spec.apiPort}`,
        // The bridge address too: pods reach the API server there through the `kubernetes` Service.
        '--listen', `${lab.hostIP}:${spec.apiPort}`,
        '--advertise', lab.hostIP,
        '--cluster-cidr', spec.clusterCidr,
        '--lb-pool', lab.lbPool,
      ],
      layout.serverLog,
    );
    startedSomething = true;
    await writeState(dataDir, state);
    progress(`server: starting (pid ${state.serverPid}), log ${layout.serverLog}`);
  }
  await waitForServer(layout, state.serverPid!, timeoutMs);
  await writeAdminKubeconfig(layout);
  progress(`server: ready at ${layout.apiURL}`);

  const dnsPid = await running(state.dnsPid, 'dns', layout.dnsDir);
  if (dnsPid) {
    state.dnsPid = dnsPid;
    progress(`dns: running (pid ${dnsPid})`);
  } else {
    await ensureDnsCredentials(layout);
    state.dnsPid = spawnCairn(
      ['dns', '--data-dir', layout.dnsDir, '--kubeconfig', layout.dnsKubeconfig, '--listen', `${lab.hostIP}:53`, '--metrics', `${lab.hostIP}:${DNS_METRICS_PORT}`],
      layout.dnsLog,
    );
    startedSomething = true;
    await writeState(dataDir, state);
    progress(`dns: starting (pid ${state.dnsPid}), log ${layout.dnsLog}`);
  }

  /** When each agent started in this run was started: its node counts as Ready only once it has posted since. */
  const startedAt = new Map<number, number>();
  for (const n of layout.indexes()) {
    const name = layout.nodeName(n);
    const pid = await running(state.agentPids[n], 'agent', layout.nodeDir(n));
    if (pid) {
      state.agentPids[n] = pid;
      progress(`${name}: agent running (pid ${pid})`);
      continue;
    }
    await requirePortFree(layout.agentPort(n), '--agent-base-port', `the agent of ${name}`);
    await mkdir(layout.nodeDir(n), { recursive: true, mode: 0o700 });
    await ensureNodeCredentials(layout, n);
    startedAt.set(n, Date.now());
    state.agentPids[n] = spawnCairn(agentArgs(layout, n, fabric), layout.nodeLog(n));
    startedSomething = true;
    await writeState(dataDir, state);
    progress(`${name}: agent starting (pid ${state.agentPids[n]}), log ${layout.nodeLog(n)}`);
  }

  await writeState(dataDir, state);
  const transport = HttpsTransport.fromKubeconfig(layout.adminKubeconfig);
  try {
    const nodes = await waitForNodes(layout, state, startedAt, new Client(transport), timeoutMs, progress);
    const routes = nodes.map(({ n, podCidr }) => ({ podCidr, via: lab.underlayIP(n) }));
    const changed = await reconcilePodRoutes(lab.bridge, routes);
    for (const r of changed) progress(`route: ${r.podCidr} via ${r.via}`);
    await ensureSystemObjects(new Client(transport), layout);
  } finally {
    transport.close();
  }
  if (fabric) await waitForEvpn(layout, fabric, timeoutMs, progress);
  await waitForDns(layout, state.dnsPid!, timeoutMs);
  progress(`dns: ready at ${lab.hostIP}:53 (the kube-dns Service)`);
  return { layout, alreadyRunning: !startedSomething, serverPid: state.serverPid!, dnsPid: state.dnsPid!, agentPids: { ...state.agentPids } };
}

/** The pid of the running `cairn <role>` of that dir: the recorded one if it still is, else any found in /proc. */
async function running(pid: number | undefined, role: CairnRole, dir: string): Promise<number | undefined> {
  if (await aliveCairn(pid, role, dir)) return pid;
  return (await findCairn(role, dir))[0];
}

function agentArgs(layout: ClusterLayout, n: number, fabric: ClusterFabric | undefined): string[] {
  const { lab, spec } = layout;
  // On a fabric the pod network's VXLAN starts at the node's VTEP and FRR fills its FDB; the
  // InternalIP stays the management address, where the host, NodePorts and LoadBalancers are.
  const onFabric = fabric
    ? ['--overlay', 'evpn', '--vtep-ip', fabric.vtepIP(n), '--pod-mtu', String(fabric.podMtu), '--node-labels', `${FABRIC_NODE_LABEL}=${fabric.node(n).name}`]
    : [];
  return [
    'agent',
    '--data-dir', layout.nodeDir(n),
    '--kubeconfig', layout.nodeKubeconfig(n),
    '--node-name', layout.nodeName(n),
    '--hostname-override', layout.nodeName(n),
    '--node-netns', lab.nodeNetns(n),
    '--internal-ip', lab.underlayIP(n),
    '--underlay-dev', 'eth0',
    '--listen', `127.0.0.1:${layout.agentPort(n)}`,
    '--tls-cert-file', layout.nodeCertFile(n),
    '--tls-private-key-file', layout.nodeKeyFile(n),
    '--cgroup-root', layout.nodeCgroupRoot(n),
    '--cluster-cidr', spec.clusterCidr,
    // Per node, so one agent's garbage collection never touches another node's pods.
    '--pod-netns-prefix', `${lab.podNetnsPrefix}${n}-`,
    ...onFabric,
  ];
}

/** The fabric node a cluster node runs on (the topology's name for it). */
export const FABRIC_NODE_LABEL = 'cairn.io/fabric-node';

/** The fabric lab's errors (FRR missing or not starting, an interfaces file it cannot apply) as one CLI line. */
async function asClusterError<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof LabError) throw new ClusterError(e.message);
    throw e;
  }
}

/** Until /readyz answers ok with the admin certificate the server made; fails early when the server exits. */
async function waitForServer(layout: ClusterLayout, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!(await aliveCairn(pid, 'server', layout.serverDir)))
      throw new ClusterError(`the API server exited; see ${layout.serverLog}:\n${await logTail(layout.serverLog)}`);
    try {
      const tls = { ca: await readFile(layout.caCertFile, 'utf8'), cert: await readFile(layout.adminCertFile, 'utf8'), key: await readFile(layout.adminKeyFile, 'utf8') };
      const r = await checkHealth(`${layout.apiURL}/readyz`, tls);
      if (r.ok) return;
      last = r.detail;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new ClusterError(`the API server did not become ready in ${timeoutMs / 1000} s (${last}); see ${layout.serverLog}`);
    await sleep(250);
  }
}

/** Until `cairn dns` answers for the cluster (its caches synced); fails early when it exits. */
async function waitForDns(layout: ClusterLayout, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await aliveCairn(pid, 'dns', layout.dnsDir))) throw new ClusterError(`the DNS server exited; see ${layout.dnsLog}:\n${await logTail(layout.dnsLog)}`);
    const health = await probeDns({ host: layout.lab.hostIP, port: 53 });
    if (health.ok) return;
    if (Date.now() > deadline) throw new ClusterError(`the DNS server did not answer in ${timeoutMs / 1000} s (${health.detail}); see ${layout.dnsLog}`);
    await sleep(250);
  }
}

/** Until every node is Ready with a podCIDR; fails early when an agent exits, and names the nodes that are not ready on timeout. */
async function waitForNodes(
  layout: ClusterLayout,
  state: ClusterState,
  startedAt: Map<number, number>,
  client: Client,
  timeoutMs: number,
  progress: (l: string) => void,
): Promise<{ n: number; podCidr: string }[]> {
  const deadline = Date.now() + timeoutMs;
  const reported = new Set<number>();
  for (;;) {
    let byName = new Map<string, KubeObject>();
    try {
      byName = new Map((await client.resource(NODES).list()).items.map((o) => [o.metadata.name!, o]));
    } catch {
      /* the server may be restarting: check again */
    }
    const waiting: string[] = [];
    const ready: { n: number; podCidr: string }[] = [];
    for (const n of layout.indexes()) {
      const name = layout.nodeName(n);
      if (!(await aliveCairn(state.agentPids[n], 'agent', layout.nodeDir(n))))
        throw new ClusterError(`the agent of ${name} exited; see ${layout.nodeLog(n)}:\n${await logTail(layout.nodeLog(n))}`);
      const node = byName.get(name);
      const cond = node && conditionOf(node, 'Ready');
      const podCidr = node && nodeSpec(node).podCIDR;
      // A restarted agent's node may still show the old agent's Ready: wait for a heartbeat from the new one (times have 1 s resolution).
      const fresh = !startedAt.has(n) || Date.parse(cond?.lastHeartbeatTime ?? '') >= startedAt.get(n)! - 1000;
      if (cond?.status === 'True' && podCidr && fresh) {
        ready.push({ n, podCidr });
        if (!reported.has(n)) progress(`${name}: Ready (pod network ${podCidr})`);
        reported.add(n);
      } else {
        const why = !node ? 'not registered' : cond?.status !== 'True' ? `Ready=${cond?.status ?? 'unknown'}${cond?.message ? `: ${cond.message}` : ''}` : !fresh ? 'no status from the new agent yet' : 'no podCIDR yet';
        waiting.push(`${name} (${why}; log ${layout.nodeLog(n)})`);
      }
    }
    if (!waiting.length) return ready;
    if (Date.now() > deadline) throw new ClusterError(`nodes not Ready after ${timeoutMs / 1000} s: ${waiting.join(', ')}`);
    await sleep(500);
  }
}
