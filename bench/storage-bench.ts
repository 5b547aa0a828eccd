/**
 * Storage benchmark on a real 2-node `cairn up` cluster (unique name, ports and networks;
 * always `cairn down --purge` at the end, also on failure or Ctrl-C):
 *
 *   1. provisioning latency: 50 claims of the default `local` class, each with a pod using it,
 *      created back to back; claim created → Bound and pod created → Running (ready), p50/p99,
 *      as a watch sees them;
 *   2. I/O: fio (Debian's) inside a pod through a `cairn.io/local` volume (ext4 on a loop
 *      device) against the same jobs on the node's raw filesystem (the directory holding the
 *      agents' data): sequential 1 MiB write and read, 4 KiB random read and write, O_DIRECT,
 *      libaio, queue depth 16. The pod runs the host's fio through its dynamic loader from a
 *      read-only hostPath mount of /usr (the offline busybox image has none), so only the I/O
 *      path differs. To keep the comparison fair on a shared, loaded machine: each side first
 *      writes its whole test file once (untimed), so every timed job overwrites or reads laid-out
 *      blocks on both sides; the pod is Guaranteed with 1 CPU, so its fio has the CPU weight of
 *      the host's (cpu.shares 1024; a BestEffort pod gets 2 and starves under load); the two
 *      sides alternate job by job, BENCH_FIO_REPEATS times, and the medians are compared.
 *   3. Ceph (`cairn ceph up` on the same cluster; BENCH_CEPH=0 skips it): provisioning latency
 *      as in 1 for BENCH_CEPH_CLAIMS claims of the `ceph-rbd` and of the `cephfs` class (Immediate
 *      binding), and CephFS throughput — fio sequential 1 MiB write and read, buffered (FUSE) with
 *      a final fsync — from a pod through a `cairn.io/cephfs` ReadWriteMany volume against
 *      `ceph-fuse` mounted directly on the host on the same subvolume.
 *
 * Output: a table on stdout and bench/results/storage.json (storage.reduced.json for other sizes).
 *
 *   npm run bench:storage
 *   BENCH_CLAIMS=10 BENCH_FIO_SECONDS=5 BENCH_FIO_REPEATS=1 npm run bench:storage     quick iteration
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { Client, HttpsTransport, loadKubeconfig } from '../src/client/index.js';
import { buildBusyboxImage } from '../src/agent/images/busybox-image.js';
import { PVCS } from '../src/storage/api.js';
import type { KubeObject } from '../src/util/object.js';
import { until } from '../test/support/until.js';
import { BenchCluster } from './support/bench-cluster.js';
import { repoRoot } from './support/server-process.js';
import { median, round, summarize, type Summary } from './support/stats.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const cfg = { claims: env('BENCH_CLAIMS', 50), cephClaims: env('BENCH_CEPH_CLAIMS', 50), ceph: process.env.BENCH_CEPH !== '0', cephFioSize: process.env.BENCH_CEPH_FIO_SIZE ?? '256M', fioSeconds: env('BENCH_FIO_SECONDS', 10), fioRepeats: env('BENCH_FIO_REPEATS', 3), fioSize: process.env.BENCH_FIO_SIZE ?? '512M', timeoutS: env('BENCH_TIMEOUT_S', 600) };
const fullSize = cfg.claims === 50 && cfg.fioSeconds === 10 && cfg.fioRepeats === 3 && cfg.fioSize === '512M' && (!cfg.ceph || cfg.cephClaims === 50);
const NS = 'bench';
const PODS = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
const FIO_JOBS = [
  { name: 'seq-write', rw: 'write', bs: '1M' },
  { name: 'seq-read', rw: 'read', bs: '1M' },
  { name: 'rand-read-4k', rw: 'randread', bs: '4k' },
  { name: 'rand-write-4k', rw: 'randwrite', bs: '4k' },
] as const;
const GOAL_RATIO_PCT = 90;

interface FioResult {
  job: string;
  /** MiB/s */
  bandwidth: number;
  iops: number;
}

/** One job's runs on one side: every repeat, and the median the ratio is taken of. */
interface FioSamples {
  job: string;
  /** MiB/s, IOPS: medians */
  bandwidth: number;
  iops: number;
  runs: FioResult[];
  /** The 1-minute load average before each run. */
  load: number[];
}

