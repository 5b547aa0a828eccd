/**
 * The node's local volumes on disk: one image file per volume in the store dir (`<id>.img`, its
 * size is the volume's size) and a small `<id>.json` saying how it was made (Filesystem with
 * ext4/xfs, or Block).
 *
 * Images are preallocated (fallocate): the space is the volume's from the start, so a pod can
 * always fill its volume (writes into a sparse image's holes fail with I/O errors once the
 * node's disk is full). Where the filesystem under the store cannot preallocate, images stay
 * sparse. Copies (restores, clones) are preallocated after the copy, which keeps the blocks a
 * reflink shares with their source shared.
 *
 * Creation is crash-safe: the image is made as `<id>.img.partial` (fallocate, then mkfs), the
 * description written, and only then renamed into place, so a volume either exists whole or not
 * at all; leftovers of an interrupted creation are removed at start and by a retried create.
 *
 * Capacity is real: what the filesystem under the store has free, minus a reserve (10 % of it,
 * the kubelet's nodefs.available eviction threshold, so volumes never push the node into disk
 * pressure), minus what sparse images (made before preallocation, or where the filesystem cannot
 * preallocate) may still take. A request that does not fit fails with ResourceExhausted before
 * anything is made.
 */
import { type Stats } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mutex } from '../../net/exec.js';
import type { Capacity, VolumeMode } from '../driver.js';
import { StorageError } from '../errors.js';
import { type FsType, makeFilesystem, MIN_FS_BYTES } from '../mkfs.js';
import { allocateFileRange } from './fallocate.js';

export const MI = 1024 * 1024;
/** The kubelet's default hard eviction threshold nodefs.available<10%. */
const DEFAULT_RESERVE_FRACTION = 0.1;
/** Volume ids become file names: nothing that could leave the store dir. */
const ID_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface LocalVolume {
  id: string;
  mode: VolumeMode;
  fsType?: FsType;
  /** The image's size now. */
  sizeBytes: number;
  image: string;
}

interface Description {
  mode: VolumeMode;
  fsType?: FsType;
}

export interface FsSpace {
  totalBytes: number;
  availableBytes: number;
}

export interface VolumeStoreOptions {
  reserveFraction?: number;
  /** Free space of the store's filesystem; statfs(2) unless given (tests fake a full disk). */
  space?: (dir: string) => Promise<FsSpace>;
}

async function statfsSpace(dir: string): Promise<FsSpace> {
  const s = await statfs(dir);
  return { totalBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize };
}

const roundUpMi = (n: number) => Math.ceil(n / MI) * MI;
const isNoSpace = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC' || /No space left on device/i.test((e as Error).message);

/**
 * Makes `file` at least `to` bytes long with its blocks from `from` on reserved on the disk;
 * sparse instead where the filesystem cannot preallocate. True when preallocated.
 */
async function reserveImage(file: string, from: number, to: number): Promise<boolean> {
  if (await allocateFileRange(file, from, to - from)) return true;
  if ((await stat(file)).size < to) await truncate(file, to);
  return false;
}

export function checkVolumeId(id: string): string {
  if (!ID_RE.test(id)) throw new StorageError('InvalidArgument', `volume id ${JSON.stringify(id)} is not a valid name for a local volume`);
  return id;
}

export class LocalVolumeStore {
  private readonly lock = new Mutex();
  private root?: string;

  constructor(
    private readonly dir: string,
    private readonly opts: VolumeStoreOptions = {},
  ) {}

