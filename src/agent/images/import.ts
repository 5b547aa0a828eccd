/**
 * Loads image archives into the store: an OCI image layout in a tar (`oci-layout`, `index.json`,
 * `blobs/sha256/…`, as `skopeo copy … oci-archive:` or `docker buildx --output type=oci` write)
 * or a docker-archive (`docker save`: `manifest.json` with Config/RepoTags/Layers). Every blob is
 * checked against its digest (OCI) and every layer against the config's diff_ids (both).
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { newHash, sha256 } from './digest.js';
import { DigestMismatchError, ImageError } from './errors.js';
import { MT, choosePlatform, isIndex, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './media.js';
import { formatReference, isDigest, parseReference } from './reference.js';
import type { ImageRecord, ImageStore } from './store.js';
import { readTar } from './tar.js';
import { cleanName } from './unpack.js';
import { createGunzip } from 'node:zlib';

export interface ImportOptions {
  /** Name an image whose archive carries only a tag (or nothing) with this reference. */
  name?: string;
}

interface Staged {
  dir: string;
  /** archive path → sha256 and size */
  files: Map<string, { digest: string; size: number }>;
  /** archive path → staged file */
  paths: Map<string, string>;
}

/** Extracts the regular files of an archive (optionally gzipped) into a staging dir, hashing each. */
async function stage(archive: string, dir: string): Promise<Staged> {
  const files = new Map<string, { digest: string; size: number }>();
  const paths = new Map<string, string>();
  const fh = await open(archive, 'r');
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  const raw = createReadStream(archive);
  const src = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (e) => src.destroy(e));
  for await (const { header, body } of readTar(src)) {
    if (header.type !== 'file') continue;
    const comps = cleanName(header.name);
    if (!comps.length) continue;
    const rel = comps.join('/');
    const out = join(dir, 'f', randomBytes(8).toString('hex'));
    await mkdir(join(dir, 'f'), { recursive: true });
    const w = await open(out, 'wx', 0o600);
    const h = newHash();
    let n = 0;
    try {
      for await (const c of body) {
        h.update(c);
        n += c.length;
        await w.write(c);
      }
    } finally {
      await w.close();
    }
    files.set(rel, { digest: `sha256:${h.digest('hex')}`, size: n });
    paths.set(rel, out);
  }
  return { dir, files, paths };
}

const pathOf = (s: Staged, rel: string) => {
  const p = s.paths.get(rel);
  if (!p) throw new ImageError(`archive has no file "${rel}"`);
  return p;
};

