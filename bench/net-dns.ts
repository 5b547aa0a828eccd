/**
 * Cluster DNS throughput: `cairn dns` answering from the caches of a real `cairn server` that
 * holds 1,000 ClusterIP Services (and 100 headless ones with 3 named endpoints each), measured
 * with Debian's dnsperf on loopback — the load tool CoreDNS's published figure (about 33,000 qps
 * on 2 vCPUs) comes from. Runs:
 *
 *   cluster-a       A of every ClusterIP Service, the answer cache on (the default)
 *   cluster-mixed   A, SRV of named ports, headless A and endpoint names, NXDOMAIN, cache on
 *   cluster-a-nocache  the first mix with --cache-size 0: every query decoded, resolved, encoded
 *
 * The server, dnsperf and the DNS server share the machine's cores, as in CoreDNS's setup.
 * Exports run() for `npm run bench:net`; runs alone as `node dist/bench/net-dns.js`.
 *
 * Environment (all optional):
 *   BENCH_DNS_SERVICES=1000   ClusterIP Services
 *   BENCH_DNS_HEADLESS=100    headless Services (3 endpoints each, with hostnames)
 *   BENCH_DNS_SECONDS=20      each dnsperf run (-l)
 *   BENCH_DNS_CLIENTS=4       dnsperf -c
 *   BENCH_DNS_OUTSTANDING=200 dnsperf -q
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, HttpsTransport } from '../src/client/index.js';
import { ENDPOINTS, SERVICES } from '../src/controllers/util/service-endpoints.js';
import { NAMESPACES } from '../src/controllers/namespace.js';
import { procCpuSeconds, repoRoot, ServerProcess } from './support/server-process.js';
import { runPool } from './support/stats.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const cfg = {
  services: env('BENCH_DNS_SERVICES', 1000),
  headless: env('BENCH_DNS_HEADLESS', 100),
  seconds: env('BENCH_DNS_SECONDS', 20),
  clients: env('BENCH_DNS_CLIENTS', 4),
  outstanding: env('BENCH_DNS_OUTSTANDING', 200),
};
const NS = 'bench';
const GOAL_QPS = 33_000;
const log = (msg: string) => process.stderr.write(`[bench dns ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DnsperfResult {
  qps: number;
  avgLatencyMs: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  stddevLatencyMs: number;
  queriesSent: number;
  lostPercent: number;
  rcodes: string;
}

/** dnsperf's summary, as printed by version 2.x. */
export function parseDnsperf(out: string): DnsperfResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) throw new Error(`dnsperf output without ${re}:\n${out}`);
    return Number(m[1]);
  };
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(out);
  if (!lat) throw new Error(`dnsperf output without latencies:\n${out}`);
  return {
    qps: Math.round(num(/Queries per second:\s+([\d.]+)/)),
    avgLatencyMs: Number((Number(lat[1]) * 1000).toFixed(3)),
    minLatencyMs: Number((Number(lat[2]) * 1000).toFixed(3)),
    maxLatencyMs: Number((Number(lat[3]) * 1000).toFixed(3)),
    stddevLatencyMs: Number((num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000).toFixed(3)),
    queriesSent: num(/Queries sent:\s+(\d+)/),
    lostPercent: num(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
    rcodes: /Response codes:\s+(.*)/.exec(out)?.[1]?.trim() ?? '',
  };
}

