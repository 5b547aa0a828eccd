/**
 * Waiting for a Ceph cluster to be whole, with a bounded timeout and an error that names the
 * daemon that did not come up and its log: a daemon whose process exited, the mon when it does
 * not answer, the mgr when none is available, an OSD the map has down, the MDS when no rank is
 * active.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminSocket, ceph, type CephAuth, CephError } from './ceph-cli.js';
import { runningDaemons } from './daemons.js';
import { CephClusterError } from './errors.js';
import { type CephLayout, daemonName, type DaemonPlace } from './layout.js';
import type { CephStatus, OsdTree } from './status-types.js';

async function lastLogLine(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  // Ceph colours its errors on a terminal and in the log alike.
  return (text.trimEnd().split('\n').slice(-1)[0] ?? '').replace(/\x1b\[[0-9;]*m/g, '');
}

async function notUp(l: CephLayout, d: DaemonPlace, why: string): Promise<CephClusterError> {
  const last = await lastLogLine(l.log(d));
  return new CephClusterError(`${daemonName(d)} ${why}; its log: ${l.log(d)}${last ? ` (last line: ${last.slice(0, 300)})` : ''}`);
}

/** Fails at once when one of the daemons that should run has exited. */
async function requireRunning(l: CephLayout, expected: DaemonPlace[]): Promise<void> {
  const running = new Set((await runningDaemons(l)).map(daemonName));
  for (const d of expected) if (!running.has(daemonName(d))) throw await notUp(l, d, 'exited');
}

/** Until the monitors answer `ceph mon stat` (which takes a quorum of them). */
export async function waitForMon(l: CephLayout, admin: CephAuth, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await requireRunning(l, l.mons);
    try {
      await ceph(['mon', 'stat'], admin, { timeoutMs: 30_000 });
      return;
    } catch (e) {
      if (!(e instanceof CephError)) throw e;
      if (Date.now() > deadline) throw await notUp(l, l.mons[0], `did not answer within ${timeoutMs / 1000}s (${e.message})`);
    }
    await sleep(1000);
  }
}

/**
 * Whether an OSD or the MDS says itself, through its admin socket, that it is serving. The
 * cluster maps alone cannot tell just after a restart: a mon that has just started shows the
 * state it had when it stopped (daemons up, HEALTH_OK) until beacon grace periods run out.
 */
async function serving(l: CephLayout, d: DaemonPlace): Promise<boolean> {
  try {
    const s = await adminSocket<{ state: string }>(l.asok(d), ['status']);
    return s.state === (d.type === 'osd' ? 'active' : 'up:active');
  } catch (e) {
    if (e instanceof CephError) return false; // not listening yet
    throw e;
  }
}

/**
 * Until HEALTH_OK with every daemon up, every OSD and the MDS serving, and every PG active+clean.
 * A fresh cluster passes through warnings (PGs peering, the MDS not yet active) on its way; none
 * of them is accepted as the end state.
 */
export async function waitHealthy(l: CephLayout, admin: CephAuth, expected: DaemonPlace[], timeoutMs: number): Promise<CephStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: CephStatus | undefined;
  const waiting = new Set(expected.filter((d) => d.type === 'osd' || d.type === 'mds'));
  for (;;) {
    await requireRunning(l, expected);
    for (const d of waiting) if (await serving(l, d)) waiting.delete(d);
    try {
      last = await ceph<CephStatus>(['status'], admin, { timeoutMs: 30_000 });
      const allUp = last.osdmap.num_up_osds === last.osdmap.num_osds && last.mgrmap.available && last.fsmap.by_rank.some((r) => r.status === 'up:active');
      // A mgr that has just started reports no PG states yet (and so no PG warnings): wait for them.
      const clean = last.pgmap.num_pgs > 0 && last.pgmap.pgs_by_state?.find((p) => p.state_name === 'active+clean')?.count === last.pgmap.num_pgs;
      if (!waiting.size && allUp && clean && last.health.status === 'HEALTH_OK') return last;
    } catch (e) {
      if (!(e instanceof CephError)) throw e;
      if (Date.now() > deadline) throw await notUp(l, l.mons[0], `did not answer (${e.message})`);
    }
    if (Date.now() > deadline) {
      const [stuck] = waiting;
      throw stuck ? await notUp(l, stuck, `is not serving within ${timeoutMs / 1000}s`) : await whyNotHealthy(l, admin, expected, last!, timeoutMs);
    }
    await sleep(2000);
  }
}

async function whyNotHealthy(l: CephLayout, admin: CephAuth, expected: DaemonPlace[], s: CephStatus, timeoutMs: number): Promise<CephClusterError> {
  const within = `within ${timeoutMs / 1000}s`;
  if (!s.mgrmap.available) return notUp(l, l.mgr, `is not available ${within}`);
  if (s.osdmap.num_up_osds < s.osdmap.num_osds) {
    const tree = await ceph<OsdTree>(['osd', 'tree'], admin);
    const down = tree.nodes.find((n) => n.type === 'osd' && n.status !== 'up');
    const osd = expected.find((d) => d.type === 'osd' && down && `osd.${d.id}` === down.name);
    if (osd) return notUp(l, osd, `is not up ${within}`);
  }
  if (!s.fsmap.by_rank.some((r) => r.status === 'up:active')) return notUp(l, l.mds, `is not active ${within}`);
  const checks = Object.entries(s.health.checks).map(([name, c]) => `${name}: ${c.summary.message}`);
  return new CephClusterError(`the cluster is ${s.health.status} after ${timeoutMs / 1000}s: ${checks.join('; ')} (logs in ${l.logDir})`);
}
