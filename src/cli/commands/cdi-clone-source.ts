/**
 * `cairn cdi-clone-source` (hidden): the entrypoint of a host-assisted clone's source pod
 * (src/virt/cdi/clone-source-pod.ts). It sends the source claim's disk — disk.img of a
 * Filesystem claim, or the whole device of a Block claim — to the target's upload server
 * (UPLOAD_URL, with UPLOAD_TOKEN), which converts it into the target claim as an upload.
 * Reports as the importer does: progress as the metric on port 8443, the result as the
 * termination message (`Clone Complete`, or the upload server's refusal and a non-zero exit, so
 * the pod restarts and the DataVolume shows why).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CLONE_SOURCE_DEVICE, CLONE_SOURCE_DIR, CLONE_UPLOAD_URL_ENV } from '../../virt/cdi/clone-source-pod.js';
import { DISK_IMAGE } from '../../virt/cdi/importer.js';
import { CLONE_COMPLETE } from '../../virt/cdi/importer-protocol.js';
import { UPLOAD_TOKEN_ENV } from '../../virt/cdi/upload-api.js';
import { postImage } from '../../virt/cdi/upload-client.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { runPodEntrypoint } from '../pod-entrypoint.js';
import { blockDeviceSize, progressReporter } from './cdi-import.js';


async function runCloneSource(env: NodeJS.ProcessEnv): Promise<string> {
  const url = env[CLONE_UPLOAD_URL_ENV];
  const token = env[UPLOAD_TOKEN_ENV];
  if (!url || !token) throw new CliError(`${CLONE_UPLOAD_URL_ENV} and ${UPLOAD_TOKEN_ENV} must be set`);
  const isBlock = await stat(CLONE_SOURCE_DEVICE).then((s) => s.isBlockDevice(), () => false);
  const path = isBlock ? CLONE_SOURCE_DEVICE : join(CLONE_SOURCE_DIR, DISK_IMAGE);
  const size = isBlock ? await blockDeviceSize(path) : await stat(path).then((s) => s.size, () => {
    throw new CliError(`the source claim has no ${DISK_IMAGE}`);
  });
  const u = new URL(url);
  const reporter = await progressReporter(env.OWNER_UID ?? '');
  try {
    // Sending is the first half of the figure; the conversion in the upload server is not seen from here.
    await postImage({
      via: { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) },
      body: createReadStream(path),
      size,
      token,
      what: 'the source disk',
      onProgress: (sent, total) => reporter.onProgress({ phase: 'download', percent: total ? (100 * sent) / total : 100 }),
    });
  } finally {
    reporter.close();
  }
  return CLONE_COMPLETE;
}

export const cdiCloneSourceCommand: Command = {
  name: 'cdi-clone-source',
  summary: "a host-assisted clone's source pod entrypoint (inputs from UPLOAD_URL, UPLOAD_TOKEN)",
  usage: 'usage: cairn cdi-clone-source   (run by clone source pods; reads UPLOAD_URL, UPLOAD_TOKEN, OWNER_UID)',
  hidden: true,
  options: {},
  run: () => runPodEntrypoint(() => runCloneSource(process.env)),
};
