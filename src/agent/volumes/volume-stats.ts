/**
 * The kubelet's volume metrics for the claims mounted on this node (kubelet_volume_stats_*,
 * labelled namespace and persistentvolumeclaim), from NodeGetVolumeStats of each staged CSI
 * volume, served on the agent's /metrics. Block volumes report their capacity only, as upstream.
 */
import type { Logger } from '../../client/log.js';
import type { StorageDriver, VolumeStats } from '../../storage/driver.js';
import { GaugeFunc } from '../../util/prometheus.js';
import type { CsiVolumes } from './csi-volumes.js';

export interface ClaimStats {
  namespace: string;
  claim: string;
  stats: VolumeStats;
}

/** Stats of every claim published on this node (one entry per claim, however many pods use it). */
export async function collectClaimStats(csi: CsiVolumes, drivers: ReadonlyMap<string, StorageDriver>, logger: Logger): Promise<ClaimStats[]> {
  const seen = new Set<string>();
  const out: ClaimStats[] = [];
  for (const p of await csi.published()) {
    const key = `${p.claimNamespace}/${p.claimName}`;
    const driver = drivers.get(p.driver);
    if (seen.has(key) || !driver) continue;
    seen.add(key);
    try {
      out.push({ namespace: p.claimNamespace, claim: p.claimName, stats: await driver.node.nodeGetVolumeStats(p.volumeHandle, p.stagingPath, p.mode) });
    } catch (e) {
      logger({ level: 'warn', msg: 'volume stats failed', claim: key, error: (e as Error).message });
    }
  }
  return out;
}

const SERIES: [string, string, keyof VolumeStats][] = [
  ['kubelet_volume_stats_capacity_bytes', 'Capacity in bytes of the volume', 'capacityBytes'],
  ['kubelet_volume_stats_available_bytes', 'Number of available bytes in the volume', 'availableBytes'],
  ['kubelet_volume_stats_used_bytes', 'Number of used bytes in the volume', 'usedBytes'],
  ['kubelet_volume_stats_inodes', 'Maximum number of inodes in the volume', 'inodes'],
  ['kubelet_volume_stats_inodes_free', 'Number of free inodes in the volume', 'inodesFree'],
  ['kubelet_volume_stats_inodes_used', 'Number of used inodes in the volume', 'inodesUsed'],
];

export function renderClaimStats(all: ClaimStats[]): string {
  return SERIES.map(([name, help, field]) =>
    new GaugeFunc(name, help, () =>
      all.filter((c) => c.stats[field] !== undefined).map((c) => ({ labels: { namespace: c.namespace, persistentvolumeclaim: c.claim }, value: c.stats[field]! })),
    ).render(),
  ).join('');
}
