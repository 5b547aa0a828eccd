/**
 * The qemu-img wrapper: what an image is (`info`), whether it is sound (`check`), and turning it
 * into a raw disk (`convert`, with progress) of a given size (`resize`). Images come from users
 * (imports, uploads), so each call treats its input as hostile, as CDI does: the format is
 * detected once and then always passed explicitly (so a raw image can never be re-probed as
 * qcow2), images naming a backing file or data file are refused (a qcow2 could otherwise point
 * qemu-img at any file on the node), and `info` runs under address-space and CPU limits.
 */
import { spawn } from 'node:child_process';
import { runTool, ToolError } from '../../net/exec.js';

export class QemuImgError extends ToolError {}

export interface ImageInfo {
  /** The format qemu-img detected: raw, qcow2, vmdk, vpc (VHD), vhdx, vdi, qed, ... */
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes: number;
  /** Set when the image depends on another file (refused for imports). */
  backingFile?: string;
  /** A qcow2 image marked corrupt by QEMU. */
  corrupt: boolean;
}

const QEMU_IMG = 'qemu-img';
/** CDI's limits on qemu-img info of an untrusted image: 1 GiB of address space, 30 s of CPU. */
const INFO_LIMITS = ['--as=1073741824', '--cpu=30'];

/** The last meaningful line qemu-img printed: its own error message. */
function reason(stderr: string, fallback: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? fallback).replace(/^qemu-img: /, '');
}

async function run(args: string[], what: string, timeoutMs = 120_000, prefix: string[] = []): Promise<string> {
  const argv = [...prefix, QEMU_IMG, ...args];
  let r;
  try {
    r = await runTool(argv[0]!, argv.slice(1), { timeoutMs });
  } catch (e) {
    throw new QemuImgError(`${what}: ${(e as Error).message}`, argv, '', null);
  }
  if (r.code !== 0) throw new QemuImgError(`${what}: ${reason(r.stderr, `qemu-img exited with ${r.code}`)}`, argv, r.stderr, r.code);
  return r.stdout;
}

interface InfoJson {
  format?: string;
  'virtual-size'?: number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { data?: { corrupt?: boolean; 'data-file'?: string } };
}

export async function imageInfo(path: string, format?: string): Promise<ImageInfo> {
  const args = ['info', '--output=json', ...(format ? ['-f', format] : []), path];
  const out = await run(args, `inspecting ${path}`, 60_000, ['prlimit', ...INFO_LIMITS]);
  let j: InfoJson;
  try {
    j = JSON.parse(out) as InfoJson;
  } catch {
    throw new QemuImgError(`inspecting ${path}: qemu-img printed no JSON`, [QEMU_IMG, ...args], out, 0);
  }
  const data = j['format-specific']?.data;
  return {
    format: j.format ?? 'raw',
    virtualSizeBytes: j['virtual-size'] ?? 0,
    actualSizeBytes: j['actual-size'] ?? 0,
    backingFile: j['full-backing-filename'] ?? j['backing-filename'] ?? data?.['data-file'],
    corrupt: data?.corrupt === true,
  };
}

/** Checks a qcow2 (or other checkable) image's metadata; raw images have nothing to check. */
export async function checkImage(path: string, format: string): Promise<void> {
  if (format === 'raw') return;
  const args = ['check', '-f', format, path];
  const r = await runTool(QEMU_IMG, args, { timeoutMs: 300_000 });
  // 0: clean; 3: leaked clusters only (harmless, as qemu-img says). Others: corrupt or unreadable.
  if (r.code !== 0 && r.code !== 3) throw new QemuImgError(`checking ${path}: ${reason(r.stderr || r.stdout, `qemu-img check exited with ${r.code}`)}`, [QEMU_IMG, ...args], r.stderr, r.code);
}

export interface ConvertOptions {
  source: string;
  sourceFormat: string;
  target: string;
  /** The target already exists with its size (a block device, a preallocated file): `-n`. */
  targetExists?: boolean;
  /** 0–100, as qemu-img reports it. */
  onProgress?: (percent: number) => void;
  signal?: AbortSignal;
}

const PROGRESS = /\((\d+(?:\.\d+)?)\/100%\)/g;

/** Converts the image to raw at `target`, sparse, reporting progress. */
export function convertToRaw(o: ConvertOptions): Promise<void> {
  const args = ['convert', '-p', '-t', 'writeback', '-f', o.sourceFormat, '-O', 'raw', ...(o.targetExists ? ['-n'] : []), o.source, o.target];
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU_IMG, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, signal: o.signal });
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      for (const m of b.toString('utf8').matchAll(PROGRESS)) o.onProgress?.(Number(m[1]));
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', (e) => reject(new QemuImgError(`converting ${o.source}: ${e.message}`, [QEMU_IMG, ...args], stderr, null)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new QemuImgError(`converting ${o.source}: ${reason(stderr, `qemu-img exited with ${code}`)}`, [QEMU_IMG, ...args], stderr, code));
    });
  });
}

/** Grows (never shrinks) a raw image file to `sizeBytes`. */
export async function resizeRaw(path: string, sizeBytes: number): Promise<void> {
  await run(['resize', '-f', 'raw', path, String(sizeBytes)], `resizing ${path}`);
}

/** Creates an empty qcow2 image of `sizeBytes` (KubeVirt's emptyDisk). */
export async function createQcow2(path: string, sizeBytes: number): Promise<void> {
  await run(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)], `creating ${path}`);
}
