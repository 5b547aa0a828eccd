/**
 * Images an agent makes itself (the offline busybox, the host-tools images): one gzip layer from
 * tar entries with a fixed mtime, so the same inputs always give the same digests, and the
 * seeding of such an image into the node's store (a no-op when that digest is there already).
 */
import { gzipSync } from 'node:zlib';
import { sha256 } from './digest.js';
import { MT, type ImageManifest } from './media.js';
import type { ImageRecord, ImageStore } from './store.js';
import { writeTar, type TarWriteEntry } from './tar.js';

const MTIME = 1_700_000_000;
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LocalImageSpec {
  repo: string;
  tag: string;
  entries: TarWriteEntry[];
  /** The image config's process: Cmd and/or Entrypoint, extra Env after PATH. */
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
}

export interface BuiltLocalImage {
  reference: string;
  repo: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: string;
  config: Buffer;
  layer: Buffer;
}

export function buildLocalImage(spec: LocalImageSpec): BuiltLocalImage {
  const tar = writeTar(spec.entries.map((e) => ({ mtime: MTIME, ...e })));
  const layer = gzipSync(tar, { level: 6 });
  const process = { Env: [PATH, ...(spec.env ?? [])], ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}), ...(spec.cmd ? { Cmd: spec.cmd } : {}), WorkingDir: '/' };
  const config = Buffer.from(
    JSON.stringify({ created: new Date(MTIME * 1000).toISOString(), architecture: 'amd64', os: 'linux', config: process, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }),
  );
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MT.ociLayerGzip, digest: sha256(layer), size: layer.length }],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return { reference: `${spec.repo}:${spec.tag}`, repo: spec.repo, manifest, manifestBytes, manifestDigest: sha256(manifestBytes), config, layer };
}

/** Puts the image into the node's store (a no-op when it is there already). */
export async function seedLocalImage(store: ImageStore, b: BuiltLocalImage): Promise<ImageRecord> {
  const have = await store.get(b.reference);
  if (have?.digest === b.manifestDigest) return have;
  await store.putBlobBytes(b.manifest.layers[0]!.digest, b.layer);
  await store.putBlobBytes(b.manifest.config.digest, b.config);
  await store.putBlobBytes(b.manifestDigest, b.manifestBytes);
  return store.commitImage({
    manifest: b.manifest,
    manifestDigest: b.manifestDigest,
    mediaType: MT.ociManifest,
    configBytes: b.config,
    references: [b.reference],
    repoDigests: [`${b.repo}@${b.manifestDigest}`],
  });
}
