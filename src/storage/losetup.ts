/**
 * The one wrapper around losetup(8) (util-linux): attach a file to a free loop device, find the
 * devices a file is attached to, refresh a device's size after its file grew, detach. Listing
 * uses `losetup --json --list`, so every question about loop devices is answered from the
 * kernel — nothing is remembered in memory, and an agent killed between attach and mount finds
 * the device again.
 */
import { runStorageTool } from './run-tool.js';

export interface LoopDevice {
  /** /dev/loopN */
  name: string;
  /** The backing file as the kernel reports it (absolute; ` (deleted)` when unlinked). */
  backFile: string;
  readOnly: boolean;
  directIO: boolean;
}

interface LosetupJson {
  loopdevices?: { name: string; 'back-file'?: string | null; ro?: boolean | string; dio?: boolean | string }[];
}

const flag = (v: boolean | string | undefined) => v === true || v === '1' || v === 'true';

/** Every attached loop device. */
export async function listLoopDevices(): Promise<LoopDevice[]> {
  const out = await runStorageTool('losetup', ['--json', '--list', '--output', 'NAME,BACK-FILE,RO,DIO'], 'losetup --list');
  if (!out.trim()) return [];
  const parsed = JSON.parse(out) as LosetupJson;
  return (parsed.loopdevices ?? []).map((d) => ({ name: d.name, backFile: d['back-file'] ?? '', readOnly: flag(d.ro), directIO: flag(d.dio) }));
}

/** The devices `file` (an absolute path without symlinks) is attached to. */
export async function loopDevicesOf(file: string): Promise<LoopDevice[]> {
  return (await listLoopDevices()).filter((d) => d.backFile === file);
}

export interface AttachOptions {
  /**
   * Direct I/O keeps the file's pages out of the host's page cache a second time (the
   * filesystem inside caches them already). The kernel turns it off where the file's direct I/O
   * alignment exceeds the device's sector size.
   */
  directIO?: boolean;
  /**
   * The device's logical sector size. Unset, the kernel picks the file's direct I/O alignment,
   * which on xfs is 4096 for a reflinked file (a cloned or snapshotted image): ext4 with 1 KiB
   * blocks then no longer mounts, nor does a partition table written for 512-byte sectors read.
   */
  sectorSize?: 512 | 4096;
}

/** Attaches `file` to a free loop device and returns its path. */
export async function attachLoopDevice(file: string, opts: AttachOptions = {}): Promise<string> {
  const args = ['--find', '--show', ...(opts.directIO ? ['--direct-io=on'] : []), ...(opts.sectorSize ? ['--sector-size', String(opts.sectorSize)] : []), file];
  return (await runStorageTool('losetup', args, `losetup ${file}`)).trim();
}

/** Re-reads the backing file's size (after it grew). */
export async function refreshLoopCapacity(device: string): Promise<void> {
  await runStorageTool('losetup', ['--set-capacity', device], `losetup --set-capacity ${device}`);
}

export async function detachLoopDevice(device: string): Promise<void> {
  await runStorageTool('losetup', ['--detach', device], `losetup --detach ${device}`);
}

/** Detaches every loop device whose backing file lies under `dir` (a data dir being removed). */
export async function detachLoopDevicesUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const done: string[] = [];
  for (const d of await listLoopDevices()) {
    if (!d.backFile.startsWith(prefix)) continue;
    await detachLoopDevice(d.name);
    done.push(d.name);
  }
  return done;
}
