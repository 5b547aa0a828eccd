/**
 * What a node reports about its machine, read the way the kubelet (through cAdvisor) reads it:
 * capacity — cpu = cores, memory = MemTotal, hugepages-<size> per supported page size, pods =
 * max pods, ephemeral-storage = size of the filesystem holding the data dir; allocatable =
 * capacity minus the kubelet's default hard-eviction reserve (memory.available 100Mi,
 * nodefs.available 10%) and minus pre-allocated huge pages for memory; nodeInfo — kernel, OS
 * image (PRETTY_NAME of /etc/os-release), Go-style architecture, machine/boot/system ids.
 * The parsers are pure (unit-tested on fixture text); the readers only do I/O.
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { versionInfo } from '../../api/version.js';
import { binaryQuantity } from './quantity.js';
import { EVICTION_HARD } from './pressure.js';
import { hugepageSize, parseMeminfo, parseOsRelease } from './proc-parsers.js';

export interface HostFacts {
  cpus: number;
  memTotalBytes: number;
  hugepages: { pageBytes: number; count: number }[];
  /** Size of the filesystem holding the data dir. */
  fsCapacityBytes: number;
  maxPods: number;
}

export interface NodeResources {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
}

/** core/v1 NodeSystemInfo. */
export interface NodeSystemInfo {
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  kubeletVersion: string;
  kubeProxyVersion: string;
  operatingSystem: string;
  architecture: string;
}

/** Node's process.arch in Go's GOARCH spelling (kubernetes.io/arch, nodeInfo.architecture). */
export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
  return map[arch] ?? arch;
}

/** Capacity and allocatable from the machine's facts (kubelet's node status setters + allocatable reservation). */
export function nodeResources(f: HostFacts, overrides: Record<string, string> = {}): NodeResources {
  const capacity: Record<string, string> = {
    cpu: String(f.cpus),
    memory: binaryQuantity(f.memTotalBytes),
    pods: String(f.maxPods),
    'ephemeral-storage': binaryQuantity(f.fsCapacityBytes),
  };
  let hugeBytes = 0;
  for (const h of f.hugepages) {
    capacity[`hugepages-${binaryQuantity(h.pageBytes)}`] = binaryQuantity(h.pageBytes * h.count);
    hugeBytes += h.pageBytes * h.count;
  }
  const allocatable: Record<string, string> = { ...capacity };
  allocatable.memory = binaryQuantity(Math.max(0, f.memTotalBytes - hugeBytes - EVICTION_HARD.memoryAvailableBytes));
  const fsReserve = Math.floor((f.fsCapacityBytes * EVICTION_HARD.nodefsAvailablePercent) / 100);
  allocatable['ephemeral-storage'] = binaryQuantity(Math.max(0, f.fsCapacityBytes - fsReserve));
  for (const [k, v] of Object.entries(overrides)) {
    capacity[k] = v;
    allocatable[k] = v;
  }
  return { capacity: sortKeys(capacity), allocatable: sortKeys(allocatable) };
}

const sortKeys = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

const readText = (path: string) => readFile(path, 'utf8').then((t) => t.trim(), () => '');

export async function readHostFacts(dataDir: string, maxPods: number): Promise<HostFacts> {
  const mem = parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
  const fs = await statfs(dataDir);
  const hugepages: HostFacts['hugepages'] = [];
  const dirs = await readdir('/sys/kernel/mm/hugepages').catch(() => [] as string[]);
  for (const d of dirs.sort()) {
    const pageBytes = hugepageSize(d);
    if (pageBytes === undefined) continue;
    const count = Number(await readText(`/sys/kernel/mm/hugepages/${d}/nr_hugepages`)) || 0;
    hugepages.push({ pageBytes, count });
  }
  return {
    cpus: cpus().length,
    memTotalBytes: mem.get('MemTotal') ?? 0,
    hugepages,
    fsCapacityBytes: fs.blocks * fs.bsize,
    maxPods,
  };
}

/** nodeInfo; `runtimeVersion` is runc's version number (`runc --version`). */
export async function readSystemInfo(runtimeVersion: string): Promise<NodeSystemInfo> {
  const osRelease = (await readFile('/etc/os-release', 'utf8').catch(() => readFile('/usr/lib/os-release', 'utf8').catch(() => ''))) as string;
  return {
    machineID: (await readText('/etc/machine-id')) || (await readText('/var/lib/dbus/machine-id')),
    systemUUID: await readText('/sys/class/dmi/id/product_uuid'),
    bootID: await readText('/proc/sys/kernel/random/boot_id'),
    kernelVersion: release(),
    osImage: parseOsRelease(osRelease),
    containerRuntimeVersion: `runc://${runtimeVersion}`,
    kubeletVersion: versionInfo().gitVersion,
    kubeProxyVersion: '',
    operatingSystem: 'linux',
    architecture: goArch(),
  };
}
