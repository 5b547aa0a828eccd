/**
 * `cairn cdi-import` (hidden): the entrypoint of the importer pod a DataVolume gets
 * (`cairn.local/cdi-importer`). Its inputs are CDI importer's environment variables
 * (IMPORTER_SOURCE http|registry|none, IMPORTER_ENDPOINT, IMPORTER_CERT_DIR, IMPORTER_ACCESS_KEY_ID,
 * IMPORTER_SECRET_KEY, IMPORTER_IMAGE_SIZE, FILESYSTEM_OVERHEAD); the target is the claim at
 * CDI's paths: the device /dev/cdi-block-volume when present (Block), else the directory /data.
 *
 * The importer has no API credentials, so it reports as CDI's does: progress as a metric on
 * port 8443 that the DataVolume controller reads from the pod IP (importer-protocol.ts), also
 * logged as `Import progress: N.NN%` lines for `kubectl logs`; the result as its termination
 * message (/dev/termination-log): `Import Complete`, or the error, which also makes the exit
 * status non-zero so the pod restarts (restartPolicy OnFailure) as CDI's does.
 */
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { openHttpSource, type HttpSourceOptions } from '../../virt/cdi/image-source.js';
import { openRegistrySource } from '../../virt/cdi/registry-source.js';
import { DEFAULT_FILESYSTEM_OVERHEAD, DISK_IMAGE, filesystemDiskSize, type ImportProgress, type ImportTarget, importImage } from '../../virt/cdi/importer.js';
import { formatProgress, IMPORT_COMPLETE, PROGRESS_PORT, progressMetricText } from '../../virt/cdi/importer-protocol.js';
import { parseQuantity } from '../../registry/validation.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { runPodEntrypoint } from '../pod-entrypoint.js';

const BLOCK_DEVICE = '/dev/cdi-block-volume';
const DATA_DIR = '/data';
const SCRATCH_DIR = '/tmp/cdi-scratch';
/** The pulled image's disk, apart from the import's scratch (which the import empties first). */
const REGISTRY_SCRATCH_DIR = '/tmp/cdi-registry';

/** The size of a block device from sysfs (Node's stat reports 0 for devices). */
export async function blockDeviceSize(device: string): Promise<number> {
  const st = await stat(device);
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
  if (!Number.isFinite(sectors) || sectors <= 0) throw new CliError(`cannot tell the size of ${device}`);
  return sectors * 512;
}

/** The PEM certificates of the certConfigMap's files, concatenated. */
export async function caBundle(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('..'));
  return (await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')))).join('\n');
}

/** The claim as CDI hands it to its pods: the Block device when there is one, else /data. */
export async function importTarget(): Promise<ImportTarget> {
  const isBlock = await stat(BLOCK_DEVICE).then((s) => s.isBlockDevice(), () => false);
  return isBlock ? { kind: 'block', device: BLOCK_DEVICE, sizeBytes: await blockDeviceSize(BLOCK_DEVICE) } : { kind: 'filesystem', dir: DATA_DIR };
}

/**
 * Serves the progress metric on the pod's port for the controller, and logs each whole percent.
 * Download is the first half of the work, conversion the second (CDI reports one figure).
 */
export async function progressReporter(ownerUid: string): Promise<{ onProgress: (p: ImportProgress) => void; close: () => void }> {
  let overall = 0;
  let logged = -1;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(progressMetricText(ownerUid, overall));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(PROGRESS_PORT, resolve));
  return {
    onProgress: (p) => {
      overall = p.phase === 'download' ? p.percent / 2 : 50 + p.percent / 2;
      if (Math.floor(overall) === logged) return;
      logged = Math.floor(overall);
      console.log(`Import progress: ${formatProgress(overall)}`);
    },
    close: () => server.close(),
  };
}

/** How long the node-pull disk container may take to find and serve its disk. */
const DISK_SERVER_WAIT_MS = 5 * 60_000;

