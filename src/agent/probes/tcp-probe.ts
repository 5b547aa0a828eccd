/**
 * The tcpSocket probe (upstream pkg/probe/tcp): success when a TCP connection to host:port opens
 * within the timeout (host defaults to the pod IP), then it is closed at once. A failure's
 * message is Go's dial error (`dial tcp 10.244.1.5:80: connect: connection refused`,
 * `dial tcp 10.244.1.5:80: i/o timeout`).
 */
import { connect } from 'node:net';
import type { TCPSocketAction } from '../pods/api-types.js';
import { dialErrorText, joinHostPort } from './net-errors.js';
import { PortResolutionError, resolvePort, type ProbeOutcome, type ProbeTarget } from './probe.js';

export async function tcpProbe(action: TCPSocketAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  let port: number;
  try {
    port = resolvePort(action.port, target.container);
  } catch (e) {
    if (e instanceof PortResolutionError) return { result: 'unknown', message: e.message };
    throw e;
  }
  const host = action.host || target.podIP;
  const addr = joinHostPort(host, port);
  const err = await dial(host, port, timeoutMs);
  if (err === null) return { result: 'success', message: '' };
  if (err === 'timeout') return { result: 'failure', message: `dial tcp ${addr}: i/o timeout` };
  // Go names the address it dialled: the resolved IP when the host is a name.
  const dialled = err.address ? joinHostPort(err.address, err.port ?? port) : addr;
  return { result: 'failure', message: dialErrorText(dialled, err) };
}

type DialError = Error & { address?: string; port?: number };

/** Opens and closes one connection; null on success. */
function dial(host: string, port: number, timeoutMs: number): Promise<null | 'timeout' | DialError> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, Math.max(1, timeoutMs));
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy(); // closing sends the FIN; nothing is written
      resolve(null);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      resolve(e);
    });
  });
}
