/**
 * Which filesystem a device holds (blkid(8) from util-linux, probing the device itself rather than
 * its cache): a networked volume is formatted by the first node that stages it, and every later
 * stage — on any node — must find that filesystem and never make a new one over the data.
 */
import { runStorageTool } from '../run-tool.js';

/** The filesystem type on `device` (`ext4`, `xfs`, ...), or undefined when it holds none. */
export async function filesystemOn(device: string): Promise<string | undefined> {
  // blkid exits 2 when it finds nothing to report.
  const out = await runStorageTool('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], `blkid ${device}`, { okCodes: [0, 2] });
  return out.trim() || undefined;
}
