/**
 * Builds small OCI images offline from Debian's static busybox (package busybox-static), and
 * writes them as registry pushes, OCI layout tarballs or docker-archive tarballs.
 *
 *   layer 1 (base): /bin/busybox, applet symlinks, a hardlink, /etc files, /data/{a,b}, /etc/deleteme
 *   layer 2 (app):  whiteout of /etc/deleteme, /data made opaque (only /data/new remains), /etc/app
 *   layer 3 (other): /etc/other  — image "other" = base + layer 3, sharing layer 1 with "app"
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { sha256 } from '../../src/agent/images/digest.js';
import { MT, type Descriptor, type ImageIndex, type ImageManifest } from '../../src/agent/images/media.js';
import { writeTar, type TarWriteEntry } from '../../src/agent/images/tar.js';

export const BUSYBOX = '/bin/busybox';
export const MTIME = 1_700_000_000;

export function requireBusybox(): Buffer {
  if (!existsSync(BUSYBOX) || !statSync(BUSYBOX).isFile()) {
    throw new Error(`static busybox not found at ${BUSYBOX}: install Debian's busybox-static (bash scripts/setup.sh)`);
  }
  return readFileSync(BUSYBOX);
}

export interface Blob {
  desc: Descriptor;
  bytes: Buffer;
}

export interface BuiltLayer extends Blob {
  /** uncompressed tar */
  tar: Buffer;
  diffID: string;
}

export interface BuiltImage {
  layers: BuiltLayer[];
  config: Blob;
  manifest: Blob;
}

export function layer(entries: TarWriteEntry[], gzip = true): BuiltLayer {
  const tar = writeTar(entries.map((e) => ({ mtime: MTIME, ...e })));
  const bytes = gzip ? gzipSync(tar, { level: 1 }) : tar;
  return {
    tar,
    bytes,
    diffID: sha256(tar),
    desc: { mediaType: gzip ? MT.ociLayerGzip : MT.ociLayer, digest: sha256(bytes), size: bytes.length },
  };
}

export function image(layers: BuiltLayer[], opts: { arch?: string; cmd?: string[]; label?: string } = {}): BuiltImage {
  const configDoc = {
    created: new Date(MTIME * 1000).toISOString(),
    architecture: opts.arch ?? 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: opts.cmd ?? ['/bin/sh'], WorkingDir: '/', Labels: opts.label ? { build: opts.label } : undefined },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
  };
  const cfg = Buffer.from(JSON.stringify(configDoc));
  const config: Blob = { bytes: cfg, desc: { mediaType: MT.ociConfig, digest: sha256(cfg), size: cfg.length } };
  const m: ImageManifest = { schemaVersion: 2, mediaType: MT.ociManifest, config: config.desc, layers: layers.map((l) => l.desc) };
  const mb = Buffer.from(JSON.stringify(m));
  return { layers, config, manifest: { bytes: mb, desc: { mediaType: MT.ociManifest, digest: sha256(mb), size: mb.length } } };
}

export function index(images: { img: BuiltImage; arch: string }[]): Blob {
  const doc: ImageIndex = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: images.map(({ img, arch }) => ({ ...img.manifest.desc, platform: { os: 'linux', architecture: arch } })),
  };
  const b = Buffer.from(JSON.stringify(doc));
  return { bytes: b, desc: { mediaType: MT.ociIndex, digest: sha256(b), size: b.length } };
}

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'httpd', 'wget', 'nc', 'nslookup', 'sleep', 'mkdir', 'rm', 'id', 'stat'];

export interface Fixture {
  base: BuiltLayer;
  app: BuiltLayer;
  other: BuiltLayer;
  /** base + app: whiteouts and the opaque dir */
  appImage: BuiltImage;
  /** base + other: shares layer 1 with appImage */
  otherImage: BuiltImage;
  /** an arm64 image (its own small layer) for the index */
  armImage: BuiltImage;
  /** index: amd64 → appImage, arm64 → armImage */
  multi: Blob;
}

let cached: Fixture | undefined;

