/**
 * Runs one of the storage programs with an argument vector and turns a non-zero exit (or a
 * missing program) into a StorageToolError carrying its stderr: the one place the storage
 * wrappers (losetup, mkfs, fs-resize) meet src/net/exec.ts.
 */
import { runTool, type ToolOptions } from '../net/exec.js';
import { StorageToolError } from './errors.js';

export async function runStorageTool(cmd: string, args: readonly string[], what: string, opts: ToolOptions & { okCodes?: number[] } = {}): Promise<string> {
  let r;
  try {
    r = await runTool(cmd, args, { timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input });
  } catch (e) {
    throw new StorageToolError(`${what}: ${(e as Error).message}`, [cmd, ...args], '', null);
  }
  if (r.code === null || !(opts.okCodes ?? [0]).includes(r.code)) {
    const detail = (r.stderr || r.stdout).trim() || `${cmd} exited with ${r.code}`;
    throw new StorageToolError(`${what}: ${detail}`, [cmd, ...args], r.stderr, r.code);
  }
  return r.stdout;
}