interface Results {
  config: typeof cfg;
  machine: { cpus: number; kernel: string; loadBefore: number[]; loadAfter?: number[] };
  provisioning?: { claimBoundMs: Summary; podRunningMs: Summary };
  io?: { raw: FioSamples[]; pod: FioSamples[]; ratioPct: Record<string, number> };
  ceph?: {
    upMs: number;
    rbd?: { claimBoundMs: Summary; podRunningMs: Summary };
    cephfs?: { claimBoundMs: Summary; podRunningMs: Summary };
    rwx?: { host: FioResult[]; pod: FioResult[]; ratioPct: Record<string, number> };
  };
  error?: string;
}

const FIO_FILE = 'fio.dat';
const fioCommon = (dir: string) => [`--filename=${dir}/${FIO_FILE}`, `--size=${cfg.fioSize}`, '--ioengine=libaio', '--direct=1', '--iodepth=16', '--numjobs=1', '--group_reporting', '--output-format=json'];

/** Writes the whole test file once, so the timed jobs find it laid out on either side. */
const fioLayoutArgs = (dir: string) => ['--name=layout', '--rw=write', '--bs=1M', ...fioCommon(dir)];

function fioArgs(dir: string, job: (typeof FIO_JOBS)[number]): string[] {
  return [`--name=${job.name}`, `--rw=${job.rw}`, `--bs=${job.bs}`, ...fioCommon(dir), '--time_based', `--runtime=${cfg.fioSeconds}`, '--ramp_time=2'];
}

function parseFio(job: string, out: string): FioResult {
  const json = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: { read: { bw: number; iops: number }; write: { bw: number; iops: number } }[] };
  const j = json.jobs[0];
  const side = j.write.bw > j.read.bw ? j.write : j.read;
  return { job, bandwidth: round(side.bw / 1024, 1), iops: Math.round(side.iops) };
}

/** What one provisioning run makes: `count` claims (with pods) of a class (default: the default class). */
interface ClaimSet {
  count: number;
  prefix: string;
  storageClassName?: string;
  accessModes: string[];
}

async function provisioning(client: Client, set: ClaimSet = { count: cfg.claims, prefix: 'c', accessModes: ['ReadWriteOnce'] }): Promise<NonNullable<Results['provisioning']>> {
  const created = new Map<string, number>();
  const bound = new Map<string, number>();
  const running = new Map<string, number>();
  const ac = new AbortController();
  const watch = async (ref: typeof PVCS, seen: (o: KubeObject) => void) => {
    for await (const ev of client.resource(ref).watch({ namespace: NS, signal: ac.signal, timeoutSeconds: cfg.timeoutS })) if (ev.type !== 'ERROR') seen(ev.object as KubeObject);
  };
  const watching = Promise.all([
    watch(PVCS, (c) => {
      if ((c.status as { phase?: string } | undefined)?.phase === 'Bound' && !bound.has(c.metadata.name!)) bound.set(c.metadata.name!, performance.now());
    }),
    watch(PODS, (p) => {
      const st = p.status as { phase?: string; containerStatuses?: { ready?: boolean }[] } | undefined;
      if (st?.phase === 'Running' && st.containerStatuses?.[0]?.ready && !running.has(p.metadata.name!)) running.set(p.metadata.name!, performance.now());
    }),
  ]).catch((e: Error) => {
    if (!ac.signal.aborted) throw e;
  });
  const busybox = (await buildBusyboxImage()).reference;
  for (let i = 0; i < set.count; i++) {
    const name = `${set.prefix}${i}`;
    created.set(name, performance.now());
    const cls = set.storageClassName ? { storageClassName: set.storageClassName } : {};
    await client.resource(PVCS).create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: NS }, spec: { ...cls, accessModes: set.accessModes, resources: { requests: { storage: '16Mi' } } } });
    await client.resource(PODS).create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: busybox, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: name } }],
      },
    });
  }
  await until('every claim Bound and every pod Running', () => bound.size === set.count && running.size === set.count, cfg.timeoutS * 1000, 200);
  ac.abort();
  await watching;
  const since = (m: Map<string, number>) => [...m].map(([k, t]) => t - created.get(k)!);
  return { claimBoundMs: summarize(since(bound)), podRunningMs: summarize(since(running)) };
}

async function io(cluster: BenchCluster): Promise<NonNullable<Results['io']>> {
  // The raw side: a directory on the filesystem that holds the node's volume images.
  const rawDir = mkdtempSync(join(cluster.nodeDir(1), 'fio-raw-'));
  try {
    return await ioAgainst(cluster, rawDir);
  } finally {
    rmSync(rawDir, { recursive: true, force: true });
  }
}

