// `cairn fabric lab verify`: checks a running lab from FRR's own JSON output and the kernel.
// After a `lab fail`, it first measures the recovery (recovery.ts). The checks are then run
// until they all pass or `waitMs` runs out, since BGP needs some seconds after `lab up` (or a
// cut) to converge; the last round's results are reported.
import { setTimeout as sleep } from 'node:timers/promises';
import { checkBgpSessions } from './check-bgp.js';
import { checkCorosync } from './check-corosync.js';
import { checkEvpnType2, checkEvpnType3 } from './check-evpn.js';
import { checkVxlanFdb } from './check-fdb.js';
import { checkIfquery } from './check-ifquery.js';
import { checkGuestReach } from './check-reach.js';
import { checkResult, type CheckContext, type CheckResult } from './check.js';
import { LabError } from './errors.js';
import { checkLabId } from './names.js';
import { measureRecovery, type Recovered } from './recovery.js';
import { readState, writeState } from './state.js';

export interface VerifyOptions {
  /** How long to keep re-checking until every check passes (default 60 s). */
  waitMs?: number;
  /** How long after a cut to wait for every guest pair to answer again (default 120 s). */
  recoveryTimeoutMs?: number;
  progress?: (line: string) => void;
}

export interface RecoveryReport {
  link: string;
  silent: boolean;
  /** Undefined: some guest pairs did not answer again in time. */
  recovered?: Recovered;
}

export interface VerifyReport {
  ok: boolean;
  checks: CheckResult[];
  recoveries: RecoveryReport[];
}

// In order: the guest pings come before the type-2 check, as they refresh the guest MACs the
// bridges learn (and EVPN advertises) — a guest silent for the bridge's ageing time has none.
const CHECKS: [string, (ctx: CheckContext) => Promise<CheckResult>][] = [
  ['BGP sessions', checkBgpSessions],
  ['EVPN type-3 routes', checkEvpnType3],
  ['VXLAN FDB', checkVxlanFdb],
  ['guest reachability', checkGuestReach],
  ['EVPN type-2 routes', checkEvpnType2],
  ['ifquery --check', checkIfquery],
  ['corosync membership', checkCorosync],
];

async function runChecks(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [name, check] of CHECKS) {
    if (name === 'corosync membership' && !ctx.state.corosync) continue;
    try {
      out.push(await check(ctx));
    } catch (e) {
      // A daemon that stopped answering fails its check; the other checks still run.
      if (!(e instanceof LabError)) throw e;
      out.push(checkResult(name, [e.message], 'could not check'));
    }
  }
  return out;
}

export async function labVerify(id: string, o: VerifyOptions = {}): Promise<VerifyReport> {
  checkLabId(id);
  const say = o.progress ?? (() => undefined);
  const state = await readState(id);
  const recoveries: RecoveryReport[] = [];
  for (const cut of state.cuts) {
    if (cut.recovery === undefined) {
      say(`measuring recovery after the cut of ${cut.link}`);
      cut.recovery = await measureRecovery(state, cut, o.recoveryTimeoutMs ?? 120_000);
      if (cut.recovery) await writeState(state);
    }
    recoveries.push({ link: cut.link, silent: cut.silent, recovered: cut.recovery });
  }
  const ctx: CheckContext = { id, state, t: state.topology };
  const deadline = Date.now() + (o.waitMs ?? 60_000);
  let checks: CheckResult[];
  let waitingFor = '';
  for (;;) {
    checks = await runChecks(ctx);
    if (checks.every((c) => c.ok) || Date.now() >= deadline) break;
    const failing = checks.filter((c) => !c.ok).map((c) => c.name).join(', ');
    if (failing !== waitingFor) say(`waiting for: ${failing}`);
    waitingFor = failing;
    await sleep(1000);
  }
  return { ok: checks.every((c) => c.ok) && recoveries.every((r) => r.recovered !== undefined), checks, recoveries };
}
