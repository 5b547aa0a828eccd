/**
 * What a node tells the cluster about running VMs, as KubeVirt's virt-handler and device plugins
 * do: `kubevirt.io/schedulable=true`, the accelerator its guests get (`cairn.io/virt-accel`), and
 * the device resources launchers ask for — `devices.kubevirt.io/tun` always and
 * `devices.kubevirt.io/kvm` only when the bounded KVM probe booted a guest.
 */
import type { DevicePlugins } from '../../agent/pods/device-plugins.js';
import { type AccelProbe, probeAccel } from '../qemu/kvm-probe.js';
import { DEVICE_RESOURCE_COUNT, LABEL_ACCEL, LABEL_SCHEDULABLE, RESOURCE_KVM, RESOURCE_TUN } from '../launcher/layout.js';

/** /dev/net/tun and /dev/kvm (misc devices 10:200 and 10:232). */
const TUN = { path: '/dev/net/tun', type: 'c', major: 10, minor: 200 } as const;
const KVM = { path: '/dev/kvm', type: 'c', major: 10, minor: 232 } as const;

export interface CapabilityDeps {
  devicePlugins: DevicePlugins;
  setLabels: (l: Record<string, string>) => Promise<void>;
  dataDir: string;
  signal?: AbortSignal;
}

/** Advertises tun at once, then probes KVM (bounded; cached per kernel) and reports the answer. */
export async function advertiseVirtCapabilities(d: CapabilityDeps): Promise<AccelProbe> {
  d.devicePlugins.register({ resource: RESOURCE_TUN, count: DEVICE_RESOURCE_COUNT, devices: [TUN] });
  // KVM that cannot be proven is not offered: a probe that fails outright means TCG.
  const probe = await probeAccel({ dataDir: d.dataDir, signal: d.signal }).catch((e: Error): AccelProbe => ({ accel: 'tcg', detail: `KVM probe failed: ${e.message}`, hostKernel: '', checkedAt: new Date().toISOString() }));
  if (probe.accel === 'kvm') d.devicePlugins.register({ resource: RESOURCE_KVM, count: DEVICE_RESOURCE_COUNT, devices: [KVM] });
  await d.setLabels({ [LABEL_SCHEDULABLE]: 'true', [LABEL_ACCEL]: probe.accel });
  return probe;
}
