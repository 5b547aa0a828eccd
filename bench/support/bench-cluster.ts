/**
 * A `cairn up` cluster for the node benchmark, made with the same CLI as the integration tests'
 * fixture (test/support/cairn-cluster.ts) but with its data dir chosen *before* `cairn up` runs,
 * so an interrupt at any moment can still run `cairn down --purge` on it. Name, ports, underlay
 * and cluster CIDR are unique per run: the name is a test-style run id (`t` + 4, which parallel
 * test files already ignore in their leak checks) and the CIDRs avoid every route the host has.
 */
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ip, parseCidr } from '../../src/net/ip.js';
import { linkTag, teardownCluster } from '../../src/net/lab.js';
import { run, type Run } from '../../test/support/cairn-cluster.js';
import { runClusterName } from '../../test/support/net-lab.js';
import { repoRoot } from './server-process.js';

const CAIRN = join(repoRoot, 'bin', 'cairn.js');

export class BenchClusterError extends Error {
  override name = 'BenchClusterError';
}

export interface BenchClusterSpec {
  name: string;
  dir: string;
  nodes: number;
  apiPort: number;
  agentBasePort: number;
  /** `172.x.y`: the host bridge is .1, node n is .(10+n). */
  underlayPrefix: string;
  clusterCidr: string;
}

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));

/** [first, last] address of a CIDR as integers. */
function range(cidr: string): [number, number] {
  const c = parseCidr(cidr, false);
  const size = 2 ** (32 - c.prefix);
  const base = c.base - (c.base % size);
  return [base, base + size - 1];
}
const overlaps = (a: string, b: string) => {
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
};

/** Random underlay /24 and cluster /16 that overlap none of the host's routes. */
async function freeNetworks(): Promise<{ underlayPrefix: string; clusterCidr: string }> {
  const taken = (await Ip.root.routes())
    .map((r) => r.dst)
    .filter((d): d is string => !!d && d !== 'default')
    .map((d) => (d.includes('/') ? d : `${d}/32`));
  const free = (cidr: string) => !taken.some((t) => overlaps(t, cidr));
  for (let i = 0; i < 200; i++) {
    const underlayPrefix = `172.${rand(22, 31)}.${rand(0, 256)}`;
    // Outside the Service network 10.96.0.0/12 (cairn up refuses an overlap).
    const clusterCidr = `10.${rand(112, 250)}.0.0/16`;
    if (free(`${underlayPrefix}.0/24`) && free(clusterCidr)) return { underlayPrefix, clusterCidr };
  }
  throw new BenchClusterError('no free underlay /24 in 172.22-30.x or cluster /16 in 10.100-249 (the host routes them all)');
}

export class BenchCluster {
  private downOnce?: Promise<string[]>;
  /** A `cairn up` still running; `down` waits for it (two commands on one data dir must not overlap). */
  private upRunning?: Promise<Run>;

  private constructor(readonly spec: BenchClusterSpec) {}

  /** Picks a unique name, data dir, ports and networks; nothing is started yet. */
  static async plan(nodes: number): Promise<BenchCluster> {
    const name = runClusterName();
    const networks = await freeNetworks();
    const dir = await mkdtemp(join(tmpdir(), `cairn-bench-node-${name}-`));
    return new BenchCluster({ name, dir, nodes, apiPort: rand(20000, 40000), agentBasePort: rand(40000, 60000), ...networks });
  }

  get kubeconfig(): string {
    return join(this.spec.dir, 'kubeconfig');
  }
  /** Node n's agent data dir (DIR/nodes/N). */
  nodeDir(n: number): string {
    return join(this.spec.dir, 'nodes', String(n));
  }
  nodeLog(n: number): string {
    return join(this.spec.dir, 'logs', `node-${n}.log`);
  }
  get bridge(): string {
    return `cairn-${linkTag(this.spec.name)}-br`;
  }
  get linkTag(): string {
    return linkTag(this.spec.name);
  }

  private state(): { serverPid?: number; agentPids?: Record<string, number> } {
    return JSON.parse(readFileSync(join(this.spec.dir, 'cluster.json'), 'utf8')) as { serverPid?: number; agentPids?: Record<string, number> };
  }

  /** The agent pid of node n, from cluster.json (written by `cairn up`). */
  agentPid(n: number): number {
    const pid = this.state().agentPids?.[String(n)];
    if (!pid) throw new BenchClusterError(`cluster.json has no agent pid for node ${n}`);
    return pid;
  }

  serverPid(): number {
    const pid = this.state().serverPid;
    if (!pid) throw new BenchClusterError('cluster.json has no server pid');
    return pid;
  }

  cairn(args: string[], timeoutMs = 600_000, env?: Record<string, string>): Promise<Run> {
    return run(process.execPath, [CAIRN, ...args], { timeoutMs, env });
  }

  kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
    return run('kubectl', ['--kubeconfig', this.kubeconfig, '--cache-dir', join(this.spec.dir, 'kubectl-cache'), ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** `cairn up`; `env` reaches the server and agents it starts (they inherit it). */
  async up(env?: Record<string, string>, timeoutS = 300): Promise<void> {
    const s = this.spec;
    this.upRunning = this.cairn([
      'up',
      '--nodes', String(s.nodes),
      '--data-dir', s.dir,
      '--name', s.name,
      '--api-port', String(s.apiPort),
      '--agent-base-port', String(s.agentBasePort),
      '--underlay-cidr', `${s.underlayPrefix}.0/24`,
      '--cluster-cidr', s.clusterCidr,
      '--timeout', String(timeoutS),
    ], (timeoutS + 120) * 1000, env);
    const r = await this.upRunning;
    if (r.code !== 0) throw new BenchClusterError(`cairn up failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }

  /** Copies the cluster's logs (server, agents) to `dest`, to keep them past `down`. */
  async keepLogs(dest: string): Promise<void> {
    await cp(join(this.spec.dir, 'logs'), dest, { recursive: true });
  }

  /**
   * `cairn down --purge`, then a network teardown by name in case anything was left. When down
   * keeps failing, everything (data dir included) stays for a manual `cairn down`.
   * Runs once however often it is called (normal end, error, Ctrl-C). Returns what went wrong.
   */
  down(): Promise<string[]> {
    this.downOnce ??= (async () => {
      await this.upRunning?.catch(() => undefined);
      const problems: string[] = [];
      // `cairn down` is idempotent; a second and third try cover a transient failure (e.g. dist/
      // being rebuilt by someone else at that moment, which breaks the CLI's module loading).
      let r: Run = { code: -1, stdout: '', stderr: '' };
      for (let attempt = 1; attempt <= 3; attempt++) {
        r = await this.cairn(['down', '--data-dir', this.spec.dir, '--purge']).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
        if (r.code === 0) break;
        problems.push(`cairn down --data-dir ${this.spec.dir} --purge failed (${r.code}, attempt ${attempt}): ${r.stdout}${r.stderr}`.trim());
        if (attempt < 3) await new Promise((res) => setTimeout(res, 10_000));
      }
      // A later try succeeded: the earlier failures are only worth a line each.
      if (r.code === 0) problems.splice(0, problems.length, ...problems.map((p) => `(recovered on retry) ${p.split('\n')[0]}`));
      if (r.code === 0) {
        // Belt and braces, as the test fixture does; only once the agents are gone — tearing the
        // network down under running agents would make them rebuild it.
        await teardownCluster(this.spec.name).catch((e: Error) => problems.push(`network teardown of ${this.spec.name}: ${e.message}`));
        await rm(this.spec.dir, { recursive: true, force: true });
      }
      return problems;
    })();
    return this.downOnce;
  }
}