  /** The store dir without symlinks (loop devices report their files by real path). */
  async init(): Promise<string> {
    if (!this.root) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.root = await realpath(this.dir);
      await this.removeLeftovers();
    }
    return this.root;
  }

  async imagePath(id: string): Promise<string> {
    return join(await this.init(), `${checkVolumeId(id)}.img`);
  }

  async get(id: string): Promise<LocalVolume | undefined> {
    const image = await this.imagePath(id);
    const [st, desc] = await Promise.all([stat(image).catch(() => undefined), this.description(id)]);
    if (!st || !desc) return undefined;
    return { id, ...desc, sizeBytes: st.size, image };
  }

  async list(): Promise<LocalVolume[]> {
    const root = await this.init();
    const ids = (await readdir(root)).filter((f) => f.endsWith('.img')).map((f) => f.slice(0, -4));
    const out: LocalVolume[] = [];
    for (const id of ids) {
      const v = await this.get(id).catch(() => undefined);
      if (v) out.push(v);
    }
    return out;
  }

  /** The size a request really gets: whole MiB, at least what the filesystem needs. */
  static allocationBytes(requested: number, mode: VolumeMode, fsType?: FsType): number {
    const min = mode === 'Filesystem' && fsType ? MIN_FS_BYTES[fsType] : MI;
    return roundUpMi(Math.max(requested, min));
  }

  /** Creates the volume (idempotent: an existing one made the same way is returned as it is). */
  async create(id: string, requestedBytes: number, mode: VolumeMode, fsType: FsType | undefined): Promise<LocalVolume> {
    return this.lock.run(async () => {
      const existing = await this.get(id);
      if (existing) {
        if (existing.mode !== mode || existing.fsType !== fsType) throw new StorageError('AlreadyExists', `volume ${id} exists with a different volume mode or filesystem`);
        if (existing.sizeBytes < requestedBytes) throw new StorageError('AlreadyExists', `volume ${id} exists with a smaller size (${existing.sizeBytes} bytes)`);
        return existing;
      }
      const bytes = LocalVolumeStore.allocationBytes(requestedBytes, mode, fsType);
      await this.ensureRoom(bytes);
      await this.writeImage(id, mode, fsType, async (partial) => {
        await writeFile(partial, '', { mode: 0o600 });
        const preallocated = await reserveImage(partial, 0, bytes);
        if (mode === 'Filesystem') await makeFilesystem(partial, fsType!, { preallocated });
      });
      return (await this.get(id))!;
    });
  }

  /**
   * Creates the volume as a copy (a restore or a clone): `fill` writes the source's image to the
   * path it is given, which then grows to the requested size if that is larger (the filesystem
   * inside grows when the volume is staged). Crash-safe and idempotent as `create`.
   */
  async createCopy(id: string, requestedBytes: number, mode: VolumeMode, fsType: FsType | undefined, sourceBytes: number, fill: (path: string) => Promise<void>): Promise<LocalVolume> {
    return this.lock.run(async () => {
      const existing = await this.get(id);
      if (existing) {
        if (existing.mode !== mode || existing.fsType !== fsType) throw new StorageError('AlreadyExists', `volume ${id} exists with a different volume mode or filesystem`);
        return existing;
      }
      const bytes = roundUpMi(Math.max(requestedBytes, sourceBytes));
      await this.ensureRoom(bytes);
      await this.writeImage(id, mode, fsType, async (partial) => {
        await fill(partial);
        // Fills the copy's holes (its data and any blocks shared by a reflink stay as they are).
        await reserveImage(partial, 0, bytes);
      });
      return (await this.get(id))!;
    });
  }

  /**
   * Makes the image under a `.partial` name with `make`, records the description, then renames
   * it into place: a crash or a full disk never leaves a half-made volume behind.
   */
  private async writeImage(id: string, mode: VolumeMode, fsType: FsType | undefined, make: (partial: string) => Promise<void>): Promise<void> {
    const image = await this.imagePath(id);
    const partial = `${image}.partial`;
    try {
      await rm(partial, { force: true });
      await make(partial);
      await this.writeDescription(id, { mode, ...(fsType && mode === 'Filesystem' ? { fsType } : {}) });
      await rename(partial, image);
    } catch (e) {
      await rm(partial, { force: true });
      await rm(this.descriptionPath(id), { force: true });
      if (isNoSpace(e)) throw new StorageError('ResourceExhausted', `no space left on the node's disk while creating volume ${id}`);
      throw e;
    }
  }

  /** Grows the image to `bytes` (whole MiB); never shrinks. */
  async grow(id: string, bytes: number): Promise<LocalVolume> {
    return this.lock.run(async () => {
      const v = await this.get(id);
      if (!v) throw new StorageError('NotFound', `volume ${id} not found on this node`);
      const want = roundUpMi(bytes);
      if (want <= v.sizeBytes) return v;
      await this.ensureRoom(want - v.sizeBytes);
      try {
        await reserveImage(v.image, v.sizeBytes, want);
      } catch (e) {
        // A failed fallocate may have grown the file part of the way: the volume keeps its size.
        await truncate(v.image, v.sizeBytes);
        if (isNoSpace(e)) throw new StorageError('ResourceExhausted', `no space left on the node's disk while growing volume ${id}`);
        throw e;
      }
      return { ...v, sizeBytes: want };
    });
  }

  /** Removes the volume's files (gone already is fine). */
  async remove(id: string): Promise<void> {
    await this.lock.run(async () => {
      const image = await this.imagePath(id);
      await rm(image, { force: true });
      await rm(`${image}.partial`, { force: true });
      await rm(this.descriptionPath(id), { force: true });
    });
  }

  /** What a new volume can get now. */
  async capacity(): Promise<Capacity> {
    const root = await this.init();
    const space = await (this.opts.space ?? statfsSpace)(root);
    const reserve = Math.ceil(space.totalBytes * (this.opts.reserveFraction ?? DEFAULT_RESERVE_FRACTION));
    let promised = 0;
    for (const f of await readdir(root)) {
      if (!f.endsWith('.img') && !f.endsWith('.img.partial')) continue;
      const st: Stats | undefined = await stat(join(root, f)).catch(() => undefined);
      // What a sparse image may still take from the disk (nothing, once preallocated).
      if (st) promised += Math.max(0, st.size - st.blocks * 512);
    }
    const free = Math.max(0, space.availableBytes - reserve - promised);
    const bytes = Math.floor(free / MI) * MI;
    return { availableBytes: bytes, maximumVolumeBytes: bytes };
  }

  private async ensureRoom(bytes: number): Promise<void> {
    const { availableBytes } = await this.capacity();
    if (bytes > availableBytes) throw new StorageError('ResourceExhausted', `not enough free space on the node's disk: ${bytes} bytes requested, ${availableBytes} available`);
  }

  private descriptionPath(id: string): string {
    return join(this.root!, `${checkVolumeId(id)}.json`);
  }

  private async description(id: string): Promise<Description | undefined> {
    try {
      return JSON.parse(await readFile(this.descriptionPath(id), 'utf8')) as Description;
    } catch {
      return undefined;
    }
  }

  private async writeDescription(id: string, d: Description): Promise<void> {
    const path = this.descriptionPath(id);
    await writeFile(`${path}.tmp`, JSON.stringify(d), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  /** Images an interrupted creation left (`.partial`, a description without its image). */
  private async removeLeftovers(): Promise<void> {
    const root = this.root!;
    const names = new Set(await readdir(root));
    for (const f of names) {
      const orphanDescription = f.endsWith('.json') && !names.has(`${f.slice(0, -5)}.img`);
      if (f.endsWith('.partial') || f.endsWith('.tmp') || orphanDescription) await rm(join(root, f), { force: true });
    }
  }
}
