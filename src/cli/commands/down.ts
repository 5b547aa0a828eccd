/** `cairn down`: stop the local cluster and remove what it put on the host (--purge: its data too). */
import { clusterDown } from '../../cluster/down.js';
import { ClusterError } from '../../cluster/errors.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CLUSTER_DIR } from './up.js';

export const downCommand: Command = {
  name: 'down',
  summary: 'stop the local cluster and remove its containers, mounts, cgroups and network',
  usage: [
    'usage: cairn down [--data-dir DIR] [--purge]',
    '',
    `  --data-dir DIR   the cluster's data dir (default ${DEFAULT_CLUSTER_DIR})`,
    '  --purge          also delete the data dir (the store, images, logs); without it, `cairn up` brings the same cluster back',
  ].join('\n'),
  options: { 'data-dir': { type: 'string' }, purge: { type: 'boolean' } },
  async run(v) {
    const dataDir = (v['data-dir'] as string | undefined) ?? DEFAULT_CLUSTER_DIR;
    let found;
    try {
      found = await clusterDown({ dataDir, purge: v.purge === true, progress: (l) => console.log(l) });
    } catch (e) {
      if (e instanceof ClusterError) throw new CliError(e.message);
      throw e;
    }
    if (found) console.log(v.purge ? 'cluster removed' : 'cluster stopped');
  },
};
