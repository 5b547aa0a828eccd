/**
 * Images whose programs are the node's own: a tiny layer (/etc/passwd, /tmp, mount points) whose
 * containers get the host's /usr, /lib, /lib64, /bin, /sbin and the Cairn install bind-mounted
 * read-only. The CDI importer (`cairn.local/cdi-importer`) is one: it runs `cairn cdi-import`
 * with the node's node, qemu-img and xz, so nothing has to be pulled from a registry and the
 * tools are the ones the node already trusts (KubeVirt and CDI ship them inside their images
 * instead).
 *
 * The host mounts are a privilege, so they are granted by manifest digest, and only to images
 * this agent built itself during this run (HostToolsImages): a pulled or imported image carrying
 * the same name, tag or labels gets nothing.
 */
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContainerMount } from '../runtime/oci-spec.js';
import { buildLocalImage, type BuiltLocalImage, seedLocalImage } from './local-image.js';
import type { ImageRecord, ImageStore } from './store.js';
import type { TarWriteEntry } from './tar.js';

/** The host directories every host-tools image sees (symlinks on merged-/usr hosts are copied as links). */
export const HOST_SYSTEM_DIRS: readonly string[] = ['/usr', '/lib', '/lib64', '/bin', '/sbin'];

/** The root of the running Cairn install (the directory holding package.json and bin/cairn.js). */
export const CAIRN_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');

export interface HostToolsImageSpec {
  /** `cairn.local/<name>`. */
  repo: string;
  tag: string;
  entrypoint: string[];
  /** Host paths bound read-only at the same path; missing ones are skipped. */
  binds: readonly string[];
  env?: string[];
}

export interface BuiltHostToolsImage extends BuiltLocalImage {
  /** The read-only bind mounts its containers get. */
  mounts: ContainerMount[];
}

/** The host paths the Cairn install runs from: its package root, and node when it lives outside /usr. */
export function cairnInstallPaths(): string[] {
  const node = process.execPath;
  return [CAIRN_ROOT, ...(HOST_SYSTEM_DIRS.some((d) => node.startsWith(`${d}/`)) || node.startsWith(`${CAIRN_ROOT}/`) ? [] : [dirname(node)])];
}

/** The argv that runs a `cairn` subcommand inside a host-tools container. */
export function cairnArgv(...args: string[]): string[] {
  return [process.execPath, `${CAIRN_ROOT}/bin/cairn.js`, ...args];
}

export function buildHostToolsImage(spec: HostToolsImageSpec): BuiltHostToolsImage {
  const entries: TarWriteEntry[] = [
    { name: 'etc', type: 'directory', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n', mode: 0o644 },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n', mode: 0o644 },
    { name: 'root', type: 'directory', mode: 0o700 },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
  ];
  const mounts: ContainerMount[] = [];
  const dirs = new Set<string>();
  const parentsOf = (p: string) => {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  };
  for (const path of spec.binds) {
    if (!existsSync(path)) continue;
    const st = lstatSync(path);
    // A merged-/usr host's /bin is `usr/bin`: the same link in the layer resolves inside the bound /usr.
    if (st.isSymbolicLink() && !readlinkSync(path).startsWith('/')) {
      parentsOf(path);
      entries.push({ name: path.slice(1), type: 'symlink', linkname: readlinkSync(path) });
      continue;
    }
    parentsOf(path);
    if (st.isDirectory()) dirs.add(path.slice(1));
    mounts.push({ kind: 'bind', source: path, destination: path, readOnly: true });
  }
  for (const d of [...dirs].sort()) if (!entries.some((e) => e.name === d)) entries.push({ name: d, type: 'directory', mode: 0o755 });
  return { ...buildLocalImage({ repo: spec.repo, tag: spec.tag, entries, entrypoint: spec.entrypoint, env: spec.env }), mounts };
}

/**
 * The host-tools images this agent built and seeded this run, by manifest digest: the only
 * images whose containers the agent gives host mounts.
 */
export class HostToolsImages {
  private readonly byDigest = new Map<string, ContainerMount[]>();

  /** Puts the image into the node's store and trusts its digest for this run. */
  async seed(store: ImageStore, b: BuiltHostToolsImage): Promise<ImageRecord> {
    const rec = await seedLocalImage(store, b);
    this.byDigest.set(b.manifestDigest, b.mounts);
    return rec;
  }

  /** The host mounts for a container of the image with this manifest digest (none for any other image). */
  mountsFor(manifestDigest: string): ContainerMount[] {
    return this.byDigest.get(manifestDigest) ?? [];
  }
}
