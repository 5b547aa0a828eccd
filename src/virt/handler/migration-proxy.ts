/**
 * The node's migration proxy (KubeVirt's virt-handler migration proxy), one `socat` per stream:
 * the migration stream and NBD go between NODE network namespaces, never over the pod network
 * (the source and target launcher pods share one pod IP while a migration runs), so each node
 * bridges its launcher's unix sockets to its node address:
 *   - target: `TCP-LISTEN:<port>,bind=<node address>,range=<source node>/32` → the target
 *     launcher's unix socket (reached through /proc/<QEMU pid>/root);
 *   - source: `UNIX-LISTEN:<socket in the source launcher>` → `TCP:<target node>:<port>`.
 * Between nodes the stream is TLS (KubeVirt's default; `disableTLS` turns it off): each side
 * shows the certificate the cluster CA issued its agent (the target its serving certificate, the
 * source its client certificate) and accepts only the peer it expects — the target the source
 * node's `system:node:<name>`, the source the target node's name — as KubeVirt's handlers check
 * each other against their CA.
 * A peer that goes silent (its node lost power, its link cut: no FIN, no RST) ends the connection
 * after PEER_SILENCE_TIMEOUT_S: TCP_USER_TIMEOUT for data it never acknowledges, keepalives for an
 * idle stream, a bounded connect. socat then closes its unix side and QEMU's migration or NBD
 * client fails at once, as libvirt's keepalive ends a migration to a dead peer.
 * socat runs in the node's network namespace (nsenter) and under `setpriv --pdeathsig KILL`, so
 * a listener never outlives the agent (the per-connection children it forks keep a migration's
 * streams through an agent restart); it is the leader of its own process group, so stop() also
 * ends those children. Readiness is socat's own "listening on"
 * notice; an early exit is a typed error (EADDRINUSE is told apart so the caller tries the next
 * port).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { isIP } from 'node:net';
import { netnsDaemonCommand } from '../../net/netns-daemon.js';

export const SOCAT_BINARY = 'socat';

export class MigrationProxyError extends Error {
  override name = 'MigrationProxyError';
  constructor(
    message: string,
    /** `addrinuse` when the TCP port is taken, `missing` when socat is not installed. */
    readonly reason: 'addrinuse' | 'exited' | 'missing' | 'timeout' | 'invalid',
    readonly stderrTail = '',
  ) {
    super(stderrTail ? `${message}: ${stderrTail}` : message);
  }
}

/**
 * How long a peer may leave sent data unacknowledged (or an idle connection unanswered, or a
 * connect pending) before the stream counts as broken. libvirt's keepalive gives up on a silent
 * destination after 5 × 5 s; a live peer's kernel acknowledges within milliseconds even when its
 * QEMU is slow.
 */
export const PEER_SILENCE_TIMEOUT_S = 20;
const KEEPALIVE_INTERVAL_S = 5;
/** Linux's IPPROTO_TCP and TCP_USER_TIMEOUT (socat has no named option for it). */
const IPPROTO_TCP = 6;
const TCP_USER_TIMEOUT = 18;

/** TLS for a proxy's TCP side: PEM files of this node and the identity the peer must prove. */
export interface ProxyTls {
  /** This node's certificate (the target's must be valid for serverAuth, the source's for clientAuth). */
  certFile: string;
  keyFile: string;
  /** The cluster CA the peer's certificate must be issued by. */
  caFile: string;
  /** The peer certificate's commonName (target: `system:node:<source>`; source: the target node's name). */
  peerName: string;
}

export interface TcpToUnix {
  /** The node's address the port is bound to. */
  bind: string;
  port: number;
  /** The only peer allowed to connect (the source node's address). */
  allowFrom: string;
  /** The unix socket every connection is forwarded to (a host path). */
  toSocket: string;
  /** Undefined: plain TCP (disableTLS). */
  tls?: ProxyTls;
}

export interface UnixToTcp {
  /** The unix socket to listen on (a host path; replaced if it exists). */
  socket: string;
  host: string;
  port: number;
  /** Undefined: plain TCP (disableTLS). */
  tls?: ProxyTls;
}

