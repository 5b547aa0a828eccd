/**
 * Reads a container's CRI log file for `kubectl logs`, as the kubelet's ReadLogs does
 * (pkg/kubelet/kuberuntime/logs):
 * - tailLines: start at the Nth logical line from the end, where a line written as P pieces
 *   plus a final F piece counts once; without follow, stop after those N lines;
 * - since (sinceSeconds / sinceTime): skip pieces stamped earlier;
 * - timestamps: each line starts with its time in RFC 3339 with a fixed nine-digit fraction;
 * - limitBytes: the output (timestamps included) is cut after that many bytes;
 * - follow: at the end of the file wait for more (inotify, or a check every second) for as long
 *   as the container runs, then read to the end once more and stop. When the shim rotates the
 *   file (rotating-log.ts), the rest of the old file is read and reading goes on from the start
 *   of the new one.
 * Lines that do not parse are skipped.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { rfc3339Nanos, type LogOptions } from './log-options.js';

const CHUNK = 64 * 1024;
/** The kubelet's logForceCheckPeriod: look again even without a file event. */
const FORCE_CHECK_MS = 1000;
const NL = 0x0a;
const SP = 0x20;
const EMPTY = Buffer.alloc(0);

/** The log file could not be opened or read (the kubelet answers 400 with this message). */
export class LogFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogFileError';
  }
}

/** One CRI log line (a piece of a logical line when partial). */
export interface CriPiece {
  timestamp: string;
  partial: boolean;
  content: Buffer;
}

/** Splits `<timestamp> <stdout|stderr> <tag> <content>` (no newline); null when it is not one. */
export function parseCriPiece(line: Buffer): CriPiece | null {
  const s1 = line.indexOf(SP);
  if (s1 < 0) return null;
  const s2 = line.indexOf(SP, s1 + 1);
  if (s2 < 0) return null;
  const stream = line.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return null;
  const s3 = line.indexOf(SP, s2 + 1);
  const tag = line.toString('latin1', s2 + 1, s3 < 0 ? line.length : s3);
  return { timestamp: line.toString('latin1', 0, s1), partial: tag.split(':')[0] === 'P', content: s3 < 0 ? EMPTY : line.subarray(s3 + 1) };
}

