/**
 * @kubernetes/client-node set up for benchmarking.
 *
 * client-node 1.4 builds a new https.Agent (keepAlive off) inside applySecurityAuthentication for
 * every request, so out of the box each call opens a fresh TLS connection with a client-cert
 * handshake. `keepAlive: true` plugs in an auth method that hands every request one shared
 * keep-alive agent built from the same kubeconfig credentials — what a long-running client (a
 * controller, an operator) does — so the benchmark measures the API server rather than TLS
 * handshakes. `keepAlive: false` is client-node's stock behaviour (KubeConfig.makeApiClient).
 */
import { Agent, request, type AgentOptions } from 'node:https';
import {
  CoreV1Api,
  KubeConfig,
  type Configuration,
  ServerConfiguration,
  createConfiguration,
  type RequestContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';

export interface BenchClient {
  kc: KubeConfig;
  api: CoreV1Api;
  /** client-node configuration behind `api` (for other API groups: `new AppsV1Api(client.config)`). */
  config: Configuration;
  agent?: Agent;
  server: string;
  /** GET path with the shared agent; resolves to status, byte count and milliseconds to the last byte (no JSON parse). */
  rawGet(path: string): Promise<{ status: number; bytes: number; ms: number; body: Buffer }>;
  close(): void;
}

export async function makeClient(kubeconfigPath: string, opts: { keepAlive: boolean; maxSockets?: number }): Promise<BenchClient> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const tls: AgentOptions = {};
  await kc.applyToHTTPSOptions(tls as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
  const agent = new Agent({ ca: tls.ca, cert: tls.cert, key: tls.key, keepAlive: true, maxSockets: opts.maxSockets ?? 64, scheduling: 'fifo' });
  let api: CoreV1Api;
  let config: Configuration;
  if (opts.keepAlive) {
    const auth: SecurityAuthentication = {
      getName: () => 'bench-shared-agent',
      applySecurityAuthentication: (ctx: RequestContext) => ctx.setAgent(agent),
    };
    config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } });
    api = new CoreV1Api(config);
  } else {
    config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc } });
    api = new CoreV1Api(config);
  }
  const rawGet = (path: string) =>
    new Promise<{ status: number; bytes: number; ms: number; body: Buffer }>((resolve, reject) => {
      const t0 = performance.now();
      const req = request(new URL(path, cluster.server), { agent, method: 'GET', headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, bytes: body.length, ms: performance.now() - t0, body });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  return { kc, api, config, agent, server: cluster.server, rawGet, close: () => agent.destroy() };
}
