/**
 * VM benchmark (issue 8, Performance) on a real 2-node `cairn up` cluster (unique name, ports and
 * networks; always `cairn down --purge` at the end, also on failure or Ctrl-C):
 *
 *   1. start latency: BENCH_VMS VirtualMachines (the offline test guest, 96 MiB, 1 vCPU, a
 *      DataVolume root disk and a cloudInitNoCloud disk), started one after another — each
 *      deleted (launcher pod gone) before the next — from the create call to the guest's
 *      `cairn-guest: init` line, with the steps in between as watches see them (VMI created,
 *      launcher pod scheduled, pod Running, VMI Running = QEMU started by the VirtHandler).
 *      The root disks are imported before timing starts (one DataVolume per VM, over HTTP from
 *      the host's bridge address), so no import is in the latency.
 *   2. the same guest under plain QEMU on the same host (bench/support/vm-plain-boot.ts),
 *      QEMU start → init, one boot after each VM start (interleaved: the same machine load on
 *      both sides): the ratio and the absolute overhead.
 *   3. density: VMs of the same 96 MiB (the least the test guest boots in) pinned to node-1, one
 *      after another until BENCH_DENSITY_MAX or the scheduler refuses one, all reaching init;
 *      then each launcher pod's memory (its cgroup) beyond the guest's RAM, next to the memory
 *      the pod requests.
 *   4. live migration (bench/support/vm-migration.ts): one VM from a containerDisk migrated back
 *      and forth BENCH_MIGRATIONS times — VMIM create → Succeeded, QEMU's downtime and total, the
 *      longest silence a client of the guest sees — each followed by a plain QEMU-to-QEMU
 *      migration of the same guest (bench/support/vm-plain-migration.ts).
 *
 * Everything runs on node-1 (the DataVolumes are imported there with node-2 cordoned, and the
 * VMs select node-1): node-2 only makes the cluster the 2-node shape of the other benches.
 * The guest's serial log is read through /proc/<QEMU pid>/root (bench/support/vm-guest-probe.ts).
 *
 * Output: a table on stdout and bench/results/vm.json (vm.reduced.json for other sizes).
 *
 *   npm run bench:vm
 *   BENCH_VMS=3 BENCH_DENSITY_MAX=3 npm run bench:vm     quick iteration
 *   BENCH_VM_PARTS=migration npm run bench:vm            one part only (start, density, migration)
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, HttpsTransport, loadKubeconfig, type ResourceRef } from '../src/client/index.js';
import { quantityValue } from '../src/agent/pods/quantity.js';
import { COMPUTE_CONTAINER, LABEL_ACCEL, LABEL_VM_NAME } from '../src/virt/launcher/layout.js';
import type { Accel } from '../src/virt/qemu/qemu-args.js';
import { testGuest } from '../src/virt/test-guest.js';
import { until } from '../test/support/until.js';
import { BenchCluster } from './support/bench-cluster.js';
import { repoRoot } from './support/server-process.js';
import { round, summarize, type Summary } from './support/stats.js';
import { findQemuPid, launcherArgvWrittenAt, launcherMemory, launcherSerialLog, waitForInit } from './support/vm-guest-probe.js';
import { GOAL_DOWNTIME_MS, GOAL_TOTAL_RATIO, migrationBench, type MigrationResults } from './support/vm-migration.js';
import { PlainQemuBoots } from './support/vm-plain-boot.js';
import { VmTimeline } from './support/vm-timeline.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
/**
 * Guest RAM: the issue asks 64 MiB, but the test guest (syslinux loading an 8 MiB Debian kernel
 * and a 2.3 MiB initramfs) does not boot in less than 96 MiB — at 64 syslinux fails ("Booting
 * kernel failed: Invalid argument"), at 80 the kernel cannot unpack its initramfs.
 */
