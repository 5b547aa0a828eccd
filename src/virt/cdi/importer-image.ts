/**
 * The CDI importer image every node carries, `cairn.local/cdi-importer:<cairn version>`: a
 * host-tools image (src/agent/images/host-tools-image.ts) whose entrypoint is `cairn cdi-import`,
 * run with the node's own node, qemu-img and xz. The DataVolume controller names it in the
 * importer pods it makes; the tag follows the Cairn version so controller and agents agree.
 */
import { cairnPackageVersion } from '../../api/version.js';
import { buildHostToolsImage, type BuiltHostToolsImage, cairnArgv, cairnInstallPaths, HOST_SYSTEM_DIRS } from '../../agent/images/host-tools-image.js';

export const CDI_IMPORTER_REPO = 'cairn.local/cdi-importer';

export const cdiImporterImage = (): string => `${CDI_IMPORTER_REPO}:${cairnPackageVersion()}`;

export function buildCdiImporterImage(): BuiltHostToolsImage {
  return buildHostToolsImage({
    repo: CDI_IMPORTER_REPO,
    tag: cairnPackageVersion(),
    entrypoint: cairnArgv('cdi-import'),
    binds: [...HOST_SYSTEM_DIRS, ...cairnInstallPaths()],
  });
}
