/**
 * A container's log file with rotation by size, written by the container's shim.
 *
 * The shim rotates by itself (rather than the agent renaming the file and signalling the shim
 * to reopen it): only the writer knows where a line ends, so a rotation never splits a CRI line,
 * and nothing breaks when no agent runs. When a line would take the file past `maxBytes`, the
 * file is renamed to `<log>.1` (replacing the previous rotated file) and a new `<log>` is
 * started: at most two files per container instance. Like the kubelet, `kubectl logs` reads
 * only the current file; a follower notices the new file by its inode and carries on from its
 * start (container-logs.ts).
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';

/** The kubelet's containerLogMaxSize default. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

/** Where a log file's previous content goes on rotation. */
export const rotatedLogPath = (logPath: string) => `${logPath}.1`;

export class RotatingLogFile {
  private fd: number;
  private size: number;

  /** `maxBytes` 0 disables rotation. */
  constructor(
    readonly path: string,
    readonly maxBytes = DEFAULT_LOG_MAX_BYTES,
  ) {
    this.fd = openSync(path, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  /** Appends one whole line (synchronously: lines of two streams never interleave). */
  write(line: Buffer): void {
    if (this.maxBytes > 0 && this.size > 0 && this.size + line.length > this.maxBytes) this.rotate();
    writeSync(this.fd, line);
    this.size += line.length;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    renameSync(this.path, rotatedLogPath(this.path));
    const old = this.fd;
    this.fd = openSync(this.path, 'a', 0o640);
    closeSync(old);
    this.size = 0;
  }
}
