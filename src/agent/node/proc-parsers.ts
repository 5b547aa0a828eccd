/**
 * Pure parsers for the kernel and OS files the node status reads (unit-tested on fixture text):
 * /proc/meminfo, /etc/os-release, cgroup memory.stat, /proc/loadavg, hugepage directory names.
 */

/** /proc/meminfo → field → value, in bytes for `kB` fields and as-is for counts (HugePages_Total). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(\s+kB)?\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * (m[3] ? 1024 : 1));
  }
  return out;
}

/** The OS image as cAdvisor reports it: PRETTY_NAME of os-release, else "Linux". */
export function parseOsRelease(text: string): string {
  for (const line of text.split('\n')) {
    const m = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (m) return m[1]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return 'Linux';
}

/** memory.stat (cgroup v1 or v2) → field → number. */
export function parseMemoryStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Threads the kernel runs now (sysinfo's procs): "0.00 0.24 0.95 1/90 12785" → 90. */
export function parseLoadavgThreads(text: string): number {
  const m = /^\S+ \S+ \S+ \d+\/(\d+) /.exec(`${text.trim()} `);
  if (!m) throw new Error(`unexpected /proc/loadavg: ${JSON.stringify(text.slice(0, 80))}`);
  return Number(m[1]);
}

/** A directory name under /sys/kernel/mm/hugepages ("hugepages-2048kB") → page size in bytes. */
export function hugepageSize(dirName: string): number | undefined {
  const m = /^hugepages-(\d+)kB$/.exec(dirName);
  return m ? Number(m[1]) * 1024 : undefined;
}
