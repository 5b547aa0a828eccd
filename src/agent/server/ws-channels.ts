/**
 * The channel protocols of exec and attach over a WebSocket (k8s.io/apimachinery wsstream and
 * remotecommand): every message carries one channel's bytes behind a channel number —
 * 0 stdin, 1 stdout, 2 stderr, 3 error (the outcome), 4 resize (`{"Width":W,"Height":H}`).
 *
 * - `channel.k8s.io`: binary messages, `[channel, ...data]`; the error channel carries the
 *   failure's message as text (nothing on success). Also what a client naming no protocol gets.
 * - `base64.channel.k8s.io`: text messages, `'0'+channel` then the data in base64.
 * - `v4.channel.k8s.io` / `v4.base64.channel.k8s.io`: as above, but the error channel carries a
 *   v1 Status (Success, or Failure with reason NonZeroExitCode and the exit code as a cause).
 * - `v5.channel.k8s.io`: v4 binary plus the CLOSE signal `[255, channel]`, by which a client
 *   half-closes a channel (stdin's end of input).
 */
import type { WindowSize } from '../runtime/pty.js';

export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4 } as const;
/** v5's CLOSE signal: `[255, channel]`. */
export const CLOSE_SIGNAL = 255;

export interface ChannelProtocol {
  name: string;
  /** Text messages with base64 data (else binary). */
  base64: boolean;
  /** The error channel carries a v1 Status (v4 and later) rather than a bare message. */
  statusJson: boolean;
  /** Clients may half-close channels (v5). */
  closeSignal: boolean;
}

export const PROTOCOLS: readonly ChannelProtocol[] = [
  { name: 'v5.channel.k8s.io', base64: false, statusJson: true, closeSignal: true },
  { name: 'v4.channel.k8s.io', base64: false, statusJson: true, closeSignal: false },
  { name: 'v4.base64.channel.k8s.io', base64: true, statusJson: true, closeSignal: false },
  { name: 'channel.k8s.io', base64: false, statusJson: false, closeSignal: false },
  { name: 'base64.channel.k8s.io', base64: true, statusJson: false, closeSignal: false },
];

/** What a client that names no subprotocol gets (wsstream's "" protocol). */
export const DEFAULT_PROTOCOL = PROTOCOLS.find((p) => p.name === 'channel.k8s.io')!;

/** The client's first offered protocol this server speaks (wsstream's handshake); null when none. */
export function negotiateProtocol(offered: readonly string[]): ChannelProtocol | null {
  if (!offered.length) return DEFAULT_PROTOCOL;
  for (const name of offered) {
    const p = PROTOCOLS.find((x) => x.name === name);
    if (p) return p;
  }
  return null;
}

/** `Sec-WebSocket-Protocol` values as a list. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** One message: the data of `channel` framed for `proto` (a string for the base64 protocols). */
export function encodeMessage(proto: ChannelProtocol, channel: number, data: Buffer): Buffer | string {
  if (proto.base64) return String.fromCharCode(0x30 + channel) + data.toString('base64');
  const frame = Buffer.allocUnsafe(data.length + 1);
  frame[0] = channel;
  data.copy(frame, 1);
  return frame;
}

export type ClientMessage = { channel: number; data: Buffer } | { close: number };

/** A message from the client; null for an empty or malformed one (ignored, as wsstream does). */
export function decodeMessage(proto: ChannelProtocol, msg: Buffer): ClientMessage | null {
  if (!msg.length) return null;
  if (proto.closeSignal && msg[0] === CLOSE_SIGNAL) return msg.length === 2 ? { close: msg[1] } : null;
  if (!proto.base64) return { channel: msg[0], data: msg.subarray(1) };
  const channel = msg[0] - 0x30;
  if (channel < 0 || channel > 9) return null;
  return { channel, data: Buffer.from(msg.subarray(1).toString('latin1'), 'base64') };
}

/**
 * The resize channel's JSON objects, which may arrive split or several in one message (the
 * server reads the channel as one JSON stream).
 */
export class ResizeDecoder {
  private text = '';

  push(data: Buffer): WindowSize[] {
    this.text += data.toString('utf8');
    const out: WindowSize[] = [];
    for (;;) {
      const start = this.text.indexOf('{');
      const end = this.text.indexOf('}', start);
      if (start < 0 || end < 0) break;
      const obj = this.text.slice(start, end + 1);
      this.text = this.text.slice(end + 1);
      try {
        const s = JSON.parse(obj) as { Width?: unknown; Height?: unknown };
        if (typeof s.Width === 'number' && typeof s.Height === 'number') out.push({ cols: s.Width, rows: s.Height });
      } catch {
        /* not a size: skip it */
      }
    }
    if (this.text.length > 4096) this.text = '';
    return out;
  }
}

/**
 * A metav1.Status as the kubelet marshals it onto the error channel: empty TypeMeta and code
 * omitted (omitempty), `metadata: {}` always present.
 */
export interface ChannelStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

export function successStatus(): ChannelStatus {
  return { metadata: {}, status: 'Success' };
}

/** The kubelet's status for a command that exited non-zero (remotecommand ServeExec). */
export function exitCodeStatus(command: readonly string[], exitCode: number): ChannelStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** apierrors.NewInternalError(err), for a session that could not run. */
export function internalErrorStatus(message: string): ChannelStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** What goes on the error channel for `status`: JSON (v4+), the bare message (older), or nothing. */
export function errorChannelPayload(proto: ChannelProtocol, status: ChannelStatus): Buffer | null {
  if (proto.statusJson) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? null : Buffer.from(status.message ?? '');
}
