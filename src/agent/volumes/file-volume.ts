/**
 * What configMap, secret, downwardAPI and projected volumes share: a wrapped emptyDir (disk for
 * configMap, tmpfs for the rest) whose contents the atomic writer keeps equal to a payload, with
 * fsGroup applied to the whole volume before each new version is published. Always read-only in
 * containers.
 */
import { atomicWrite, type Payload } from './atomic-writer.js';
import { setupWrappedEmptyDir, type StorageMedium } from './empty-dir.js';
import { setVolumeOwnership } from './ownership.js';
import type { PreparedVolume, VolumeContext } from './plugin.js';

export async function setupFileVolume(ctx: VolumeContext, plugin: string, medium: StorageMedium, payload: Payload): Promise<PreparedVolume> {
  const dir = await setupWrappedEmptyDir(ctx, plugin, medium);
  const fsGroup = ctx.fsGroup;
  await atomicWrite(dir, payload, {
    now: ctx.now,
    // The first write also creates files outside the timestamped dir: the whole volume is re-owned.
    setPerms: fsGroup === undefined ? undefined : () => setVolumeOwnership(dir, fsGroup, true, ctx.logger),
  });
  return { hostPath: dir, readOnly: true, kind: 'dir' };
}
