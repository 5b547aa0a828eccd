/**
 * The node's snapshots of local volumes, beside the volumes: `snapshots/<id>.img`, a sparse copy
 * of the volume's image at snapshot time, and `snapshots/<id>.json` saying what it was taken of
 * (source volume, mode, filesystem, size, when).
 *
 * Creation is crash-safe and idempotent by name, as CSI CreateSnapshot must be: the copy is made
 * as `<id>.img.partial`, the description written, then the copy renamed into place; asking again
 * for an existing snapshot of the same volume returns it; leftovers of an interrupted creation
 * are removed at start and by a retried create.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeMode } from '../driver.js';
import { StorageError } from '../errors.js';
import { KeyedMutex } from '../keyed-mutex.js';
import type { FsType } from '../mkfs.js';
import { copyVolumeImage } from './image-copy.js';
import { checkVolumeId, type LocalVolumeStore } from './volume-store.js';

export interface LocalSnapshot {
  id: string;
  sourceVolumeId: string;
  mode: VolumeMode;
  fsType?: FsType;
  /** The source volume's size at snapshot time: what a restore needs at least. */
  sizeBytes: number;
  creationTime: Date;
  image: string;
}

interface Description {
  sourceVolumeId: string;
  mode: VolumeMode;
  fsType?: FsType;
  sizeBytes: number;
  creationTime: string;
}

const isNoSpace = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC' || /No space left on device/i.test((e as Error).message);

export class LocalSnapshotStore {
  private readonly locks = new KeyedMutex();
  private dir?: string;

  constructor(private readonly volumes: LocalVolumeStore) {}

  private async root(): Promise<string> {
    if (!this.dir) {
      const dir = join(await this.volumes.init(), 'snapshots');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const names = new Set(await readdir(dir));
      for (const f of names) {
        const orphanDescription = f.endsWith('.json') && !names.has(`${f.slice(0, -5)}.img`);
        if (f.endsWith('.partial') || f.endsWith('.tmp') || orphanDescription) await rm(join(dir, f), { force: true });
      }
      this.dir = dir;
    }
    return this.dir;
  }

  private async paths(id: string): Promise<{ image: string; description: string }> {
    const root = await this.root();
    checkVolumeId(id);
    return { image: join(root, `${id}.img`), description: join(root, `${id}.json`) };
  }

  async get(id: string): Promise<LocalSnapshot | undefined> {
    const { image, description } = await this.paths(id);
    const [st, raw] = await Promise.all([stat(image).catch(() => undefined), readFile(description, 'utf8').catch(() => undefined)]);
    if (!st || !raw) return undefined;
    const d = JSON.parse(raw) as Description;
    return { id, sourceVolumeId: d.sourceVolumeId, mode: d.mode, ...(d.fsType ? { fsType: d.fsType } : {}), sizeBytes: d.sizeBytes, creationTime: new Date(d.creationTime), image };
  }

  /** Takes a snapshot of the volume (an existing snapshot of the same volume by that name is returned as it is). */
  async create(id: string, sourceVolumeId: string): Promise<LocalSnapshot> {
    return this.locks.run(id, async () => {
      const existing = await this.get(id);
      if (existing) {
        if (existing.sourceVolumeId !== sourceVolumeId) throw new StorageError('AlreadyExists', `snapshot ${id} exists of another volume (${existing.sourceVolumeId})`);
        return existing;
      }
      const v = await this.volumes.get(sourceVolumeId);
      if (!v) throw new StorageError('NotFound', `volume ${sourceVolumeId} not found on this node`);
      const { image, description } = await this.paths(id);
      const partial = `${image}.partial`;
      const d: Description = { sourceVolumeId, mode: v.mode, ...(v.fsType ? { fsType: v.fsType } : {}), sizeBytes: v.sizeBytes, creationTime: new Date().toISOString() };
      try {
        await rm(partial, { force: true });
        await copyVolumeImage(v.image, partial);
        await writeFile(`${description}.tmp`, JSON.stringify(d), { mode: 0o600 });
        await rename(`${description}.tmp`, description);
        await rename(partial, image);
      } catch (e) {
        await rm(partial, { force: true });
        await rm(`${description}.tmp`, { force: true });
        await rm(description, { force: true });
        if (isNoSpace(e)) throw new StorageError('ResourceExhausted', `no space left on the node's disk while taking snapshot ${id}`);
        throw e;
      }
      return (await this.get(id))!;
    });
  }

  /** Removes the snapshot's files (gone already is fine). */
  async remove(id: string): Promise<void> {
    await this.locks.run(id, async () => {
      const { image, description } = await this.paths(id);
      await rm(image, { force: true });
      await rm(`${image}.partial`, { force: true });
      await rm(description, { force: true });
    });
  }
}
