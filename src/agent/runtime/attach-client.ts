/**
 * The agent's end of a container's attach.sock (see attach-protocol.ts and the shim): a
 * StreamSession over the socket, so the streaming server serves attach as it serves exec.
 */
import { connect, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { encodeFrame, encodeResize, FrameDecoder, FrameType } from './attach-protocol.js';
import type { SessionEnd, StreamSession } from './exec-stream.js';
import type { WindowSize } from './pty.js';

/** The container has no attach socket (not running, or started by a shim without attach). */
export class AttachUnavailableError extends Error {
  constructor(
    readonly id: string,
    cause: unknown,
  ) {
    super(`container ${id} cannot be attached to: its shim serves no attach socket`, { cause });
    this.name = 'AttachUnavailableError';
  }
}

export interface AttachOptions {
  /** The client writes to the container's stdin (ignored by the shim when the container has none). */
  stdin: boolean;
  /** The container runs on a terminal: one output stream. */
  tty: boolean;
}

/** Connects to the attach socket at `address` of container `id`. */
export function connectAttach(id: string, address: string, opts: AttachOptions): Promise<StreamSession> {
  return new Promise((resolve, reject) => {
    const sock = connect(address);
    sock.once('error', (e) => reject(new AttachUnavailableError(id, e)));
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      sock.on('error', () => {});
      sock.write(encodeFrame(FrameType.HELLO, JSON.stringify({ stdin: opts.stdin })));
      resolve(new AttachSession(sock, opts));
    });
  });
}

class AttachSession implements StreamSession {
  readonly stdin: Writable | null;
  readonly stdout = new PassThrough();
  readonly stderr: PassThrough | null;
  readonly tty: boolean;
  readonly done: Promise<SessionEnd>;

  constructor(
    private readonly sock: Socket,
    opts: AttachOptions,
  ) {
    this.tty = opts.tty;
    this.stderr = opts.tty ? null : new PassThrough();
    this.stdin = opts.stdin
      ? new Writable({
          write: (chunk: Buffer, _enc, cb) => {
            if (sock.destroyed) return cb();
            sock.write(encodeFrame(FrameType.STDIN, chunk), () => cb());
          },
          final: (cb) => {
            this.closeStdin();
            cb();
          },
        })
      : null;
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const fr of frames) {
        const target = fr.type === FrameType.STDOUT ? this.stdout : fr.type === FrameType.STDERR ? this.stderr : null;
        // A slow client slows the socket (the shim drops it if it falls too far behind).
        if (target && !target.write(fr.payload)) {
          sock.pause();
          target.once('drain', () => sock.resume());
        }
      }
    });
    this.done = new Promise((resolve) => {
      sock.on('close', () => {
        this.stdout.end();
        this.stderr?.end();
        resolve({});
      });
    });
  }

  resize(size: WindowSize): void {
    if (!this.sock.destroyed) this.sock.write(encodeResize(size.rows, size.cols));
  }

  closeStdin(): void {
    if (!this.sock.destroyed) this.sock.write(encodeFrame(FrameType.STDIN_CLOSE));
  }

  close(): void {
    this.sock.destroy();
  }
}
