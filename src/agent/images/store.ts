/**
 * The node's content-addressed image store:
 *
 *   DATA/images/blobs/sha256/<hex>      every manifest, index, config and layer blob, verified
 *   DATA/images/snapshots/<chain hex>/  the unpacked rootfs after layers 1..n (keyed by chainID,
 *                                       so images sharing a base share its snapshots); each is
 *                                       built by hardlink-cloning its parent and applying one
 *                                       layer, then never changed again
 *   DATA/images/images.json             image records (by manifest digest) and references
 *
 * Blob and snapshot reference counts are derived from the records (so they cannot drift);
 * removing an image deletes the blobs and snapshots no other image uses. `prepareRootfs` gives a
 * container its root filesystem: an overlay mount over the image's snapshot (writes go to the
 * container's own upper dir), or a plain copy where overlay cannot be used.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, statfs, writeFile, lstat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import { digestHex, newHash, sha256 } from './digest.js';
import { DigestMismatchError, ImageError, ImageNeverPullError, ImageNotPresentError, LayerError, pullFailure } from './errors.js';
import { type Descriptor, type ImageConfig, type ImageManifest } from './media.js';
import { mountOverlay } from './mount.js';
import { unmount, isMountPoint, MountError } from '../mount.js';
import { formatReference, isDigest, parseReference, repoName, type ImageReference } from './reference.js';
import { RegistryClient, type Progress, type RegistryClientOptions } from './registry-client.js';
import { readTar } from './tar.js';
import { applyLayer, cloneTree } from './unpack.js';

export interface LayerRecord {
  digest: string;
  size: number;
  mediaType: string;
  /** sha256 of the uncompressed tar (from the config's rootfs.diff_ids; checked on unpack) */
  diffID: string;
}

export interface ImageRecord {
  /** Manifest digest: the key of the record. */
  digest: string;
  /** Config digest (what `crictl images` calls the image ID). */
  id: string;
  /** Canonical `registry/repo:tag` names pointing at this image. */
  references: string[];
  /** `registry/repo@sha256:…` (manifest digest, and the index digest when pulled through one). */
  repoDigests: string[];
  mediaType: string;
  config: Descriptor;
  layers: LayerRecord[];
  /** chainID of the full layer stack: the snapshot the rootfs comes from. */
  chainID: string;
  /** Bytes of the image's blobs (compressed layers + config + manifest). */
  size: number;
  /** The image config's `config` section (Entrypoint, Cmd, Env, WorkingDir, User, ...). */
  imageConfig: NonNullable<ImageConfig['config']>;
  created: string;
  /** ms since epoch, updated by pulls, ensureImage and prepareRootfs; GC evicts the oldest. */
  lastUsed: number;
}

interface Db {
  images: Record<string, ImageRecord>;
  /** canonical reference (tag or digest form) → manifest digest */
  refs: Record<string, string>;
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

export interface PullProgress extends Progress {
  reference: string;
  /** Sum over the layers still to download. */
  overallDownloaded: number;
  overallTotal: number;
}

export interface PullOptions {
  /** dockerconfigjson payloads (imagePullSecrets). */
  pullSecrets?: (string | Buffer | object)[];
  onProgress?: (p: PullProgress) => void;
}

export interface ImageStoreOptions {
  /** Extra options for the registry client (plain-HTTP hosts, endpoint mapping, fetch). */
  registry?: Omit<RegistryClientOptions, 'pullSecrets'>;
  /** Parallel layer downloads. Default 3. */
  concurrency?: number;
}

export interface RootfsHandle {
  /** The directory to use as the container's root. */
  rootfs: string;
  mode: 'overlay' | 'copy';
}

export interface GcOptions {
  /** References or digests (manifest or config) of images in use: never removed. */
  inUse: Iterable<string>;
  /** Start when disk usage is at or above this percent. Default 85 (kubelet's default). */
  highThresholdPercent?: number;
  /** Free down to this percent. Default 80. */
  lowThresholdPercent?: number;
  /** How full the disk is; default: statfs of the store's filesystem. */
  usage?: () => Promise<{ capacityBytes: number; availableBytes: number }>;
}

export interface GcResult {
  removed: string[];
  usagePercentBefore: number;
  usagePercentAfter: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(out.length ? sha256(`${out[out.length - 1]} ${d}`) : d);
  return out;
}

/** kubelet's default: Always for `:latest` or untagged, IfNotPresent otherwise. */
export function defaultPullPolicy(ref: string): PullPolicy {
  const r = parseReference(ref);
  return !r.digest && r.tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export class ImageStore {
  readonly root: string;
  private readonly blobDir: string;
  private readonly snapDir: string;
  private readonly tmpDir: string;
  private readonly dbPath: string;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly inflightBlobs = new Map<string, Promise<void>>();
  private readonly inflightSnaps = new Map<string, Promise<void>>();
  /** Blobs and snapshots of pulls/imports in progress (not yet in a record): prune keeps them. */
  private readonly pins = new Map<string, number>();

  constructor(
    dataDir: string,
    private readonly opts: ImageStoreOptions = {},
  ) {
    this.root = join(dataDir, 'images');
    this.blobDir = join(this.root, 'blobs', 'sha256');
    this.snapDir = join(this.root, 'snapshots');
    this.tmpDir = join(this.root, 'tmp');
    this.dbPath = join(this.root, 'images.json');
  }

  /** Creates the directories and clears leftovers of interrupted work (temp files). */
  async init(): Promise<this> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.snapDir, { recursive: true });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    for (const n of await readdir(this.blobDir)) if (n.startsWith('.tmp-')) await rm(join(this.blobDir, n), { force: true });
    for (const n of await readdir(this.snapDir)) if (n.startsWith('.tmp-')) await rm(join(this.snapDir, n), { recursive: true, force: true });
    return this;
  }

