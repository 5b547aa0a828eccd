/**
 * Fabric lab recovery benchmark: for each seed design and each way of cutting a cable, RUNS
 * times: `lab up`, `lab verify` (must pass), cut pve1-pve2, then `lab verify` at once in the same
 * process — so recovery is measured from the cut with no command start in between (the CLI's
 * `verify` starts probing about half a second after `lab fail` returns) — and `lab down`.
 * A run whose first verify fails is reported and not measured.
 *
 * See BENCHMARKS.md ("Fabric lab"). Output: a table on stdout and bench/results/fabric-lab.json
 * (fabric-lab.reduced.json for runs with other sizes, which are never the recorded numbers).
 *
 *   npm run build && node dist/bench/fabric-lab-bench.js
 *
 * Environment (all optional):
 *   BENCH_RUNS=5                 cuts per design and mode
 *   BENCH_RECOVERY_TIMEOUT_S=60  how long after a cut to wait for every guest pair
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadTopology } from '../src/fabric/topology.js';
import { labUp } from '../src/fabric/lab/up.js';
import { labVerify } from '../src/fabric/lab/verify.js';
import { labFail } from '../src/fabric/lab/fail.js';
import { labDown } from '../src/fabric/lab/down.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RECOVERY_TIMEOUT_MS = Number(process.env.BENCH_RECOVERY_TIMEOUT_S ?? 60) * 1000;
const LINK = 'pve1-pve2';
const CASES = [
  { design: 'ibgp', silent: false },
  { design: 'ibgp', silent: true },
  { design: 'ebgp', silent: false },
  { design: 'ebgp', silent: true },
] as const;

interface CaseResult {
  design: string;
  cut: 'carrier lost' | 'silent';
  /** ms from the cut until every guest pair answered again; null: not within the timeout. */
  recoveryMs: (number | null)[];
  /** Runs not measured because the lab did not pass its first verify (with the failing checks). */
  skipped: string[];
  /** Every check passed after recovery, in every measured run. */
  checksPassedAfter: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function runCase(design: string, silent: boolean): Promise<CaseResult> {
  const file = join(ROOT, `examples/fabric/switchless-3node-${design}.yaml`);
  const result: CaseResult = { design, cut: silent ? 'silent' : 'carrier lost', recoveryMs: [], skipped: [], checksPassedAfter: true };
  for (let i = 0; i < RUNS; i++) {
    const id = `bench${i}`;
    try {
      await labUp({ id, topology: await loadTopology(file), source: file });
      const first = await labVerify(id);
      if (!first.ok) {
        result.skipped.push(first.checks.flatMap((c) => c.problems).join('; '));
        continue;
      }
      await labFail(id, LINK, silent);
      const after = await labVerify(id, { recoveryTimeoutMs: RECOVERY_TIMEOUT_MS, waitMs: 10_000 });
      const rec = after.recoveries[0]?.recovered;
      result.recoveryMs.push(rec ? rec.ms : null);
      if (!after.checks.every((c) => c.ok)) result.checksPassedAfter = false;
      process.stdout.write(`${design} ${result.cut} #${i + 1}: ${rec ? `${(rec.ms / 1000).toFixed(2)} s` : 'not recovered'}\n`);
    } finally {
      await labDown(id);
    }
  }
  return result;
}

const startLoad = loadavg();
const results: CaseResult[] = [];
for (const c of CASES) results.push(await runCase(c.design, c.silent));

console.log('\ndesign  cut           runs  recovered  min s   median s  max s   checks after');
for (const r of results) {
  const ok = r.recoveryMs.filter((x): x is number => x !== null);
  const fmt = (x: number | undefined) => (x === undefined ? '-' : (x / 1000).toFixed(2));
  console.log(
    `${r.design.padEnd(7)} ${r.cut.padEnd(13)} ${String(r.recoveryMs.length).padEnd(5)} ${String(ok.length).padEnd(10)} ${fmt(ok.length ? Math.min(...ok) : undefined).padEnd(7)} ${fmt(ok.length ? median(ok) : undefined).padEnd(9)} ${fmt(ok.length ? Math.max(...ok) : undefined).padEnd(7)} ${r.checksPassedAfter ? 'all passed' : 'some failed'}${r.skipped.length ? ` (${r.skipped.length} runs skipped: first verify failed)` : ''}`,
  );
}
const out = join(ROOT, 'bench/results', RUNS === 5 && RECOVERY_TIMEOUT_MS === 60_000 ? 'fabric-lab.json' : 'fabric-lab.reduced.json');
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, loadavgBefore: startLoad, loadavgAfter: loadavg(), runs: RUNS, recoveryTimeoutMs: RECOVERY_TIMEOUT_MS, link: LINK, results }, null, 2) + '\n');
console.log(`\nwrote ${out}`);
