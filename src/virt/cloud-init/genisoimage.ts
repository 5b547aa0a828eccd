// Wrapper over genisoimage: an ISO 9660 image (with Joliet and Rock Ridge names, as cloud-init's
// own cloud-localds and KubeVirt make them) from a map of relative paths to contents, under a
// volume id the guest looks for (cidata, config-2).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runTool, ToolError } from '../../net/exec.js';

export class GenisoimageError extends ToolError {}

export class IsoInvalidError extends Error {
  override name = 'IsoInvalidError';
}

const VOLUME_ID = /^[A-Za-z0-9_-]{1,32}$/;
// Relative paths of plain names: no '..', no absolute paths, nothing genisoimage would read as an option.
const REL_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

/** Writes an ISO image at `output` holding `files` (path in the image → content). */
export async function makeIso(output: string, volumeId: string, files: Record<string, string | Buffer>): Promise<void> {
  if (!VOLUME_ID.test(volumeId)) throw new IsoInvalidError(`invalid ISO volume id ${JSON.stringify(volumeId)}`);
  if (!output.startsWith('/')) throw new IsoInvalidError(`ISO output must be an absolute path: ${JSON.stringify(output)}`);
  const stage = await mkdtemp(join(tmpdir(), 'cairn-iso-'));
  try {
    const root = join(stage, 'root');
    await mkdir(root);
    for (const [path, content] of Object.entries(files)) {
      if (!REL_PATH.test(path) || path.split('/').some((p) => p === '.' || p === '..')) throw new IsoInvalidError(`invalid path in ISO ${JSON.stringify(path)}`);
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
    const args = ['-quiet', '-output', output, '-volid', volumeId, '-joliet', '-rock', root];
    let r;
    try {
      r = await runTool('genisoimage', args, { timeoutMs: 60_000 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new GenisoimageError('genisoimage is not installed (install genisoimage)', ['genisoimage', ...args], '', null);
      throw e;
    }
    if (r.code !== 0) throw new GenisoimageError(`genisoimage: ${r.stderr.trim() || `exit code ${r.code}`}`, ['genisoimage', ...args], r.stderr, r.code);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
