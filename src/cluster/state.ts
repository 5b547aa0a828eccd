/**
 * DIR/cluster.json: the cluster's spec (so later commands need only the data dir) and the pids
 * of the processes `cairn up` started. Written atomically; a pid is only trusted after checking
 * /proc/PID/cmdline (processes.ts), so a stale file after a reboot is harmless.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ClusterSpec } from './layout.js';
import { stateFile } from './layout.js';
import { ClusterError } from './errors.js';

export interface ClusterState {
  spec: ClusterSpec;
  serverPid?: number;
  /** The cluster DNS server (`cairn dns`). */
  dnsPid?: number;
  /** Node index → agent pid. */
  agentPids: Record<string, number>;
  /** `cairn ceph up`'s daemons: "<type>.<id>" → pid (src/ceph). */
  cephPids?: Record<string, number>;
}

export async function readState(dataDir: string): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await readFile(stateFile(dataDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const s = JSON.parse(text) as ClusterState;
    if (!s.spec?.name || !Number.isInteger(s.spec.nodes)) throw new Error('no spec');
    return { ...s, agentPids: s.agentPids ?? {} };
  } catch (e) {
    throw new ClusterError(`${stateFile(dataDir)} is damaged (${(e as Error).message}); run 'cairn down --data-dir ${dataDir}' after fixing or removing it`);
  }
}

export async function writeState(dataDir: string, state: ClusterState): Promise<void> {
  const path = stateFile(dataDir);
  await writeFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}
