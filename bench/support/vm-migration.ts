/**
 * The live-migration part of the VM benchmark: one VirtualMachine (the test guest from a
 * containerDisk, so its disk is copied to the target over NBD as well as its memory streamed)
 * migrated back and forth between the two nodes BENCH_MIGRATIONS times, each migration timed
 * from the VirtualMachineInstanceMigration's create to its phase Succeeded, with QEMU's own
 * downtime and total-time (the VirtHandler's Migrated event) and the downtime the guest's peers
 * see: the guest streams a line every few milliseconds over one HTTP response to the host (the
 * host reaches the pod IP through the node it was first scheduled on), and the longest silence
 * on that stream while a migration runs, against the longest before any, is what a client of
 * the guest lives through. Each migration is followed by a plain QEMU-to-QEMU migration of the
 * same guest on the same host (vm-plain-migration.ts), so both see the same load.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, ResourceRef } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import type { Accel } from '../../src/virt/qemu/qemu-args.js';
import { CONTAINER_DISK, writeContainerDiskTar } from '../../test/support/virt.js';
import { until } from '../../test/support/until.js';
import type { BenchCluster } from './bench-cluster.js';
import { round, summarize, type Summary } from './stats.js';
import { plainMigration, type PlainMigrationResult } from './vm-plain-migration.js';

const VMS: ResourceRef = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines', namespaced: true, kind: 'VirtualMachine' };
const VMIS: ResourceRef = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespaced: true, kind: 'VirtualMachineInstance' };
const VMIMS: ResourceRef = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstancemigrations', namespaced: true, kind: 'VirtualMachineInstanceMigration' };
const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };

export const GOAL_DOWNTIME_MS = 100;
export const GOAL_TOTAL_RATIO = 1.2;
const VM = 'mig';

/** A line every 5 ms (busybox usleep) on one never-ending HTTP response. */
const USER_DATA = `#cloud-config
write_files:
- path: /www/cgi-bin/pulse
  permissions: '0755'
  content: |
    #!/bin/sh
    echo "Content-Type: text/plain"
    echo
    while true; do echo p; usleep 5000; done
`;

export interface MigrationSample {
  from: string;
  to: string;
  /** VMIM created → Succeeded. */
  totalMs: number;
  qemuDowntimeMs?: number;
  qemuTotalMs?: number;
  /** The longest silence on the guest's stream between the VMIM's create and Succeeded. */
  guestGapMs: number;
  plain: PlainMigrationResult;
}

export interface MigrationResults {
  guestMemoryMiB: number;
  migrations: number;
  /** The longest silence on the stream over the 10 s before the first migration. */
  baselineGapMs: number;
  totalMs: Summary;
  plainTotalMs: Summary;
  qemuDowntimeMs: Summary;
  plainQemuDowntimeMs: Summary;
  qemuTotalMs: Summary;
  plainQemuTotalMs: Summary;
  guestGapMs: Summary;
  /** p50 over p50: the platform's migration (VMIM → Succeeded) against plain QEMU (target start → resumed). */
  totalRatioP50: number;
  /** QEMU's own total-time, platform over plain. */
  qemuTotalRatioP50: number;
  downtimeGoalMet: boolean;
  totalGoalMet: boolean;
  samples: MigrationSample[];
}

function vmObject(ns: string, memoryMiB: number) {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: VM, namespace: ns },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          evictionStrategy: 'LiveMigrate',
          domain: { memory: { guest: `${memoryMiB}Mi` }, devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }, { name: 'cloudinit', disk: { bus: 'virtio' } }] } },
          volumes: [
            { name: 'root', containerDisk: { image: CONTAINER_DISK, imagePullPolicy: 'IfNotPresent' } },
            { name: 'cloudinit', cloudInitNoCloud: { userData: USER_DATA } },
          ],
        },
      },
    },
  };
}

/** Arrival times of the guest's stream, read from the host. */
class GuestPulse {
  readonly arrivals: number[] = [];
  private req?: ReturnType<typeof request>;
  ended = false;

  start(ip: string): Promise<void> {
    return new Promise((resolve, reject) => {
      // busybox httpd passes the CGI's LF-only header lines through, which Node's strict parser refuses.
      this.req = request({ host: ip, port: 80, path: '/cgi-bin/pulse', insecureHTTPParser: true }, (res) => {
        res.on('data', () => this.arrivals.push(performance.now()));
        res.on('end', () => (this.ended = true));
        res.on('error', () => (this.ended = true));
        resolve();
      });
      this.req.on('error', (e) => (this.arrivals.length ? (this.ended = true) : reject(e)));
      this.req.end();
    });
  }

  /** The longest silence within [from, to]. */
  longestGap(from: number, to: number): number {
    const inside = this.arrivals.filter((t) => t >= from && t <= to);
    const before = this.arrivals.filter((t) => t < from).at(-1) ?? from;
    let gap = 0;
    let prev = before;
    for (const t of inside) {
      gap = Math.max(gap, t - prev);
      prev = t;
    }
    return Math.max(gap, to - prev);
  }

  stop(): void {
    this.req?.destroy();
  }
}

async function vmi(client: Client, ns: string): Promise<{ nodeName?: string; ip?: string; phase?: string }> {
  const v = await client.resource<KubeObject & { status?: { nodeName?: string; phase?: string; interfaces?: { ipAddress?: string }[] } }>(VMIS).get(VM, ns);
  return { nodeName: v.status?.nodeName, ip: v.status?.interfaces?.[0]?.ipAddress, phase: v.status?.phase };
}

