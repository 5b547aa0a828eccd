/**
 * Service proxy benchmark (issue 5): the real programming path — the Proxier, its transactions,
 * `nft -f` — fed from in-memory Services and EndpointSlices instead of informers, programming a
 * throwaway "node" namespace between a client and a server namespace:
 *
 *   cairn-pb<id>-cli (10.123.1.2) ── node (nft, forwarding) ── cairn-pb<id>-srv (10.123.2.2,
 *   and every address of 10.124.0.0/16 as local: each endpoint is a real listener)
 *
 *   - first-packet latency: TCP connect time from the client to a cluster IP, with 100 and with
 *     10,000 Services programmed (the verdict map makes it independent of the count);
 *   - full resync at 10,000 Services × 2 endpoints (the kernel already holding them, as after an
 *     agent restart), and the first programming of the 9,900 added to the first 100;
 *   - programming latency: with 10,000 Services, one endpoint of a random Service replaced by a
 *     new address, timed from the change reaching the Proxier to the first client connection
 *     through the cluster IP answered by the new endpoint (the server replies with the address
 *     the connection reached), 60 times; p50/p99 (goal: p99 < 200 ms).
 *
 * `node dist/bench/net-proxy.js` runs it alone (root); `run()` is what bench/net-bench.ts calls.
 * Every namespace it makes is removed at the end, also after a failure.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Conntrack } from '../src/net/conntrack.js';
import { Ip, netns } from '../src/net/ip.js';
import { Nft } from '../src/net/nft.js';
import { Proxier } from '../src/proxy/proxier.js';
import type { KubeObject } from '../src/util/object.js';
import { round, summarize } from './support/stats.js';

/** BENCH_PROXY_SERVICES overrides the count (quick runs). */
const SERVICES = Number(process.env['BENCH_PROXY_SERVICES'] ?? 10_000);
const FEW = 100;
const CHANGES = 60;
const LATENCY_SAMPLES = 400;
const PORT = 80;
const TARGET_PORT = 8080;
const CLIENT_NET = '10.123.1';
const SERVER_NET = '10.123.2';
const ENDPOINT_NET = '10.124.0.0/16';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The two helper processes, run as `node net-proxy.js server|prober` inside their namespaces.

/** Answers every connection with the local address it reached, then closes. */
function serverRole(): void {
  createServer((s) => {
    s.on('error', () => undefined);
    s.end(`${s.localAddress}\n`);
  }).listen(TARGET_PORT, '0.0.0.0', () => process.stdout.write('ready\n'));
}

/**
 * Reads commands on stdin:
 *   probe VIP PORT WANT   connects again and again until a reply says WANT; prints "started", then "hit"
 *   latency VIP PORT N    N sequential connects; prints the connect times in ms as JSON
 */
function proberRole(): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const once = (host: string, port: number): Promise<{ ms: number; reply: string }> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let ms = -1;
      let reply = '';
      const s = connect({ host, port });
      s.setTimeout(1000, () => s.destroy());
      s.on('connect', () => (ms = performance.now() - t0));
      s.on('data', (d) => (reply += d));
      s.on('error', () => undefined);
      s.on('close', () => resolve({ ms, reply: reply.trim() }));
    });
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, host, port, arg] = line.trim().split(/\s+/);
    if (cmd === 'probe') {
      out('started');
      void (async () => {
        for (;;) if ((await once(host!, Number(port))).reply === arg) return out('hit');
      })();
    } else if (cmd === 'latency') {
      void (async () => {
        const ms: number[] = [];
        while (ms.length < Number(arg)) {
          const r = await once(host!, Number(port));
          if (r.ms >= 0 && r.reply) ms.push(r.ms);
        }
        out(JSON.stringify(ms));
      })();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Helper {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function startHelper(ns: string, role: string): Promise<Helper> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, SELF, role], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(l);
      const timer = setTimeout(() => reject(new Error(`${role} in ${ns} said nothing for 60 s: ${stderr}`)), 60_000);
      waiters.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  return Promise.resolve({ child, next });
}

/** Endpoint address number n (no .0 or .255 octets). */
const endpointIP = (n: number) => `10.124.${Math.floor(n / 250)}.${(n % 250) + 1}`;
const clusterIP = (i: number) => `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`;

function service(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: 'bench', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' },
    spec: { type: 'ClusterIP', clusterIP: clusterIP(i), clusterIPs: [clusterIP(i)], ports: [{ name: 'http', port: PORT, targetPort: TARGET_PORT, protocol: 'TCP' }] },
  };
}

