/**
 * Ingress benchmark (issue 5): requests per second with wrk (Debian's) from the host through the
 * Ingress — a one-node `cairn up` cluster, the node agent's nginx in the node's namespace — against
 * wrk straight to the backend pod's IP, on the same machine, same threads, connections and
 * duration, in alternating rounds (direct first in one, the Ingress first in the next), median.
 * Goal: the Ingress costs under 10 % of the direct request rate.
 *
 * Two backends, each behind its own Ingress host, both answering a 612-byte page (the size of
 * nginx's welcome page):
 * - keepAlive: a Node `http` server (the host's Node, from a read-only hostPath of /usr, in the
 *   offline busybox image) keeping HTTP/1.1 connections open, as nginx keeps its client and
 *   upstream connections open. Direct and through the Ingress, wrk then sends requests on open
 *   connections only, so the difference is what the proxy costs. This is the goal's comparison.
 * - busyboxHttpd: busybox httpd, which answers `Connection: close`: a TCP connection per request,
 *   opened by wrk straight to the pod, by nginx (inside the node) through the Ingress, while wrk's
 *   connections to nginx stay open. The opener also closes first, so it keeps the TIME_WAIT
 *   sockets — thousands, all to the one pod address and port — and each connect() searches
 *   longer for a free source port: both figures measure connection setup and fall from round to
 *   round. Kept, labelled, to show that effect; it is not the proxy's cost.
 *
 * wrk, nginx's workers and the backend share the machine's cores, so each run also reports the
 * cores each of them used (and the whole machine), read from /proc and the pod's cgroup between
 * 1 s after the start and 1 s before the end.
 *
 *   node dist/bench/net-ingress.js     (root; BENCH_INGRESS_SECONDS=10 per run, BENCH_INGRESS_ROUNDS=3)
 *
 * `run()` is what bench/net-bench.ts calls. The cluster is removed at the end, also after a
 * failure or Ctrl-C.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ingressPaths } from '../src/ingress/paths.js';
import { Nginx } from '../src/ingress/nginx.js';
import { BenchCluster } from './support/bench-cluster.js';
import { coresDuring, machineBusyCpu, podCpu, processesCpu } from './support/cpu-cores.js';
import { median, round } from './support/stats.js';
import { startWrk, wrk, WrkError, type WrkOptions, type WrkResult } from './support/wrk.js';

const SECONDS = Number(process.env['BENCH_INGRESS_SECONDS'] ?? 10);
const ROUNDS = Number(process.env['BENCH_INGRESS_ROUNDS'] ?? 3);
const THREADS = 2;
const GOAL_OVERHEAD_PERCENT = 10;
// The CPU window leaves out each run's first and last second.
if (!(Number.isInteger(SECONDS) && SECONDS >= 3 && Number.isInteger(ROUNDS) && ROUNDS >= 1)) {
  throw new Error(`BENCH_INGRESS_SECONDS must be an integer ≥ 3 and BENCH_INGRESS_ROUNDS ≥ 1 (got ${SECONDS}, ${ROUNDS})`);
}
const PAGE_BYTES = 612;

interface Backend {
  /** Deployment, Service and label name; the Ingress host is `<name>.bench.test`. */
  name: string;
  describe: string;
  connections: number;
  pod(busybox: string): object;
}

/**
 * The host's Node in a busybox container: /usr mounted read-only at /host/usr, started through
 * the host's dynamic loader with the host's libraries (busybox's image has none).
 */
function nodeInBusybox(busybox: string, script: string): object {
  if (!process.execPath.startsWith('/usr/')) throw new Error(`the keep-alive backend runs the host's Node from /usr, but this one is ${process.execPath}`);
  const lib = '/host/usr/lib/x86_64-linux-gnu';
  return {
    volumes: [{ name: 'usr', hostPath: { path: '/usr', type: 'Directory' } }],
    containers: [
      {
        name: 'node',
        image: busybox,
        command: [`${lib}/ld-linux-x86-64.so.2`, '--library-path', lib, `/host${process.execPath}`, '-e', script],
        ports: [{ name: 'http', containerPort: 8080 }],
        volumeMounts: [{ name: 'usr', mountPath: '/host/usr', readOnly: true }],
        readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
      },
    ],
  };
}

