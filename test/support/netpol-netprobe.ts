/**
 * Builds the truth-table test's probe binary (netpol-netprobe.c: a TCP/UDP server for the pods
 * and a concurrent prober) as a static executable, so it runs in a busybox pod through a
 * hostPath volume and in any pod's network namespace from the host.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runTool } from '../../src/net/exec.js';

const SOURCE = new URL('../../../test/support/netpol-netprobe.c', import.meta.url).pathname;

/** Compiles netprobe into `dir`; returns its path. Fails (the test needs it) without gcc or a static libc. */
export async function buildNetprobe(dir: string): Promise<string> {
  if (!existsSync(SOURCE)) throw new Error(`netprobe source missing: ${SOURCE}`);
  const out = join(dir, 'netprobe');
  const r = await runTool('gcc', ['-static', '-O2', '-Wall', '-o', out, SOURCE]).catch((e: Error) => {
    throw new Error(`cannot run gcc (install build-essential): ${e.message}`);
  });
  if (r.code !== 0) throw new Error(`building netprobe failed (gcc and a static libc, libc6-dev, are needed):\n${r.stderr}`);
  return out;
}
