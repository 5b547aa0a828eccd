/**
 * The virt-launcher image every node carries, `cairn.local/virt-launcher:<cairn version>`: a
 * host-tools image (src/agent/images/host-tools-image.ts), so QEMU, busybox's udhcpd and the
 * firmware are the node's own. Its entrypoint is a fixed script — no input is ever part of a
 * shell string: it waits for the VirtHandler's `argv` file (one argument per line, the handler
 * refuses arguments holding a newline), starts the DHCP server when the masquerade binding wrote
 * its config, and execs QEMU, which then is the container's main process.
 */
import { cairnPackageVersion } from '../../api/version.js';
import { buildHostToolsImage, type BuiltHostToolsImage, HOST_SYSTEM_DIRS } from '../../agent/images/host-tools-image.js';
import { FILES, PRIVATE_DIR } from './layout.js';

export const VIRT_LAUNCHER_REPO = 'cairn.local/virt-launcher';

export const virtLauncherImage = (): string => `${VIRT_LAUNCHER_REPO}:${cairnPackageVersion()}`;

const ENTRYPOINT_SCRIPT = [
  'set -eu',
  `d=${PRIVATE_DIR}`,
  `while [ ! -f "$d/${FILES.argv}" ]; do sleep 0.1; done`,
  'set --',
  `while IFS= read -r a; do set -- "$@" "$a"; done < "$d/${FILES.argv}"`,
  `if [ -f "$d/${FILES.dhcpConf}" ]; then busybox udhcpd -f "$d/${FILES.dhcpConf}" >"$d/udhcpd.log" 2>&1 & fi`,
  'exec "$@"',
].join('\n');

/**
 * The launcher's preStop hook: wait until QEMU (the container's PID 1) is gone. The VirtHandler
 * presses the ACPI power button when the pod starts terminating, so the guest shuts down
 * cleanly within the grace period; the runtime's SIGTERM (QEMU quits at once) only follows this.
 */
export const LAUNCHER_PRESTOP: readonly string[] = ['/bin/sh', '-c', 'while kill -0 1 2>/dev/null; do sleep 0.2; done'];

export function buildVirtLauncherImage(): BuiltHostToolsImage {
  return buildHostToolsImage({
    repo: VIRT_LAUNCHER_REPO,
    tag: cairnPackageVersion(),
    entrypoint: ['/bin/sh', '-c', ENTRYPOINT_SCRIPT, 'virt-launcher'],
    // /usr/share holds QEMU's firmware (SeaBIOS, option ROMs) on Debian; it is under /usr already.
    binds: [...HOST_SYSTEM_DIRS],
  });
}
