/**
 * The one wrapper around iperf3 (Debian package `iperf3`, installed by scripts/setup.sh): a
 * one-shot server and a TCP client, each inside a network namespace (`ip netns exec NS iperf3
 * …`, argument arrays only), the client's `--json` report reduced to what the benchmark uses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { runTool } from '../../src/net/exec.js';

export class Iperf3Error extends Error {
  override name = 'Iperf3Error';
}
export class Iperf3MissingError extends Iperf3Error {
  override name = 'Iperf3MissingError';
}

/** Throws unless the host's iperf3 runs. */
export function requireIperf3(): string {
  const r = spawnSync('iperf3', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Iperf3MissingError(`iperf3 is missing (apt-get install iperf3; scripts/setup.sh does it): ${r.error?.message ?? r.stderr}`);
  return r.stdout.split('\n')[0]!.trim();
}

export interface IperfResult {
  seconds: number;
  /** Receiver's goodput, bits/s. */
  receivedBitsPerSecond: number;
  sentBitsPerSecond: number;
  retransmits: number;
  /** iperf3's own CPU readings, % of one CPU: the client's host and the server's. */
  cpuClientPct: number;
  cpuServerPct: number;
}

/** `iperf3 -s -1` (one test, then exit) bound to `bindIP:port` inside `netns`. */
export class IperfServer {
  private constructor(private readonly child: ChildProcess) {}

  static start(netns: string, bindIP: string, port: number): Promise<IperfServer> {
    const child = spawn('ip', ['netns', 'exec', netns, 'iperf3', '-s', '-1', '--forceflush', '-B', bindIP, '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      let out = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Iperf3Error(`iperf3 server in ${netns} on ${bindIP}:${port} ${why}: ${out.trim()}`));
      };
      const timer = setTimeout(() => fail('did not start within 10 s'), 10_000);
      const onData = (d: Buffer) => {
        out += d;
        if (out.includes('Server listening')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve(new IperfServer(child));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => (out += d));
      child.on('error', (e) => fail(`could not be spawned (${e.message})`));
      child.on('exit', (code) => fail(`exited (${code})`));
    });
  }

  /** Ends the server if the test did not already (it exits by itself after one client). */
  stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 3000).unref();
    });
  }
}

/** A TCP test of `seconds` from `netns` to `serverIP:port`. */
export async function iperfClient(netns: string, serverIP: string, port: number, seconds: number): Promise<IperfResult> {
  const argv = ['netns', 'exec', netns, 'iperf3', '-c', serverIP, '-p', String(port), '-t', String(seconds), '--json'];
  const r = await runTool('ip', argv, { timeoutMs: (seconds + 30) * 1000 });
  let report: IperfJson;
  try {
    report = JSON.parse(r.stdout) as IperfJson;
  } catch {
    throw new Iperf3Error(`ip ${argv.join(' ')}: exit ${r.code}, no JSON report: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  }
  if (r.code !== 0 || report.error) throw new Iperf3Error(`ip ${argv.join(' ')}: ${report.error ?? `exit ${r.code}`}`);
  const end = report.end;
  return {
    seconds: end.sum_received.seconds,
    receivedBitsPerSecond: end.sum_received.bits_per_second,
    sentBitsPerSecond: end.sum_sent.bits_per_second,
    retransmits: end.sum_sent.retransmits ?? 0,
    cpuClientPct: end.cpu_utilization_percent?.host_total ?? NaN,
    cpuServerPct: end.cpu_utilization_percent?.remote_total ?? NaN,
  };
}

interface IperfJson {
  error?: string;
  end: {
    sum_sent: { seconds: number; bits_per_second: number; retransmits?: number };
    sum_received: { seconds: number; bits_per_second: number };
    cpu_utilization_percent?: { host_total: number; remote_total: number };
  };
}
