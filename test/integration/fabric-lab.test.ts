// The fabric lab, end to end through the CLI, on both seed designs: `lab up` builds the
// topology (namespaces, cables, rendered interfaces, guests, FRR, corosync), `lab verify`
// passes every check, `lab fail` cuts a cable and the next `verify` reports the measured
// recovery with every check passing again (corosync membership included), and `lab down`
// leaves nothing behind. Then the bad inputs: a lab left over from a crashed run, an unknown
// lab, and FRR failing to start or rejecting a configuration, each reported with FRR's own lines.
// Everything is named cairn-fab-<run id>-…; all traffic stays inside the test's namespaces.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ip, netns } from '../../src/net/ip.js';
import { loadTopology } from '../../src/fabric/topology.js';
import { labDown } from '../../src/fabric/lab/down.js';
import { dryRun, FrrInstance, checkFrrInstalled } from '../../src/fabric/lab/frr.js';
import { FrrError } from '../../src/fabric/lab/errors.js';
import { checkCorosyncInstalled } from '../../src/fabric/lab/corosync.js';
import { checkIfqueryInstalled } from '../../src/fabric/lab/ifquery.js';
import { labDir, labPrefix } from '../../src/fabric/lab/names.js';
import type { VerifyReport } from '../../src/fabric/lab/verify.js';
import { requireNetTools, runClusterName } from '../support/net-lab.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CAIRN = join(ROOT, 'bin/cairn.js');
const EXAMPLES = join(ROOT, 'examples/fabric');
/** Every check `lab verify` runs on a lab with corosync. */
const ALL_CHECKS = ['BGP sessions', 'EVPN type-3 routes', 'VXLAN FDB', 'guest reachability', 'EVPN type-2 routes', 'ifquery --check', 'corosync membership'];

const ids: string[] = [];
let tmp: string;

function newId(): string {
  const id = runClusterName();
  ids.push(id);
  return id;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cairn(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);

/** One line on stderr, no stack trace. */
function oneLineError(r: Run, what: string): string {
  assert.equal(r.code, 1, `${what}: expected exit 1, got ${r.code}:\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: expected one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: stack trace on stderr`);
  return lines[0]!;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Processes whose command line mentions the lab's directory (its FRR daemons, corosync's sandbox). */
async function labProcesses(id: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(labDir(id))) out.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return out;
}

/** Asserts nothing of lab `id` is on the host: no namespace, directory, process, or root-namespace link. */
async function assertGone(id: string, rootLinksBefore: Set<string>): Promise<void> {
  const ns = (await netns.list()).map((n) => n.name).filter((n) => n.startsWith(labPrefix(id)));
  assert.deepEqual(ns, [], 'namespaces left behind');
  assert.equal(await exists(labDir(id)), false, `${labDir(id)} left behind`);
  assert.deepEqual(await labProcesses(id), [], 'processes left behind');
  // The lab never creates links in the host's namespace: the NIC, VXLAN and bridge names it
  // uses must not have appeared there.
  const t = await loadTopology(join(EXAMPLES, 'switchless-3node-ibgp.yaml'));
  const names = new Set([...t.nodes.flatMap((n) => n.nics.map((x) => x.name)), ...t.evpn.vnis.flatMap((v) => [v.vxlan, v.bridge])]);
  const appeared = (await Ip.root.links()).map((l) => l.ifname).filter((n) => names.has(n) && !rootLinksBefore.has(n));
  assert.deepEqual(appeared, [], 'links appeared in the host namespace');
}

