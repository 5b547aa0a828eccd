/** Polling for tests: waits until `fn` returns something truthy, and returns it. */
import assert from 'node:assert/strict';

/**
 * Calls `fn` every `everyMs` until it returns a truthy value (returned) or `ms` pass (the test
 * fails, naming `what` and the last error `fn` threw, if any — errors while waiting are retried).
 */
export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
