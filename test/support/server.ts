/**
 * Test servers: a real Cairn API server on a random loopback port with a fresh data dir, started
 * in this process (fast, and gives tests the in-process handler) or as a `cairn server` child
 * process (for crash and signal tests). Both clean up after themselves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerConfig } from '../../src/api/start.js';
import type { ApiHandler } from '../../src/api/types.js';
import { Logger } from '../../src/util/log.js';
import { startEtcd } from './etcd.js';

export interface TestServer {
  url: string;
  kubeconfigPath: string;
  dataDir: string;
  handler: ApiHandler;
  server: RunningServer;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  store?: 'sqlite' | 'etcd';
  /** Use this etcd (shared between servers) instead of starting one. */
  etcdEndpoints?: string[];
  etcdPrefix?: string;
  dataDir?: string;
  tokenFile?: string;
  bookmarkIntervalMs?: number;
  compactionIntervalMs?: number;
  /** Any other server settings (controller options, simulated nodes). */
  server?: Partial<ServerConfig>;
}

const quiet = new Logger('test-apiserver', 'error');

/** The store backend integration suites run against: CAIRN_TEST_STORE=etcd switches them all. */
export const testStore = (): 'sqlite' | 'etcd' => (process.env.CAIRN_TEST_STORE === 'etcd' ? 'etcd' : 'sqlite');

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'cairn-test-')));
  const store = opts.store ?? testStore();
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
  let endpoints = opts.etcdEndpoints;
  if (store === 'etcd' && !endpoints) {
    etcd = await startEtcd();
    endpoints = etcd.endpoints;
  }
  let server: RunningServer;
  try {
    server = await startServer({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      store,
      etcdEndpoints: endpoints,
      etcdPrefix: opts.etcdPrefix ?? `/cairn-test-${randomBytes(4).toString('hex')}`,
      tokenFile: opts.tokenFile,
      compactionIntervalMs: opts.compactionIntervalMs,
      watch: opts.bookmarkIntervalMs ? { bookmarkIntervalMs: opts.bookmarkIntervalMs } : undefined,
      logger: quiet,
      ...opts.server,
    });
  } catch (e) {
    await etcd?.stop();
    if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: server.url,
    kubeconfigPath: server.kubeconfigPath,
    dataDir,
    handler: server.handler,
    server,
    async stop() {
      await server.stop();
      await etcd?.stop();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  kubeconfigPath: string;
  stderr(): string;
  /** SIGTERM and wait for exit; resolves to the exit code. */
  terminate(): Promise<number | null>;
  kill(): Promise<void>;
}

const CAIRN_BIN = new URL('../../../bin/cairn.js', import.meta.url).pathname;

/** Runs `cairn server` as a child process and waits until it is ready. */
export async function spawnServerProcess(args: string[], dataDir: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CAIRN_LOG_LEVEL: 'info' },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!url) {
    const m = /cairn server ready at (https:\/\/\S+)/.exec(err);
    if (m) url = m[1];
    else if (child.exitCode !== null) throw new Error(`cairn server exited early (${child.exitCode}): ${err}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`cairn server did not become ready: ${err}`);
    }
    else await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url,
    kubeconfigPath: join(dataDir, 'admin.kubeconfig'),
    stderr: () => err,
    async terminate() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function readKubeconfig(path: string): Promise<string> {
  return readFile(path, 'utf8');
}
