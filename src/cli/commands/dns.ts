/**
 * `cairn dns`: the cluster DNS server in the foreground until SIGTERM/SIGINT — the
 * kube-dns Service's backend, answering for the cluster domain from informer caches and
 * forwarding everything else (docs/dns.md).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client, HttpsTransport } from '../../client/index.js';
import { DnsError } from '../../dns/errors.js';
import { formatAddress, type ServerAddress } from '../../dns/exchange.js';
import { parseServerAddress, systemUpstreams } from '../../dns/upstreams.js';
import { Logger } from '../../util/log.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { parseListen } from './server.js';

const DNS_DOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DEFAULT_CACHE_SIZE = 10_000;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface DnsFlags {
  kubeconfig: string;
  listen: ServerAddress[];
  /** Undefined: the host's resolv.conf nameservers. */
  upstreams?: ServerAddress[];
  clusterDomain: string;
  metricsListen?: ServerAddress;
  cacheSize: number;
}

const list = (v: Values, k: string) => (v[k] as string[] | undefined) ?? [];

/** Parses and checks the flags; every problem is one CliError line naming the flag. */
export function parseDnsFlags(v: Values): DnsFlags {
  const dataDir = v['data-dir'] as string | undefined;
  const kubeconfig = (v.kubeconfig as string | undefined) ?? (dataDir ? join(dataDir, 'kubeconfig') : undefined);
  if (!kubeconfig) throw new CliError('--kubeconfig is required (or --data-dir holding a kubeconfig): how the DNS server reaches the API server');
  const listen = list(v, 'listen').map((l) => parseListen(l));
  if (!listen.length) throw new CliError('--listen ADDR:PORT is required (for example 127.0.0.1:53; repeatable)');
  let upstreams: ServerAddress[] | undefined;
  if (list(v, 'upstream').length) {
    try {
      upstreams = list(v, 'upstream').map((u) => parseServerAddress(u));
    } catch (e) {
      throw new CliError(`--upstream: ${(e as Error).message}`);
    }
  }
  const clusterDomain = ((v['cluster-domain'] as string | undefined) ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
  if (!DNS_DOMAIN.test(clusterDomain)) throw new CliError(`--cluster-domain "${clusterDomain}" is not a DNS domain`);
  let metricsListen: ServerAddress | undefined;
  const metrics = v.metrics as string | undefined;
  if (metrics !== undefined) {
    try {
      metricsListen = parseListen(metrics);
    } catch {
      throw new CliError(`--metrics wants ADDR:PORT (for example 127.0.0.1:9153), got "${metrics}"`);
    }
  }
  const cache = (v['cache-size'] as string | undefined) ?? String(DEFAULT_CACHE_SIZE);
  if (!/^[0-9]+$/.test(cache)) throw new CliError(`--cache-size wants a whole number (0 turns the cache off), got "${cache}"`);
  return { kubeconfig, listen, upstreams, clusterDomain, metricsListen, cacheSize: Number(cache) };
}

export const dnsCommand: Command = {
  name: 'dns',
  summary: 'run the cluster DNS server (the kube-dns Service: cluster.local from the API, the rest forwarded)',
  usage: [
    'usage: cairn dns --listen ADDR:PORT [--listen ...] (--kubeconfig FILE | --data-dir DIR) [options]',
    '',
    '  --listen ADDR:PORT       where to answer, UDP and TCP (repeatable)',
    '  --kubeconfig FILE        how to reach the API server (list/watch namespaces, services, endpointslices)',
    '  --data-dir DIR           the server\'s directory; its kubeconfig is DIR/kubeconfig unless --kubeconfig says otherwise',
    "  --upstream IP[:PORT]     where names outside the cluster go (repeatable; default: the host's /etc/resolv.conf nameservers)",
    '  --cluster-domain DOMAIN  the zone answered from the cluster (default cluster.local)',
    '  --metrics ADDR:PORT      serve Prometheus /metrics over HTTP there (for example 127.0.0.1:9153)',
    `  --cache-size N           encoded cluster answers kept (default ${DEFAULT_CACHE_SIZE}; 0 turns the cache off)`,
  ].join('\n'),
  options: {
    listen: { type: 'string', multiple: true },
    kubeconfig: { type: 'string' },
    'data-dir': { type: 'string' },
    upstream: { type: 'string', multiple: true },
    'cluster-domain': { type: 'string' },
    metrics: { type: 'string' },
    'cache-size': { type: 'string' },
  },
  async run(v) {
    const flags = parseDnsFlags(v);
    if (!existsSync(flags.kubeconfig)) throw new CliError(`kubeconfig ${flags.kubeconfig} does not exist`);
    let transport: HttpsTransport;
    try {
      transport = HttpsTransport.fromKubeconfig(flags.kubeconfig);
    } catch (e) {
      throw new CliError(`cannot use kubeconfig ${flags.kubeconfig}: ${(e as Error).message}`);
    }
    const log = new Logger('dns');
    // Loaded here, not at the top: every other cairn command would otherwise load the DNS server.
    const { startDnsServer } = await import('../../dns/dns-server.js');
    let server;
    try {
      const upstreams = flags.upstreams ?? (await systemUpstreams());
      server = await startDnsServer(new Client(transport), { ...flags, upstreams }, log);
    } catch (e) {
      transport.close();
      const err = e as NodeJS.ErrnoException;
      const where = /(\S+:\d+)$/.exec(err.message)?.[1] ?? flags.listen.map(formatAddress).join(', ');
      if (err.code === 'EADDRINUSE') throw new CliError(`cannot listen on ${where}: the address is in use`);
      if (err.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${where}: no such local address`);
      if (err.code === 'EACCES') throw new CliError(`cannot listen on ${where}: permission denied (ports below 1024 need root)`);
      if (e instanceof DnsError) throw new CliError(e.message);
      throw new CliError(`DNS server failed to start: ${err.message}`);
    }
    const { udp } = server.listeners.addresses();
    const metrics = server.metricsAddress ? `, metrics on http://${formatAddress(server.metricsAddress)}/metrics` : '';
    process.stderr.write(`cairn dns serving on ${udp.map(formatAddress).join(', ')} (UDP and TCP)${metrics}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void server.stop().finally(() => {
          transport.close();
          resolve();
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
