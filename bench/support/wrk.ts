/**
 * wrk (Debian's HTTP load generator) for the benchmarks: typed options in, parsed figures out.
 * `startWrk` hands back the process id while the load runs, so a benchmark can read the CPU
 * wrk itself uses on the machine it shares with the server under test.
 */
import { execFile } from 'node:child_process';

export class WrkError extends Error {
  override name = 'WrkError';
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** Sent as the Host header. */
  host?: string;
}

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number };
  /** Answers that were not 2xx/3xx: a benchmark of error pages measures nothing. */
  non2xx3xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp, what: string) => {
    const m = re.exec(text);
    if (!m) throw new WrkError(`wrk output has no ${what}:\n${text}`);
    return Number(m[1]);
  };
  const latency = (p: number) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    if (!m) throw new WrkError(`wrk output has no ${p}% latency (was --latency given?):\n${text}`);
    return Number(m[1]) * UNIT_MS[m[2]!]!;
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: num(/^\s*(\d+) requests in /m, 'request count'),
    requestsPerSecond: num(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec'),
    latencyMs: { p50: latency(50), p90: latency(90), p99: latency(99) },
    non2xx3xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: errors ? { connect: Number(errors[1]), read: Number(errors[2]), write: Number(errors[3]), timeout: Number(errors[4]) } : { connect: 0, read: 0, write: 0, timeout: 0 },
  };
}

export interface WrkRun {
  pid: number;
  result: Promise<WrkResult>;
}

export function startWrk(o: WrkOptions): WrkRun {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency', ...(o.host ? ['-H', `Host: ${o.host}`] : []), o.url];
  let child: ReturnType<typeof execFile> | undefined;
  const result = new Promise<WrkResult>((resolve, reject) => {
    child = execFile('wrk', args, { timeout: (o.durationS + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(new WrkError(e.code === 'ENOENT' ? 'wrk is not installed (scripts/setup.sh installs it)' : `wrk ${args.join(' ')} failed: ${stderr || e.message}`));
        return;
      }
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(e);
      }
    });
  });
  // execFile reports a missing binary asynchronously (pid undefined): `result` rejects with it.
  return { pid: child?.pid ?? -1, result };
}

export function wrk(o: WrkOptions): Promise<WrkResult> {
  return startWrk(o).result;
}