function verifyReport(r: Run): VerifyReport {
  try {
    return JSON.parse(r.stdout) as VerifyReport;
  } catch {
    assert.fail(`lab verify -o json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

function assertAllPassed(report: VerifyReport, what: string): void {
  assert.deepEqual(
    report.checks.map((c) => c.name),
    ALL_CHECKS,
    `${what}: checks run`,
  );
  const failed = report.checks.filter((c) => !c.ok).flatMap((c) => c.problems.map((p) => `${c.name}: ${p}`));
  assert.deepEqual(failed, [], `${what}: failed checks`);
  assert.equal(report.ok, true, `${what}: report not ok`);
}

before(async () => {
  requireNetTools();
  // Prerequisites fail the run (never skip it): the setup installs all of them.
  await checkFrrInstalled();
  await checkCorosyncInstalled();
  await checkIfqueryInstalled();
  tmp = await mkdtemp(join(tmpdir(), 'cairn-fab-'));
  // FRR's daemons drop to the frr user, which must reach their runtime directory under it.
  await chmod(tmp, 0o755);
});

after(async () => {
  for (const id of ids) await labDown(id);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

for (const [design, link] of [
  ['ibgp', 'pve1-pve2'],
  ['ebgp', 'pve2-pve3'],
] as const) {
  test(`lab on switchless-3node-${design}: up, verify, fail ${link} with measured recovery, down`, async (t) => {
    const id = newId();
    const file = join(EXAMPLES, `switchless-3node-${design}.yaml`);
    const rootLinks = new Set((await Ip.root.links()).map((l) => l.ifname));

    const up = await cairn('fabric', 'lab', 'up', file, '--id', id);
    ok(up, 'lab up');
    assert.match(up.stdout, new RegExp(`lab ${id} is up: 3 nodes, 3 links, 6 guests, corosync`));

    const first = await cairn('fabric', 'lab', 'verify', '--id', id, '-o', 'json');
    const report = verifyReport(first);
    assertAllPassed(report, 'verify after up');
    assert.equal(first.code, 0);
    assert.deepEqual(report.recoveries, []);

    const fail = await cairn('fabric', 'lab', 'fail', link, '--id', id);
    ok(fail, 'lab fail');
    assert.match(fail.stdout, new RegExp(`cut link ${link} of lab ${id}`));

    const second = await cairn('fabric', 'lab', 'verify', '--id', id);
    ok(second, 'verify after the cut');
    const recovered = /^recovered: every guest pair answered again (at most )?([\d.]+) s after the cut of (\S+) \(cable cut, carrier lost; BGP hold time 15 s;/m.exec(second.stdout);
    assert.ok(recovered, `no recovery line in:\n${second.stdout}`);
    assert.equal(recovered[3], link);
    t.diagnostic(`${design}: recovered ${recovered[1] ?? ''}${recovered[2]} s after cutting ${link}`);
    // Every check passes with the cable cut (membership survived it), and says so.
    for (const name of ALL_CHECKS) assert.match(second.stdout, new RegExp(`^ok    ${name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}: `, 'm'));
    assert.match(second.stdout, new RegExp(`lab ${id}: all checks passed`));

    const down = await cairn('fabric', 'lab', 'down', '--id', id);
    ok(down, 'lab down');
    assert.match(down.stdout, new RegExp(`lab ${id} removed: \\d+ processes stopped, 10 namespaces deleted`));
    await assertGone(id, rootLinks);
    const again = await cairn('fabric', 'lab', 'down', '--id', id);
    ok(again, 'second lab down');
    assert.match(again.stdout, /nothing to remove/);
  });
}

test('a lab left over from a crashed run is refused with one line, and lab down removes it', async () => {
  const id = newId();
  // What a crash leaves: a node namespace with something running in it, and no state file.
  await netns.add(`${labPrefix(id)}pve1`);
  const sleeper = spawn('ip', ['netns', 'exec', `${labPrefix(id)}pve1`, 'sleep', '600'], { stdio: 'ignore' });
  try {
    const up = await cairn('fabric', 'lab', 'up', join(EXAMPLES, 'switchless-3node-ibgp.yaml'), '--id', id);
    const line = oneLineError(up, 'lab up over a crashed run');
    assert.match(line, new RegExp(`^error: lab "${id}" already exists \\(or is left over from a crashed run\\): ${labPrefix(id)}pve1; run 'cairn fabric lab down --id ${id}'`));

    const verify = await cairn('fabric', 'lab', 'verify', '--id', id);
    assert.match(oneLineError(verify, 'verify of a lab with no state'), new RegExp(`no lab "${id}" on this host`));

    const down = await cairn('fabric', 'lab', 'down', '--id', id);
    ok(down, 'lab down of the leftovers');
    assert.match(down.stdout, new RegExp(`lab ${id} removed: 1 processes stopped, 1 namespaces deleted`));
    await assertGone(id, new Set());
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('lab commands on a lab that does not exist, and invalid arguments, answer with one line', async () => {
  const id = newId();
  assert.match(oneLineError(await cairn('fabric', 'lab', 'fail', 'pve1-pve2', '--id', id), 'fail'), new RegExp(`no lab "${id}" on this host`));
  assert.match(oneLineError(await cairn('fabric', 'lab', 'verify', '--id', 'Bad-Id'), 'bad id'), /invalid lab id "Bad-Id"/);
  const missing = await cairn('fabric', 'lab', 'up', join(tmp, 'missing.yaml'), '--id', id);
  assert.match(oneLineError(missing, 'missing file'), /missing\.yaml: cannot read/);
  await writeFile(join(tmp, 'unknown-field.yaml'), (await readFile(join(EXAMPLES, 'switchless-3node-ibgp.yaml'), 'utf8')).replace('mtu:\n', 'mtux: 1\nmtu:\n'));
  const unknown = await cairn('fabric', 'lab', 'up', join(tmp, 'unknown-field.yaml'), '--id', id);
  assert.match(oneLineError(unknown, 'unknown field'), /mtux/);
  assert.equal((await netns.list()).filter((n) => n.name.startsWith(labPrefix(id))).length, 0, 'a refused lab built something');
});

test("FRR failing to start, or rejecting a configuration, is reported with FRR's own lines", async () => {
  const id = newId();
  const ns = `${labPrefix(id)}frr`;
  await netns.add(ns);
  const frr = new FrrInstance(ns, join(tmp, 'frr-twice'));
  await frr.start('hostname twice\n');
  // A second set of daemons on the same pid files refuses to run (which daemon says so first
  // is FRR's business); its own words must reach the user.
  await assert.rejects(frr.start('hostname twice\n'), (e: unknown) => {
    assert.ok(e instanceof FrrError, String(e));
    assert.match(e.message, /(zebra|staticd|bgpd) did not start in .*its log says: .*Could not lock pid_file/);
    return true;
  });
  await frr.stop();

  const bad = join(tmp, 'bad-frr.conf');
  await writeFile(bad, 'hostname bad\nrouter bgp 65000\n neighbor 10.0.0.1 remote-as\n');
  await assert.rejects(dryRun(bad), (e: unknown) => {
    assert.ok(e instanceof FrrError, String(e));
    assert.match(e.message, /FRR rejects .*bad-frr\.conf; its log says: .*neighbor 10\.0\.0\.1 remote-as/);
    return true;
  });
});