const PARTS = ['start', 'density', 'migration'] as const;
const parts = new Set((process.env['BENCH_VM_PARTS'] ?? PARTS.join(',')).split(',').map((p) => p.trim()));
for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_VM_PARTS: unknown part ${JSON.stringify(p)} (${PARTS.join(', ')})`);
const cfg = { vms: env('BENCH_VMS', 20), densityMax: env('BENCH_DENSITY_MAX', 16), guestMemoryMiB: env('BENCH_GUEST_MIB', 96), bootTimeoutS: env('BENCH_BOOT_TIMEOUT_S', 300), migrations: env('BENCH_MIGRATIONS', 10), parts: [...parts] };
const fullSize = cfg.vms === 20 && cfg.densityMax === 16 && cfg.guestMemoryMiB === 96 && cfg.migrations === 10 && parts.size === PARTS.length;
const NS = 'vmbench';
const NODE = 'node-1';
const GOAL_OVERHEAD_MS = 1000;
const VMS: ResourceRef = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines', namespaced: true, kind: 'VirtualMachine' };
const USER_DATA = '#!/bin/sh\necho bench > /www/bench.txt\n';
const MI = 1024 * 1024;

interface StartSample {
  vm: string;
  /** ms since the create call, per step. */
  vmiCreated: number;
  podScheduled: number;
  podRunning: number;
  /** The VirtHandler wrote QEMU's argv into the launcher (QEMU is exec'd right then). */
  qemuArgv: number;
  vmiRunning: number;
  guestInit: number;
  /** qemuArgv → guestInit: the VM's counterpart of plain QEMU's start → init. */
  qemuToInit: number;
}

interface DensitySample {
  vm: string;
  startMs: number;
  podCgroupMiB: number;
  podRssMiB: number;
  qemuRssMiB: number;
  /** null when the pod's cgroup has no memory limit. */
  podLimitMiB: number | null;
  overheadMiB: number;
  requestMiB: number;
}

interface Results {
  config: typeof cfg;
  machine: {
    cpus: number;
    memoryMiB: number;
    kernel: string;
    accel?: Accel;
    loadBefore: number[];
    /** 1-minute load average sampled every 30 s through the run (the machine is shared). */
    loadDuring?: Summary;
    loadAfter?: number[];
  };
  importMs?: number;
  start?: { mode: string; steps: Record<keyof Omit<StartSample, 'vm'>, Summary>; samples: StartSample[] };
  plainQemu?: { initMs: Summary; samples: number[] };
  comparison?: {
    ratioP50: number;
    overheadP50Ms: number;
    ratioP99: number;
    overheadP99Ms: number;
    goalOverheadMs: number;
    met: boolean;
    /** The launcher's QEMU exec → init over plain QEMU's start → init (same guest boot, in a pod). */
    guestBootRatioP50: number;
  };
  density?: { node: string; count: number; stoppedBecause: string; perVm: DensitySample[]; overheadMiB: Summary; requestMiB: number };
  liveMigration?: MigrationResults;
  /** Watch failures (re-opened); the times around them may be late. */
  watchErrors?: string[];
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function must(cluster: BenchCluster, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await cluster.kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const dvName = (i: number) => `root-${i}`;

const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' };

/** The accelerator the node's KVM probe settled on (its label, once the probe has answered). */
async function nodeAccel(client: Client): Promise<Accel> {
  return until('node-1 to name its accelerator', async () => (await client.resource<{ metadata: { labels?: Record<string, string> } }>(NODES).get(NODE)).metadata.labels?.[LABEL_ACCEL] as Accel | undefined, 300_000, 1000);
}

function vmObject(name: string, dv: string) {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': NODE },
          terminationGracePeriodSeconds: 5,
          domain: {
            cpu: { cores: 1 },
            memory: { guest: `${cfg.guestMemoryMiB}Mi` },
            devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }, { name: 'cloudinit', disk: { bus: 'virtio' } }] },
          },
          volumes: [{ name: 'root', dataVolume: { name: dv } }, { name: 'cloudinit', cloudInitNoCloud: { userData: USER_DATA } }],
        },
      },
    },
  };
}

/** One DataVolume per VM, imported on node-1 (node-2 cordoned meanwhile) before any timing. */
async function importDisks(cluster: BenchCluster, count: number): Promise<number> {
  const disk = readFileSync(testGuest().diskQcow2);
  const server: Server = createServer((req, res) => (req.url === '/disk.qcow2' ? res.writeHead(200, { 'content-length': disk.length }).end(disk) : res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, `${cluster.spec.underlayPrefix}.1`, resolve));
  const url = `http://${cluster.spec.underlayPrefix}.1:${(server.address() as AddressInfo).port}/disk.qcow2`;
  const t0 = performance.now();
  try {
    await must(cluster, ['cordon', 'node-2']);
    const dvs = Array.from({ length: count }, (_, i) => ({
      apiVersion: 'cdi.kubevirt.io/v1beta1',
      kind: 'DataVolume',
      metadata: { name: dvName(i), namespace: NS, annotations: { 'cdi.kubevirt.io/storage.bind.immediate.requested': 'true' } },
      spec: { source: { http: { url } }, storage: { resources: { requests: { storage: '64Mi' } } } },
    }));
    await must(cluster, ['apply', '-f', '-'], { input: dvs.map((d) => JSON.stringify(d)).join('\n') });
    await until('every DataVolume Succeeded', async () => {
      const phases = (await must(cluster, ['get', 'dv', '-n', NS, '-o', 'jsonpath={.items[*].status.phase}'])).split(/\s+/).filter(Boolean);
      if (phases.includes('Failed')) throw new Error(`a DataVolume import failed: ${phases.join(' ')}`);
      return phases.length === count && phases.every((p) => p === 'Succeeded');
    }, cfg.bootTimeoutS * 1000 * 2, 2000);
    return performance.now() - t0;
  } finally {
    await cluster.kubectl(['uncordon', 'node-2']);
    await new Promise((r) => server.close(r));
  }
}

