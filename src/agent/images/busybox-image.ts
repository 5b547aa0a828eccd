/**
 * An offline base image, `cairn.local/busybox:<version>`, built from the host's static busybox
 * (Debian's busybox-static): one layer with /bin/busybox and a symlink per applet (sh, httpd,
 * wget, nc, nslookup, ...), /etc/passwd and /etc/group, /tmp. `cairn up` seeds every node with
 * it so examples and tests run without reaching any registry. The build is deterministic: the
 * same busybox gives the same digests.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { buildLocalImage, type BuiltLocalImage, seedLocalImage } from './local-image.js';
import type { ImageRecord, ImageStore } from './store.js';
import type { TarWriteEntry } from './tar.js';

export const BUSYBOX_PATH = '/bin/busybox';
export const BUSYBOX_IMAGE_REPO = 'cairn.local/busybox';
const run = promisify(execFile);

export class BusyboxMissingError extends Error {
  override name = 'BusyboxMissingError';
}

export type BuiltBusyboxImage = BuiltLocalImage;

/** The busybox version (`1.35.0`), used as the image tag. */
async function busyboxVersion(): Promise<string> {
  const r = await run(BUSYBOX_PATH, ['--help']).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  const m = /BusyBox v(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1]! : 'latest';
}

export async function buildBusyboxImage(): Promise<BuiltBusyboxImage> {
  if (!existsSync(BUSYBOX_PATH)) throw new BusyboxMissingError(`${BUSYBOX_PATH} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  const bb = readFileSync(BUSYBOX_PATH);
  const applets = (await run(BUSYBOX_PATH, ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
  const entries: TarWriteEntry[] = [
    { name: 'bin', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', data: bb, mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc', type: 'directory', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n', mode: 0o644 },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n', mode: 0o644 },
    { name: 'root', type: 'directory', mode: 0o700 },
    { name: 'home', type: 'directory', mode: 0o755 },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
    { name: 'var', type: 'directory', mode: 0o755 },
    { name: 'var/www', type: 'directory', mode: 0o755 },
  ];
  return buildLocalImage({ repo: BUSYBOX_IMAGE_REPO, tag: await busyboxVersion(), entries, cmd: ['sh'] });
}

/** Puts the busybox image into a node's store (a no-op when it is there already). */
export async function seedBusyboxImage(store: ImageStore, img?: BuiltBusyboxImage): Promise<ImageRecord> {
  return seedLocalImage(store, img ?? (await buildBusyboxImage()));
}