function slice(i: number, ips: string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-x`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'elsewhere' })),
    ports: [{ name: 'http', port: TARGET_PORT, protocol: 'TCP' }],
  } as KubeObject;
}

class MemorySource {
  readonly services = new Map<string, KubeObject>();
  readonly slices = new Map<string, KubeObject>();
  readonly endpoints = new Map<number, string[]>();
  keys = () => this.services.keys();
  service = (k: string) => this.services.get(k);
  slicesOf = (k: string) => {
    const s = this.slices.get(k);
    return s ? [s] : [];
  };
  add(i: number, ips: string[]): string {
    const key = `bench/svc-${i}`;
    this.services.set(key, service(i));
    this.slices.set(key, slice(i, ips));
    this.endpoints.set(i, ips);
    return key;
  }
}

async function setUpNamespaces(id: string): Promise<{ node: string; cli: string; srv: string }> {
  const node = `cairn-pb${id}-node`;
  const cli = `cairn-pb${id}-cli`;
  const srv = `cairn-pb${id}-srv`;
  for (const n of [node, cli, srv]) await netns.add(n);
  const [N, C, S] = [Ip.ns(node), Ip.ns(cli), Ip.ns(srv)];
  for (const x of [N, C, S]) await x.setLink('lo', { up: true });
  await N.sysctl('net.ipv4.ip_forward', 1);
  await N.addVeth('to-cli', { name: 'eth0', netns: cli });
  await N.addVeth('to-srv', { name: 'eth0', netns: srv });
  await N.addAddr('to-cli', `${CLIENT_NET}.1/24`);
  await N.addAddr('to-srv', `${SERVER_NET}.1/24`);
  await C.addAddr('eth0', `${CLIENT_NET}.2/24`);
  await S.addAddr('eth0', `${SERVER_NET}.2/24`);
  for (const [x, dev] of [
    [N, 'to-cli'],
    [N, 'to-srv'],
    [C, 'eth0'],
    [S, 'eth0'],
  ] as const)
    await x.setLink(dev, { up: true });
  await C.addRoute({ dst: 'default', via: `${CLIENT_NET}.1` });
  await S.addRoute({ dst: 'default', via: `${SERVER_NET}.1` });
  await N.addRoute({ dst: ENDPOINT_NET, via: `${SERVER_NET}.2` });
  // Every endpoint address is the server's own: one listener answers for all of them.
  await S.ip(['route', 'add', 'local', ENDPOINT_NET, 'dev', 'lo']);
  return { node, cli, srv };
}

const ms = (v: number) => round(v, 1);

export async function run(): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0) throw new Error('the proxy benchmark needs root (network namespaces, nftables)');
  const id = randomBytes(3).toString('hex');
  const made: string[] = [];
  const helpers: Helper[] = [];
  let proxier: Proxier | undefined;
  try {
    const names = await setUpNamespaces(id);
    made.push(names.node, names.cli, names.srv);
    const server = await startHelper(names.srv, 'server');
    helpers.push(server);
    if ((await server.next()) !== 'ready') throw new Error('server did not start');
    const prober = await startHelper(names.cli, 'prober');
    helpers.push(prober);
    const send = (line: string) => prober.child.stdin.write(`${line}\n`);

    const source = new MemorySource();
    let nextIP = 0;
    for (let i = 0; i < FEW; i++) source.add(i, [endpointIP(nextIP++), endpointIP(nextIP++)]);
    proxier = new Proxier({
      nft: new Nft({ netns: names.node }),
      conntrack: new Conntrack({ netns: names.node }),
      source: { keys: source.keys, service: source.service, slices: source.slicesOf },
      nodeName: 'bench-node',
      nodeIPs: [`${SERVER_NET}.1`],
      clusterCidr: `${CLIENT_NET}.0/24`,
      logger: () => undefined,
    });
    await proxier.start();
    const latency = async () => {
      send(`latency ${clusterIP(FEW / 2)} ${PORT} ${LATENCY_SAMPLES}`);
      return summarize(JSON.parse(await prober.next()) as number[]);
    };
    const at100 = await latency();

    for (let i = FEW; i < SERVICES; i++) source.add(i, [endpointIP(nextIP++), endpointIP(nextIP++)]);
    let t = performance.now();
    proxier.requestFullResync();
    await proxier.whenSynced();
    const programAll = performance.now() - t;
    t = performance.now();
    proxier.requestFullResync();
    await proxier.whenSynced();
    const fullResync = performance.now() - t;
    const at10k = await latency();

    const changes: number[] = [];
    const syncs: number[] = [];
    for (let n = 0; n < CHANGES; n++) {
      const i = Math.floor(Math.random() * SERVICES);
      const ips = [endpointIP(nextIP++), source.endpoints.get(i)![1]!];
      send(`probe ${clusterIP(i)} ${PORT} ${ips[0]}`);
      if ((await prober.next()) !== 'started') throw new Error('prober did not start');
      const key = source.add(i, ips);
      const t0 = performance.now();
      proxier.changed(key);
      if ((await prober.next()) !== 'hit') throw new Error('prober failed');
      changes.push(performance.now() - t0);
      await proxier.whenSynced();
      syncs.push(proxier.lastSync!.durationMs);
    }
    const change = summarize(changes);
    const sync = summarize(syncs);
    return {
      services: SERVICES,
      endpointsPerService: 2,
      endpointChange: { samples: change.count, p50Ms: ms(change.p50), p99Ms: ms(change.p99), maxMs: ms(change.max), minMs: ms(change.min), goalP99Ms: 200 },
      incrementalSyncMs: { p50: ms(sync.p50), p99: ms(sync.p99) },
      programServices9900Ms: Math.round(programAll),
      fullResync10kMs: Math.round(fullResync),
      firstPacketConnectMs: {
        services100: { p50: round(at100.p50, 3), p99: round(at100.p99, 3) },
        services10000: { p50: round(at10k.p50, 3), p99: round(at10k.p99, 3) },
        samples: LATENCY_SAMPLES,
      },
    };
  } finally {
    await proxier?.stop();
    for (const h of helpers) h.child.kill('SIGKILL');
    const errors: string[] = [];
    for (const n of made) await netns.remove(n).catch((e: Error) => errors.push(e.message));
    if (errors.length) console.error(`net-proxy: could not remove: ${errors.join('; ')}`);
  }
}

const role = process.argv[2];
if (role === 'server') serverRole();
else if (role === 'prober') proberRole();
else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: Error) => {
      console.error(`net-proxy: ${e.stack ?? e.message}`);
      process.exit(1);
    },
  );
}