  // ---- records ----

  private async readDb(): Promise<Db> {
    try {
      return JSON.parse(await readFile(this.dbPath, 'utf8')) as Db;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { images: {}, refs: {} };
      throw e;
    }
  }

  private async writeDb(db: Db): Promise<void> {
    const tmp = `${this.dbPath}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, JSON.stringify(db, null, 1));
    await rename(tmp, this.dbPath);
  }

  /** Runs fn with the records locked (one writer at a time in this process). */
  private locked<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => fn(await this.readDb()));
    this.lock = run.catch(() => {});
    return run;
  }

  private findIn(db: Db, refOrDigest: string): ImageRecord | undefined {
    if (isDigest(refOrDigest)) return db.images[refOrDigest] ?? Object.values(db.images).find((i) => i.id === refOrDigest);
    let key: string;
    try {
      key = formatReference(parseReference(refOrDigest));
    } catch {
      return undefined;
    }
    const d = db.refs[key];
    return d ? db.images[d] : undefined;
  }

  /** An image by reference (any spelling), manifest digest or config digest. */
  async get(refOrDigest: string): Promise<ImageRecord | undefined> {
    return this.findIn(await this.readDb(), refOrDigest);
  }

  async list(): Promise<ImageRecord[]> {
    return Object.values((await this.readDb()).images);
  }

  blobPath(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  snapshotPath(chainID: string): string {
    return join(this.snapDir, digestHex(chainID));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(
      () => true,
      () => false,
    );
  }

  /** How many images use each blob. */
  async blobRefCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const i of Object.values((await this.readDb()).images)) for (const d of blobsOf(i)) counts.set(d, (counts.get(d) ?? 0) + 1);
    return counts;
  }

  /** Writes verified bytes as a blob (idempotent). */
  async putBlobBytes(expected: string, bytes: Buffer): Promise<void> {
    const actual = sha256(bytes);
    if (actual !== expected) throw new DigestMismatchError(expected, actual, `blob ${expected}`);
    if (await this.hasBlob(expected)) return;
    const tmp = join(this.blobDir, `.tmp-${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, bytes);
    await rename(tmp, this.blobPath(expected));
  }

  /** Moves a staged file into the store after checking its digest (hashing it again). */
  async putBlobFile(expected: string, file: string, size?: number): Promise<void> {
    if (await this.hasBlob(expected)) {
      await rm(file, { force: true });
      return;
    }
    const h = newHash();
    let n = 0;
    for await (const c of createReadStream(file)) {
      h.update(c as Buffer);
      n += (c as Buffer).length;
    }
    const actual = `sha256:${h.digest('hex')}`;
    if (actual !== expected) throw new DigestMismatchError(expected, actual, `blob ${expected}`);
    if (size !== undefined && size !== n) throw new DigestMismatchError(expected, `${actual} (${n} bytes, want ${size})`, `blob ${expected}`);
    const tmp = join(this.blobDir, `.tmp-${randomBytes(6).toString('hex')}`);
    await rename(file, tmp).catch(async () => {
      await writeFile(tmp, await readFile(file));
    });
    await rename(tmp, this.blobPath(expected));
  }

