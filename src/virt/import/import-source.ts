/**
 * What `cairn vm import FILE` reads, made into one shape — the VM's hardware and the local path of
 * each disk file — whatever FILE is: an OVA (unpacked into a work directory, its manifest checked
 * by ova.ts), an OVF descriptor with its disk files beside it (checked against a `<name>.mf`
 * manifest beside it when there is one), or a bare disk image (raw, qcow2, VMDK, VHD, VHDX, VDI)
 * given KubeVirt-ish defaults: 1 vCPU, 1Gi of memory, BIOS, one virtio disk and one NIC on the pod
 * network. Every disk is inspected and checked here with qemu-img before anything is created, so
 * an unknown format, a truncated or corrupt image or a backing file fail early with qemu-img's
 * words; each disk's size is the larger of the OVF capacity and the image's virtual size.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IMPORT_FORMATS } from '../cdi/importer.js';
import { checkImage, imageInfo, type ImageInfo } from '../cdi/qemu-img.js';
import { parseManifest, unpackOva } from './ova.js';
import { MAX_OVF_BYTES, type OvfVm, parseOvf } from './ovf.js';

export class ImportSourceError extends Error {
  override name = 'ImportSourceError';
}

export interface ImportSource {
  kind: 'ova' | 'ovf' | 'disk';
  vm: OvfVm;
  /** OVF disk file name → its path on this machine, with what qemu-img found. */
  disks: Map<string, { path: string; info: ImageInfo }>;
}

const MI = 2 ** 20;

/**
 * A disk's DataVolume size: its size plus room for the filesystem of a small Filesystem volume,
 * whose ext4 journal and inode tables take more than CDI's 5.5 % estimate (the upload server
 * would otherwise refuse the image as "A larger PVC is required.").
 */
export const withFilesystemHeadroom = (bytes: number): number => Math.ceil((bytes + Math.max(16 * MI, Math.ceil(bytes * 0.15))) / MI) * MI;

/** The hardware a bare disk gets. */
export const BARE_DISK_DEFAULTS = { vcpus: 1, memoryBytes: 2 ** 30 } as const;

async function kindOf(path: string): Promise<ImportSource['kind']> {
  const ext = extname(path).toLowerCase();
  if (ext === '.ova') return 'ova';
  if (ext === '.ovf') return 'ovf';
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    // A POSIX tar header carries "ustar" at 257; an OVF is XML.
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'ova';
    if (/^\s*(<\?xml|<([A-Za-z]+:)?Envelope\b)/.test(head.subarray(0, bytesRead).toString('utf8'))) return 'ovf';
    return 'disk';
  } finally {
    await fh.close();
  }
}

/** qemu-img's view of a disk, refused when it could not be imported. */
export async function inspectDisk(path: string, name = basename(path)): Promise<ImageInfo> {
  const info = await imageInfo(path).catch((e: Error) => {
    throw new ImportSourceError(`${name}: ${e.message.replace(`inspecting ${path}: `, '')}`);
  });
  if (!(IMPORT_FORMATS as readonly string[]).includes(info.format)) throw new ImportSourceError(`${name}: unknown disk image format ${info.format} (supported: ${IMPORT_FORMATS.join(', ')})`);
  if (info.backingFile) throw new ImportSourceError(`${name}: the image has a backing file (${info.backingFile}): only self-contained images can be imported`);
  if (info.corrupt) throw new ImportSourceError(`${name}: the ${info.format} image is marked corrupt`);
  await checkImage(path, info.format).catch((e: Error) => {
    throw new ImportSourceError(`${name}: ${e.message.replace(`checking ${path}: `, '')}`);
  });
  if (info.format === 'raw' && info.virtualSizeBytes === 0) throw new ImportSourceError(`${name}: the file is empty`);
  return info;
}

async function digest(path: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** Checks the files beside an OVF against `<name>.mf`, as ova.ts does inside an OVA. */
async function checkManifestBeside(ovfPath: string, files: Map<string, string>): Promise<void> {
  const mf = join(dirname(ovfPath), `${basename(ovfPath, extname(ovfPath))}.mf`);
  const text = await readFile(mf, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const paths = new Map([[basename(ovfPath), ovfPath], ...files]);
  for (const [name, [alg, want]] of parseManifest(text)) {
    const path = paths.get(name);
    if (!path) continue;
    if ((await digest(path, alg)) !== want) throw new ImportSourceError(`${name} does not match its ${alg.toUpperCase()} digest in ${basename(mf)}: the file is damaged`);
  }
}

function bareDiskVm(path: string, info: ImageInfo): OvfVm {
  return {
    name: basename(path).replace(/\.[^.]*$/, '') || 'imported-vm',
    firmware: 'bios',
    cpu: { sockets: 1, cores: BARE_DISK_DEFAULTS.vcpus, threads: 1 },
    memoryBytes: BARE_DISK_DEFAULTS.memoryBytes,
    disks: [{ id: 'disk0', file: basename(path), capacityBytes: info.virtualSizeBytes, bus: 'virtio', bootOrder: 1 }],
    cdroms: 0,
    // KubeVirt's default interface: `default` on the pod network.
    nics: [{ name: 'default', model: 'virtio' }],
  };
}

/**
 * Reads FILE; an OVA is unpacked into `workDir` (which the caller removes). Every error is an
 * ImportSourceError (or the OvfError/OvaError of the descriptor or archive) naming the problem.
 */
export async function readImportSource(path: string, workDir: string): Promise<ImportSource> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw new ImportSourceError(`${path} does not exist or is not a file`);
  const kind = await kindOf(path);
  if (kind === 'disk') {
    const info = await inspectDisk(path);
    return { kind, vm: bareDiskVm(path, info), disks: new Map([[basename(path), { path, info }]]) };
  }
  let vm: OvfVm;
  let files: Map<string, string>;
  if (kind === 'ova') {
    const unpacked = await unpackOva(path, workDir);
    vm = parseOvf(unpacked.ovf);
    files = unpacked.files;
  } else {
    if (st.size > MAX_OVF_BYTES) throw new ImportSourceError(`${path} is larger than ${MAX_OVF_BYTES} bytes: not an OVF descriptor`);
    vm = parseOvf(await readFile(path, 'utf8'));
    files = new Map();
    for (const d of vm.disks) {
      if (!d.file) continue;
      // Only plain names beside the descriptor: an href never reaches elsewhere on this machine.
      if (d.file !== basename(d.file) || d.file.startsWith('.')) throw new ImportSourceError(`the OVF's disk file ${JSON.stringify(d.file)} is not a plain file name`);
      const p = join(dirname(path), d.file);
      if (!(await stat(p).then((s) => s.isFile(), () => false))) throw new ImportSourceError(`the OVF references ${d.file}, which is not beside it in ${dirname(path)}`);
      files.set(d.file, p);
    }
    await checkManifestBeside(path, files);
  }
  const disks = new Map<string, { path: string; info: ImageInfo }>();
  for (const d of vm.disks) {
    if (!d.file) continue;
    const p = files.get(d.file);
    if (!p) throw new ImportSourceError(`the OVF references ${d.file}, which the archive does not hold`);
    const info = disks.get(d.file)?.info ?? (await inspectDisk(p, d.file));
    disks.set(d.file, { path: p, info });
    d.capacityBytes = Math.max(d.capacityBytes, info.virtualSizeBytes);
  }
  return { kind, vm, disks };
}
