/**
 * A container's volumeDevices, as the kubelet's makeBlockVolumes and containerd's device
 * handling give them to runc: each names a Block volume, whose device (the node's loop device,
 * bound at the volume's host path) is created in the container at devicePath with its
 * major:minor and allowed in the device cgroup — read-only when the volume is.
 *
 * Failures are ContainerConfigError (CreateContainerConfigError), with the kubelet's messages.
 */
import { statSync } from 'node:fs';
import type { Container } from '../pods/api-types.js';
import { ContainerConfigError } from '../pods/errors.js';
import type { ContainerDevice } from '../runtime/oci-spec.js';
import type { PreparedVolume } from './plugin.js';

/** Linux's dev_t split (glibc's gnu_dev_major/minor), on a number that may exceed 32 bits. */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const lo = rdev % 2 ** 32;
  const hi = Math.floor(rdev / 2 ** 32);
  return { major: ((lo >>> 8) & 0xfff) | (hi & 0xfffff000), minor: (lo & 0xff) | ((lo >>> 12) & 0xfff00) | ((hi & 0xfff) << 20) };
}

export function containerDevices(container: Container, prepared: Map<string, PreparedVolume>): ContainerDevice[] {
  return (container.volumeDevices ?? []).map((d) => {
    const vol = prepared.get(d.name);
    if (!vol) throw new ContainerConfigError(`cannot find volume "${d.name}" to pass into container "${container.name}"`);
    if (!vol.blockVolume) throw new ContainerConfigError(`volume ${d.name} has volumeMode Filesystem, but is specified in volumeDevices`);
    const st = statSync(vol.hostPath);
    if (!st.isBlockDevice()) throw new ContainerConfigError(`volume ${d.name}: ${vol.hostPath} is not a block device`);
    return { path: d.devicePath, type: 'b', ...deviceNumbers(st.rdev), readOnly: vol.readOnly };
  });
}
