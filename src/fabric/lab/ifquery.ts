// `ifquery --check` (ifupdown2): compares the kernel state of a namespace with an interfaces
// file, attribute by attribute, by ifupdown2's own reading of the file.
//
// ifupdown2 is not installed as a Debian package (it would replace the host's ifupdown); the
// setup unpacks Debian's package into IFUPDOWN2_DIR, and ifquery runs from there, confined by
// the sandbox (sandbox.ts) to the node's network namespace with private /run and /var/tmp
// (where it creates its state directories). ifquery only reads: it changes nothing.
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ToolMissingError, LabError } from './errors.js';
import { runSandboxed } from './sandbox.js';

/** Where scripts/setup.sh unpacks ifupdown2. */
export const IFUPDOWN2_DIR = '/usr/local/lib/cairn/ifupdown2';
const IFQUERY = join(IFUPDOWN2_DIR, 'ifquery');

export interface IfqueryResult {
  /** Every attribute of every `auto` interface matches the kernel. */
  ok: boolean;
  /** "IFACE ATTRIBUTE (kernel has VALUE)" for each mismatch; "IFACE" when the interface is wrong as a whole. */
  failures: string[];
}

interface IfqueryEntry {
  name: string;
  status?: string;
  config?: Record<string, string | string[]>;
  config_status?: Record<string, string | string[]>;
}

export async function checkIfqueryInstalled(): Promise<void> {
  try {
    await access(IFQUERY);
  } catch {
    throw new ToolMissingError(`ifupdown2's ifquery (${IFQUERY})`, 'ifupdown2, unpacked by scripts/setup.sh');
  }
}

/** Runs `ifquery --check -a -i FILE -o json` in the namespace. */
export async function ifqueryCheck(netns: string, interfacesFile: string): Promise<IfqueryResult> {
  await checkIfqueryInstalled();
  // The sandbox's /run is empty: the file's directory is bound back in at the same path.
  const dir = dirname(interfacesFile);
  const r = await runSandboxed(netns, [IFQUERY, '--check', '-a', '-i', interfacesFile, '-o', 'json'], { binds: [[dir, dir]], timeoutMs: 60_000 });
  let entries: IfqueryEntry[];
  try {
    entries = JSON.parse(r.stdout) as IfqueryEntry[];
  } catch {
    // ifupdown2 prints its own errors as "error: ..." lines on stderr.
    const why = r.stderr.split('\n').filter((l) => l.trim() && !/brctl: missing/.test(l)).slice(-3).join(' | ');
    throw new LabError(`ifquery --check in ${netns} failed (exit ${r.code ?? 'timeout'}): ${why || 'no output'}`);
  }
  const failures: string[] = [];
  for (const e of entries) {
    const bad = Object.entries(e.config_status ?? {}).filter(([, s]) => [s].flat().includes('fail'));
    for (const [attr] of bad) failures.push(`${e.name} ${attr} (kernel has ${[e.config?.[attr] ?? '?'].flat().join(' ')})`);
    if (e.status === 'fail' && bad.length === 0) failures.push(e.name);
  }
  return { ok: failures.length === 0, failures };
}