  /** Keeps blobs/snapshots (by digest or chainID) from being pruned until the returned function is called. */
  pin(digests: string[]): () => void {
    const hexes = digests.filter(isDigest).map(digestHex);
    for (const h of hexes) this.pins.set(h, (this.pins.get(h) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const h of hexes) {
        const n = (this.pins.get(h) ?? 1) - 1;
        if (n <= 0) this.pins.delete(h);
        else this.pins.set(h, n);
      }
    };
  }

  // ---- pulling ----

  /**
   * Makes sure an image is present according to the pull policy, pulling when needed. Returns
   * its record (lastUsed updated).
   */
  async ensureImage(ref: string, policy: PullPolicy = defaultPullPolicy(ref), opts: PullOptions = {}): Promise<ImageRecord> {
    const have = await this.get(ref);
    if (policy === 'Never') {
      if (!have) throw new ImageNeverPullError(ref);
    } else if (policy === 'IfNotPresent' && have) {
      // present
    } else return this.pull(ref, opts);
    await this.touch(have!.digest);
    return have!;
  }

  /** Pulls an image from its registry: every blob verified, layers unpacked, record written. */
  async pull(refStr: string, opts: PullOptions = {}): Promise<ImageRecord> {
    const ref = parseReference(refStr);
    const canonical = formatReference(ref);
    const client = new RegistryClient({ ...this.opts.registry, pullSecrets: opts.pullSecrets });
    let resolved;
    try {
      resolved = await client.resolve(ref);
    } catch (e) {
      throw pullFailure(canonical, e, true);
    }
    const { manifest } = resolved;
    const unpin = this.pin([
      resolved.manifestDigest,
      ...(resolved.index ? [resolved.index.digest] : []),
      manifest.config?.digest ?? '',
      ...(Array.isArray(manifest.layers) ? manifest.layers.map((l) => l.digest) : []),
    ]);
    let unpinChains = () => {};
    try {
      if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new ImageError(`manifest ${resolved.manifestDigest} has no config or layers`);
      let configBytes: Buffer;
      if (await this.hasBlob(manifest.config.digest)) configBytes = await readFile(this.blobPath(manifest.config.digest));
      else {
        configBytes = await client.fetchBlobBytes(ref, manifest.config);
        await this.putBlobBytes(manifest.config.digest, configBytes);
      }
      try {
        unpinChains = this.pin(chainIDs((JSON.parse(configBytes.toString('utf8')) as ImageConfig).rootfs?.diff_ids ?? []));
      } catch {
        throw new ImageError(`image config ${manifest.config.digest} is not valid JSON`);
      }
      const missing: Descriptor[] = [];
      for (const l of manifest.layers) if (!(await this.hasBlob(l.digest)) && !missing.some((m) => m.digest === l.digest)) missing.push(l);
      const overallTotal = missing.reduce((a, l) => a + l.size, 0);
      const done = new Map<string, number>();
      const report = (p: Progress) => {
        done.set(p.digest, p.downloaded);
        let overall = 0;
        for (const v of done.values()) overall += v;
        opts.onProgress?.({ ...p, reference: canonical, overallDownloaded: overall, overallTotal });
      };
      await parallel(missing, this.opts.concurrency ?? 3, (l) => this.fetchBlobOnce(client, ref, l, report));
      await this.putBlobBytes(resolved.manifestDigest, resolved.manifestBytes);
      if (resolved.index) await this.putBlobBytes(resolved.index.digest, resolved.index.bytes);
      const repoDigests = [`${repoName(ref)}@${resolved.manifestDigest}`];
      if (resolved.index) repoDigests.push(`${repoName(ref)}@${resolved.index.digest}`);
      return await this.commitImage({
        manifest,
        manifestDigest: resolved.manifestDigest,
        mediaType: resolved.manifestMediaType,
        configBytes,
        references: ref.tag && !ref.digest ? [canonical] : [],
        repoDigests,
      });
    } catch (e) {
      throw pullFailure(canonical, e, false);
    } finally {
      unpin();
      unpinChains();
    }
  }

