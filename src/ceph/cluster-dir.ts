/**
 * `cairn ceph ... --name NAME`: the data dir of the running Cairn cluster of that name, found
 * through its API server's process (`cairn server --data-dir DIR/server`, as `cairn up` starts
 * it) and DIR/cluster.json, so a user need not remember where the cluster keeps its data.
 */
import { dirname } from 'node:path';
import { listProcesses } from '../cluster/processes.js';
import { readState } from '../cluster/state.js';
import { CephClusterError } from './errors.js';

export async function dataDirOfCluster(name: string): Promise<string> {
  const dirs = new Set<string>();
  for (const p of await listProcesses()) {
    const i = p.args.findIndex((a) => /(^|\/)cairn(\.js)?$/.test(a));
    if (i >= 0 && p.args[i + 1] === 'server' && p.args[i + 2] === '--data-dir') dirs.add(dirname(p.args[i + 3]));
  }
  for (const dir of dirs) {
    const state = await readState(dir).catch(() => undefined);
    if (state?.spec.name === name) return dir;
  }
  throw new CephClusterError(`no running Cairn cluster named "${name}" (start it with 'cairn up --name ${name}', or give its --data-dir)`);
}
