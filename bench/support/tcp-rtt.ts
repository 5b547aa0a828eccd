/**
 * TCP round-trip latency between two network namespaces: the wrapper around
 * tcp-rtt-process.js (a Node program of ours, run with `ip netns exec`, argument arrays only).
 * Node's event loop adds a few tens of µs per round trip on both ends, the same for every path
 * measured, so paths compare fairly; ICMP ping (ping.ts) gives the kernel-only figure.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTool } from '../../src/net/exec.js';
import { roundSummary, summarize, type Summary } from './stats.js';

const SCRIPT = fileURLToPath(new URL('./tcp-rtt-process.js', import.meta.url));

export class TcpRttError extends Error {
  override name = 'TcpRttError';
}

/** `count` 64-byte round trips on one connection from `clientNetns` to a server on `serverIP:port` in `serverNetns`; µs. */
export async function tcpRoundTrips(serverNetns: string, serverIP: string, clientNetns: string, port: number, count: number, warmup = 200): Promise<Summary> {
  const server = spawn('ip', ['netns', 'exec', serverNetns, process.execPath, SCRIPT, 'server', serverIP, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new TcpRttError(`echo server in ${serverNetns} did not start: ${out}`)), 10_000);
      server.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('ready')) (clearTimeout(timer), resolve());
      });
      server.stderr!.on('data', (d: Buffer) => (out += d));
      server.on('error', (e) => (clearTimeout(timer), reject(e)));
      server.on('exit', (code) => (clearTimeout(timer), reject(new TcpRttError(`echo server in ${serverNetns} exited (${code}): ${out}`))));
    });
    server.removeAllListeners('exit');
    const argv = ['netns', 'exec', clientNetns, process.execPath, SCRIPT, 'client', serverIP, String(port), String(count), String(warmup)];
    const r = await runTool('ip', argv, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new TcpRttError(`ip ${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
    const { us } = JSON.parse(r.stdout) as { us: number[] };
    return roundSummary(summarize(us));
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
}
