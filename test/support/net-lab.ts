// Helpers for the network integration tests: tool checks that fail loudly, a snapshot of the
// host's cairn* objects, and a TCP probe run inside a namespace with Node's `net` module.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Ip, netns } from '../../src/net/ip.js';
import { Nft } from '../../src/net/nft.js';

/** Throws (never skips) unless we are root with ip, bridge and nft available. */
export function requireNetTools(): void {
  if (process.getuid?.() !== 0) throw new Error('network tests must run as root');
  for (const [cmd, arg, pkg] of [['ip', '-V', 'iproute2'], ['bridge', '-V', 'iproute2'], ['nft', '-v', 'nftables']] as const) {
    const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`${cmd} is missing or broken (apt-get install ${pkg}; scripts/setup.sh does it): ${r.error?.message ?? r.stderr}`);
  }
}

/** A short unique cluster name for one test run (≤ 5 characters, so link names use it as is). */
export function runClusterName(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const b = randomBytes(4);
  return 't' + [...b].map((x) => alphabet[x % alphabet.length]).join('');
}

export interface HostSnapshot {
  netns: string[];
  links: string[];
  nftTables: string[];
}
/** Every cairn* namespace, root link and root nft table. */
export async function snapshotCairn(): Promise<HostSnapshot> {
  const ns = (await netns.list()).map((n) => n.name).filter((n) => n.startsWith('cairn')).sort();
  const links = (await Ip.root.links()).map((l) => l.ifname).filter((n) => n.startsWith('cairn')).sort();
  const tables = (await new Nft().listTables()).filter((t) => t.name.startsWith('cairn')).map((t) => `${t.family} ${t.name}`).sort();
  return { netns: ns, links, nftTables: tables };
}
/**
 * What `after` has that `before` did not — leaving out objects of OTHER test clusters running at
 * the same time (names `cairn-t????-…` from runClusterName that are not `own`'s), so parallel
 * test files do not see each other's objects. Everything else cairn* counts.
 */
export function added(before: HostSnapshot, after: HostSnapshot, own: string): HostSnapshot {
  const other = (x: string) => {
    // Fabric labs (cairn-fab-<id>-…, test/integration/fabric-lab.test.ts) are never a net test's own.
    if (x.startsWith('cairn-fab-')) return true;
    const m = /^(?:ip |ip6 |inet |arp |bridge |netdev )?cairn-(t[a-z0-9]{4})(-|$)/.exec(x);
    return m !== null && m[1] !== own;
  };
  const diff = (a: string[], b: string[]) => b.filter((x) => !a.includes(x) && !other(x));
  return { netns: diff(before.netns, after.netns), links: diff(before.links, after.links), nftTables: diff(before.nftTables, after.nftTables) };
}

const SERVER = `const net=require('net');const [port,host]=process.argv.slice(1);
net.createServer(s=>{s.on('error',()=>{});s.end(s.remoteAddress+'\\n')}).listen(+port,host,()=>console.log('ready'));`;
const CLIENT = `const net=require('net');const [host,port]=process.argv.slice(1);let out='';
const s=net.connect({host,port:+port});s.setTimeout(2000,()=>{console.error('timeout');process.exit(2)});
s.on('data',d=>out+=d);s.on('end',()=>{process.stdout.write(out);process.exit(0)});s.on('error',e=>{console.error(e.message);process.exit(1)});`;

/** A TCP server in a namespace that answers each connection with the peer's address. */
export class EchoAddrServer {
  private constructor(readonly child: ChildProcess) {}
  static start(ns: string, host: string, port: number): Promise<EchoAddrServer> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, String(port), host], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`server in ${ns} did not start: ${err}`));
      }, 5000);
      child.stderr!.on('data', (d) => (err += d));
      child.stdout!.on('data', (d) => {
        if (String(d).includes('ready')) {
          clearTimeout(timer);
          resolve(new EchoAddrServer(child));
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server in ${ns} exited ${code}: ${err}`));
      });
    });
  }
  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

/** Connects from inside a namespace; resolves with the address the server saw. */
export async function tcpProbe(ns: string, host: string, port: number): Promise<string> {
  const r = await Ip.ns(ns).exec([process.execPath, '-e', CLIENT, host, String(port)], { timeoutMs: 5000 });
  return r.stdout.trim();
}