async function ioAgainst(cluster: BenchCluster, rawDir: string): Promise<NonNullable<Results['io']>> {
  const hostPath = (name: string, path: string) => ({ name, hostPath: { path } });
  const busybox = (await buildBusyboxImage()).reference;
  // Guaranteed, 1 CPU: the container's cpu.shares is 1024, the weight the host's fio has.
  const resources = { requests: { cpu: '1', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } };
  const podSpec = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'fio', namespace: NS },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': 'node-1' },
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: busybox,
          command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
          resources,
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'usr', mountPath: '/host/usr', readOnly: true },
          ],
        },
      ],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'fio' } }, hostPath('usr', '/usr')],
    },
  };
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'fio', namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '4Gi' } } } };
  const apply = await cluster.kubectl(['apply', '-f', '-'], { input: [claim, podSpec].map((o) => JSON.stringify(o)).join('\n') });
  if (apply.code !== 0) throw new Error(`kubectl apply: ${apply.stderr}`);
  await until('the fio pod Running', async () => (await cluster.kubectl(['get', 'pod', 'fio', '-n', NS, '-o', 'jsonpath={.status.phase}'])).stdout === 'Running', cfg.timeoutS * 1000, 500);
  // Debian's fio and its libraries, loaded from the host's /usr (merged /usr: /lib is /usr/lib).
  const inPod = (hostFile: string) => `/host${realpathSync(hostFile)}`;
  const loader = inPod('/lib64/ld-linux-x86-64.so.2');
  const libs = ['/host/usr/lib/x86_64-linux-gnu', '/host/usr/lib/x86_64-linux-gnu/ceph'].join(':');
  const onHost = (args: string[]) => execFileSync('fio', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const inThePod = async (args: string[]) => {
    const r = await cluster.kubectl(['exec', 'fio', '-n', NS, '--', loader, '--library-path', libs, inPod('/usr/bin/fio'), ...args], { timeoutMs: (cfg.fioSeconds + 120) * 1000 });
    if (r.code !== 0) throw new Error(`fio ${args[0]} in the pod: ${r.stderr}`);
    return r.stdout;
  };
  onHost(fioLayoutArgs(rawDir));
  await inThePod(fioLayoutArgs('/data'));
  const runs = { raw: FIO_JOBS.map(() => [] as FioResult[]), pod: FIO_JOBS.map(() => [] as FioResult[]) };
  const loads = { raw: FIO_JOBS.map(() => [] as number[]), pod: FIO_JOBS.map(() => [] as number[]) };
  for (let rep = 0; rep < cfg.fioRepeats; rep++) {
    for (const [i, job] of FIO_JOBS.entries()) {
      // Alternating which side goes first spreads a load change over both.
      const sides = rep % 2 === 0 ? (['raw', 'pod'] as const) : (['pod', 'raw'] as const);
      for (const side of sides) {
        loads[side][i].push(round(loadavg()[0]));
        const out = side === 'raw' ? onHost(fioArgs(rawDir, job)) : await inThePod(fioArgs('/data', job));
        runs[side][i].push(parseFio(job.name, out));
      }
    }
  }
  const samples = (side: 'raw' | 'pod') =>
    FIO_JOBS.map((j, i): FioSamples => ({ job: j.name, bandwidth: round(median(runs[side][i].map((r) => r.bandwidth)), 1), iops: Math.round(median(runs[side][i].map((r) => r.iops))), runs: runs[side][i], load: loads[side][i] }));
  const raw = samples('raw');
  const pod = samples('pod');
  const ratioPct = Object.fromEntries(FIO_JOBS.map((j, i) => [j.name, round((pod[i].bandwidth / raw[i].bandwidth) * 100, 1)]));
  return { raw, pod, ratioPct };
}

const CEPH_FIO_JOBS = [
  { name: 'seq-write', rw: 'write', bs: '1M' },
  { name: 'seq-read', rw: 'read', bs: '1M' },
] as const;

/** Buffered (FUSE has no O_DIRECT path worth measuring), each write job ending with an fsync. */
function cephFioArgs(dir: string, job: (typeof CEPH_FIO_JOBS)[number]): string[] {
  return [
    `--name=${job.name}`, `--directory=${dir}`, `--rw=${job.rw}`, `--bs=${job.bs}`, `--size=${cfg.cephFioSize}`,
    '--ioengine=psync', '--direct=0', '--end_fsync=1', '--numjobs=1', '--group_reporting', '--output-format=json',
  ];
}

