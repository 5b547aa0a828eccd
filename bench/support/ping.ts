/**
 * The one wrapper around ping (iputils-ping, installed by scripts/setup.sh): ICMP echo round
 * trips from inside a network namespace, iputils' summary line parsed.
 */
import { spawnSync } from 'node:child_process';
import { runTool } from '../../src/net/exec.js';

export class PingError extends Error {
  override name = 'PingError';
}

/** Throws unless iputils' ping runs (busybox's has no -q summary with mdev). */
export function requirePing(): void {
  const r = spawnSync('ping', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0 || !/iputils/.test(r.stdout + r.stderr)) throw new PingError(`iputils ping is missing (apt-get install iputils-ping; scripts/setup.sh does it): ${r.error?.message ?? r.stderr}`);
}

export interface PingResult {
  sent: number;
  received: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
  mdevMs: number;
}

/** `count` echoes `intervalS` apart (below 0.2 s needs root, which the benchmark is). */
export async function ping(netns: string, target: string, count: number, intervalS = 0.05): Promise<PingResult> {
  const argv = ['netns', 'exec', netns, 'ping', '-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', '2', target];
  const r = await runTool('ip', argv, { timeoutMs: (count * intervalS + 30) * 1000 });
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(r.stdout);
  if (!counts || !rtt) throw new PingError(`ip ${argv.join(' ')}: exit ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 500)}`);
  return { sent: Number(counts[1]), received: Number(counts[2]), minMs: Number(rtt[1]), avgMs: Number(rtt[2]), maxMs: Number(rtt[3]), mdevMs: Number(rtt[4]) };
}
