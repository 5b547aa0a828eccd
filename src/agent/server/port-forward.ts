/**
 * `kubectl port-forward` on the node agent: the kubelet's portforward.k8s.io protocol over SPDY/3.1,
 * reached either by a plain `Upgrade: SPDY/3.1` or — kubectl's default since 1.31 — by a WebSocket
 * with subprotocol `SPDY/3.1+portforward.k8s.io` whose binary messages carry the same SPDY bytes
 * (upstream the API server unwraps that tunnel; here the API server proxies the upgrade as is).
 *
 * For every local connection kubectl opens two streams sharing a `requestID` header: `streamType:
 * error` and `streamType: data`, both with a `port` header. Once both are in, the pod's port is
 * dialled and bytes are copied both ways, each direction half-closed on its own. What goes wrong is
 * written as text on the error stream, worded as the kubelet with containerd words it (kubectl
 * prints it), and the error stream is then closed. Semantics follow kubelet
 * pkg/kubelet/cri/streaming/portforward/httpstream.go.
 */
import type { IncomingMessage } from 'node:http';
import { Socket, connect, isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream';
import type { Logger } from '../../client/log.js';
import { SpdySession } from './spdy/session.js';
import type { SpdyStream } from './spdy/stream.js';
import { acceptSpdyUpgrade, isSpdyUpgrade, rejectUpgrade } from './spdy/upgrade.js';
import { acceptWebSocketTunnel } from './ws-tunnel.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** kubectl's WebSocket subprotocols are the SPDY ones with this prefix (client-go portforward constants). */
const TUNNEL_PREFIX = 'SPDY/3.1+';
const SERVER_PROTOCOLS = [PORT_FORWARD_PROTOCOL];

/** The kubelet's defaults: --streaming-connection-idle-timeout 4h, stream creation timeout 30s. */
export const DEFAULT_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;
export const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface PortForwardOptions {
  /** Close the connection after this long with no frame either way (kubectl pings every 10 s). */
  idleTimeoutMs?: number;
  /** How long the first stream of a pair waits for the second. */
  streamCreationTimeoutMs?: number;
}

/**
 * Serves an upgrade request to `/portForward/{namespace}/{pod}`. `dial` connects to a port of the
 * pod; when it fails, its error's message follows the stream's `error forwarding port ... uid : `
 * (throw a PortForwardDialError — see dialPodPort — for containerd's exact wording).
 */
export function handlePortForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  dial: (port: number) => Promise<Duplex>,
  log?: Logger,
  options: PortForwardOptions = {},
): void {
  const { pod, uid } = podFromPath(req.url ?? '');
  const serve = (transport: Duplex) => {
    const forwarder = new PortForwarder(pod, uid, remoteLabel(req), dial, options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS, log);
    const session = new SpdySession(transport, {
      onStream: (s) => forwarder.onStream(s),
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      log,
    });
    session.on('close', () => forwarder.stop());
  };

  if ((req.headers.upgrade ?? '').toLowerCase() === 'websocket') {
    // The API server's TunnelingHandler checks: SPDY/3.1+<protocol>.k8s.io subprotocols only.
    const offered = commaList(req.headers['sec-websocket-protocol'])
      .filter((p) => p.startsWith(TUNNEL_PREFIX) && p.endsWith('.k8s.io'))
      .map((p) => p.slice(TUNNEL_PREFIX.length));
    if (offered.length === 0) return rejectUpgrade(socket, 400, 'unable to upgrade: no tunneling spdy protocols provided');
    const protocol = negotiate(offered, socket);
    if (protocol) acceptWebSocketTunnel(req, socket, head, TUNNEL_PREFIX + protocol, serve);
    return;
  }

  const offered = commaList(req.headers['x-stream-protocol-version']);
  if (offered.length === 0) return rejectUpgrade(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
  const protocol = negotiate(offered, socket);
  if (!protocol) return;
  if (!isSpdyUpgrade(req)) {
    return rejectUpgrade(socket, 400, `unable to upgrade: missing upgrade headers in request: ${goHeaderMap(req)}`);
  }
  serve(acceptSpdyUpgrade(socket, head, protocol));
}

/** httpstream.Handshake: the first client protocol the server speaks, or 403 listing what it accepts. */
function negotiate(clientProtocols: string[], socket: Duplex): string | undefined {
  const chosen = clientProtocols.find((p) => SERVER_PROTOCOLS.includes(p));
  if (!chosen) {
    rejectUpgrade(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports [${clientProtocols.join(' ')}], server accepts [${SERVER_PROTOCOLS.join(' ')}]`,
      { 'X-Accepted-Stream-Protocol-Versions': SERVER_PROTOCOLS },
    );
  }
  return chosen;
}

interface StreamPair {
  requestId: string;
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** The kubelet's httpStreamHandler for one connection: pairs streams by request id, forwards each pair. */
class PortForwarder {
  private readonly pairs = new Map<string, StreamPair>();
  private readonly conns = new Set<Duplex>();

  constructor(
    private readonly pod: string,
    private readonly uid: string,
    private readonly connLabel: string,
    private readonly dial: (port: number) => Promise<Duplex>,
    private readonly creationTimeoutMs: number,
    private readonly log?: Logger,
  ) {}

  onStream(stream: SpdyStream): void {
    stream.on('error', (err: Error) => this.log?.({ level: 'debug', msg: 'port-forward stream ended', stream: stream.id, err: err.message }));
    const rejected = checkStreamHeaders(stream);
    if (rejected) {
      this.log?.({ level: 'warn', msg: 'port-forward stream rejected', stream: stream.id, err: rejected });
      stream.reset();
      return;
    }
    stream.reply();

    const requestId = this.requestId(stream);
    let pair = this.pairs.get(requestId);
    if (!pair) {
      const created: StreamPair = { requestId, timer: setTimeout(() => this.timedOut(created), this.creationTimeoutMs) };
      created.timer.unref();
      this.pairs.set(requestId, (pair = created));
    }
    const type = stream.header('streamType');
    if (type === 'error') {
      if (pair.error) return this.duplicate(pair, stream, 'error stream already assigned');
      pair.error = stream;
      // Nothing is read from the error stream; whatever a client sends on it is dropped.
      stream.resume();
    } else {
      if (pair.data) return this.duplicate(pair, stream, 'data stream already assigned');
      pair.data = stream;
    }
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      this.pairs.delete(requestId);
      void this.forward(pair.data, pair.error, requestId);
    }
  }

  /** The connection is gone: pending pairs are dropped, open pod connections closed. */
  stop(): void {
    for (const p of this.pairs.values()) clearTimeout(p.timer);
    this.pairs.clear();
    for (const c of this.conns) c.destroy();
  }

  /** The requestID header, or for clients too old to send one the kubelet's guess from stream ids. */
  private requestId(stream: SpdyStream): string {
    const id = stream.header('requestID');
    if (id) return id;
    return String(stream.header('streamType') === 'error' ? stream.id : stream.id - 2);
  }

  private duplicate(pair: StreamPair, stream: SpdyStream, problem: string): void {
    const msg = `error processing stream for request ${pair.requestId}: ${problem}`;
    this.log?.({ level: 'warn', msg: 'port-forward', err: msg });
    if (pair.error?.writable) pair.error.write(msg);
    stream.reset();
  }

  private timedOut(pair: StreamPair): void {
    this.pairs.delete(pair.requestId);
    const msg = `(conn=${this.connLabel}, request=${pair.requestId}) timed out waiting for streams`;
    this.log?.({ level: 'warn', msg: 'port-forward', err: msg });
    pair.error?.end(msg);
    pair.data?.reset();
  }

  private async forward(data: SpdyStream, errors: SpdyStream, requestId: string): Promise<void> {
    const port = Number(data.header('port'));
    const fail = (detail: string) => {
      const msg = `error forwarding port ${port} to pod ${this.pod}, uid ${this.uid}: ${detail}`;
      this.log?.({ level: 'warn', msg: 'port-forward failed', request: requestId, err: msg });
      if (errors.writable) errors.write(msg);
    };

    let conn: Duplex;
    try {
      conn = await this.dial(port);
    } catch (e) {
      fail(e instanceof PortForwardDialError ? e.message : goErrorText(e));
      // The kubelet closes both streams (FIN); anything more the client sends is dropped.
      errors.end();
      data.resume();
      data.end();
      return;
    }
    if (data.destroyed) {
      conn.destroy();
      errors.end();
      return;
    }
    this.conns.add(conn);
    // Go names a failed connection by its addresses, which a socket forgets once it has failed.
    const endpoints = conn instanceof Socket && conn.localAddress && conn.remoteAddress
      ? `${hostPort(conn.localAddress, conn.localPort ?? 0)}->${hostPort(conn.remoteAddress, conn.remotePort ?? 0)}`
      : undefined;
    this.log?.({ level: 'debug', msg: 'port-forward connected', request: requestId, port, endpoints });

    // Each direction ends on its own: the client's FIN half-closes the pod connection, the pod's
    // FIN ends the data stream. A reset data stream (kubectl resets it once it has read our FIN)
    // or a failed pod connection ends both.
    data.pipe(conn);
    conn.pipe(data);
    data.on('error', () => conn.destroy());
    conn.on('error', (err: Error) => {
      fail(`failed to execute portforward for "${this.pod}" port ${port}: ${goErrorText(err, endpoints)}`);
      if (!data.destroyed) data.end();
    });
    conn.on('close', () => {
      this.conns.delete(conn);
      // The pod has nothing more to say, even if its connection closed without an end; and
      // whatever the client still sends has nowhere to go.
      if (!data.writableEnded && !data.destroyed) data.end();
      data.unpipe(conn);
      data.resume();
      // Close the error stream once the data stream has said all it will (as the kubelet does
      // when PortForward returns).
      finished(data, { readable: false }, () => errors.end());
    });
  }
}

/** httpStreamReceived: the headers every port-forward stream must carry. */
function checkStreamHeaders(stream: SpdyStream): string | undefined {
  const port = stream.header('port');
  if (!port) return '"port" header is required';
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `unable to parse "${port}" as a port`;
  if (Number(port) < 1) return `port "${port}" must be > 0`;
  const type = stream.header('streamType');
  if (!type) return '"streamType" header is required';
  if (type !== 'error' && type !== 'data') return `invalid stream type "${type}"`;
  return undefined;
}

// ---- dialling pods and wording errors as Go does -----------------------------------------------

/**
 * containerd's failure to reach a pod port: `failed to execute portforward in network namespace
 * "<netns>": dial tcp <ip>:<port>: connect: connection refused`.
 */
export class PortForwardDialError extends Error {
  override readonly name = 'PortForwardDialError';
  constructor(
    readonly netns: string,
    override readonly cause: Error,
  ) {
    super(`failed to execute portforward in network namespace "${netns}": ${goErrorText(cause)}`);
  }
}

/**
 * Connects to a pod's port by its IP (from the host, as containerd falls back to when the pod's
 * loopback is out of reach), failing with a PortForwardDialError naming the pod's namespace.
 */
export function dialPodPort(target: { ip: string; netns: string }, port: number, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the pod may finish sending and still read what the client sends.
    const socket = connect({ host: target.ip, port, allowHalfOpen: true });
    socket.setTimeout(timeoutMs, () => socket.destroy(new DialTimeoutError(target.ip, port)));
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.off('error', failed);
      resolve(socket);
    });
    const failed = (err: Error) => reject(new PortForwardDialError(target.netns, err));
    socket.once('error', failed);
  });
}

/** Go's dialer timeout. */
class DialTimeoutError extends Error {
  override readonly name = 'DialTimeoutError';
  constructor(ip: string, port: number) {
    super(`dial tcp ${hostPort(ip, port)}: i/o timeout`);
  }
}

/** Go's texts for the errnos a TCP connection meets (syscall.Errno.Error). */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'software caused connection abort',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'broken pipe',
  EADDRNOTAVAIL: 'cannot assign requested address',
};

/**
 * A Node socket error as Go's net package words it: `dial tcp A:P: connect: ...` for a failed
 * connect, `read tcp L->R: read: ...` on an established connection (`endpoints` is `L->R`).
 */
function goErrorText(err: unknown, endpoints?: string): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const text = e?.code ? ERRNO_TEXT[e.code] : undefined;
  if (!text) return e instanceof Error ? e.message : String(err);
  if (e.syscall === 'connect' && e.address) return `dial tcp ${hostPort(e.address, e.port ?? 0)}: connect: ${text}`;
  const op = e.syscall === 'write' ? 'write' : 'read';
  return endpoints ? `${op} tcp ${endpoints}: ${op}: ${text}` : `${op}: ${text}`;
}

const hostPort = (host: string, port: number) => (isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

// ---- request details ------------------------------------------------------------------------

/**
 * The pod as the kubelet's messages name it: `/portForward/{namespace}/{pod}[/{uid}]` gives
 * kubecontainer.GetPodFullName's `name_namespace`, and the uid when the path has one.
 */
function podFromPath(url: string): { pod: string; uid: string } {
  const parts = url.split('?')[0]!.split('/').filter(Boolean).map(decodeURIComponent);
  const at = parts.indexOf('portForward');
  const [namespace, name, uid] = at >= 0 ? parts.slice(at + 1) : [];
  return { pod: namespace && name ? `${name}_${namespace}` : url, uid: uid ?? '' };
}

function remoteLabel(req: IncomingMessage): string {
  const s = req.socket;
  return s?.remoteAddress ? `${hostPort(s.remoteAddress, s.remotePort ?? 0)}` : 'unknown';
}

function commaList(value: string | string[] | undefined): string[] {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** A request's headers as Go's %#v prints an http.Header (canonical names, sorted). */
function goHeaderMap(req: IncomingMessage): string {
  const canonical = (name: string) => name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  const byName = new Map<string, string[]>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = canonical(req.rawHeaders[i]!);
    // Go keeps Host out of the header map (it is Request.Host).
    if (name === 'Host') continue;
    byName.set(name, [...(byName.get(name) ?? []), req.rawHeaders[i + 1]!]);
  }
  const entries = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  return `http.Header{${entries.map(([n, vs]) => `${JSON.stringify(n)}:[]string{${vs.map((v) => JSON.stringify(v)).join(', ')}}`).join(', ')}}`;
}
