/**
 * The contract between the VMI controller, which makes a VMI's launcher pod, and the node's
 * VirtHandler, which starts QEMU in it: the pod's names and labels, its volumes, and where every
 * file sits inside the `compute` container. Paths follow KubeVirt's virt-launcher where it has
 * one, so users reading KubeVirt's docs find things where they expect them.
 *
 * Hand-off: the container's entrypoint (src/virt/launcher/launcher-image.ts) waits for
 * `PRIVATE_DIR/argv` (QEMU's argument vector, one argument per line, written whole by the
 * VirtHandler once the pod's network is set up), starts the DHCP server when `udhcpd.conf` is
 * there, and execs QEMU. QEMU's exit ends the container, so the pod's phase is the guest's.
 */

/** The launcher pod's QEMU container (KubeVirt's name). */
export const COMPUTE_CONTAINER = 'compute';

/** Labels KubeVirt puts on a launcher pod; the VMI's own labels are added too. */
export const LABEL_APP = 'kubevirt.io';
export const APP_VIRT_LAUNCHER = 'virt-launcher';
/** The VMI's uid. */
export const LABEL_CREATED_BY = 'kubevirt.io/created-by';
/** The VMI's name, on the pod (KubeVirt's `vm.kubevirt.io/name`). */
export const LABEL_VM_NAME = 'vm.kubevirt.io/name';
/** Annotation naming the VMI (KubeVirt's `kubevirt.io/domain`). */
export const ANN_DOMAIN = 'kubevirt.io/domain';
/** Annotation on a migration target pod naming its VirtualMachineInstanceMigration's uid. */
export const LABEL_MIGRATION_JOB_UID = 'kubevirt.io/migrationJobUID';

/** The launcher pod's name prefix; the pod is generateName'd (`virt-launcher-NAME-xxxxx`). */
export const launcherPodPrefix = (vmiName: string) => `virt-launcher-${vmiName}-`;
/** The selector for a VMI's launcher pods. */
export const launcherSelector = (vmiUid: string) => `${LABEL_APP}=${APP_VIRT_LAUNCHER},${LABEL_CREATED_BY}=${vmiUid}`;

/** emptyDir volume for QEMU's sockets, logs, argv and generated ISOs. */
export const PRIVATE_VOLUME = 'private';
export const PRIVATE_DIR = '/var/run/kubevirt-private';
/** emptyDir volume for emptyDisk images and ephemeral overlays. */
export const EPHEMERAL_VOLUME = 'ephemeral-disks';
export const EPHEMERAL_DIR = '/var/run/kubevirt-ephemeral-disks';

/** Files in PRIVATE_DIR. */
export const FILES = {
  argv: 'argv',
  qmp: 'qmp.sock',
  serial: 'serial.sock',
  serialLog: 'serial.log',
  vnc: 'vnc.sock',
  guestAgent: 'qga.sock',
  pid: 'qemu.pid',
  dhcpConf: 'udhcpd.conf',
  /** Written by the entrypoint when QEMU cannot be started (the pod's termination message). */
  launchError: 'launch-error',
} as const;

/** Where a Filesystem-mode PVC or DataVolume volume is mounted; the disk is `disk.img` in it (KubeVirt's layout). */
export const diskVolumeDir = (volume: string) => `${PRIVATE_DIR}/vmi-disks/${volume}`;
export const DISK_IMAGE = 'disk.img';
/** Where a Block-mode PVC or DataVolume is handed to the container (volumeDevices devicePath). */
export const blockDevicePath = (volume: string) => `/dev/${volume}`;
/** Pod volumes for configMap / secret / serviceAccount disks are mounted here; the handler makes an ISO of each. */
export const configVolumeDir = (kind: 'config-map' | 'secret' | 'service-account', volume: string) => `${PRIVATE_DIR}/${kind}-disks/${volume}`;
/** The generated ISO of a cloud-init, configMap, secret or serviceAccount volume. */
export const isoPath = (volume: string) => `${PRIVATE_DIR}/iso/${volume}.iso`;
/** An emptyDisk's image. */
export const emptyDiskPath = (volume: string) => `${EPHEMERAL_DIR}/${volume}.qcow2`;

/**
 * Extended resources the node advertises and the launcher's `compute` container requests, as
 * KubeVirt's device plugins: the agent gives a container the device when it asks for the
 * resource. kvm only where the node's KVM probe boots a guest.
 */
export const RESOURCE_KVM = 'devices.kubevirt.io/kvm';
export const RESOURCE_TUN = 'devices.kubevirt.io/tun';
/** How many of each a node advertises (KubeVirt's device plugins advertise 1000 too). */
export const DEVICE_RESOURCE_COUNT = '1k';
/**
 * Every node whose VirtHandler runs carries KubeVirt's `kubevirt.io/schedulable=true`; launcher
 * pods select it, as KubeVirt's do.
 */
export const LABEL_SCHEDULABLE = 'kubevirt.io/schedulable';
/**
 * The accelerator the node's guests run on (`kvm` or `tcg`), on the node as a label and on each
 * VMI as an annotation: a launcher requests tun only, so guests run under TCG where KVM does not
 * work (KubeVirt's useEmulation), and users see which one they got.
 */
export const LABEL_ACCEL = 'cairn.io/virt-accel';
/** A containerDisk's image, copied out of its OCI image (KubeVirt keeps containerDisks ephemeral too). */
export const containerDiskPath = (volume: string) => `${EPHEMERAL_DIR}/container-disks/${volume}.img`;
/** Where a containerDisk image keeps its disk (KubeVirt's convention: the one file under /disk). */
export const CONTAINER_DISK_DIR = '/disk';
