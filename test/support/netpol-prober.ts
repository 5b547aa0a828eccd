/**
 * Probes from inside pods, fast enough for many 81-pair tables: one netprobe process per source
 * pod, run by root in the pod's own network namespace (`ip netns exec`), probing every target
 * at once. The traffic is the pod's own — its address, its routes, its node's rules — without a
 * round trip through the API server and the agent per probe.
 */
import { Ip, netns } from '../../src/net/ip.js';
import { type Outcome, Observation, type Probe, PROBES } from './netpol-truth-table.js';

export interface ProbePod {
  /** 'x/a' */
  ref: string;
  ip: string;
  /** The pod's network namespace. */
  netns: string;
}

/** The network namespace holding each address on its eth0, among namespaces named with this prefix. */
export async function podNamespacesByIP(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ns of await netns.list()) {
    if (!ns.name.startsWith(prefix)) continue;
    const addrs = await Ip.ns(ns.name)
      .ipv4Addrs('eth0')
      .catch(() => []);
    for (const a of addrs) out.set(a.split('/')[0]!, ns.name);
  }
  return out;
}

export interface ProbeTarget {
  /** Row/column name ('x/a') or any label. */
  ref: string;
  ip: string;
}

/** Probes from `from` to each target over `probes`; resolves with one outcome per (target, probe). */
export async function probeFrom(netprobe: string, from: ProbePod, targets: ProbeTarget[], probes: Probe[], timeoutMs: number): Promise<Map<string, Outcome>> {
  const args = targets.flatMap((t) => probes.map((p) => `${p.proto}:${t.ip}:${p.port}`));
  const r = await Ip.ns(from.netns).exec([netprobe, 'probe', String(timeoutMs), ...args], { timeoutMs: timeoutMs + 10_000 });
  const out = new Map<string, Outcome>();
  for (const line of r.stdout.trim().split('\n')) {
    const [target, outcome] = line.split(' ');
    out.set(target!, outcome as Outcome);
  }
  if (out.size !== args.length) throw new Error(`netprobe in ${from.ref} answered ${out.size} of ${args.length} probes:\n${r.stdout}${r.stderr}`);
  return out;
}

/** Every pod to every pod over every probe, all sources at once. */
export async function probeAll(netprobe: string, pods: ProbePod[], timeoutMs: number): Promise<Observation> {
  const obs = new Observation();
  await Promise.all(
    pods.map(async (from) => {
      const seen = await probeFrom(netprobe, from, pods, PROBES, timeoutMs);
      for (const to of pods) for (const p of PROBES) obs.set(from.ref, to.ref, p, seen.get(`${p.proto}:${to.ip}:${p.port}`)!);
    }),
  );
  return obs;
}
