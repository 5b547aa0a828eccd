/**
 * The launcher's `compute` container resources, as KubeVirt's virt-controller renders them
 * (pkg/virt-controller/services/renderresources.go, and GetMemoryOverhead of its KVM hypervisor
 * backend): the VMI's own requests and limits, a CPU request of vCPUs / cpuAllocationRatio when it
 * asks none, memory = the VMI's request (else its limit, else the guest memory) plus the overhead
 * of running the guest, and the tun device the masquerade binding needs.
 *
 * The overhead keeps KubeVirt's shape — page tables (guest / 512), 8 MiB per vCPU, 32 MiB of video
 * RAM when a graphics device is attached, and a fixed part — but the fixed part is Cairn's own:
 * KubeVirt counts virt-launcher-monitor, virt-launcher, virtlogd and virtqemud (190 MiB) beside
 * QEMU's 50 MiB, while a Cairn launcher runs QEMU alone (plus busybox udhcpd, under 1 MiB).
 * Measured here (QEMU 7.2, `-accel tcg -m 256 -nodefaults -display none`, the test guest booted and
 * ticking): RSS 249 MiB, of which 136 MiB is the guest's RAM block, 54 MiB TCG's translation
 * cache (it grows on demand up to QEMU's tb-size, 1 GiB by default, so the launcher should cap it)
 * and 59 MiB QEMU itself — libraries, device models, heap. Nodes without working KVM run guests
 * under TCG (KubeVirt's useEmulation), and the pod is rendered before it is known where it lands,
 * so both parts are always counted.
 */
import { binaryQuantity, MI } from '../../agent/node/quantity.js';
import { quantityValue } from '../../agent/pods/quantity.js';
import { RESOURCE_TUN } from '../launcher/layout.js';
import type { VmiSpecTyped } from '../launcher/vmi-types.js';
import { guestMemoryBytes, vcpusOf } from '../launcher/vmi-guest.js';

/** QEMU's own RSS beyond guest RAM (measured 59 MiB, rounded up). */
export const QEMU_OVERHEAD_BYTES = 64 * MI;
/** TCG's translation cache (measured 54 MiB for the booted test guest). */
export const TCG_CACHE_OVERHEAD_BYTES = 64 * MI;
/** KubeVirt's per-vCPU allowance (vCPU thread stacks and tables). */
export const VCPU_OVERHEAD_BYTES = 8 * MI;
/** KubeVirt's video RAM allowance when a graphics device (and so VNC) is attached. */
export const VIDEO_OVERHEAD_BYTES = 32 * MI;
/** KubeVirt's default cpuAllocationRatio: a vCPU asks a tenth of a core unless the VMI says. */
export const CPU_ALLOCATION_RATIO = 10;

type Resources = Record<string, string>;

const memoryOf = (q: string | undefined) => (q === undefined ? undefined : quantityValue(q));

/** What the launcher needs beyond the guest's RAM. */
export function memoryOverheadBytes(spec: VmiSpecTyped): number {
  // KubeVirt: one bit for every 512 bytes of RAM, counted in kilobytes rounded up.
  const pageTables = Math.floor((Math.ceil((guestMemoryBytes(spec) ?? 0) / 1000) * 1000) / 512);
  // Without a topology KubeVirt counts the CPU limit or request; the VMI defaults always give one here.
  const vcpus = spec.domain.cpu ? vcpusOf(spec) : Math.max(1, cpuCountOf(spec) ?? 1);
  const video = spec.domain.devices.autoattachGraphicsDevice === false ? 0 : VIDEO_OVERHEAD_BYTES;
  return pageTables + QEMU_OVERHEAD_BYTES + TCG_CACHE_OVERHEAD_BYTES + vcpus * VCPU_OVERHEAD_BYTES + video;
}

/** The CPU limit, else request, in whole cores rounded up (resource.Quantity.Value()). */
function cpuCountOf(spec: VmiSpecTyped): number | undefined {
  const r = spec.domain.resources;
  const q = r?.limits?.cpu ?? r?.requests?.cpu;
  return q === undefined ? undefined : quantityValue(q);
}

/** vCPUs / ratio as KubeVirt prints it: `100m` below one core, else cores (`1`, `1.5`). */
function cpuRequestFor(vcpus: number): string {
  const milli = (vcpus * 1000) / CPU_ALLOCATION_RATIO;
  return milli < 1000 ? `${milli}m` : String(milli / 1000);
}

export interface LauncherResources {
  requests: Resources;
  limits: Resources;
}

export function launcherResources(spec: VmiSpecTyped): LauncherResources {
  const r = spec.domain.resources ?? {};
  const requests: Resources = { ...r.requests };
  const limits: Resources = { ...r.limits };
  const overhead = memoryOverheadBytes(spec);

  requests.cpu ??= cpuRequestFor(vcpusOf(spec));
  const base = memoryOf(r.requests?.memory) ?? memoryOf(r.limits?.memory) ?? memoryOf(spec.domain.memory?.guest);
  if (base !== undefined) requests.memory = binaryQuantity(base + (r.overcommitGuestOverhead ? 0 : overhead));
  // The limit always carries the overhead: QEMU must fit under it whatever the request says.
  if (r.limits?.memory !== undefined) limits.memory = binaryQuantity(memoryOf(r.limits.memory)! + overhead);
  requests[RESOURCE_TUN] = '1';
  limits[RESOURCE_TUN] = '1';
  return { requests, limits };
}
