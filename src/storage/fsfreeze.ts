/**
 * The one wrapper around fsfreeze(8) (util-linux): suspends writes to a mounted filesystem and
 * flushes it to its device, so a copy of the device (a local volume's image) taken meanwhile is
 * a consistent point-in-time image. Writers block until the filesystem is thawed, so callers
 * hold a freeze only for the copy and always thaw in `finally`.
 */
import { runStorageTool } from './run-tool.js';

/** Runs `fn` with the filesystem mounted at `mountPoint` frozen. */
export async function withFrozenFilesystem<T>(mountPoint: string, fn: () => Promise<T>): Promise<T> {
  await runStorageTool('fsfreeze', ['--freeze', mountPoint], `fsfreeze --freeze ${mountPoint}`);
  try {
    return await fn();
  } finally {
    await runStorageTool('fsfreeze', ['--unfreeze', mountPoint], `fsfreeze --unfreeze ${mountPoint}`);
  }
}