/** The scheduler refused a launcher pod (density's stop condition). */
class RefusedError extends Error {
  override name = 'RefusedError';
}

/** Waits for VM `name` (created at `t0`) to reach guest init; `undefined` when the scheduler refused its pod. */
async function bootOne(timeline: VmTimeline, name: string, t0: number): Promise<{ initAt: number; pid: number; argvAt: number } | undefined> {
  let pid: number | undefined;
  const deadline = t0 + cfg.bootTimeoutS * 1000;
  const initAt = await waitForInit(() => {
    const t = timeline.vms.get(name);
    if (t?.unschedulable) throw new RefusedError(t.unschedulable);
    // QEMU cannot run before the pod is on a node: no /proc scans before that.
    if (pid === undefined && t?.podScheduled !== undefined) pid = findQemuPid(`${NS}_${name}`);
    return pid === undefined ? undefined : launcherSerialLog(pid);
  }, deadline - performance.now(), `VM ${name}`).catch((e: unknown) => {
    if (e instanceof RefusedError) return undefined;
    throw e;
  });
  return initAt === undefined ? undefined : { initAt, pid: pid!, argvAt: launcherArgvWrittenAt(pid!) };
}

async function deleteVm(cluster: BenchCluster, client: Client, name: string): Promise<void> {
  await client.resource(VMS).delete(name, { namespace: NS });
  await until(`VM ${name}'s VMI and launcher pod gone`, async () => {
    const pods = await must(cluster, ['get', 'pods', '-n', NS, '-l', `${LABEL_VM_NAME}=${name}`, '-o', 'name']);
    const vmi = await cluster.kubectl(['get', 'vmi', '-n', NS, name, '-o', 'name']);
    return !pods.trim() && vmi.code !== 0;
  }, 180_000, 1000);
}

/**
 * The VM starts, each followed by a plain-QEMU boot of the same guest once the VM is gone:
 * interleaved, so both sides see the same load on a machine other engineers share.
 */
