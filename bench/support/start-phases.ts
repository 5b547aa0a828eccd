/**
 * Where a pod's start time goes, read without touching the agent: each step of the agent's start
 * path leaves a file behind, and a file's birth time (statx; ext4 records it) is when that step
 * got there. With the benchmark's watch times and the IPAM allocation time this splits
 * created → Running into:
 *
 *   created (create call returned / first watch event)
 *   ─ pods/<uid>/ made                         scheduler, watch delivery to the agent, work queue
 *   ─ IPAM allocatedAt                          pod.json, runtime listing, sandbox start
 *   ─ pods/<uid>/etc/hosts                      netns, veth, addresses, routes, /etc files
 *   ─ volumes/kubernetes.io~projected/<v>/..data  service account token volume (TokenRequest, tmpfs)
 *   ─ pods/<uid>/termination/<c>-0              image check, env
 *   ─ bundles/<id>/rootfs                       leftover check (runtime status, mount table, rm)
 *   ─ bundles/<id>/config.json                  image rootfs (overlay mount) and the OCI spec
 *   ─ runtime/containers/<id>/shim.json         container state files, start()
 *   ─ runtime/containers/<id>/shim.pid          shim spawn (a Node process starting)
 *   ─ runtime/containers/<id>/container.pid     `runc run`: namespaces, cgroups, mounts, exec
 *   ─ Running seen by the watch                 agent notices (10 ms poll), status, PATCH, watch
 *
 * Paths are those of src/agent/pods/pod-records.ts, src/agent/volumes and src/agent/runtime.
 * Watch times include the watch's own delivery delay, so the first and last phases carry it.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { round, roundSummary, summarize, type Summary } from './stats.js';

export const PHASES = [
  'created → agent starts it (scheduler, watch, queue)',
  'pod.json, runtime listing → IPAM',
  'netns, veth, addresses, /etc files',
  'service account token volume',
  'image check, env',
  'leftover check (status, mount table)',
  'rootfs overlay mount + OCI spec',
  'container state files, start()',
  'shim spawn (Node process start)',
  'runc run → container pid',
  'status post → Running on watch',
] as const;

export interface PodMarks {
  name: string;
  node: number;
  /** Absolute ms, one per PHASES boundary (PHASES.length + 1); NaN where missing. */
  marks: number[];
}

function birth(path: string): number {
  try {
    const s = statSync(path);
    // birthtime is 0 where the filesystem does not record it; mtime is the next best thing.
    return s.birthtimeMs > 0 ? s.birthtimeMs : s.mtimeMs;
  } catch {
    return NaN;
  }
}

/** Birth of `..data` in the pod's first projected volume (the service account token's). */
function projectedVolumeWritten(podDir: string): number {
  const dir = join(podDir, 'volumes', 'kubernetes.io~projected');
  try {
    const first = readdirSync(dir)[0];
    return first ? birth(join(dir, first, '..data')) : NaN;
  } catch {
    return NaN;
  }
}

/** The marks of one single-container pod's first instance on the node whose data dir is `nodeDir`. */
export function podMarks(o: { name: string; node: number; nodeDir: string; uid: string; container: string; created: number; ipamAllocatedAt: number; running: number }): PodMarks {
  const id = `${o.uid}-${o.container}-0`;
  const pod = join(o.nodeDir, 'pods', o.uid);
  const state = join(o.nodeDir, 'runtime', 'containers', id);
  const marks = [
    o.created,
    birth(pod),
    o.ipamAllocatedAt,
    birth(join(pod, 'etc', 'hosts')),
    projectedVolumeWritten(pod),
    birth(join(pod, 'termination', `${o.container}-0`)),
    birth(join(pod, 'bundles', id, 'rootfs')),
    birth(join(pod, 'bundles', id, 'config.json')),
    birth(join(state, 'shim.json')),
    birth(join(state, 'shim.pid')),
    birth(join(state, 'container.pid')),
    o.running,
  ];
  return { name: o.name, node: o.node, marks };
}

export interface PhaseSummary {
  phase: string;
  /** Milliseconds, over the pods that have both marks. */
  ms: Summary;
  /** Mean of the phase as a share of the mean created → Running. */
  shareOfMeanPct: number;
}

export function summarizePhases(pods: PodMarks[]): PhaseSummary[] {
  const total = pods.map((p) => p.marks[p.marks.length - 1]! - p.marks[0]!).filter(Number.isFinite);
  const meanTotal = total.reduce((a, b) => a + b, 0) / Math.max(1, total.length);
  return PHASES.map((phase, i) => {
    const s = summarize(pods.map((p) => p.marks[i + 1]! - p.marks[i]!).filter(Number.isFinite));
    return { phase, ms: roundSummary(s), shareOfMeanPct: round((s.mean / meanTotal) * 100, 1) };
  });
}
