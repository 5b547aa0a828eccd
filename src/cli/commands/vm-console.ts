/**
 * `cairn vm console NAME`: virtctl console. Connects to the VMI's serial console (retrying while
 * the server answers 400 — a VMI not running yet — for up to --timeout minutes, as virtctl
 * does; 0 tries once), then joins it to this terminal: raw mode when stdin is a TTY, a plain
 * pipe otherwise (so scripts and tests can drive it). Ctrl+] (0x1d) or the end of stdin quits;
 * a connection cut by the server (another user took the console, the VM stopped) says so.
 */
import type { ClusterConnection } from '../../client/kubeconfig.js';
import type { WebSocketTunnel } from '../../agent/server/ws-tunnel.js';
import { CliError } from '../errors.js';
import { openVmiStream, VmiStreamError } from './vmi-websocket.js';

/** virtctl's default --timeout, in minutes. */
export const DEFAULT_CONSOLE_TIMEOUT_MINUTES = 5;
const ESCAPE = 0x1d;
const RETRY_MS = 1000;

const DISCONNECTED =
  'You were disconnected from the console. This could be caused by one of the following:' +
  '\n - the target VM was powered off' +
  '\n - another user connected to the console of the target VM' +
  '\n - network issues\n';

export async function runConsole(conn: ClusterConnection, namespace: string, name: string, timeoutMinutes: number): Promise<number> {
  const tunnel = await connectWithin(conn, namespace, name, timeoutMinutes * 60_000);
  process.stderr.write(`Successfully connected to ${name} console. The escape sequence is ^]\n`);
  return attach(tunnel);
}

/** Connects, retrying on 400 until `ms` pass (KubeVirt's SerialConsole with a ConnectionTimeout). */
async function connectWithin(conn: ClusterConnection, namespace: string, name: string, ms: number): Promise<WebSocketTunnel> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await openVmiStream(conn, namespace, name, 'console');
    } catch (e) {
      if (!(e instanceof VmiStreamError)) throw e;
      if (ms <= 0 || e.code !== 400) throw new CliError(`cairn vm console ${name}: ${e.message}`);
      if (Date.now() + RETRY_MS > deadline) throw new CliError(`cairn vm console ${name}: Timeout trying to connect to the virtual machine instance`);
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}

function attach(tunnel: WebSocketTunnel): Promise<number> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number, message?: string) => {
      if (done) return;
      done = true;
      if (raw) stdin.setRawMode(false);
      stdin.off('data', onInput);
      // A paused pipe still holds the event loop open.
      stdin.destroy();
      process.off('SIGINT', onInterrupt);
      // A normal closure for the server; what it still sends is no longer read.
      if (!tunnel.destroyed) tunnel.end();
      tunnel.resume();
      if (message) process.stderr.write(`${raw ? '\r\n' : '\n'}${message}`);
      resolve(code);
    };
    const onInput = (b: Buffer) => {
      const esc = b.indexOf(ESCAPE);
      if (esc < 0) {
        tunnel.write(b);
        return;
      }
      if (esc > 0) tunnel.write(b.subarray(0, esc));
      finish(0);
    };
    const onInterrupt = () => finish(0);
    tunnel.on('data', (b: Buffer) => process.stdout.write(b));
    tunnel.once('end', () => finish(0));
    tunnel.on('error', (e: Error) => finish(1, /\b1006\b/.test(e.message) ? DISCONNECTED : `${e.message}\n`));
    stdin.on('data', onInput);
    stdin.once('end', () => finish(0));
    process.on('SIGINT', onInterrupt);
    stdin.resume();
  });
}