export interface ProxyOptions {
  /** Run in this network namespace (the agent's `--node-netns`), else in the agent's own. */
  netns?: string;
  /** How long socat has to report it listens (default 5 s). */
  startTimeoutMs?: number;
}

/** A path socat reads literally: its address syntax gives `,` `:` `!` and whitespace meaning. */
function checkPath(what: string, p: string, maxLength = 4095): string {
  if (!p.startsWith('/') || /[,:!\s\0'"\\{}[\]]/.test(p) || p.length > maxLength) throw new MigrationProxyError(`invalid ${what} ${JSON.stringify(p)}`, 'invalid');
  return p;
}
/** sun_path holds 107 characters and a NUL. */
const checkSocketPath = (p: string) => checkPath('socket path', p, 107);
function checkIpv4(what: string, a: string): string {
  if (isIP(a) !== 4) throw new MigrationProxyError(`invalid ${what} ${JSON.stringify(a)} (an IPv4 address)`, 'invalid');
  return a;
}
function checkPort(p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new MigrationProxyError(`invalid port ${p}`, 'invalid');
  return p;
}

/** A peer name as socat reads it: a backslash before each colon keeps those of `system:node:<name>` in the value. */
function checkPeerName(n: string): string {
  if (!/^[a-z0-9]([a-z0-9:.-]{0,251}[a-z0-9])?$/.test(n)) throw new MigrationProxyError(`invalid peer name ${JSON.stringify(n)}`, 'invalid');
  return n.replace(/:/g, '\\:');
}

/** The TCP options both sides set on every connection (see PEER_SILENCE_TIMEOUT_S). */
const LIVENESS = [
  'keepalive',
  `keepidle=${KEEPALIVE_INTERVAL_S}`,
  `keepintvl=${KEEPALIVE_INTERVAL_S}`,
  `keepcnt=${Math.ceil(PEER_SILENCE_TIMEOUT_S / KEEPALIVE_INTERVAL_S) - 1}`,
  `setsockopt-int=${IPPROTO_TCP}:${TCP_USER_TIMEOUT}:${PEER_SILENCE_TIMEOUT_S * 1000}`,
];

/** socat's TLS options: our certificate, the CA, and the peer's name checked (verify is socat's default, said anyway). */
function tlsOptions(t: ProxyTls): string[] {
  return [`cert=${checkPath('certificate file', t.certFile)}`, `key=${checkPath('key file', t.keyFile)}`, `cafile=${checkPath('CA file', t.caFile)}`, 'verify=1', `commonname=${checkPeerName(t.peerName)}`];
}

/** socat's argument vector for a target proxy (exported for the unit test). */
export function tcpToUnixArgs(o: TcpToUnix): string[] {
  const listen = [`${checkPort(o.port)}`, `bind=${checkIpv4('bind address', o.bind)}`, `range=${checkIpv4('source address', o.allowFrom)}/32`, 'reuseaddr', 'fork', ...LIVENESS, ...(o.tls ? [...tlsOptions(o.tls), 'pf=ip4'] : [])];
  return ['-d', '-d', `${o.tls ? 'OPENSSL-LISTEN' : 'TCP4-LISTEN'}:${listen.join(',')}`, `UNIX-CONNECT:${checkSocketPath(o.toSocket)}`];
}

/** socat's argument vector for a source proxy (exported for the unit test). */
export function unixToTcpArgs(o: UnixToTcp): string[] {
  const connect = [`${checkIpv4('target address', o.host)}:${checkPort(o.port)}`, 'nodelay', `connect-timeout=${PEER_SILENCE_TIMEOUT_S}`, ...LIVENESS, ...(o.tls ? [...tlsOptions(o.tls), 'pf=ip4'] : [])];
  return ['-d', '-d', `UNIX-LISTEN:${checkSocketPath(o.socket)},unlink-early,fork`, `${o.tls ? 'OPENSSL' : 'TCP4'}:${connect.join(',')}`];
}

export class MigrationProxy {
  private stderr = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly description: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      });
      child.once('error', () => {
        this.exitCode = null;
        resolve();
      });
    });
    child.stderr!.setEncoding('utf8');
    // Keep only the tail: every connection adds a few notice lines.
    child.stderr!.on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4096)));
  }

  /** Target side: listens on the node address for the source node only. */
  static tcpToUnix(o: TcpToUnix, opts: ProxyOptions = {}): Promise<MigrationProxy> {
    return MigrationProxy.start(tcpToUnixArgs(o), `${o.bind}:${o.port} -> ${o.toSocket}`, opts);
  }

  /** Source side: listens on a unix socket in the source launcher. */
  static unixToTcp(o: UnixToTcp, opts: ProxyOptions = {}): Promise<MigrationProxy> {
    return MigrationProxy.start(unixToTcpArgs(o), `${o.socket} -> ${o.host}:${o.port}`, opts);
  }

  /**
   * A target proxy on the first free port of `ports` (tried in order): a port another
   * listener holds makes socat exit with EADDRINUSE, and the next one is tried.
   */
  static async tcpToUnixOnFreePort(o: Omit<TcpToUnix, 'port'>, ports: readonly number[], opts: ProxyOptions = {}): Promise<MigrationProxy & { port: number }> {
    let last: MigrationProxyError | undefined;
    for (const port of ports) {
      try {
        const p = await MigrationProxy.tcpToUnix({ ...o, port }, opts);
        return Object.assign(p, { port });
      } catch (e) {
        if (!(e instanceof MigrationProxyError && e.reason === 'addrinuse')) throw e;
        last = e;
      }
    }
    throw last ?? new MigrationProxyError('no port to try', 'invalid');
  }

  private static async start(args: string[], description: string, opts: ProxyOptions): Promise<MigrationProxy> {
    const argv = ['setpriv', '--pdeathsig', 'KILL', '--', SOCAT_BINARY, ...args];
    const [cmd, cmdArgs] = opts.netns === undefined ? [argv[0]!, argv.slice(1)] : netnsDaemonCommand(opts.netns, argv);
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C' } });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (e) => (spawnError = e));
    const p = new MigrationProxy(child, description);
    const timeoutMs = opts.startTimeoutMs ?? 5_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (/listening on/.test(p.stderr)) return p;
      if (p.exitCode !== undefined) {
        if (spawnError?.code === 'ENOENT') throw new MigrationProxyError(`${cmd} is not installed`, 'missing');
        const tail = p.stderr.trim().split('\n').slice(-3).join('\n');
        if (/Address already in use/.test(p.stderr)) throw new MigrationProxyError(`migration proxy ${description}: port in use`, 'addrinuse', tail);
        if (/socat.*No such file|setpriv: failed to execute socat/.test(p.stderr)) throw new MigrationProxyError(`${SOCAT_BINARY} is not installed (apt-get install socat)`, 'missing', tail);
        throw new MigrationProxyError(`migration proxy ${description} exited (code ${p.exitCode})`, 'exited', tail);
      }
      if (Date.now() > deadline) {
        await p.stop();
        throw new MigrationProxyError(`migration proxy ${description}: not listening within ${timeoutMs} ms`, 'timeout', p.stderr.trim());
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** How a forwarded connection to the peer broke, in socat's words (undefined while none did). */
  get peerFailure(): string | undefined {
    return / E .*?(Connection timed out|Connection reset by peer|No route to host|Connection refused|certificate verify failed|commonName does not match)/.exec(this.stderr)?.[1];
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /**
   * Ends the listener only, as the agent's death would (pdeathsig): the connections it forwarded
   * go on in their forked children, so a migration in flight survives an agent restart.
   */
  async stopListening(): Promise<void> {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Ends the listener and every connection it forwarded (the process group). */
  async stop(): Promise<void> {
    // The group too when the listener is gone: forked children may still carry a connection.
    if (this.child.pid) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await this.exited;
  }
}