/** Imports every image in the archive; returns their records. */
export async function importArchive(store: ImageStore, archive: string, opts: ImportOptions = {}): Promise<ImageRecord[]> {
  await stat(archive).catch(() => {
    throw new ImageError(`${archive}: no such file`);
  });
  const dir = join(store.root, 'tmp', `import-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  try {
    const s = await stage(archive, dir);
    if (s.files.has('index.json') && s.files.has('oci-layout')) return await importOci(store, s, opts);
    if (s.files.has('manifest.json')) return await importDocker(store, s, opts);
    throw new ImageError(`${basename(archive)} is neither an OCI layout (oci-layout + index.json) nor a docker-archive (manifest.json)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function blobRel(d: string): string {
  if (!isDigest(d)) throw new ImageError(`unsupported digest "${d}"`);
  return `blobs/sha256/${d.slice(7)}`;
}

/** Reads a blob of an OCI layout, checking digest and size. */
async function ociBlob(s: Staged, d: Descriptor): Promise<{ path: string; bytes?: Buffer }> {
  const rel = blobRel(d.digest);
  const f = s.files.get(rel);
  if (!f) throw new ImageError(`OCI layout is missing blob ${d.digest}`);
  if (f.digest !== d.digest) throw new DigestMismatchError(d.digest, f.digest, `blob ${rel}`);
  if (typeof d.size === 'number' && d.size !== f.size) throw new DigestMismatchError(d.digest, `${f.digest} (${f.size} bytes, want ${d.size})`, `blob ${rel}`);
  return { path: pathOf(s, rel) };
}

function refFromAnnotations(a: Record<string, string> | undefined, opts: ImportOptions): string[] {
  const full = a?.['io.containerd.image.name'];
  const refName = a?.['org.opencontainers.image.ref.name'];
  const out: string[] = [];
  const tryAdd = (r: string) => {
    try {
      out.push(formatReference(parseReference(r)));
    } catch {
      /* not a valid reference */
    }
  };
  if (full) tryAdd(full);
  else if (refName && (refName.includes('/') || refName.includes(':'))) tryAdd(refName);
  else if (refName && opts.name) {
    const r = parseReference(opts.name);
    tryAdd(`${r.registry}/${r.repository}:${refName}`);
  } else if (opts.name) tryAdd(opts.name);
  return out;
}

async function importOci(store: ImageStore, s: Staged, opts: ImportOptions): Promise<ImageRecord[]> {
  const index = JSON.parse(await readFile(pathOf(s, 'index.json'), 'utf8')) as ImageIndex;
  const out: ImageRecord[] = [];
  for (const top of index.manifests ?? []) {
    let desc = top;
    let bytes = await readFile((await ociBlob(s, desc)).path);
    let doc = JSON.parse(bytes.toString('utf8')) as ImageManifest & ImageIndex;
    let indexDesc: Descriptor | undefined;
    let indexBytes: Buffer | undefined;
    if (isIndex(desc.mediaType ?? doc.mediaType, doc)) {
      const chosen = choosePlatform(doc);
      if (!chosen) throw new ImageError(`index ${desc.digest} has no linux/amd64 image`);
      indexDesc = desc;
      indexBytes = bytes;
      desc = chosen;
      bytes = await readFile((await ociBlob(s, desc)).path);
      doc = JSON.parse(bytes.toString('utf8')) as ImageManifest & ImageIndex;
    }
    out.push(await importManifest(store, s, doc, desc.digest, desc.mediaType ?? doc.mediaType ?? MT.ociManifest, bytes, refFromAnnotations(top.annotations, opts), indexDesc, indexBytes));
  }
  if (!out.length) throw new ImageError('OCI layout index.json lists no images');
  return out;
}

async function importManifest(
  store: ImageStore,
  s: Staged,
  manifest: ImageManifest,
  digest: string,
  mediaType: string,
  bytes: Buffer,
  references: string[],
  indexDesc?: Descriptor,
  indexBytes?: Buffer,
): Promise<ImageRecord> {
  if (sha256(bytes) !== digest) throw new DigestMismatchError(digest, sha256(bytes), 'manifest');
  // Blobs of an image being imported must not be collected before its record exists.
  const unpin = store.pin([digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest), ...(indexDesc ? [indexDesc.digest] : [])]);
  try {
    const cfg = await ociBlob(s, manifest.config);
    const configBytes = await readFile(cfg.path);
    await store.putBlobBytes(manifest.config.digest, configBytes);
    for (const l of manifest.layers) {
      const b = await ociBlob(s, l);
      await store.putBlobFile(l.digest, b.path, l.size);
    }
    await store.putBlobBytes(digest, bytes);
    const repoDigests: string[] = [];
    for (const r of references) {
      const p = parseReference(r);
      repoDigests.push(`${p.registry}/${p.repository}@${digest}`);
      if (indexDesc) repoDigests.push(`${p.registry}/${p.repository}@${indexDesc.digest}`);
    }
    if (indexDesc && indexBytes) await store.putBlobBytes(indexDesc.digest, indexBytes);
    return store.commitImage({ manifest, manifestDigest: digest, mediaType, configBytes, references, repoDigests });
  } finally {
    unpin();
  }
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function importDocker(store: ImageStore, s: Staged, opts: ImportOptions): Promise<ImageRecord[]> {
  const entries = JSON.parse(await readFile(pathOf(s, 'manifest.json'), 'utf8')) as DockerArchiveEntry[];
  if (!Array.isArray(entries) || !entries.length) throw new ImageError('docker-archive manifest.json lists no images');
  const out: ImageRecord[] = [];
  for (const e of entries) {
    const cfgRel = cleanName(e.Config).join('/');
    const cfgFile = s.files.get(cfgRel);
    if (!cfgFile) throw new ImageError(`docker-archive is missing its config ${e.Config}`);
    // the config's file name is its digest (<hex>.json, or blobs/sha256/<hex>)
    const named = /([a-f0-9]{64})(\.json)?$/.exec(cfgRel);
    if (named && `sha256:${named[1]}` !== cfgFile.digest) throw new DigestMismatchError(`sha256:${named[1]}`, cfgFile.digest, `config ${e.Config}`);
    const configBytes = await readFile(pathOf(s, cfgRel));
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIDs = config.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== e.Layers.length) throw new ImageError(`config ${e.Config} lists ${diffIDs.length} diff_ids but the archive has ${e.Layers.length} layers`);
    const layers: Descriptor[] = [];
    const unpins: (() => void)[] = [store.pin([cfgFile.digest])];
    try {
      for (let i = 0; i < e.Layers.length; i++) {
        const rel = cleanName(e.Layers[i]).join('/');
        const f = s.files.get(rel);
        if (!f) throw new ImageError(`docker-archive is missing layer ${e.Layers[i]}`);
        const p = pathOf(s, rel);
        const fh = await open(p, 'r');
        const m = Buffer.alloc(2);
        await fh.read(m, 0, 2, 0);
        await fh.close();
        const gz = m[0] === 0x1f && m[1] === 0x8b;
        // an uncompressed layer's digest is its diffID; a compressed one is checked on unpack
        if (!gz && f.digest !== diffIDs[i]) throw new DigestMismatchError(diffIDs[i], f.digest, `layer ${e.Layers[i]}`);
        unpins.push(store.pin([f.digest]));
        await store.putBlobFile(f.digest, p, f.size);
        layers.push({ mediaType: gz ? MT.ociLayerGzip : MT.ociLayer, digest: f.digest, size: f.size });
      }
      await store.putBlobBytes(cfgFile.digest, configBytes);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: cfgFile.digest, size: cfgFile.size },
        layers,
      };
      const bytes = Buffer.from(JSON.stringify(manifest));
      const digest = sha256(bytes);
      await store.putBlobBytes(digest, bytes);
      const references: string[] = [];
      for (const t of e.RepoTags ?? []) references.push(formatReference(parseReference(t)));
      if (!references.length && opts.name) references.push(formatReference(parseReference(opts.name)));
      unpins.push(store.pin([digest]));
      out.push(await store.commitImage({ manifest, manifestDigest: digest, mediaType: MT.ociManifest, configBytes, references, repoDigests: [] }));
    } finally {
      for (const u of unpins) u();
    }
  }
  return out;
}
