/**
 * Importing a disk image into a volume, as CDI's importer does for a DataVolume: the source is
 * saved (decompressed) to scratch space, inspected, refused when it is unsafe or too big, and
 * converted to raw — into `disk.img` at the root of a Filesystem volume (grown to the space the
 * volume offers less CDI's filesystem overhead, so the guest sees the size the claim asked for),
 * or straight onto the device of a Block volume. Every failure is an ImportError whose message
 * is what the DataVolume's status shows.
 */
import { mkdir, rename, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { type OpenedSource, saveSource } from './image-source.js';
import { checkImage, convertToRaw, imageInfo, resizeRaw } from './qemu-img.js';

export class ImportError extends Error {
  override name = 'ImportError';
}

/** The file that holds the disk on a Filesystem volume (KubeVirt's and CDI's name). */
export const DISK_IMAGE = 'disk.img';
/** CDI's default share of a Filesystem volume kept for the filesystem itself. */
export const DEFAULT_FILESYSTEM_OVERHEAD = 0.055;
/** Image formats CDI accepts (qemu-img names: vpc is VHD). */
export const IMPORT_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vpc', 'vhdx'] as const;

export type ImportTarget = { kind: 'filesystem'; dir: string } | { kind: 'block'; device: string; sizeBytes: number };

export interface ImportProgress {
  phase: 'download' | 'convert';
  percent: number;
}

export interface ImportRequest {
  source: OpenedSource;
  target: ImportTarget;
  /** A directory of the importer's own; emptied and removed when the import ends. */
  scratchDir: string;
  filesystemOverhead?: number;
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
}

export interface ImportResult {
  /** The source's format as detected. */
  format: string;
  /** The size of the disk the source describes. */
  imageSizeBytes: number;
  /** The size of the disk written (disk.img grown to the volume, or the device). */
  diskSizeBytes: number;
}

/**
 * CDI's DefaultAlignBlockSize: usable space is rounded down to 1 MiB, so the image's size is a
 * multiple of any device's request alignment (QEMU with cache=none refuses anything else).
 */
const ALIGN = 1024 * 1024;

/** The bytes a disk.img may take on the filesystem at `dir`, as CDI computes it. */
export async function filesystemDiskSize(dir: string, overhead = DEFAULT_FILESYSTEM_OVERHEAD): Promise<number> {
  const s = await statfs(dir);
  const usable = Math.floor(s.bavail * s.bsize * (1 - overhead));
  return usable - (usable % ALIGN);
}

export async function importImage(req: ImportRequest): Promise<ImportResult> {
  await rm(req.scratchDir, { recursive: true, force: true });
  await mkdir(req.scratchDir, { recursive: true, mode: 0o700 });
  try {
    const scratch = join(req.scratchDir, 'source');
    await saveSource(req.source, scratch, (percent) => req.onProgress?.({ phase: 'download', percent }), req.signal);
    const info = await imageInfo(scratch).catch((e: Error) => {
      throw new ImportError(e.message.replace(scratch, 'the image'));
    });
    if (!(IMPORT_FORMATS as readonly string[]).includes(info.format)) throw new ImportError(`unsupported image format ${info.format} (supported: ${IMPORT_FORMATS.join(', ')})`);
    if (info.backingFile) throw new ImportError(`the image has a backing file (${info.backingFile}): only self-contained images can be imported`);
    if (info.corrupt) throw new ImportError(`the ${info.format} image is marked corrupt`);
    await checkImage(scratch, info.format).catch((e: Error) => {
      throw new ImportError(e.message.replace(scratch, 'the image'));
    });

    const available = req.target.kind === 'block' ? req.target.sizeBytes : await filesystemDiskSize(req.target.dir, req.filesystemOverhead);
    if (info.virtualSizeBytes > available) throw new ImportError(`virtual image size ${info.virtualSizeBytes} is larger than the reported available storage ${available}. A larger PVC is required.`);

    const onProgress = (percent: number) => req.onProgress?.({ phase: 'convert', percent });
    const convert = (target: string, targetExists: boolean) =>
      convertToRaw({ source: scratch, sourceFormat: info.format, target, targetExists, onProgress, signal: req.signal }).catch((e: Error) => {
        throw new ImportError(e.message.replace(scratch, 'the image'));
      });
    if (req.target.kind === 'block') {
      await convert(req.target.device, true);
      return { format: info.format, imageSizeBytes: info.virtualSizeBytes, diskSizeBytes: req.target.sizeBytes };
    }
    // Written aside and renamed, so a crash never leaves a half-written disk.img behind.
    const partial = join(req.target.dir, `.${DISK_IMAGE}.partial`);
    await rm(partial, { force: true });
    await convert(partial, false);
    // Grown (sparse) to what the volume offered before the import, as CDI sizes disk.img.
    await resizeRaw(partial, available);
    await rename(partial, join(req.target.dir, DISK_IMAGE));
    return { format: info.format, imageSizeBytes: info.virtualSizeBytes, diskSizeBytes: available };
  } finally {
    await rm(req.scratchDir, { recursive: true, force: true });
  }
}
