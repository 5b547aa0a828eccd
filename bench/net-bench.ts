/**
 * `npm run bench:net`: the service-networking benchmarks one after the other — the Service
 * proxy (programming latency at 10,000 Services, full resync, first-packet latency at 100 vs
 * 10,000 Services), cluster DNS (queries per second with dnsperf on loopback) and the Ingress
 * (wrk through nginx against wrk straight to the pod). Each part also runs alone
 * (`node dist/bench/net-proxy.js`, ...). Output: each part's figures on stdout and
 * bench/results/net.json. `BENCH_NET_PARTS=proxy,dns` runs a subset.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PARTS = ['proxy', 'dns', 'ingress'] as const;

interface BenchPart {
  run(): Promise<Record<string, unknown>>;
}

async function main(): Promise<void> {
  const wanted = (process.env['BENCH_NET_PARTS'] ?? PARTS.join(',')).split(',').map((s) => s.trim());
  const results: Record<string, unknown> = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, at: new Date().toISOString() };
  let failed = false;
  for (const part of PARTS) {
    if (!wanted.includes(part)) continue;
    console.log(`== bench:net ${part}`);
    try {
      // Loaded by path so each part stays a standalone script too.
      const mod = (await import(new URL(`./net-${part}.js`, import.meta.url).href)) as BenchPart;
      results[part] = await mod.run();
      console.log(JSON.stringify(results[part], null, 2));
    } catch (e) {
      failed = true;
      results[part] = { error: (e as Error).message };
      console.error(`bench:net ${part} failed: ${(e as Error).message}`);
    }
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'net.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`results in ${out}`);
  if (failed) process.exitCode = 1;
}

await main();
