/**
 * A real `cairn up` cluster for integration tests: unique name, ports, underlay and cluster CIDR
 * per run (tests run side by side), the real kubectl with its own cache dir, and `down()` that
 * runs `cairn down --purge` (and a network teardown by name even if that fails).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teardownCluster } from '../../src/net/lab.js';
import { buildBusyboxImage } from '../../src/agent/images/busybox-image.js';
import { requireNetTools, runClusterName } from './net-lab.js';

const CAIRN = new URL('../../../bin/cairn.js', import.meta.url).pathname;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits before reading its input closes the pipe: its exit code tells.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export interface CairnCluster {
  name: string;
  dir: string;
  kubeconfig: string;
  nodes: number;
  /** `192.x.y` style prefix of the underlay /24: the host bridge is `.1`, node n is `.(10+n)`. */
  underlayPrefix: string;
  clusterCidr: string;
  /** The built-in busybox image every node carries, e.g. cairn.local/busybox:1.35.0. */
  busybox: string;
  /** `cairn ...` */
  cairn(...args: string[]): Promise<Run>;
  /** kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Run>;
  /** kubectl that must succeed; returns stdout. */
  ok(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** kubectl get -o json, parsed. */
  json<T = Record<string, unknown>>(args: string[]): Promise<T>;
  down(): Promise<void>;
}

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));

export async function upCluster(opts: { nodes?: number; label?: string; /** More `cairn up` options (e.g. --fabric FILE). */ upArgs?: string[] } = {}): Promise<CairnCluster> {
  requireNetTools();
  const nodes = opts.nodes ?? 2;
  const name = runClusterName();
  const dir = await mkdtemp(join(tmpdir(), `cairn-${opts.label ?? 'cluster'}-${name}-`));
  const cacheDir = join(dir, 'kubectl-cache');
  let underlayPrefix = `172.${rand(22, 31)}.${rand(0, 256)}`;
  // Outside the Service network 10.96.0.0/12 (cairn up refuses an overlap).
  let clusterCidr = `10.${rand(112, 250)}.0.0/16`;
  let apiPort = rand(20000, 40000);
  let agentBase = rand(40000, 60000);
  const kubeconfig = join(dir, 'kubeconfig');
  const cairn = (...args: string[]) => run(process.execPath, [CAIRN, ...args]);
  const kubectl = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
    run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { input: o.input, timeoutMs: o.timeoutMs ?? 120_000 });
  const cluster: CairnCluster = {
    name,
    dir,
    kubeconfig,
    nodes,
    underlayPrefix,
    clusterCidr,
    busybox: (await buildBusyboxImage()).reference,
    cairn,
    kubectl,
    async ok(args, o) {
      const r = await kubectl(args, o);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async json<T>(args: string[]) {
      return JSON.parse(await cluster.ok([...args, '-o', 'json'])) as T;
    },
    async down() {
      // Once more after a failure (a `cairn down` that could not even start — dist rebuilt under
      // it by a concurrent build — stops nothing). The data dir goes only with the cluster:
      // deleting cluster.json while processes, mounts and cgroups remain would leave them where
      // no `cairn down` can find them.
      let r = await cairn('down', '--data-dir', dir, '--purge');
      if (r.code !== 0) r = await cairn('down', '--data-dir', dir, '--purge');
      await teardownCluster(name).catch(() => undefined);
      if (r.code === 0) await rm(dir, { recursive: true, force: true });
      assert.equal(r.code, 0, `cairn down failed (the cluster's data dir ${dir} is kept: run cairn down --data-dir ${dir} --purge):\n${r.stdout}${r.stderr}`);
    },
  };
  const upOnce = () =>
    cairn(
      'up',
      '--nodes',
      String(nodes),
      '--data-dir',
      dir,
      '--name',
      name,
      '--api-port',
      String(apiPort),
      '--agent-base-port',
      String(agentBase),
      '--underlay-cidr',
      `${underlayPrefix}.0/24`,
      '--cluster-cidr',
      clusterCidr,
      '--timeout',
      '150',
      ...(opts.upArgs ?? []),
    );
  // Random choices can meet a port the kernel has just handed to an outbound connection, or the
  // networks of a cluster another test runs at the same time: try others.
  let r = await upOnce();
  for (let i = 0; i < 3 && r.code !== 0 && /is in use on 127\.0\.0\.1|overlaps the host's route/.test(r.stderr); i++) {
    // What the failed attempt started goes first; the next one starts clean.
    await cairn('down', '--data-dir', dir, '--purge');
    await mkdir(dir, { recursive: true });
    apiPort = rand(20000, 40000);
    agentBase = rand(40000, 60000);
    cluster.underlayPrefix = underlayPrefix = `172.${rand(22, 31)}.${rand(0, 256)}`;
    cluster.clusterCidr = clusterCidr = `10.${rand(112, 250)}.0.0/16`;
    r = await upOnce();
  }
  if (r.code !== 0) {
    await cluster.down().catch(() => undefined);
    assert.fail(`cairn up failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return cluster;
}