/** CephFS throughput: fio in a pod on a cephfs RWX volume vs. ceph-fuse on the host, same subvolume. */
async function cephfsThroughput(cluster: BenchCluster): Promise<NonNullable<NonNullable<Results['ceph']>['rwx']>> {
  const busybox = (await buildBusyboxImage()).reference;
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'fio-fs', namespace: NS }, spec: { storageClassName: 'cephfs', accessModes: ['ReadWriteMany'], resources: { requests: { storage: '2Gi' } } } };
  const podSpec = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'fio-fs', namespace: NS },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': 'node-1' },
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: busybox, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'usr', mountPath: '/host/usr', readOnly: true }] }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'fio-fs' } }, { name: 'usr', hostPath: { path: '/usr' } }],
    },
  };
  const apply = await cluster.kubectl(['apply', '-f', '-'], { input: [claim, podSpec].map((o) => JSON.stringify(o)).join('\n') });
  if (apply.code !== 0) throw new Error(`kubectl apply: ${apply.stderr}`);
  await until('the fio-fs pod Running', async () => (await cluster.kubectl(['get', 'pod', 'fio-fs', '-n', NS, '-o', 'jsonpath={.status.phase}'])).stdout === 'Running', cfg.timeoutS * 1000, 500);
  const pvName = (await cluster.kubectl(['get', 'pvc', 'fio-fs', '-n', NS, '-o', 'jsonpath={.spec.volumeName}'])).stdout;
  const subvolumePath = (await cluster.kubectl(['get', 'pv', pvName, '-o', 'jsonpath={.spec.csi.volumeAttributes.subvolumePath}'])).stdout;
  const cephDir = join(cluster.spec.dir, 'ceph');
  const mnt = mkdtempSync(join(cluster.spec.dir, 'cephfs-host-'));
  const host: FioResult[] = [];
  execFileSync('ceph-fuse', ['-c', join(cephDir, 'ceph.conf'), '-k', join(cephDir, 'ceph.client.admin.keyring'), '--id', 'admin', '--client_mountpoint', subvolumePath, mnt]);
  try {
    mkdirSync(join(mnt, 'host'));
    for (const job of CEPH_FIO_JOBS) host.push(parseFio(job.name, execFileSync('fio', cephFioArgs(join(mnt, 'host'), job), { encoding: 'utf8', maxBuffer: 64 << 20 })));
    rmSync(join(mnt, 'host'), { recursive: true, force: true });
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  const inPod = (hostFile: string) => `/host${realpathSync(hostFile)}`;
  const libs = ['/host/usr/lib/x86_64-linux-gnu', '/host/usr/lib/x86_64-linux-gnu/ceph'].join(':');
  const pod: FioResult[] = [];
  await cluster.kubectl(['exec', 'fio-fs', '-n', NS, '--', 'mkdir', '-p', '/data/pod']);
  for (const job of CEPH_FIO_JOBS) {
    const r = await cluster.kubectl(['exec', 'fio-fs', '-n', NS, '--', inPod('/lib64/ld-linux-x86-64.so.2'), '--library-path', libs, inPod('/usr/bin/fio'), ...cephFioArgs('/data/pod', job)], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`fio ${job.name} in the pod: ${r.stderr}`);
    pod.push(parseFio(job.name, r.stdout));
  }
  const ratioPct = Object.fromEntries(CEPH_FIO_JOBS.map((j, i) => [j.name, round((pod[i].bandwidth / host[i].bandwidth) * 100, 1)]));
  return { host, pod, ratioPct };
}

function latencyLines(title: string, count: number, r: { claimBoundMs: Summary; podRunningMs: Summary }): string[] {
  const { claimBoundMs: c, podRunningMs: p } = r;
  return [
    `${title} (${count} claims, each with a pod)`.padEnd(44) + '     p50        p99        max',
    `  claim created → Bound              ${String(round(c.p50)).padStart(8)} ms ${String(round(c.p99)).padStart(8)} ms ${String(round(c.max)).padStart(8)} ms`,
    `  pod created → Running              ${String(round(p.p50)).padStart(8)} ms ${String(round(p.p99)).padStart(8)} ms ${String(round(p.max)).padStart(8)} ms`,
  ];
}

