/**
 * The one wrapper around `cairn-pty` (native/cairn-pty.c, built into dist/native/ by
 * `npm run build`): runs a program on a new pseudo-terminal, relaying the terminal over plain
 * pipes. runc needs a real terminal on its own stdio to run a container or an exec with
 * `terminal: true` in the foreground, and resizes the container's terminal from it on SIGWINCH.
 *
 * Spawn `ptyCommand(argv)` with four pipes: 0 input, 1 the terminal's output, 2 the helper's
 * own errors, 3 window sizes (`writeWindowSize`). The helper exits with the program's status.
 */
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';

/** dist/native/cairn-pty, beside the compiled tree (this module is dist/src/agent/runtime/pty.js). */
export const PTY_HELPER = fileURLToPath(new URL('../../../native/cairn-pty', import.meta.url));

/** The helper binary is not built or not executable. */
export class PtyHelperMissingError extends Error {
  constructor(readonly path: string) {
    super(`the terminal helper ${path} is missing: run npm run build (it needs gcc and libc6-dev, see scripts/setup.sh)`);
    this.name = 'PtyHelperMissingError';
  }
}

/** Throws PtyHelperMissingError unless the helper can be run. */
export function requirePtyHelper(path = PTY_HELPER): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new PtyHelperMissingError(path);
  }
  return path;
}

/** The argument array that runs `argv` on a new terminal: [helper, ...argv]. */
export function ptyCommand(argv: string[], helper = PTY_HELPER): string[] {
  return [requirePtyHelper(helper), ...argv];
}

/** Terminal dimensions, as kubectl sends them (Width = columns, Height = rows). */
export interface WindowSize {
  rows: number;
  cols: number;
}

/** Asks the helper (through its fd 3 pipe) to set the terminal's size. */
export function writeWindowSize(control: Writable, size: WindowSize): void {
  const rows = Math.max(0, Math.min(65535, Math.trunc(size.rows)));
  const cols = Math.max(0, Math.min(65535, Math.trunc(size.cols)));
  if (!control.destroyed && control.writable) control.write(`${rows} ${cols}\n`);
}
