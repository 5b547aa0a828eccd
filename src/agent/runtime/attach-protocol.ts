/**
 * The protocol on a container's `attach.sock` (served by its shim, see shim.ts): the agent
 * connects to stream a running container's output and, when the container keeps stdin open,
 * to write to it. Every message is one frame:
 *
 *   [type: u8][length: u32 big-endian][payload: length bytes]
 *
 * client -> shim: HELLO (JSON {"stdin":bool}, first), STDIN data, STDIN_CLOSE (no payload),
 *                 RESIZE (u16 rows, u16 cols)
 * shim -> client: STDOUT / STDERR data. The shim closes the connection when the container has
 *                 exited and its output is flushed.
 */

/**
 * The address to connect to a container's attach.sock. A unix socket path has at most 107
 * bytes, and state dirs can be deeper than that: then go through the shim's cwd (its state dir)
 * by /proc/PID/cwd, which the kernel resolves like any directory.
 */
export function attachSocketAddress(stateDir: string, shimPid: number): string {
  const direct = `${stateDir}/attach.sock`;
  return Buffer.byteLength(direct) <= 100 ? direct : `/proc/${shimPid}/cwd/attach.sock`;
}

export const FrameType = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  RESIZE: 4,
  HELLO: 5,
  STDIN_CLOSE: 6,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface Frame {
  type: number;
  payload: Buffer;
}

const HEADER = 5;
/** Larger frames are a protocol error (nobody sends them; a corrupt stream would). */
export const MAX_FRAME = 1 << 20;

/** The attach protocol was violated (an oversized frame). */
export class AttachProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttachProtocolError';
  }
}

export function encodeFrame(type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(HEADER);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function encodeResize(rows: number, cols: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(Math.max(0, Math.min(65535, Math.trunc(rows))), 0);
  b.writeUInt16BE(Math.max(0, Math.min(65535, Math.trunc(cols))), 2);
  return encodeFrame(FrameType.RESIZE, b);
}

export function decodeResize(payload: Buffer): { rows: number; cols: number } | null {
  return payload.length === 4 ? { rows: payload.readUInt16BE(0), cols: payload.readUInt16BE(2) } : null;
}

/** Reassembles frames from arbitrary chunks of a byte stream. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the frames they complete. Throws AttachProtocolError on a bad frame. */
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_FRAME) throw new AttachProtocolError(`attach frame of ${len} bytes exceeds ${MAX_FRAME}`);
      if (this.buf.length < HEADER + len) break;
      out.push({ type: this.buf[0], payload: this.buf.subarray(HEADER, HEADER + len) });
      this.buf = this.buf.subarray(HEADER + len);
    }
    return out;
  }
}