async function startLatency(cluster: BenchCluster, client: Client, timeline: VmTimeline, results: Results): Promise<void> {
  const samples: StartSample[] = [];
  const plain: number[] = [];
  let plainBoots: PlainQemuBoots | undefined;
  try {
    for (let i = 0; i < cfg.vms; i++) {
      const name = `lat-${i}`;
      const t0 = performance.now();
      await client.resource(VMS).create(vmObject(name, dvName(i)));
      const booted = await bootOne(timeline, name, t0);
      if (!booted) throw new Error(`VM ${name}: the scheduler refused its launcher pod: ${timeline.vms.get(name)?.unschedulable}`);
      // The VMI's Running update may land after the guest printed its first line.
      await until(`VMI ${name} Running`, () => timeline.vms.get(name)?.vmiRunning !== undefined, 60_000, 100);
      const t = timeline.vms.get(name)!;
      samples.push({ vm: name, vmiCreated: t.vmiCreated! - t0, podScheduled: t.podScheduled! - t0, podRunning: t.podRunning! - t0, qemuArgv: booted.argvAt - t0, vmiRunning: t.vmiRunning! - t0, guestInit: booted.initAt - t0, qemuToInit: booted.initAt - booted.argvAt });
      if (i === 0) {
        results.machine.accel = (await must(cluster, ['get', 'vmi', '-n', NS, name, '-o', `jsonpath={.metadata.annotations.${LABEL_ACCEL.replace(/\./g, '\\.')}}`])) as Accel;
        plainBoots = await PlainQemuBoots.prepare({ accel: results.machine.accel || 'tcg', memoryMiB: cfg.guestMemoryMiB, userData: USER_DATA, parentDir: cluster.spec.dir, timeoutMs: cfg.bootTimeoutS * 1000 });
      }
      await deleteVm(cluster, client, name);
      plain.push(await plainBoots!.boot());
      console.error(`# ${name}: guest init ${round(booted.initAt - t0, 0)} ms after create; plain QEMU ${round(plain.at(-1)!, 0)} ms`);
    }
  } finally {
    await plainBoots?.close();
  }
  const steps = Object.fromEntries((['vmiCreated', 'podScheduled', 'podRunning', 'qemuArgv', 'vmiRunning', 'guestInit', 'qemuToInit'] as const).map((k) => [k, summarize(samples.map((s) => s[k]))])) as NonNullable<Results['start']>['steps'];
  results.start = { mode: 'sequential: each VM deleted (launcher pod gone) before the next; a plain-QEMU boot of the same guest after each', steps, samples };
  results.plainQemu = { initMs: summarize(plain), samples: plain };
}

async function density(cluster: BenchCluster, client: Client, timeline: VmTimeline, results: Results): Promise<void> {
  const running: { name: string; pid: number; startMs: number }[] = [];
  let stoppedBecause = `BENCH_DENSITY_MAX (${cfg.densityMax}) reached`;
  for (let i = 0; i < cfg.densityMax; i++) {
    const name = `den-${i}`;
    const t0 = performance.now();
    await client.resource(VMS).create(vmObject(name, dvName(i)));
    const booted = await bootOne(timeline, name, t0);
    if (!booted) {
      stoppedBecause = `the scheduler refused VM ${i + 1}: ${timeline.vms.get(name)?.unschedulable}`;
      await deleteVm(cluster, client, name);
      break;
    }
    running.push({ name, pid: booted.pid, startMs: booted.initAt - t0 });
    console.error(`# ${name}: guest init ${round(booted.initAt - t0, 0)} ms after create (${running.length} on ${NODE})`);
  }
  // Let the last guests finish booting (udhcpc, httpd) so the memory is that of idle guests.
  await sleep(15_000);
  const perVm: DensitySample[] = [];
  for (const r of running) {
    const pod = JSON.parse(await must(cluster, ['get', 'pods', '-n', NS, '-l', `${LABEL_VM_NAME}=${r.name}`, '-o', 'json'])) as { items: { spec: { containers: { name: string; resources?: { requests?: Record<string, string> } }[] } }[] };
    const request = pod.items[0]?.spec.containers.find((c) => c.name === COMPUTE_CONTAINER)?.resources?.requests?.memory ?? '';
    const m = launcherMemory(r.pid);
    perVm.push({
      vm: r.name,
      startMs: round(r.startMs, 0),
      podCgroupMiB: round(m.podCgroupBytes / MI, 1),
      podRssMiB: round(m.podRssBytes / MI, 1),
      qemuRssMiB: round(m.qemuRssBytes / MI, 1),
      // v1 reports "no limit" as the largest page-aligned counter value.
      podLimitMiB: m.podLimitBytes >= 2 ** 62 ? null : round(m.podLimitBytes / MI, 1),
      overheadMiB: round(m.podCgroupBytes / MI - cfg.guestMemoryMiB, 1),
      requestMiB: request ? round(quantityValue(request) / MI, 1) : NaN,
    });
  }
  results.density = { node: NODE, count: running.length, stoppedBecause, perVm, overheadMiB: summarize(perVm.map((p) => p.overheadMiB)), requestMiB: perVm[0]?.requestMiB ?? NaN };
}

