/**
 * How Cairn's own pod entrypoints (the CDI importer, upload server and clone source) end: the
 * outcome on stdout (or `error: ...` on stderr) and in the container's termination log, which the
 * DataVolume controller reads back from the pod's status; exit code 0 or 1.
 */
import { writeFile } from 'node:fs/promises';

export const TERMINATION_LOG = '/dev/termination-log';

/** Writes the termination message — only into the file the agent made for the container ('r+': never a new file in a host's /dev). */
export async function writeTerminationMessage(message: string): Promise<void> {
  await writeFile(TERMINATION_LOG, message, { flag: 'r+' }).catch(() => undefined);
}

/** Runs `work` as the container's main job; its result (or error) is the termination message. */
export async function runPodEntrypoint(work: () => Promise<string>): Promise<number> {
  let message: string;
  let code = 0;
  try {
    message = await work();
    console.log(message);
  } catch (e) {
    message = (e as Error).message;
    code = 1;
    console.error(`error: ${message}`);
  }
  await writeTerminationMessage(message);
  return code;
}