export function buildFixture(): Fixture {
  if (cached) return cached;
  const bb = requireBusybox();
  const base = layer([
    { name: 'bin', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', data: bb, mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'bin/busybox-hardlink', type: 'link', linkname: 'bin/busybox' },
    { name: 'etc', type: 'directory', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n', mode: 0o644 },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n', mode: 0o644 },
    { name: 'etc/deleteme', data: 'this file is deleted by layer 2\n' },
    { name: 'etc/secret', data: 'mode 0600, owned by 1000:1000\n', mode: 0o600, uid: 1000, gid: 1000 },
    { name: 'data', type: 'directory', mode: 0o755 },
    { name: 'data/a', data: 'a from base\n' },
    { name: 'data/sub', type: 'directory' },
    { name: 'data/sub/b', data: 'b from base\n' },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
    { name: `deep/${'x'.repeat(120)}/long-name-file`, data: 'long path via PAX\n' },
  ]);
  const app = layer([
    { name: 'etc/.wh.deleteme', data: '' },
    { name: 'data', type: 'directory', mode: 0o750 },
    { name: 'data/.wh..wh..opq', data: '' },
    { name: 'data/new', data: 'new in layer 2\n' },
    { name: 'etc/app', data: 'app layer\n' },
  ]);
  const other = layer([{ name: 'etc/other', data: 'other image\n' }]);
  const arm = layer([{ name: 'etc/arch', data: 'arm64\n' }]);
  const appImage = image([base, app], { label: 'app' });
  const otherImage = image([base, other], { label: 'other' });
  const armImage = image([arm], { arch: 'arm64' });
  const multi = index([
    { img: armImage, arch: 'arm64' },
    { img: appImage, arch: 'amd64' },
  ]);
  cached = { base, app, other, appImage, otherImage, armImage, multi };
  return cached;
}

// ---- pushing ----

async function check(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${res.statusText}: ${await res.text()}`);
  return res;
}

export async function pushBlob(registryUrl: string, repo: string, b: Blob): Promise<void> {
  const head = await fetch(`${registryUrl}/v2/${repo}/blobs/${b.desc.digest}`, { method: 'HEAD' });
  if (head.ok) return;
  const start = await check(await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' }), `start upload ${repo}`);
  const loc = new URL(start.headers.get('location')!, registryUrl);
  loc.searchParams.set('digest', b.desc.digest);
  await check(
    await fetch(loc, { method: 'PUT', body: new Uint8Array(b.bytes), headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.bytes.length) } }),
    `upload ${b.desc.digest}`,
  );
}

export async function pushManifest(registryUrl: string, repo: string, reference: string, m: Blob): Promise<void> {
  await check(
    await fetch(`${registryUrl}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(m.bytes), headers: { 'content-type': m.desc.mediaType } }),
    `put manifest ${repo}:${reference}`,
  );
}

export async function pushImage(registryUrl: string, repo: string, tag: string, img: BuiltImage): Promise<void> {
  for (const l of img.layers) await pushBlob(registryUrl, repo, l);
  await pushBlob(registryUrl, repo, img.config);
  await pushManifest(registryUrl, repo, tag, img.manifest);
}

export async function pushIndex(registryUrl: string, repo: string, tag: string, idx: Blob, imgs: BuiltImage[]): Promise<void> {
  for (const i of imgs) await pushImage(registryUrl, repo, i.manifest.desc.digest, i);
  await pushManifest(registryUrl, repo, tag, idx);
}

// ---- archives ----

/** An OCI image layout as a tar: `oci-layout`, `index.json` (ref.name annotation), `blobs/sha256/*`. */
export function ociLayoutTar(img: BuiltImage, refName: string): Buffer {
  const blobs = [img.manifest, img.config, ...img.layers];
  const idx = {
    schemaVersion: 2,
    manifests: [{ ...img.manifest.desc, annotations: { 'org.opencontainers.image.ref.name': refName } }],
  };
  return writeTar([
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', data: JSON.stringify(idx) },
    { name: 'blobs', type: 'directory' },
    { name: 'blobs/sha256', type: 'directory' },
    ...uniqBlobs(blobs).map((b) => ({ name: `blobs/sha256/${b.desc.digest.slice(7)}`, data: b.bytes })),
  ]);
}

/** A `docker save` tarball: `<config hex>.json`, `<n>/layer.tar` (uncompressed), `manifest.json`. */
export function dockerArchiveTar(img: BuiltImage, repoTags: string[]): Buffer {
  const cfgName = `${img.config.desc.digest.slice(7)}.json`;
  const layerNames = img.layers.map((l) => `${l.diffID.slice(7)}/layer.tar`);
  return writeTar([
    { name: cfgName, data: img.config.bytes },
    ...img.layers.flatMap((l, i) => [
      { name: layerNames[i].split('/')[0], type: 'directory' as const },
      { name: layerNames[i], data: l.tar },
    ]),
    { name: 'manifest.json', data: JSON.stringify([{ Config: cfgName, RepoTags: repoTags, Layers: layerNames }]) },
    { name: 'repositories', data: '{}' },
  ]);
}

function uniqBlobs(bs: Blob[]): Blob[] {
  const seen = new Set<string>();
  return bs.filter((b) => !seen.has(b.desc.digest) && seen.add(b.desc.digest));
}
