/**
 * Which resolvers the server forwards to: the ones given, or the host's (the nameservers of
 * /etc/resolv.conf, as CoreDNS's `forward . /etc/resolv.conf`), never the server itself — an
 * upstream on one of its own listening addresses would send every outside name round in a
 * circle.
 */
import { readFile } from 'node:fs/promises';
import { isIP, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { parseResolvConf } from '../agent/pods/etc-files.js';
import { DnsConfigError } from './errors.js';
import type { ServerAddress } from './exchange.js';

const DNS_PORT = 53;

/** `IP`, `IP:PORT` or `[IPv6]:PORT`. */
export function parseServerAddress(text: string, defaultPort = DNS_PORT): ServerAddress {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : isIPv6(text) ? [text, undefined] : (text.split(/:(?=\d+$)/) as [string, string?]);
  if (!isIP(host)) throw new DnsConfigError(`"${text}" is not an IP address with an optional :PORT`);
  const n = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DnsConfigError(`"${text}": the port must be from 1 to 65535`);
  return { host, port: n };
}

/** The host's resolvers: the nameserver lines of resolv.conf, on port 53. */
export async function systemUpstreams(path = '/etc/resolv.conf'): Promise<ServerAddress[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DnsConfigError(`cannot read ${path} for the upstream resolvers (${(e as Error).message}); pass --upstream`);
  }
  return parseResolvConf(text)
    .servers.filter((s) => isIP(s))
    .map((host) => ({ host, port: DNS_PORT }));
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/** Every address of this host, loopback included. */
function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) out.add(a.address);
  return out;
}

/** The upstreams that are not this server (same address and port as a listener; any local address for a wildcard listener). */
export function withoutSelf(upstreams: ServerAddress[], listens: ServerAddress[]): { kept: ServerAddress[]; dropped: ServerAddress[] } {
  const local = localAddresses();
  const isSelf = (u: ServerAddress) =>
    listens.some((l) => l.port === u.port && (l.host === u.host || (WILDCARD.has(l.host) && (local.has(u.host) || u.host.startsWith('127.')))));
  return { kept: upstreams.filter((u) => !isSelf(u)), dropped: upstreams.filter(isSelf) };
}
