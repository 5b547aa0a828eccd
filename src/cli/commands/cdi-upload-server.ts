/**
 * `cairn cdi-upload-server` (hidden): what the upload server pod of a DataVolume with
 * `source.upload` runs (src/virt/cdi/upload-pod.ts), on the importer's host-tools image. It
 * serves one upload on port 8443 (src/virt/cdi/upload-server.ts) into the claim at CDI's paths,
 * then exits 0 so the pod Succeeds and the DataVolume with it; its token comes from
 * UPLOAD_TOKEN (the upload Secret), FILESYSTEM_OVERHEAD as for the importer. The termination
 * message is `Upload Complete`, as the importer's is `Import Complete`.
 */
import { DEFAULT_FILESYSTEM_OVERHEAD } from '../../virt/cdi/importer.js';
import { UPLOAD_COMPLETE, UPLOAD_PORT, UPLOAD_TOKEN_ENV } from '../../virt/cdi/upload-api.js';
import { createUploadServer } from '../../virt/cdi/upload-server.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { writeTerminationMessage } from '../pod-entrypoint.js';
import { importTarget } from './cdi-import.js';

const SCRATCH_DIR = '/tmp/cdi-scratch';

export const cdiUploadServerCommand: Command = {
  name: 'cdi-upload-server',
  summary: "a DataVolume upload server pod's entrypoint (token from UPLOAD_TOKEN)",
  usage: 'usage: cairn cdi-upload-server   (run by upload server pods; reads UPLOAD_TOKEN, FILESYSTEM_OVERHEAD)',
  hidden: true,
  options: {},
  async run() {
    const token = process.env[UPLOAD_TOKEN_ENV];
    if (!token) throw new CliError(`${UPLOAD_TOKEN_ENV} is not set`);
    const overhead = process.env.FILESYSTEM_OVERHEAD ? Number(process.env.FILESYSTEM_OVERHEAD) : DEFAULT_FILESYSTEM_OVERHEAD;
    const { server, done } = createUploadServer({ token, target: await importTarget(), scratchDir: SCRATCH_DIR, filesystemOverhead: overhead, log: (l) => console.log(l) });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(UPLOAD_PORT, resolve));
    console.log(`Upload server listening on port ${UPLOAD_PORT}`);
    await done;
    server.close();
    server.closeAllConnections();
    console.log(UPLOAD_COMPLETE);
    // Only into the file the agent made for the container ('r+': never a new file in a host's /dev).
    await writeTerminationMessage(UPLOAD_COMPLETE);
    return 0;
  },
};