function dnsperf(port: number, queryFile: string): Promise<DnsperfResult> {
  return new Promise((resolve, reject) => {
    const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(cfg.seconds), '-c', String(cfg.clients), '-q', String(cfg.outstanding)];
    execFile('dnsperf', args, { timeout: (cfg.seconds + 30) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err && !stdout.includes('Queries per second')) return reject(new Error(`dnsperf ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      try {
        resolve(parseDnsperf(stdout));
      } catch (e) {
        reject(e);
      }
    });
  });
}

interface DnsProcess {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startDns(kubeconfig: string, extra: string[]): Promise<DnsProcess> {
  // No upstream is ever asked: every query of the bench is a cluster name (the upstream is a discard port on loopback).
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'cairn.js'), 'dns', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const deadline = Date.now() + 30_000;
  let port = 0;
  while (!port) {
    if (child.exitCode !== null) throw new Error(`cairn dns exited ${child.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`cairn dns did not start: ${out}`);
    port = Number(/serving on 127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
    await sleep(50);
  }
  return {
    child,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

async function populate(client: Client): Promise<void> {
  await client.resource(NAMESPACES).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const svc = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec });
  const check = (r: { failures: number; errors: string[] }, what: string) => {
    if (r.failures) throw new Error(`${r.failures} ${what} creates failed: ${r.errors[0]}`);
  };
  check(await runPool(cfg.services, 16, (i) => client.resource(SERVICES).create(svc(`svc-${i}`, { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }))), 'Service');
  const headless = await runPool(cfg.headless, 16, async (i) => {
    await client.resource(SERVICES).create(svc(`hl-${i}`, { clusterIP: 'None', ports: [{ name: 'grpc', port: 9000, protocol: 'TCP' }] }));
    const addresses = [0, 1, 2].map((k) => ({ ip: `10.200.${i >> 8}.${((i & 255) * 3 + k) % 250 + 1}`, hostname: `hl-${i}-${k}` }));
    await client.resource(ENDPOINTS).create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: `hl-${i}`, namespace: NS }, subsets: [{ addresses, ports: [{ name: 'grpc', port: 9000 }] }] } as never);
  });
  check(headless, 'headless Service');
}

function queryFiles(dir: string): { a: string; mixed: string } {
  const d = 'svc.cluster.local';
  const a = Array.from({ length: cfg.services }, (_, i) => `svc-${i}.${NS}.${d} A`);
  const mixed: string[] = [];
  for (let i = 0; i < cfg.services; i++) {
    mixed.push(`svc-${i}.${NS}.${d} A`);
    if (i % 4 === 0) mixed.push(`_http._tcp.svc-${i}.${NS}.${d} SRV`);
    if (i % 10 === 0) mixed.push(`missing-${i}.${NS}.${d} A`);
  }
  for (let i = 0; i < cfg.headless; i++) mixed.push(`hl-${i}.${NS}.${d} A`, `hl-${i}-1.hl-${i}.${NS}.${d} A`, `_grpc._tcp.hl-${i}.${NS}.${d} SRV`);
  const files = { a: join(dir, 'cluster-a.txt'), mixed: join(dir, 'cluster-mixed.txt') };
  writeFileSync(files.a, a.join('\n') + '\n');
  writeFileSync(files.mixed, mixed.join('\n') + '\n');
  return files;
}

/** Waits until the DNS server has every Service (the last one created answers). */
async function waitForZone(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if ((await resolves(port, `svc-${cfg.services - 1}.${NS}.svc.cluster.local`)) && (await resolves(port, `hl-${cfg.headless - 1}.${NS}.svc.cluster.local`))) return;
    if (Date.now() > deadline) throw new Error('the DNS server never had every Service');
    await sleep(200);
  }
}

/** Whether the DNS server has an address for the name yet. */
function resolves(port: number, name: string): Promise<boolean> {
  return new Promise((resolve) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=2', name], (_e, out) => resolve(out.trim().length > 0)));
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-dns-'));
  // The API server's own EndpointSlice may not point at loopback: advertise a documentation address.
  const server = await ServerProcess.start({ store: 'sqlite', extraArgs: ['--advertise', '192.0.2.10'] });
  const running: DnsProcess[] = [];
  try {
    const transport = HttpsTransport.fromKubeconfig(server.kubeconfigPath);
    const t0 = Date.now();
    await populate(new Client(transport));
    transport.close();
    log(`${cfg.services} ClusterIP + ${cfg.headless} headless Services in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const files = queryFiles(dir);
    const results: Record<string, unknown> = {};
    const measure = async (name: string, file: string, extra: string[]) => {
      const dns = await startDns(server.kubeconfigPath, extra);
      running.push(dns);
      await waitForZone(dns.port);
      // One warm-up pass fills the answer cache and lets V8 optimise the hot path.
      await new Promise((r) => execFile('dnsperf', ['-s', '127.0.0.1', '-p', String(dns.port), '-d', file, '-n', '2', '-c', '2'], r));
      const cpu0 = procCpuSeconds(dns.child.pid!);
      const load0 = loadavg()[0];
      const r = await dnsperf(dns.port, file);
      const cpuSeconds = procCpuSeconds(dns.child.pid!) - cpu0;
      results[name] = { ...r, dnsCpuCores: Number((cpuSeconds / cfg.seconds).toFixed(2)), loadAvg1mBefore: Number(load0!.toFixed(2)) };
      log(`${name}: ${r.qps} qps, avg ${r.avgLatencyMs} ms, lost ${r.lostPercent}% (${r.rcodes}); cairn dns used ${(cpuSeconds / cfg.seconds).toFixed(2)} cores`);
      await dns.stop();
    };
    await measure('cluster-a', files.a, []);
    await measure('cluster-mixed', files.mixed, []);
    await measure('cluster-a-nocache', files.a, ['--cache-size', '0']);
    const best = (results['cluster-a'] as DnsperfResult).qps;
    return {
      machine: { cpus: cpus().length, model: cpus()[0]?.model },
      config: { ...cfg, tool: 'dnsperf (Debian)', transport: 'udp, loopback' },
      goal: { qps: GOAL_QPS, met: best >= GOAL_QPS },
      ...results,
    };
  } finally {
    for (const d of running) await d.stop().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(`bench dns failed: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