/** Waits for the disk container's ready mark; its error mark (no disk in the image) is the import's error. */
async function waitForDiskServer(readyFile: string, errorFile: string | undefined): Promise<void> {
  const deadline = Date.now() + DISK_SERVER_WAIT_MS;
  for (;;) {
    const error = errorFile ? await readFile(errorFile, 'utf8').catch(() => undefined) : undefined;
    if (error !== undefined) throw new CliError(error.trim());
    if (await stat(readyFile).then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new CliError('the image container did not serve its disk within 5 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function runImport(env: NodeJS.ProcessEnv): Promise<string> {
  const overhead = env.FILESYSTEM_OVERHEAD ? Number(env.FILESYSTEM_OVERHEAD) : DEFAULT_FILESYSTEM_OVERHEAD;
  const t = await importTarget();
  const source = env.IMPORTER_SOURCE ?? 'http';
  if (source === 'none') {
    // A blank Filesystem volume gets an empty sparse disk.img; a blank Block volume is the device itself.
    if (t.kind === 'filesystem') {
      const path = join(t.dir, DISK_IMAGE);
      await writeFile(path, '', { flag: 'a' });
      // CDI's size: what the volume offers, capped at the size asked.
      const asked = parseQuantity(env.IMPORTER_IMAGE_SIZE ?? '');
      const offered = await filesystemDiskSize(t.dir, overhead);
      await truncate(path, asked > 0 ? Math.min(offered, asked - (asked % 512)) : offered);
    }
    return IMPORT_COMPLETE;
  }
  if (source !== 'http' && source !== 'registry') throw new CliError(`unsupported IMPORTER_SOURCE ${JSON.stringify(source)} (http, registry and none are)`);
  const url = env.IMPORTER_ENDPOINT;
  if (!url) throw new CliError('IMPORTER_ENDPOINT is not set');
  const o: HttpSourceOptions = {};
  if (env.IMPORTER_CERT_DIR) o.caPem = await caBundle(env.IMPORTER_CERT_DIR);
  if (env.IMPORTER_ACCESS_KEY_ID || env.IMPORTER_SECRET_KEY) o.basicAuth = { username: env.IMPORTER_ACCESS_KEY_ID ?? '', password: env.IMPORTER_SECRET_KEY ?? '' };
  // pullMethod node: the image's own container serves its disk here once it found it (registry-node-pull.ts).
  if (env.IMPORTER_READY_FILE) await waitForDiskServer(env.IMPORTER_READY_FILE, env.IMPORTER_ERROR_FILE);
  const reporter = await progressReporter(env.OWNER_UID ?? '');
  let r;
  try {
    const opened =
      source === 'registry'
        ? await openRegistrySource(url, REGISTRY_SCRATCH_DIR, { caPem: o.caPem, credentials: o.basicAuth, onProgress: (percent) => reporter.onProgress({ phase: 'download', percent }) })
        : await openHttpSource(url, o);
    r = await importImage({ source: opened, target: t, scratchDir: SCRATCH_DIR, filesystemOverhead: overhead, onProgress: reporter.onProgress });
  } finally {
    reporter.close();
    await rm(REGISTRY_SCRATCH_DIR, { recursive: true, force: true });
  }
  console.log(`imported a ${r.format} image of ${r.imageSizeBytes} bytes into a disk of ${r.diskSizeBytes} bytes`);
  // Lets the node-pull disk container end, so the pod can succeed.
  if (env.IMPORTER_DONE_FILE) await writeFile(env.IMPORTER_DONE_FILE, '');
  return IMPORT_COMPLETE;
}

export const cdiImportCommand: Command = {
  name: 'cdi-import',
  summary: "a DataVolume importer pod's entrypoint (inputs from IMPORTER_* variables)",
  usage: 'usage: cairn cdi-import   (run by importer pods; reads IMPORTER_SOURCE, IMPORTER_ENDPOINT, IMPORTER_CERT_DIR, IMPORTER_ACCESS_KEY_ID, IMPORTER_SECRET_KEY, FILESYSTEM_OVERHEAD)',
  hidden: true,
  options: {},
  run: () => runPodEntrypoint(() => runImport(process.env)),
};
