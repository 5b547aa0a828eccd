/**
 * Node's socket errors in the words Go's net package uses, because the kubelet puts Go's error
 * text into probe events (`dial tcp 10.244.1.5:8080: connect: connection refused`) and users
 * search for those strings.
 */

/** Go's text for the errno values a dial or a read reports (syscall.Errno.Error()). */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EPIPE: 'broken pipe',
};

/** net.JoinHostPort: brackets around an IPv6 literal. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

type SocketError = Error & { code?: string; syscall?: string; hostname?: string };

/**
 * The error of a failed TCP dial to `addr` (host:port) as Go's net.Dial reports it:
 * `dial tcp ADDR: connect: connection refused`, `dial tcp: lookup NAME: no such host`.
 */
export function dialErrorText(addr: string, e: SocketError): string {
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `dial tcp: lookup ${e.hostname ?? addr}: no such host`;
  const text = e.code ? ERRNO_TEXT[e.code] : undefined;
  if (text) return `dial tcp ${addr}: connect: ${text}`;
  return `dial tcp ${addr}: ${e.message}`;
}

/** Dial failures (nothing was sent yet) as opposed to errors on an open connection. */
export function isDialError(e: SocketError): boolean {
  return e.syscall === 'connect' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN';
}

/**
 * An error on an established connection, as Go's reads report it: `read tcp L->R: read:
 * connection reset by peer`, or `EOF` when the peer closed without answering.
 */
export function readErrorText(local: string, remote: string, e: SocketError): string {
  if (e.code === 'ECONNRESET' && /socket hang up/i.test(e.message)) return 'EOF';
  const text = e.code ? ERRNO_TEXT[e.code] : undefined;
  if (text) return `read tcp ${local}->${remote}: read: ${text}`;
  return e.message;
}
