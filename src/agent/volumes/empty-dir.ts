/**
 * emptyDir: a directory (mode 0777) that lives as long as the pod, on the node's disk or — with
 * medium Memory — on a tmpfs sized like the kubelet's: the smallest of the node's allocatable
 * memory, the pod's memory limit (when every container has one) and the volume's sizeLimit.
 *
 * The same setup is the "wrapped" volume under configMap (disk) and secret, downwardAPI and
 * projected (memory, so secrets never touch the disk), as upstream's NewWrapperMounter.
 * A `ready` marker under plugins/ makes it idempotent and survives agent restarts.
 */
import { access, chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../client/log.js';
import { podResourceTotals } from '../../kinds/core/quota-usage.js';
import { parseQuantity } from '../../registry/validation.js';
import { mountAt, mountTmpfs } from '../mount.js';
import type { Pod, Quantity } from '../pods/api-types.js';
import { setVolumeOwnership } from './ownership.js';
import { pluginMetaDir, volumeDir, type VolumeContext, type VolumePlugin } from './plugin.js';

export const EMPTY_DIR = 'kubernetes.io/empty-dir';

const PERM = 0o777;

export type StorageMedium = '' | 'Memory';

const exists = (p: string) => access(p).then(() => true, () => false);

/** upstream ResourceConfigForPod's memory limit: declared only when every container has one. */
function podMemoryLimit(pod: Pod): number | undefined {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  if (all.some((c) => !(parseQuantity(c.resources?.limits?.memory) > 0))) return undefined;
  return (podResourceTotals(pod, 'limits').get('memory') ?? 0) / 1000;
}

/** upstream calculateEmptyDirMemorySize: the tmpfs size, or undefined for the kernel's default. */
export function emptyDirMemorySize(pod: Pod, nodeAllocatableMemory: Quantity | undefined, sizeLimit: Quantity | undefined): number | undefined {
  let size = parseQuantity(nodeAllocatableMemory);
  if (!(size > 0)) return undefined;
  const podLimit = podMemoryLimit(pod);
  if (podLimit !== undefined && podLimit > 0 && podLimit <= size) size = podLimit;
  const volumeLimit = parseQuantity(sizeLimit);
  if (volumeLimit > 0 && volumeLimit <= size) size = volumeLimit;
  return Math.ceil(size);
}

/** The dir with exactly 0777, whatever the umask. */
async function setupDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PERM });
  if (((await stat(dir)).mode & 0o777) !== PERM) await chmod(dir, PERM);
}

export interface EmptyDirSetup {
  dir: string;
  /** Where the `ready` marker goes. */
  metaDir: string;
  medium: StorageMedium;
  sizeBytes?: number;
  fsGroup?: number;
  logger: Logger;
}

/** upstream emptyDir SetUpAt. */
export async function setupEmptyDir(o: EmptyDirSetup): Promise<void> {
  const ready = join(o.metaDir, 'ready');
  const top = await mountAt(o.dir);
  if (await exists(ready)) {
    if (o.medium === 'Memory' && top) return;
    if (o.medium === '') {
      if (await exists(o.dir)) return;
      // Someone removed the volume dir: set it up again.
      await rm(o.metaDir, { recursive: true, force: true });
    }
  }
  await setupDir(o.dir);
  if (o.medium === 'Memory' && top?.fsType !== 'tmpfs') await mountTmpfs(o.dir, { sizeBytes: o.sizeBytes });
  if (o.fsGroup !== undefined) await setVolumeOwnership(o.dir, o.fsGroup, false, o.logger);
  await mkdir(o.metaDir, { recursive: true, mode: 0o750 });
  await writeFile(ready, '', { mode: 0o600 });
}

/** The emptyDir under another plugin's volume dir (its ready marker is `wrapped_<name>`, as upstream). */
export async function setupWrappedEmptyDir(ctx: VolumeContext, plugin: string, medium: StorageMedium): Promise<string> {
  const dir = volumeDir(ctx.podDir, plugin, ctx.volume.name);
  await setupEmptyDir({
    dir,
    metaDir: pluginMetaDir(ctx.podDir, EMPTY_DIR, `wrapped_${ctx.volume.name}`),
    medium,
    sizeBytes: medium === 'Memory' ? emptyDirMemorySize(ctx.pod, ctx.source.nodeAllocatable().memory, undefined) : undefined,
    fsGroup: ctx.fsGroup,
    logger: ctx.logger,
  });
  return dir;
}

export const emptyDirPlugin: VolumePlugin = {
  name: EMPTY_DIR,
  canSupport: (v) => !!v.emptyDir,
  async setup(ctx) {
    const { medium = '', sizeLimit } = ctx.volume.emptyDir!;
    if (medium !== '' && medium !== 'Memory') throw new Error(`unknown storage medium "${medium}"`);
    const dir = volumeDir(ctx.podDir, EMPTY_DIR, ctx.volume.name);
    await setupEmptyDir({
      dir,
      metaDir: pluginMetaDir(ctx.podDir, EMPTY_DIR, ctx.volume.name),
      medium,
      sizeBytes: medium === 'Memory' ? emptyDirMemorySize(ctx.pod, ctx.source.nodeAllocatable().memory, sizeLimit) : undefined,
      fsGroup: ctx.fsGroup,
      logger: ctx.logger,
    });
    return { hostPath: dir, readOnly: false, kind: 'dir' };
  },
};