// The server keeps idle connections longer (65 s) than nginx's upstream keepalive_timeout (60 s),
// so nginx, not the backend, closes them: never a request sent on a connection being closed.
const KEEP_ALIVE_SERVER = [
  `const body = Buffer.alloc(${PAGE_BYTES}, 'x');`,
  "const server = require('http').createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length }); res.end(body); });",
  'server.keepAliveTimeout = 65000;',
  'server.listen(8080);',
].join('\n');

const BACKENDS: Backend[] = [
  {
    name: 'keepalive',
    describe: `Node http server, HTTP/1.1 keep-alive, ${PAGE_BYTES}-byte page`,
    connections: 16,
    pod: (busybox) => nodeInBusybox(busybox, KEEP_ALIVE_SERVER),
  },
  {
    name: 'httpd',
    describe: `busybox httpd (closes every connection), ${PAGE_BYTES}-byte page`,
    // busybox httpd listens with a backlog of 9: more connections than that, each reconnecting
    // after every answer, overflow it and measure 1 s SYN retransmits instead of the server.
    connections: 8,
    pod: (busybox) => ({
      containers: [
        {
          name: 'httpd',
          image: busybox,
          command: ['sh', '-c', `mkdir -p /tmp/www && printf '%s' '${'x'.repeat(PAGE_BYTES)}' > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
        },
      ],
    }),
  },
];

const ingressHost = (b: Backend) => `${b.name}.bench.test`;

function manifests(busybox: string): object[] {
  const objects: object[] = [];
  for (const b of BACKENDS) {
    const labels = { app: `bench-${b.name}` };
    objects.push(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `bench-${b.name}`, namespace: 'default' },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: b.pod(busybox) } },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: `bench-${b.name}`, namespace: 'default' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] } },
    );
  }
  objects.push({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'bench', namespace: 'default' },
    spec: {
      rules: BACKENDS.map((b) => ({ host: ingressHost(b), http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: `bench-${b.name}`, port: { number: 80 } } } }] } })),
    },
  });
  return objects;
}

function status(ip: string, host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port: 80, path: '/', headers: { host }, timeout: 2000, agent: false }, (res) => {
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

// ---------------------------------------------------------------------------------------------

type Component = 'wrk' | 'nginx' | 'backend' | 'machine';

interface Measured {
  wrk: WrkResult;
  /**
   * Cores used by each component while the load ran. 'machine' is everything busy, softirq
   * included: the kernel's packet work that no process is charged for, the agent, and whatever
   * else runs on the machine at the time.
   */
  cores: Record<Component, number>;
}

interface Path {
  opts: Omit<WrkOptions, 'durationS'>;
  /** The nginx worker pids of the node, read before each run (a reload replaces them). */
  nginxWorkers(): Promise<number[]>;
  backendUid: string;
}

async function measure(p: Path): Promise<Measured> {
  const nginx = processesCpu(await p.nginxWorkers());
  const backend = podCpu(p.backendUid);
  const run = startWrk({ ...p.opts, durationS: SECONDS });
  const [cores, result] = await Promise.all([
    coresDuring({ wrk: processesCpu([run.pid]), nginx, backend, machine: machineBusyCpu }, 1000, (SECONDS - 1) * 1000),
    run.result,
  ]);
  if (result.non2xx3xx) throw new WrkError(`${result.non2xx3xx} answers from ${p.opts.url} were not 2xx/3xx: the figures would measure error pages`);
  return { wrk: result, cores };
}

const COMPONENTS: Component[] = ['wrk', 'nginx', 'backend', 'machine'];

/**
 * Medians over the rounds, plus each round's rate so the spread shows. CPU is given as cores and
 * as CPU microseconds per request: on a saturated machine the rate is the cores divided by the
 * cost per request, and the cost is what the proxy adds wherever it runs.
 */
function summary(runs: Measured[]) {
  const med = (f: (m: Measured) => number, digits?: number) => round(median(runs.map(f)), digits);
  const per = (f: (c: Component) => number) => Object.fromEntries(COMPONENTS.map((c) => [c, f(c)])) as Record<Component, number>;
  return {
    requestsPerSecond: Math.round(median(runs.map((r) => r.wrk.requestsPerSecond))),
    perRound: runs.map((r) => Math.round(r.wrk.requestsPerSecond)),
    latencyMs: { p50: med((r) => r.wrk.latencyMs.p50), p99: med((r) => r.wrk.latencyMs.p99) },
    socketErrors: runs.reduce((s, r) => s + Object.values(r.wrk.socketErrors).reduce((a, b) => a + b, 0), 0),
    cores: per((c) => med((r) => r.cores[c])),
    cpuMicrosecondsPerRequest: per((c) => med((r) => (r.cores[c] * 1e6) / r.wrk.requestsPerSecond, 1)),
  };
}

async function compare(b: Backend, direct: Path, ingress: Path) {
  // Warm both paths (nginx workers, upstream connections, the backend's JIT) first.
  await wrk({ ...direct.opts, durationS: 2 });
  await wrk({ ...ingress.opts, durationS: 2 });
  const d: Measured[] = [];
  const i: Measured[] = [];
  for (let n = 0; n < ROUNDS; n++) {
    // Alternate which path goes first, so a drift in the machine's load favours neither.
    if (n % 2 === 0) {
      d.push(await measure(direct));
      i.push(await measure(ingress));
    } else {
      i.push(await measure(ingress));
      d.push(await measure(direct));
    }
  }
  const direct_ = summary(d);
  const ingress_ = summary(i);
  return {
    backend: b.describe,
    connections: b.connections,
    direct: direct_,
    throughIngress: ingress_,
    overheadPercent: round((1 - ingress_.requestsPerSecond / direct_.requestsPerSecond) * 100, 1),
  };
}

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
    const busybox = images.flatMap((i) => i.references).find((r) => r.startsWith('cairn.local/busybox:'));
    if (!busybox) throw new Error('the node has no built-in busybox image');
    await kubectl(['apply', '-f', '-'], manifests(busybox).map((m) => JSON.stringify(m)).join('\n'));
    for (const b of BACKENDS) await kubectl(['rollout', 'status', `deployment/bench-${b.name}`, '--timeout=120s']);

    const paths = ingressPaths(cluster.nodeDir(1));
    const nginx = new Nginx({ conf: paths.conf, pidFile: paths.pidFile, prefix: paths.dir });
    const nginxWorkers = async () => {
      const master = await nginx.pid();
      if (master === undefined) throw new Error(`no nginx master runs ${paths.conf}`);
      return (await readFile(`/proc/${master}/task/${master}/children`, 'utf8')).split(/\s+/).filter(Boolean).map(Number);
    };
    const nodeIP = `${cluster.spec.underlayPrefix}.11`;
    const results: Record<string, Awaited<ReturnType<typeof compare>>> = {};
    const load = loadavg()[0]!;
    for (const b of BACKENDS) {
      const pods = JSON.parse(await kubectl(['get', 'pods', '-l', `app=bench-${b.name}`, '-o', 'json'])) as { items: { metadata: { uid: string }; status: { podIP?: string } }[] };
      const pod = pods.items[0];
      if (!pod?.status.podIP) throw new Error(`the ${b.name} backend pod has no IP`);
      const host = ingressHost(b);
      await waitFor(`http://${nodeIP}/ (Host: ${host}) to answer 200 through the Ingress`, async () => (await status(nodeIP, host)) === 200);
      const common = { threads: THREADS, connections: b.connections };
      results[b.name] = await compare(
        b,
        { opts: { ...common, url: `http://${pod.status.podIP}:8080/` }, nginxWorkers, backendUid: pod.metadata.uid },
        { opts: { ...common, url: `http://${nodeIP}/`, host }, nginxWorkers, backendUid: pod.metadata.uid },
      );
    }
    const keepAlive = results['keepalive']!;
    return {
      wrk: { threads: THREADS, seconds: SECONDS, rounds: ROUNDS },
      keepAliveBackend: keepAlive,
      busyboxHttpdBackend: results['httpd']!,
      // The proxy's cost: the keep-alive comparison (busybox's adds a handshake to the direct path only).
      overheadPercent: keepAlive.overheadPercent,
      goalOverheadPercent: GOAL_OVERHEAD_PERCENT,
      goalMet: keepAlive.overheadPercent < GOAL_OVERHEAD_PERCENT,
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
