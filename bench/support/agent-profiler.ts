/**
 * V8 CPU profiles of the node agents over chosen stretches of the node benchmark
 * (BENCH_AGENT_PROF=DIR): the cluster is started with agent-prof-hook.js preloaded, and
 * start()/stop() toggle it with SIGUSR2. Profiles land in DIR as `<label>-node-<n>.cpuprofile`
 * (open them in Chrome DevTools or any .cpuprofile viewer). Profiling costs the agents CPU, so
 * such runs are never the recorded numbers.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../../test/support/until.js';
import type { BenchCluster } from './bench-cluster.js';

const HOOK = fileURLToPath(new URL('./agent-prof-hook.js', import.meta.url));

export class AgentProfiler {
  /** Profiles written so far per agent pid (the hook numbers them). */
  private readonly written = new Map<number, number>();
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
  }

  /** Environment for `cairn up` (inherited by the server and agents it starts). */
  env(): Record<string, string> {
    return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${HOOK}`.trim(), CAIRN_BENCH_PROF_DIR: this.dir };
  }

  start(cluster: BenchCluster, nodes: number[]): void {
    for (const n of nodes) process.kill(cluster.agentPid(n), 'SIGUSR2');
  }

  /** Stops the profiles started on `nodes` and names them `<label>-node-<n>.cpuprofile`; returns the paths. */
  async stop(cluster: BenchCluster, nodes: number[], label: string): Promise<string[]> {
    const out: string[] = [];
    for (const n of nodes) {
      const pid = cluster.agentPid(n);
      const seq = (this.written.get(pid) ?? 0) + 1;
      this.written.set(pid, seq);
      process.kill(pid, 'SIGUSR2');
      const file = join(this.dir, `agent-${pid}-${seq}.cpuprofile`);
      await until(`the CPU profile of node-${n}'s agent`, () => existsSync(file), 60_000, 100);
      const named = join(this.dir, `${label}-node-${n}.cpuprofile`);
      renameSync(file, named);
      out.push(named);
    }
    return out;
  }
}
