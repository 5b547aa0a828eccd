/**
 * What /version reports. The minor version must be 30 or later: the kubectl on many machines is a
 * dispatcher that picks its client by the server's minor version. Cairn's own version rides along.
 */
import { readFileSync } from 'node:fs';

export const KUBERNETES_COMPAT = { major: '1', minor: '32', patch: '0' };

let cairnVersion: string | undefined;
export function cairnPackageVersion(): string {
  if (!cairnVersion) {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    cairnVersion = pkg.version;
  }
  return cairnVersion;
}

export function versionInfo() {
  const v = cairnPackageVersion();
  return {
    major: KUBERNETES_COMPAT.major,
    minor: KUBERNETES_COMPAT.minor,
    gitVersion: `v${KUBERNETES_COMPAT.major}.${KUBERNETES_COMPAT.minor}.${KUBERNETES_COMPAT.patch}-cairn.${v.split('.')[1] ?? '0'}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '',
    goVersion: `node${process.versions.node}`,
    compiler: 'cairn',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
    cairnVersion: v,
  };
}
