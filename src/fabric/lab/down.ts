// `cairn fabric lab down`: removes everything a lab put on the host — its daemons, its
// namespaces (and with them every link inside), its directory — whether the lab is running,
// half built, or left over from a crashed run (found by its name prefix, not its state file).
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { netns as netnsOps } from '../../net/ip.js';
import { FRR_SCRATCH_DIR } from './frr.js';
import { frrOf } from './instances.js';
import { LABS_DIR, checkLabId, labDir } from './names.js';
import { labNamespaces } from './plumbing.js';
import { netnsPids, stopProcess } from './processes.js';

export interface DownReport {
  namespaces: string[];
  /** Processes stopped (daemons, and anything else running in the lab's namespaces). */
  processes: number;
  /** The lab's directory was there and is gone. */
  removedDir: boolean;
}

export async function labDown(id: string): Promise<DownReport> {
  checkLabId(id);
  const dir = labDir(id);
  const report: DownReport = { namespaces: [], processes: 0, removedDir: false };
  // FRR first, by its pid files and with SIGTERM, so the daemons remove their own files.
  const frrs = (await subdirs(dir)).map((node) => frrOf(id, node));
  report.processes += (await Promise.all(frrs.map((f) => f.running()))).flat().length;
  await Promise.all(frrs.map((f) => f.stop()));
  // Then whatever else runs in the lab's namespaces (corosync, its sandbox, a stray ping).
  const namespaces = await labNamespaces(id);
  const pids = (await Promise.all(namespaces.map((ns) => netnsPids(ns)))).flat();
  report.processes += (await Promise.all(pids.map((pid) => stopProcess(pid)))).filter(Boolean).length;
  for (const ns of namespaces) if (await netnsOps.remove(ns)) report.namespaces.push(ns);
  if (await isDir(dir)) {
    await rm(dir, { recursive: true, force: true });
    report.removedDir = true;
  }
  // The labs' parent directories go with the last lab, and so does FRR's scratch directory
  // (each daemon makes /var/tmp/frr/<daemon>.<pid> and removes it when it stops): rmdir
  // only removes them when empty, so nothing another FRR still uses is touched.
  await rmdir(LABS_DIR).catch(() => undefined);
  await rmdir(dirname(LABS_DIR)).catch(() => undefined);
  await rmdir(FRR_SCRATCH_DIR).catch(() => undefined);
  return report;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
