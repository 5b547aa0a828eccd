/**
 * Runs a real, throwaway etcd for tests: loopback ports picked by the kernel, a fresh data dir,
 * default durability (fsync on), logs in <dataDir>/etcd.log. The process is killed and the dir
 * removed by stop(), and also when the test process exits without calling it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdHandle {
  endpoints: string[];
  dataDir: string;
  /** Kills etcd and removes its data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs etcd, keeping its data (to test outages and recovery). */
  kill(): Promise<void>;
  /** Starts etcd again on the same ports and data (killing it first if it runs). */
  restart(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Binary to run; default $ETCD_BIN or /usr/bin/etcd. */
  binary?: string;
  /** How long to wait for /health. Default 20 s. */
  readyTimeoutMs?: number;
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdHandle> {
  const binary = opts.binary ?? process.env.ETCD_BIN ?? '/usr/bin/etcd';
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`etcd not found: run scripts/setup.sh (looked for ${binary})`);
  }
  const baseDir = mkdtempSync(join(tmpdir(), 'cairn-etcd-'));
  const logPath = join(baseDir, 'etcd.log');
  let child: ChildProcess | null = null;
  let removed = false;

  // Synchronous so it also works from the process 'exit' hook.
  const killNow = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const removeDir = () => {
    if (!removed) rmSync(baseDir, { recursive: true, force: true });
    removed = true;
  };
  const onExit = () => {
    killNow();
    removeDir();
  };
  process.once('exit', onExit);

  const [clientPort, peerPort] = await Promise.all([freePort(), freePort()]);
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'cairn-test',
    '--data-dir', join(baseDir, 'data'),
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `cairn-test=${peerUrl}`,
    '--initial-cluster-state', 'new',
    '--logger', 'zap',
    '--log-level', 'warn',
  ];

  const waitExit = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => c.once('exit', () => resolve()));
  };

  const launch = async () => {
    const log = openSync(logPath, 'a');
    const proc = spawn(binary, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    child = proc;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`etcd exited during startup (${proc.exitCode ?? proc.signalCode}); log:\n${logTail(logPath)}`);
      }
      if (await healthy(clientUrl)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    killNow();
    throw new Error(`etcd did not become healthy within ${opts.readyTimeoutMs ?? 20_000} ms; log:\n${logTail(logPath)}`);
  };

  const kill = async () => {
    killNow();
    await waitExit();
  };

  try {
    await launch();
  } catch (err) {
    await kill();
    removeDir();
    process.removeListener('exit', onExit);
    throw err;
  }

  return {
    endpoints: [clientUrl],
    dataDir: baseDir,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      removeDir();
      process.removeListener('exit', onExit);
    },
  };
}

/** A port the kernel just handed out on loopback (released again for etcd to bind). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