/** QEMU's figures, from the Migrated event the source VirtHandler records ("... (downtime N ms, total M ms)"). */
async function qemuFigures(client: Client, ns: string, since: number): Promise<{ downtime?: number; total?: number }> {
  const list = await client.resource<KubeObject & { reason?: string; message?: string; lastTimestamp?: string; eventTime?: string }>(EVENTS).list({ namespace: ns });
  const e = list.items.filter((x) => /downtime \d+ ms/.test(x.message ?? '') && Date.parse(x.lastTimestamp ?? x.eventTime ?? '') >= since - 2000).at(-1);
  const m = /downtime (\d+) ms, total (\d+) ms/.exec(e?.message ?? '');
  return m ? { downtime: Number(m[1]), total: Number(m[2]) } : {};
}

export async function migrationBench(o: { cluster: BenchCluster; client: Client; ns: string; accel: Accel; memoryMiB: number; migrations: number; bootTimeoutMs: number }): Promise<MigrationResults> {
  const { cluster, client, ns } = o;
  const tmp = mkdtempSync(join(tmpdir(), 'cairn-bench-mig-'));
  const pulse = new GuestPulse();
  try {
    const tar = writeContainerDiskTar(tmp);
    for (const n of [1, 2]) {
      const r = await cluster.cairn(['image', 'import', tar, '--data-dir', cluster.nodeDir(n), '--name', CONTAINER_DISK]);
      if (r.code !== 0) throw new Error(`cairn image import: ${r.stderr}`);
    }
    await client.resource(VMS).create(vmObject(ns, o.memoryMiB), { namespace: ns });
    const first = await until('the migration VM Running', async () => {
      const v = await vmi(client, ns).catch(() => undefined);
      return v?.phase === 'Running' && v.ip ? v : undefined;
    }, o.bootTimeoutMs, 500);
    await until('the guest streaming', async () => {
      if (!pulse.arrivals.length) await pulse.start(first.ip!).catch(() => undefined);
      return pulse.arrivals.length > 50;
    }, o.bootTimeoutMs, 1000);
    const b0 = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const baselineGapMs = pulse.longestGap(b0, performance.now());

    const samples: MigrationSample[] = [];
    for (let i = 0; i < o.migrations; i++) {
      const from = (await vmi(client, ns)).nodeName!;
      const since = Date.now();
      const t0 = performance.now();
      const vmim = await client.resource<KubeObject & { status?: { phase?: string } }>(VMIMS).create({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { generateName: 'bench-mig-' }, spec: { vmiName: VM } }, { namespace: ns });
      const phase = await until(`migration ${i + 1} to end`, async () => {
        const m = await client.resource<KubeObject & { status?: { phase?: string } }>(VMIMS).get(vmim.metadata.name!, ns);
        return m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed' ? m.status.phase : undefined;
      }, 600_000, 50);
      const t1 = performance.now();
      if (phase !== 'Succeeded') throw new Error(`migration ${vmim.metadata.name} Failed`);
      if (pulse.ended) throw new Error(`the guest's stream ended during migration ${i + 1}: the connection did not survive`);
      const to = (await vmi(client, ns)).nodeName!;
      // Let the stream run on the target a moment, so a silence right after Succeeded counts too.
      await new Promise((r) => setTimeout(r, 2000));
      const guestGapMs = pulse.longestGap(t0, t1 + 2000);
      const q = await qemuFigures(client, ns, since);
      const plain = await plainMigration({ accel: o.accel, memoryMiB: o.memoryMiB, parentDir: tmp, bootTimeoutMs: o.bootTimeoutMs });
      samples.push({ from, to, totalMs: round(t1 - t0, 0), ...(q.downtime !== undefined ? { qemuDowntimeMs: q.downtime } : {}), ...(q.total !== undefined ? { qemuTotalMs: q.total } : {}), guestGapMs: round(guestGapMs, 0), plain });
      console.error(`# migration ${i + 1}/${o.migrations} ${from} → ${to}: ${round(t1 - t0, 0)} ms, QEMU downtime ${q.downtime ?? '?'} ms, longest guest silence ${round(guestGapMs, 0)} ms; plain ${round(plain.totalMs, 0)} ms, downtime ${plain.qemuDowntimeMs} ms`);
    }
    const s = (f: (x: MigrationSample) => number | undefined) => summarize(samples.map(f).filter((x): x is number => x !== undefined));
    const totalMs = s((x) => x.totalMs);
    const plainTotalMs = s((x) => x.plain.totalMs);
    const qemuTotalMs = s((x) => x.qemuTotalMs);
    const plainQemuTotalMs = s((x) => x.plain.qemuTotalMs);
    const qemuDowntimeMs = s((x) => x.qemuDowntimeMs);
    return {
      guestMemoryMiB: o.memoryMiB,
      migrations: samples.length,
      baselineGapMs: round(baselineGapMs, 0),
      totalMs,
      plainTotalMs,
      qemuDowntimeMs,
      plainQemuDowntimeMs: s((x) => x.plain.qemuDowntimeMs),
      qemuTotalMs,
      plainQemuTotalMs,
      guestGapMs: s((x) => x.guestGapMs),
      totalRatioP50: round(totalMs.p50 / plainTotalMs.p50),
      qemuTotalRatioP50: round(qemuTotalMs.p50 / plainQemuTotalMs.p50),
      downtimeGoalMet: qemuDowntimeMs.max <= GOAL_DOWNTIME_MS,
      totalGoalMet: totalMs.p50 / plainTotalMs.p50 <= GOAL_TOTAL_RATIO,
      samples,
    };
  } finally {
    pulse.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
