/**
 * Where a node keeps a CSI volume staged, in the kubelet's layout under the agent's data dir:
 * `DATA/plugins/kubernetes.io/csi/<driver>/<sha256(volume handle)>/` holding `globalmount`
 * (the mounted filesystem) or `device` (a link to the block device) and `vol_data.json` (which
 * driver and handle the directory is for, so a restarted agent can undo it from disk alone).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { VolumeMode } from './driver.js';

export const STAGING_RECORD = 'vol_data.json';

export const csiPluginsDir = (dataDir: string) => join(dataDir, 'plugins', 'kubernetes.io', 'csi');

export function stagingDir(dataDir: string, driver: string, volumeHandle: string): string {
  return join(csiPluginsDir(dataDir), driver, createHash('sha256').update(volumeHandle).digest('hex'));
}

export const stagingPathIn = (dir: string, mode: VolumeMode) => join(dir, mode === 'Block' ? 'device' : 'globalmount');

/** What vol_data.json holds for a staging dir. */
export interface StagingRecord {
  driver: string;
  volumeHandle: string;
  mode: VolumeMode;
}
