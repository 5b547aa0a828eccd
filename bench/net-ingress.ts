/**
 * Ingress benchmark (issue 5): requests per second with wrk (Debian's) from the host through the
 * Ingress — a one-node `cairn up` cluster, the node agent's nginx in the node's namespace, an
 * Ingress for host bench.test — against wrk straight to the backend pod's IP, on the same
 * machine, same threads, connections and duration, alternating so both see the same load.
 * Backend: one busybox httpd pod serving a 612-byte page (the size of nginx's welcome page).
 * Goal: the Ingress costs under 10 % of the direct request rate.
 *
 *   node dist/bench/net-ingress.js     (root; BENCH_INGRESS_SECONDS=10 per run by default)
 *
 * `run()` is what bench/net-bench.ts calls. The cluster is removed at the end, also after a
 * failure or Ctrl-C.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { BenchCluster } from './support/bench-cluster.js';
import { round } from './support/stats.js';

const SECONDS = Number(process.env['BENCH_INGRESS_SECONDS'] ?? 10);
const THREADS = 2;
// busybox httpd listens with a backlog of 9: more connections than that, each reconnecting after
// every answer (httpd closes), overflow it and measure 1 s SYN retransmits instead of the server.
const CONNECTIONS = 8;
const ROUNDS = 2;
const HOST = 'bench.test';
const GOAL_OVERHEAD_PERCENT = 10;

// ---------------------------------------------------------------------------------------------
// wrk: typed options in, parsed figures out.

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

export function wrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency', ...(o.host ? ['-H', `Host: ${o.host}`] : []), o.url];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (o.durationS + 30) * 1000 }, (err, stdout, stderr) => {
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
}

// ---------------------------------------------------------------------------------------------

const PAGE = 'x'.repeat(612);

function manifests(image: string): object[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench-web', namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'bench-web' } },
        template: {
          metadata: { labels: { app: 'bench-web' } },
          spec: {
            containers: [
              {
                name: 'httpd',
                image,
                command: ['sh', '-c', `mkdir -p /tmp/www && printf '%s' '${PAGE}' > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-web', namespace: 'default' }, spec: { selector: { app: 'bench-web' }, ports: [{ port: 80, targetPort: 'http' }] } },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'bench-web', namespace: 'default' },
      spec: { rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'bench-web', port: { number: 80 } } } }] } }] },
    },
  ];
}

function status(ip: string, host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port: 80, path: '/', headers: { host }, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const figures = (r: WrkResult[]) => ({
  requestsPerSecond: Math.round(r.reduce((s, x) => s + x.requestsPerSecond, 0) / r.length),
  latencyMs: { p50: round(Math.max(...r.map((x) => x.latencyMs.p50))), p99: round(Math.max(...r.map((x) => x.latencyMs.p99))) },
  socketErrors: r.reduce((s, x) => s + x.socketErrors.connect + x.socketErrors.read + x.socketErrors.write + x.socketErrors.timeout, 0),
});

export async function run(): Promise<Record<string, unknown>> {
  const cluster = await BenchCluster.plan(1);
  const onSignal = () => void cluster.down().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    await cluster.up();
    const kubectl = async (args: string[], input?: string) => {
      const r = await cluster.kubectl(args, { input });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const images = JSON.parse((await cluster.cairn(['image', 'list', '--data-dir', cluster.nodeDir(1), '--output', 'json'])).stdout) as { references: string[] }[];
    const image = images.flatMap((i) => i.references).find((r) => r.startsWith('cairn.local/busybox:'));
    if (!image) throw new Error('the node has no built-in busybox image');
    await kubectl(['apply', '-f', '-'], manifests(image).map((m) => JSON.stringify(m)).join('\n'));
    await kubectl(['rollout', 'status', 'deployment/bench-web', '--timeout=120s']);
    const pod = JSON.parse(await kubectl(['get', 'pods', '-l', 'app=bench-web', '-o', 'json'])) as { items: { status: { podIP?: string } }[] };
    const podIP = pod.items[0]?.status.podIP;
    if (!podIP) throw new Error('the backend pod has no IP');
    const nodeIP = `${cluster.spec.underlayPrefix}.11`;
    await waitFor(`http://${nodeIP}/ (Host: ${HOST}) to answer 200 through the Ingress`, async () => (await status(nodeIP, HOST)) === 200);

    const common = { threads: THREADS, connections: CONNECTIONS };
    const direct = { ...common, url: `http://${podIP}:8080/` };
    const ingress = { ...common, url: `http://${nodeIP}/`, host: HOST };
    // Warm both paths (nginx workers, upstream connections, the pod's page cache) first.
    await wrk({ ...direct, durationS: 2 });
    await wrk({ ...ingress, durationS: 2 });
    const load = loadavg()[0]!;
    const d: WrkResult[] = [];
    const i: WrkResult[] = [];
    for (let n = 0; n < ROUNDS; n++) {
      d.push(await wrk({ ...direct, durationS: SECONDS }));
      i.push(await wrk({ ...ingress, durationS: SECONDS }));
    }
    for (const r of [...d, ...i]) if (r.non2xx3xx) throw new WrkError(`${r.non2xx3xx} answers were not 2xx/3xx: the figures would measure error pages`);
    const direct_ = figures(d);
    const ingress_ = figures(i);
    const overhead = round((1 - ingress_.requestsPerSecond / direct_.requestsPerSecond) * 100, 1);
    return {
      backend: 'one busybox httpd pod, 612-byte page',
      wrk: { threads: THREADS, connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS },
      direct: direct_,
      throughIngress: ingress_,
      overheadPercent: overhead,
      goalOverheadPercent: GOAL_OVERHEAD_PERCENT,
      goalMet: overhead < GOAL_OVERHEAD_PERCENT,
      // The machine's 1-minute load average when measuring started: other work shares the CPUs.
      loadAverage: round(load, 1),
    };
  } finally {
    process.removeListener('SIGINT', onSignal);
    const problems = await cluster.down();
    if (problems.length) console.error(`net-ingress: ${problems.join('\n')}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: Error) => {
      console.error(`net-ingress: ${e.stack ?? e.message}`);
      process.exit(1);
    },
  );
}
