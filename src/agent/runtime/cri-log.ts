/**
 * The CRI container log format, as containerd writes it and the kubelet reads it:
 * `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>\n` — F for a full line (its newline
 * removed), P for a partial one (a line longer than the maximum is cut into P pieces ending
 * with an F piece). Timestamps have a fixed nine-digit fraction, as containerd's do.
 */
import { writeSync } from 'node:fs';

export type LogStream = 'stdout' | 'stderr';

/** containerd's default max_container_log_line_size. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Date.now()) * 1_000_000n;

/** Now, as nanoseconds since the epoch (millisecond-accurate origin, monotonic increments). */
export function nowNanos(): bigint {
  return epochBaseNs + (process.hrtime.bigint() - hrBase);
}

/** RFC 3339 with nine fractional digits, UTC: 2026-11-20T23:23:42.347583444Z. */
export function formatTimestamp(ns: bigint = nowNanos()): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/** One CRI log line (without the newline). */
export function formatCriLine(stream: LogStream, partial: boolean, content: Buffer | string, ts: string = formatTimestamp()): Buffer {
  const head = Buffer.from(`${ts} ${stream} ${partial ? 'P' : 'F'} `);
  const body = typeof content === 'string' ? Buffer.from(content) : content;
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

export interface CriLogEntry {
  /** The timestamp as written. */
  timestamp: string;
  /** Parsed, millisecond precision. */
  time: Date;
  stream: LogStream;
  partial: boolean;
  content: string;
}

/** Parses one line of a CRI log file; null if it is not one. */
export function parseCriLine(line: string): CriLogEntry | null {
  const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line.replace(/\n$/, ''));
  if (!m) return null;
  const time = new Date(m[1]);
  if (Number.isNaN(time.getTime())) return null;
  return { timestamp: m[1], time, stream: m[2] as LogStream, partial: m[3] === 'P', content: m[4] };
}

/** Parses a whole CRI log file's text. */
export function parseCriLog(text: string): CriLogEntry[] {
  const out: CriLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const e = parseCriLine(line);
    if (e) out.push(e);
  }
  return out;
}

/**
 * Turns one stream's bytes into CRI lines, written synchronously to `fd` (one write per line,
 * so lines from stdout and stderr never interleave mid-line). Bytes after the last newline wait
 * for more; end() writes them as a final F line.
 */
export class CriLineWriter {
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(
    private readonly fd: number,
    readonly stream: LogStream,
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
    private readonly write: (fd: number, b: Buffer) => void = (f, b) => {
      writeSync(f, b);
    },
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      let piece = chunk.subarray(start, end);
      // Emit P pieces while the line being built exceeds the maximum.
      while (this.pendingLen + piece.length > this.maxLineBytes) {
        const take = this.maxLineBytes - this.pendingLen;
        this.pending.push(piece.subarray(0, take));
        this.flush(true);
        piece = piece.subarray(take);
      }
      if (piece.length) {
        this.pending.push(piece);
        this.pendingLen += piece.length;
      }
      if (nl < 0) break;
      this.flush(false);
      start = nl + 1;
    }
  }

  /** Writes what is left (a last line without a newline) as a full line. */
  end(): void {
    if (this.pendingLen > 0) this.flush(false);
  }

  private flush(partial: boolean): void {
    const content = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLen = 0;
    this.write(this.fd, formatCriLine(this.stream, partial, content));
  }
}