const ms = (v: number) => `${String(round(v, 0)).padStart(8)} ms`;

function report(r: Results): void {
  const during = r.machine.loadDuring ? `, during ${round(r.machine.loadDuring.min, 1)}–${round(r.machine.loadDuring.max, 1)} (mean ${round(r.machine.loadDuring.mean, 1)})` : '';
  const lines: string[] = [`machine: ${r.machine.cpus} cores, ${r.machine.memoryMiB} MiB, load before ${r.machine.loadBefore.map((l) => l.toFixed(2)).join(' ')}${during}, accelerator ${r.machine.accel ?? '?'}`];
  if (r.importMs !== undefined) lines.push(`DataVolume imports (${Math.max(cfg.vms, cfg.densityMax)}, before timing): ${round(r.importMs / 1000, 1)} s`);
  if (r.start) {
    const s = r.start.steps;
    lines.push('', `VM start (${cfg.vms} VMs, ${cfg.guestMemoryMiB} MiB, one at a time), since create       p50          p99          max`);
    const row = (label: string, x: Summary) => lines.push(`  ${label.padEnd(44)} ${ms(x.p50)}  ${ms(x.p99)}  ${ms(x.max)}`);
    row('VMI created', s.vmiCreated);
    row('launcher pod scheduled', s.podScheduled);
    row('launcher pod Running', s.podRunning);
    row('QEMU argv written (QEMU exec)', s.qemuArgv);
    row('VMI Running (QMP up, status written)', s.vmiRunning);
    row('guest init (serial log)', s.guestInit);
    row('  of which QEMU exec → guest init', s.qemuToInit);
  }
  if (r.plainQemu) lines.push(`  ${'plain QEMU: QEMU start → guest init'.padEnd(44)} ${ms(r.plainQemu.initMs.p50)}  ${ms(r.plainQemu.initMs.p99)}  ${ms(r.plainQemu.initMs.max)}`);
  if (r.comparison) {
    const c = r.comparison;
    lines.push(`  VM / plain QEMU: ${c.ratioP50}× at p50 (+${round(c.overheadP50Ms, 0)} ms), ${c.ratioP99}× at p99 (+${round(c.overheadP99Ms, 0)} ms); goal: overhead < ${c.goalOverheadMs} ms — ${c.met ? 'met' : 'missed'}`);
    lines.push(`  the guest's own boot in the launcher (QEMU exec → init) / plain QEMU's: ${c.guestBootRatioP50}× at p50`);
  }
  if (r.density) {
    const d = r.density;
    lines.push('', `density on ${d.node}: ${d.count} VMs of ${cfg.guestMemoryMiB} MiB reached init (stopped: ${d.stoppedBecause})`);
    lines.push(`  launcher pod memory beyond guest RAM (pod cgroup usage − ${cfg.guestMemoryMiB} MiB): p50 ${d.overheadMiB.p50} MiB, max ${d.overheadMiB.max} MiB; the pod requests ${d.requestMiB} MiB`);
    lines.push('  vm        start ms   pod cgroup MiB   pod rss MiB   QEMU rss MiB   overhead MiB   pod limit MiB');
    for (const p of d.perVm) lines.push(`  ${p.vm.padEnd(8)} ${String(p.startMs).padStart(9)} ${String(p.podCgroupMiB).padStart(16)} ${String(p.podRssMiB).padStart(13)} ${String(p.qemuRssMiB).padStart(14)} ${String(p.overheadMiB).padStart(14)} ${String(p.podLimitMiB ?? 'none').padStart(15)}`);
  }
  if (r.liveMigration) {
    const m = r.liveMigration;
    lines.push('', `live migration (${m.migrations}× back and forth, ${m.guestMemoryMiB} MiB guest, containerDisk copied over NBD)      p50          p99          max`);
    const row = (label: string, x: Summary) => lines.push(`  ${label.padEnd(58)} ${ms(x.p50)}  ${ms(x.p99)}  ${ms(x.max)}`);
    row('VMIM created → Succeeded', m.totalMs);
    row('plain QEMU: target start → resumed', m.plainTotalMs);
    row('QEMU total-time (platform)', m.qemuTotalMs);
    row('QEMU total-time (plain)', m.plainQemuTotalMs);
    row('QEMU downtime (platform)', m.qemuDowntimeMs);
    row('QEMU downtime (plain)', m.plainQemuDowntimeMs);
    row('longest silence on the guest\'s stream', m.guestGapMs);
    lines.push(`  the same stream's longest silence over 10 s before any migration: ${m.baselineGapMs} ms`);
    lines.push(`  downtime goal ≤ ${GOAL_DOWNTIME_MS} ms (QEMU's, max): ${m.downtimeGoalMet ? 'met' : 'missed'}; total / plain ${m.totalRatioP50}× at p50 (QEMU's own total-time ${m.qemuTotalRatioP50}×), goal ≤ ${GOAL_TOTAL_RATIO}: ${m.totalGoalMet ? 'met' : 'missed'}`);
  }
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  testGuest(); // fails early, with the fix, when the guest is not built
  const results: Results = {
    config: cfg,
    machine: { cpus: cpus().length, memoryMiB: Math.round(totalmem() / MI), kernel: release(), loadBefore: loadavg() },
  };
  const cluster = await BenchCluster.plan(2);
  const stop = () => void cluster.down().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let timeline: VmTimeline | undefined;
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(loadavg()[0]), 30_000);
  try {
    await cluster.up();
    await must(cluster, ['create', 'namespace', NS]);
    const client = new Client(new HttpsTransport(loadKubeconfig(cluster.kubeconfig)));
    if (parts.has('start') || parts.has('density')) results.importMs = await importDisks(cluster, Math.max(parts.has('start') ? cfg.vms : 0, parts.has('density') ? cfg.densityMax : 0));
    timeline = new VmTimeline(client, NS);
    if (parts.has('start')) {
      await startLatency(cluster, client, timeline, results);
      const vm = results.start!.steps.guestInit;
      const pq = results.plainQemu!.initMs;
      results.comparison = { ratioP50: round(vm.p50 / pq.p50), overheadP50Ms: vm.p50 - pq.p50, ratioP99: round(vm.p99 / pq.p99), overheadP99Ms: vm.p99 - pq.p99, goalOverheadMs: GOAL_OVERHEAD_MS, met: vm.p50 - pq.p50 < GOAL_OVERHEAD_MS, guestBootRatioP50: round(results.start!.steps.qemuToInit.p50 / pq.p50) };
    }
    if (parts.has('density')) await density(cluster, client, timeline, results);
    if (parts.has('migration')) {
      // The density VMs hold node-1's memory; the migration VM needs room on both nodes.
      if (parts.has('density')) await must(cluster, ['delete', 'vm', '-n', NS, '--all', '--wait=true'], { timeoutMs: 600_000 });
      results.liveMigration = await migrationBench({ cluster, client, ns: NS, accel: (results.machine.accel ??= await nodeAccel(client)), memoryMiB: cfg.guestMemoryMiB, migrations: cfg.migrations, bootTimeoutMs: cfg.bootTimeoutS * 1000 });
    }
  } catch (e) {
    results.error = (e as Error).stack ?? String(e);
  } finally {
    clearInterval(sampler);
    results.machine.loadAfter = loadavg();
    if (loads.length) results.machine.loadDuring = summarize(loads);
    if (timeline) {
      await timeline.stop();
      if (timeline.errors.length) results.watchErrors = timeline.errors;
    }
    const problems = await cluster.down();
    if (problems.length) console.error(problems.join('\n'));
  }
  report(results);
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, fullSize ? 'vm.json' : 'vm.reduced.json'), JSON.stringify(results, null, 2));
  if (results.error) {
    console.error(results.error);
    process.exitCode = 1;
  }
}

await main();