function report(r: Results): void {
  const lines: string[] = [];
  if (r.provisioning) lines.push(...latencyLines('provisioning, local', cfg.claims, r.provisioning));
  if (r.io) {
    lines.push('', `fio (O_DIRECT, libaio, depth 16, ${cfg.fioSeconds} s, median of ${cfg.fioRepeats})   raw MiB/s   pod MiB/s   raw IOPS   pod IOPS   pod/raw (goal ≥ ${GOAL_RATIO_PCT} %)`);
    r.io.raw.forEach((raw, i) => {
      const pod = r.io!.pod[i];
      lines.push(`  ${raw.job.padEnd(32)} ${String(raw.bandwidth).padStart(9)} ${String(pod.bandwidth).padStart(11)} ${String(raw.iops).padStart(10)} ${String(pod.iops).padStart(10)}   ${r.io!.ratioPct[raw.job]} %`);
    });
  }
  if (r.ceph) {
    lines.push('', `cairn ceph up: ${round(r.ceph.upMs / 1000, 1)} s`);
    if (r.ceph.rbd) lines.push(...latencyLines('provisioning, ceph-rbd', cfg.cephClaims, r.ceph.rbd));
    if (r.ceph.cephfs) lines.push(...latencyLines('provisioning, cephfs', cfg.cephClaims, r.ceph.cephfs));
    if (r.ceph.rwx) {
      lines.push('', `CephFS fio (buffered, ${cfg.cephFioSize}, fsync at end)   host ceph-fuse MiB/s   pod MiB/s   pod/host`);
      r.ceph.rwx.host.forEach((h, i) => lines.push(`  ${h.job.padEnd(32)} ${String(h.bandwidth).padStart(20)} ${String(r.ceph!.rwx!.pod[i].bandwidth).padStart(11)}   ${r.ceph!.rwx!.ratioPct[h.job]} %`));
    }
  }
  console.log(lines.join('\n'));
}

async function ceph(cluster: BenchCluster, client: Client, results: Results): Promise<void> {
  const t0 = performance.now();
  const up = await cluster.cairn(['ceph', 'up', '--data-dir', cluster.spec.dir]);
  if (up.code !== 0) throw new Error(`cairn ceph up: ${up.stderr}`);
  const r: NonNullable<Results['ceph']> = (results.ceph = { upMs: performance.now() - t0 });
  const clear = async () => {
    const del = await cluster.kubectl(['delete', 'pods,pvc', '--all', '-n', NS, '--wait=true'], { timeoutMs: cfg.timeoutS * 1000 });
    if (del.code !== 0) throw new Error(del.stderr);
  };
  await clear();
  r.rbd = await provisioning(client, { count: cfg.cephClaims, prefix: 'rbd', storageClassName: 'ceph-rbd', accessModes: ['ReadWriteOnce'] });
  await clear();
  r.cephfs = await provisioning(client, { count: cfg.cephClaims, prefix: 'fs', storageClassName: 'cephfs', accessModes: ['ReadWriteMany'] });
  await clear();
  r.rwx = await cephfsThroughput(cluster);
}

async function main(): Promise<void> {
  execFileSync('sh', ['-c', 'command -v fio'], { stdio: 'ignore' });
  const results: Results = { config: cfg, machine: { cpus: cpus().length, kernel: release(), loadBefore: loadavg() } };
  const cluster = await BenchCluster.plan(2);
  const stop = () => void cluster.down().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await cluster.up();
    const ns = await cluster.kubectl(['create', 'namespace', NS]);
    if (ns.code !== 0) throw new Error(ns.stderr);
    const client = new Client(new HttpsTransport(loadKubeconfig(cluster.kubeconfig)));
    results.provisioning = await provisioning(client);
    const del = await cluster.kubectl(['delete', 'pods,pvc', '--all', '-n', NS, '--wait=true'], { timeoutMs: cfg.timeoutS * 1000 });
    if (del.code !== 0) throw new Error(del.stderr);
    results.io = await io(cluster);
    if (cfg.ceph) await ceph(cluster, client, results);
  } catch (e) {
    results.error = (e as Error).stack ?? String(e);
  } finally {
    results.machine.loadAfter = loadavg();
    const problems = await cluster.down();
    if (problems.length) console.error(problems.join('\n'));
  }
  report(results);
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, fullSize ? 'storage.json' : 'storage.reduced.json'), JSON.stringify(results, null, 2));
  if (results.error) {
    console.error(results.error);
    process.exitCode = 1;
  }
}

await main();