/** A timestamp in Go's RFC3339NanoFixed layout (the kubelet's output format); null when unparseable. */
export function fixedTimestamp(ts: string): string | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}${m[3].toUpperCase()}` : null;
}

/** Whether a line's first bytes carry the P (partial) tag. */
function isPartialHead(head: Buffer): boolean {
  const s1 = head.indexOf(SP);
  const s2 = s1 < 0 ? -1 : head.indexOf(SP, s1 + 1);
  return s2 >= 0 && head[s2 + 1] === 0x50; // 'P'
}

/**
 * The offset of the first of the last `n` logical lines among the complete lines of the first
 * `size` bytes (0 when there are fewer; the end of the last complete one when n is 0).
 */
export async function findTailStart(fh: FileHandle, size: number, n: number): Promise<number> {
  const starts: number[] = [];
  let logicalStart = 0;
  let head = EMPTY;
  const buf = Buffer.alloc(CHUNK);
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
    if (!bytesRead) break;
    const data = buf.subarray(0, bytesRead);
    for (let i = 0; i < data.length; ) {
      const nl = data.indexOf(NL, i);
      const end = nl < 0 ? data.length : nl;
      if (head.length < 64) head = Buffer.concat([head, data.subarray(i, Math.min(end, i + 64 - head.length))]);
      if (nl < 0) break;
      if (!isPartialHead(head)) {
        starts.push(logicalStart);
        if (starts.length > 2 * n + 1024) starts.splice(0, starts.length - n);
        logicalStart = pos + nl + 1;
      }
      head = EMPTY;
      i = nl + 1;
    }
    pos += bytesRead;
  }
  if (n === 0) return logicalStart;
  return starts.length >= n ? starts[starts.length - n] : 0;
}

/** Whether the container whose log is followed still runs. */
export interface FollowTarget {
  running(): Promise<boolean>;
}

export class ContainerLogStream {
  private pos: number;
  private carry = EMPTY;
  /** The next piece starts a logical line (gets the timestamp). */
  private newLine = true;
  private remainingBytes: number;
  private remainingLines: number;
  private readonly limitedMode: boolean;
  private done = false;
  /** The file was rotated: read the old one to its end once more, then switch. */
  private draining = false;

  private constructor(
    private readonly path: string,
    private fh: FileHandle,
    private ino: number,
    start: number,
    private readonly opts: LogOptions,
  ) {
    this.pos = start;
    this.remainingBytes = opts.limitBytes >= 0 ? opts.limitBytes : Infinity;
    this.limitedMode = opts.tailLines >= 0 && !opts.follow;
    this.remainingLines = opts.tailLines;
  }

  /** Opens the file and finds where the output starts; throws LogFileError before anything is sent. */
  static async open(path: string, opts: LogOptions): Promise<ContainerLogStream> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new LogFileError(`failed to open log file ${JSON.stringify(path)}: ${(e as Error).message}`);
    }
    try {
      const st = await fh.stat();
      const start = opts.tailLines >= 0 ? await findTailStart(fh, st.size, opts.tailLines) : 0;
      return new ContainerLogStream(path, fh, st.ino, start, opts);
    } catch (e) {
      await fh.close();
      throw new LogFileError(`failed to tail ${opts.tailLines} lines of log file ${JSON.stringify(path)}: ${(e as Error).message}`);
    }
  }

  /** Writes the log to `out` (waiting for it to drain) until done, `signal` aborts, or `out` closes. */
  async pipeTo(out: Writable, target: FollowTarget, signal: AbortSignal): Promise<void> {
    let watcher: ChangeWatcher | undefined;
    let containerRunning = true;
    try {
      for (;;) {
        if (signal.aborted || out.destroyed) return;
        const { output, eof } = await this.readMore();
        if (output.length) await writeOut(out, output);
        if (this.done) return;
        if (!eof) continue;
        if (!this.opts.follow) {
          // Like the kubelet: a last line without its newline is still shown.
          if (this.carry.length) await writeOut(out, this.take(this.carry, true));
          return;
        }
        if (this.draining) {
          await this.reopen();
          continue;
        }
        if (await this.rotated()) {
          this.draining = true;
          continue;
        }
        if (!containerRunning) return;
        containerRunning = await target.running();
        // Stopped: read to the end once more, then stop.
        if (!containerRunning) continue;
        watcher ??= new ChangeWatcher(this.path);
        await watcher.wait(FORCE_CHECK_MS, signal);
      }
    } finally {
      watcher?.close();
      await this.fh.close().catch(() => {});
    }
  }

  private async readMore(): Promise<{ output: Buffer; eof: boolean }> {
    const buf = Buffer.alloc(CHUNK);
    const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.pos);
    if (!bytesRead) return { output: EMPTY, eof: true };
    this.pos += bytesRead;
    const data = this.carry.length ? Buffer.concat([this.carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    const out: Buffer[] = [];
    let i = 0;
    for (;;) {
      const nl = data.indexOf(NL, i);
      if (nl < 0 || this.done) break;
      const piece = this.take(data.subarray(i, nl), false);
      if (piece.length) out.push(piece);
      i = nl + 1;
    }
    // Copied: the carry must not pin the 64 KiB read buffer.
    this.carry = this.done ? EMPTY : Buffer.from(data.subarray(i));
    return { output: out.length === 1 ? out[0] : Buffer.concat(out), eof: false };
  }

  /** The output for one line of the file (empty when it is skipped). */
  private take(line: Buffer, last: boolean): Buffer {
    if (this.done || (this.limitedMode && this.remainingLines <= 0)) {
      this.done = true;
      return EMPTY;
    }
    const p = parseCriPiece(line);
    if (!p) return EMPTY;
    const nanos = rfc3339Nanos(p.timestamp);
    const stamp = fixedTimestamp(p.timestamp);
    if (nanos === undefined || stamp === null) return EMPTY;
    const startsLine = this.newLine;
    this.newLine = !p.partial;
    if (this.limitedMode && !p.partial) this.remainingLines--;
    if (this.opts.sinceNanos !== undefined && nanos < this.opts.sinceNanos) return EMPTY;
    const parts: Buffer[] = [];
    if (this.opts.timestamps && startsLine) parts.push(Buffer.from(`${stamp} `));
    parts.push(p.content);
    if (!p.partial && !last) parts.push(Buffer.from('\n'));
    let out = Buffer.concat(parts);
    if (out.length >= this.remainingBytes) {
      out = out.subarray(0, this.remainingBytes);
      this.done = true;
    }
    this.remainingBytes -= out.length;
    return out;
  }

  private async rotated(): Promise<boolean> {
    try {
      return (await stat(this.path)).ino !== this.ino;
    } catch {
      return false; // between the rename and the new file: wait for it
    }
  }

  private async reopen(): Promise<void> {
    this.draining = false;
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch {
      return; // not there yet: the next round looks again
    }
    await this.fh.close().catch(() => {});
    this.fh = fh;
    this.ino = (await fh.stat()).ino;
    this.pos = 0;
    this.carry = EMPTY;
  }
}

/** Writes and waits for the writer to take more (or to close). */
async function writeOut(out: Writable, b: Buffer): Promise<void> {
  if (out.destroyed) return;
  if (out.write(b)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/** Wakes a follower when the log's directory changes (the file written, rotated or created). */
class ChangeWatcher {
  private watcher?: FSWatcher;
  private wake?: () => void;
  private pending = false;

  constructor(path: string) {
    const name = basename(path);
    try {
      this.watcher = watch(dirname(path), (_event, file) => {
        if (file && !String(file).startsWith(name)) return;
        if (this.wake) this.wake();
        else this.pending = true;
      });
      this.watcher.on('error', () => this.close());
    } catch {
      // No inotify (or the directory is gone): the periodic check alone.
    }
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
