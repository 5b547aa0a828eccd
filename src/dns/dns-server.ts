/**
 * The cluster DNS server (`cairn dns`): the zone kept from the API by informers, the record
 * logic, the answer cache, the forwarder, and the UDP/TCP listeners, put together; optionally a
 * Prometheus /metrics endpoint. The sockets are bound at once (so a taken port fails the start),
 * and cluster names are SERVFAIL until the caches have synced — never an NXDOMAIN that a client
 * would cache for a name that exists.
 */
import { createServer, type Server } from 'node:http';
import type { Client } from '../client/index.js';
import type { Logger } from '../util/log.js';
import { AnswerCache } from './answer-cache.js';
import { ClusterZone } from './cluster-zone.js';
import { watchCluster } from './cluster-watch.js';
import type { ForwardError } from './errors.js';
import { formatAddress, type ServerAddress } from './exchange.js';
import { Forwarder } from './forwarder.js';
import { Listeners } from './listeners.js';
import { DnsMetrics } from './metrics.js';
import { QueryHandler } from './query-handler.js';
import { ClusterRecords } from './records.js';
import { withoutSelf } from './upstreams.js';

export interface DnsServerConfig {
  listen: ServerAddress[];
  upstreams: ServerAddress[];
  /** The cluster domain (cluster.local). */
  clusterDomain: string;
  /** Where to serve /metrics over HTTP; none when undefined. */
  metricsListen?: ServerAddress;
  /** Answers kept in the answer cache; 0 turns it off. */
  cacheSize: number;
}

export interface RunningDns {
  listeners: Listeners;
  /** The metrics endpoint's address, when there is one. */
  metricsAddress?: ServerAddress;
  stop(): Promise<void>;
}

/** Forward failures come in bursts (an upstream down): one line per interval, with the count. */
const FORWARD_LOG_INTERVAL_MS = 10_000;

export async function startDnsServer(client: Client, cfg: DnsServerConfig, log: Logger): Promise<RunningDns> {
  const zone = new ClusterZone();
  const { kept, dropped } = withoutSelf(cfg.upstreams, cfg.listen);
  for (const u of dropped) log.warn('not forwarding to an upstream that is this server', { upstream: formatAddress(u) });
  if (!kept.length) log.warn('no upstream resolvers: names outside the cluster get SERVFAIL');
  const metrics = new DnsMetrics();
  const cache = new AnswerCache(zone, cfg.cacheSize);
  let lastForwardLog = 0;
  let unlogged = 0;
  const onForwardError = (e: ForwardError) => {
    unlogged++;
    if (Date.now() - lastForwardLog < FORWARD_LOG_INTERVAL_MS) return;
    log.warn('forwarding failed', { error: e.message, failures: unlogged });
    lastForwardLog = Date.now();
    unlogged = 0;
  };
  const handler = new QueryHandler(new ClusterRecords(zone, { domain: cfg.clusterDomain.toLowerCase().replace(/\.$/, '') }), new Forwarder(kept), cache, metrics, onForwardError);
  const listeners = await Listeners.open({ addresses: cfg.listen, handler, onError: (what, e) => log.error(what, { error: (e as Error)?.message ?? String(e) }) });
  const watch = watchCluster(client, zone, log.clientLogger);
  // Rejected only when stopped before the first sync: nothing to report then.
  watch.synced.then(
    () => log.info('caches synced: answering for the cluster domain', { domain: cfg.clusterDomain }),
    () => undefined,
  );
  let metricsServer: Server | undefined;
  let metricsAddress: ServerAddress | undefined;
  if (cfg.metricsListen) {
    try {
      metricsServer = await serveMetrics(cfg.metricsListen, () => metrics.render({ synced: zone.synced, cacheEntries: cache.size }));
    } catch (e) {
      await listeners.close();
      await watch.stop();
      throw e;
    }
    const a = metricsServer.address() as { address: string; port: number };
    metricsAddress = { host: a.address, port: a.port };
  }
  return {
    listeners,
    metricsAddress,
    async stop() {
      await listeners.close();
      if (metricsServer) await new Promise<void>((r) => metricsServer!.close(() => r()));
      await watch.stop();
    },
  };
}

function serveMetrics(at: ServerAddress, render: () => string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(render());
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found: this endpoint serves /metrics\n');
      }
    });
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