  private fetchBlobOnce(client: RegistryClient, ref: ImageReference, d: Descriptor, report: (p: Progress) => void): Promise<void> {
    let p = this.inflightBlobs.get(d.digest);
    if (!p) {
      p = (async () => {
        if (await this.hasBlob(d.digest)) return;
        await client.downloadBlob(ref, d, this.blobPath(d.digest), report);
      })().finally(() => this.inflightBlobs.delete(d.digest));
      this.inflightBlobs.set(d.digest, p);
    }
    return p;
  }

  /**
   * Records an image whose blobs are all in the store: checks the config against the manifest,
   * unpacks the snapshots (checking each layer's diffID), and writes the record and references
   * (moving a tag that pointed at another image).
   */
  async commitImage(a: {
    manifest: ImageManifest;
    manifestDigest: string;
    mediaType: string;
    configBytes: Buffer;
    references: string[];
    repoDigests: string[];
  }): Promise<ImageRecord> {
    const config = JSON.parse(a.configBytes.toString('utf8')) as ImageConfig;
    const diffIDs = config.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== a.manifest.layers.length) {
      throw new ImageError(`image config lists ${diffIDs.length} diff_ids but the manifest has ${a.manifest.layers.length} layers`);
    }
    const layers: LayerRecord[] = a.manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffID: diffIDs[i] }));
    const chains = chainIDs(diffIDs);
    for (let i = 0; i < layers.length; i++) await this.ensureSnapshot(chains[i], i ? chains[i - 1] : undefined, layers[i]);
    const chainID = chains[chains.length - 1] ?? '';
    if (!chainID) await mkdir(join(this.snapDir, 'empty'), { recursive: true });
    return this.locked(async (db) => {
      const old = db.images[a.manifestDigest];
      const rec: ImageRecord = {
        digest: a.manifestDigest,
        id: a.manifest.config.digest,
        references: uniq([...(old?.references ?? []), ...a.references]),
        repoDigests: uniq([...(old?.repoDigests ?? []), ...a.repoDigests]),
        mediaType: a.mediaType,
        config: a.manifest.config,
        layers,
        chainID,
        size: a.manifest.layers.reduce((s, l) => s + l.size, 0) + a.manifest.config.size,
        imageConfig: config.config ?? {},
        created: old?.created ?? new Date().toISOString(),
        lastUsed: Date.now(),
      };
      for (const r of rec.references) {
        const prev = db.refs[r];
        if (prev && prev !== rec.digest && db.images[prev]) db.images[prev].references = db.images[prev].references.filter((x) => x !== r);
        db.refs[r] = rec.digest;
      }
      for (const r of rec.repoDigests) db.refs[r] = rec.digest;
      db.images[rec.digest] = rec;
      await this.writeDb(db);
      return rec;
    });
  }

  private ensureSnapshot(chainID: string, parent: string | undefined, layer: LayerRecord): Promise<void> {
    let p = this.inflightSnaps.get(chainID);
    if (!p) {
      p = this.buildSnapshot(chainID, parent, layer).finally(() => this.inflightSnaps.delete(chainID));
      this.inflightSnaps.set(chainID, p);
    }
    return p;
  }

  private async buildSnapshot(chainID: string, parent: string | undefined, layer: LayerRecord): Promise<void> {
    const final = this.snapshotPath(chainID);
    if (await exists(final)) return;
    const tmp = join(this.snapDir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      if (parent) await cloneTree(this.snapshotPath(parent), tmp, { hardlink: true });
      else await mkdir(tmp, { mode: 0o755 });
      const diffID = await this.applyBlob(layer.digest, tmp);
      if (diffID !== layer.diffID) throw new DigestMismatchError(layer.diffID, diffID, `uncompressed layer ${layer.digest} (diffID)`);
      try {
        await rename(tmp, final);
      } catch (e) {
        if (!(await exists(final))) throw e; // someone else finished it first
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Applies a layer blob onto dir; returns the sha256 of the uncompressed tar. */
  private async applyBlob(digest: string, dir: string): Promise<string> {
    const path = this.blobPath(digest);
    const fh = await open(path, 'r');
    const magic = Buffer.alloc(4);
    await fh.read(magic, 0, 4, 0);
    await fh.close();
    if (magic.readUInt32BE(0) === 0x28b52ffd) throw new LayerError(`layer ${digest} is zstd-compressed, which this node cannot unpack`);
    const hash = newHash();
    const src: Readable = createReadStream(path);
    const out = new PassThrough();
    const done = new Promise<void>((resolve, reject) => {
      const cb = (err: NodeJS.ErrnoException | null) => (err ? reject(new LayerError(`layer ${digest}: ${err.message}`)) : resolve());
      if (magic[0] === 0x1f && magic[1] === 0x8b) pipeline(src, createGunzip(), out, cb);
      else pipeline(src, out, cb);
    });
    done.catch(() => {});
    const hashed = (async function* () {
      for await (const c of out) {
        hash.update(c as Buffer);
        yield c as Buffer;
      }
    })();
    await applyLayer(dir, readTar(hashed));
    await done;
    return `sha256:${hash.digest('hex')}`;
  }

  private async touch(digest: string): Promise<void> {
    await this.locked(async (db) => {
      if (db.images[digest]) {
        db.images[digest].lastUsed = Date.now();
        await this.writeDb(db);
      }
    });
  }

  /** Adds a reference (tag) to an image in the store. */
  async tag(refOrDigest: string, newRef: string): Promise<void> {
    const key = formatReference(parseReference(newRef));
    await this.locked(async (db) => {
      const img = this.findIn(db, refOrDigest);
      if (!img) throw new ImageNotPresentError(refOrDigest);
      const prev = db.refs[key];
      if (prev && prev !== img.digest && db.images[prev]) db.images[prev].references = db.images[prev].references.filter((x) => x !== key);
      db.refs[key] = img.digest;
      img.references = uniq([...img.references, key]);
      await this.writeDb(db);
    });
  }

  // ---- container root filesystems ----

  /**
   * Gives a container its root filesystem in `dir`: `dir/rootfs` is an overlay of the image's
   * snapshot (lower, read-only) and `dir/upper` (the container's writes), or — when `mode` is
   * 'copy' or the overlay mount fails — a full copy of the snapshot. Release with releaseRootfs.
   */
  async prepareRootfs(image: string | ImageRecord, dir: string, opts: { mode?: 'auto' | 'overlay' | 'copy' } = {}): Promise<RootfsHandle> {
    const rec = typeof image === 'string' ? await this.get(image) : image;
    if (!rec) throw new ImageNotPresentError(String(image));
    const lower = rec.chainID ? this.snapshotPath(rec.chainID) : join(this.snapDir, 'empty');
    if (!(await exists(lower))) throw new ImageError(`snapshot for image ${rec.digest} is missing; pull or import it again`);
    await this.touch(rec.digest);
    const rootfs = join(dir, 'rootfs');
    await mkdir(rootfs, { recursive: true });
    const mode = opts.mode ?? 'auto';
    if (mode !== 'copy') {
      try {
        await mkdir(join(dir, 'upper'), { recursive: true });
        await mkdir(join(dir, 'work'), { recursive: true });
        await mountOverlay({ lowerdirs: [lower], upperdir: join(dir, 'upper'), workdir: join(dir, 'work'), target: rootfs });
        return { rootfs, mode: 'overlay' };
      } catch (e) {
        if (mode === 'overlay' || !(e instanceof MountError)) throw e;
        await rm(join(dir, 'upper'), { recursive: true, force: true });
        await rm(join(dir, 'work'), { recursive: true, force: true });
      }
    }
    await cloneTree(lower, rootfs, { hardlink: false });
    return { rootfs, mode: 'copy' };
  }

  /** Unmounts (if mounted) and removes a directory made by prepareRootfs. */
  async releaseRootfs(dir: string): Promise<void> {
    const rootfs = join(dir, 'rootfs');
    for (let i = 0; i < 5 && (await isMountPoint(rootfs)); i++) {
      try {
        await unmount(rootfs);
      } catch (e) {
        if (i === 4) await unmount(rootfs, { lazy: true });
        else await sleep(100);
      }
    }
    await rm(dir, { recursive: true, force: true });
  }

  // ---- removal and garbage collection ----

  /** Removes an image record and every blob and snapshot no other image uses. */
  async removeImage(refOrDigest: string): Promise<ImageRecord> {
    const removed = await this.locked(async (db) => {
      const img = this.findIn(db, refOrDigest);
      if (!img) throw new ImageNotPresentError(refOrDigest);
      delete db.images[img.digest];
      for (const [k, v] of Object.entries(db.refs)) if (v === img.digest) delete db.refs[k];
      await this.writeDb(db);
      return img;
    });
    await this.prune();
    return removed;
  }

  /** Deletes blobs and snapshots no image references. */
  async prune(): Promise<{ blobs: number; snapshots: number }> {
    return this.locked(async (db) => {
      const liveBlobs = new Set<string>();
      const liveSnaps = new Set<string>();
      for (const i of Object.values(db.images)) {
        for (const d of blobsOf(i)) liveBlobs.add(digestHex(d));
        for (const c of chainIDs(i.layers.map((l) => l.diffID))) liveSnaps.add(digestHex(c));
      }
      // blobs being downloaded right now belong to a pull in progress
      for (const d of this.inflightBlobs.keys()) liveBlobs.add(digestHex(d));
      for (const d of this.inflightSnaps.keys()) liveSnaps.add(digestHex(d));
      for (const h of this.pins.keys()) {
        liveBlobs.add(h);
        liveSnaps.add(h);
      }
      let blobs = 0;
      let snapshots = 0;
      for (const n of await readdir(this.blobDir)) {
        if (n.startsWith('.tmp-') || liveBlobs.has(n)) continue;
        await rm(join(this.blobDir, n), { force: true });
        blobs++;
      }
      for (const n of await readdir(this.snapDir)) {
        if (n.startsWith('.tmp-') || n === 'empty' || liveSnaps.has(n)) continue;
        await rm(join(this.snapDir, n), { recursive: true, force: true });
        snapshots++;
      }
      return { blobs, snapshots };
    });
  }

  /**
   * kubelet-style image GC: when disk usage is at or above the high threshold, removes images
   * not in use, least recently used first, until usage is at or below the low threshold.
   */
  async gc(o: GcOptions): Promise<GcResult> {
    const high = o.highThresholdPercent ?? 85;
    const low = o.lowThresholdPercent ?? 80;
    const usage =
      o.usage ??
      (async () => {
        const s = await statfs(this.root);
        return { capacityBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize };
      });
    const pct = async () => {
      const u = await usage();
      return u.capacityBytes > 0 ? 100 - (u.availableBytes * 100) / u.capacityBytes : 0;
    };
    const before = await pct();
    const removed: string[] = [];
    if (before < high) return { removed, usagePercentBefore: before, usagePercentAfter: before };
    const db = await this.readDb();
    const protectedDigests = new Set<string>();
    for (const r of o.inUse) {
      const img = this.findIn(db, r);
      if (img) protectedDigests.add(img.digest);
    }
    const candidates = Object.values(db.images)
      .filter((i) => !protectedDigests.has(i.digest))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    let now = before;
    for (const img of candidates) {
      if (now <= low) break;
      await this.removeImage(img.digest);
      removed.push(img.digest);
      now = await pct();
    }
    return { removed, usagePercentBefore: before, usagePercentAfter: now };
  }

  /** Bytes the store occupies on disk (each inode counted once). */
  async diskUsage(): Promise<number> {
    const seen = new Set<string>();
    let total = 0;
    const walk = async (p: string) => {
      let st;
      try {
        st = await lstat(p);
      } catch {
        return;
      }
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
      total += st.blocks * 512;
      if (st.isDirectory()) for (const n of await readdir(p)) await walk(join(p, n));
    };
    await walk(this.root);
    return total;
  }
}

function blobsOf(i: ImageRecord): string[] {
  const out = [i.digest, i.config.digest, ...i.layers.map((l) => l.digest)];
  for (const r of i.repoDigests) {
    const d = r.slice(r.lastIndexOf('@') + 1);
    if (isDigest(d)) out.push(d);
  }
  return out;
}

function uniq<T>(a: T[]): T[] {
  return [...new Set(a)];
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function parallel<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  let failed: unknown;
  const worker = async () => {
    while (i < items.length && failed === undefined) {
      const t = items[i++];
      try {
        await fn(t);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

