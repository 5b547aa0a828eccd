/**
 * The guest a VMI asks for, as both the launcher pod's resources and QEMU's machine read it:
 * its memory (KubeVirt: domain.memory.guest, else the memory request, else the limit) and its
 * CPU topology (sockets × cores × threads, each 1 when unset — KubeVirt's GetNumberOfVCPUs).
 */
import { quantityValue } from '../../agent/pods/quantity.js';
import type { VmiSpecTyped } from './vmi-types.js';

/** Bytes, or undefined when the VMI names no memory at all. */
export function guestMemoryBytes(spec: VmiSpecTyped): number | undefined {
  const r = spec.domain.resources;
  const q = spec.domain.memory?.guest ?? r?.requests?.memory ?? r?.limits?.memory;
  return q === undefined ? undefined : quantityValue(q);
}

export function cpuTopology(spec: VmiSpecTyped): { sockets: number; cores: number; threads: number } {
  const c = spec.domain.cpu;
  return { sockets: c?.sockets || 1, cores: c?.cores || 1, threads: c?.threads || 1 };
}

export function vcpusOf(spec: VmiSpecTyped): number {
  const t = cpuTopology(spec);
  return t.sockets * t.cores * t.threads;
}
