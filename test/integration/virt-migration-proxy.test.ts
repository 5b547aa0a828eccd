// The node side of a live migration against real QEMU and socat, in two "node" network
// namespaces this test makes (an address each, on a veth pair): the target proxies listen on the
// target node's address for the source node only, the source proxies in the source node's
// namespace; the source's SourceMigration mirrors two copied disks (the guest's root disk and an
// emptyDisk-like scratch disk) into the target's NBD exports and migrates the memory through the
// proxies. The guest's serial ticks go on in the target, both images are identical, and no socat
// is left. Also: the proxies' throughput, a port in use, a peer the range refuses; a throttled
// migration cancelled by the completion timeout and one aborted, the guest running on; the same
// throttled migration allowed to go post-copy switches to it and completes on the target. TLS: the
// proxies let only the expected peer in (each node's certificate from one CA, checked by name)
// and a target that goes silent mid-migration (its link cut: no FIN, no RST) fails the migration
// within PEER_SILENCE_TIMEOUT_S, the guest running on at the source.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ip, netns } from '../../src/net/ip.js';
import { testGuest, TEST_GUEST_CMDLINE, type TestGuest } from '../../src/virt/test-guest.js';
import { QemuProcess } from '../../src/virt/qemu/qemu-process.js';
import { QmpClient } from '../../src/virt/qemu/qmp-client.js';
import { UNLIMITED_BANDWIDTH } from '../../src/virt/handler/migration-options.js';
import { DEFAULT_MIGRATION_CONFIGURATION, MIGRATION_PORT_BLOCK, MIGRATION_PORT_MEMORY } from '../../src/virt/migration/migration-state.js';
import { MigrationProxy, MigrationProxyError, PEER_SILENCE_TIMEOUT_S } from '../../src/virt/handler/migration-proxy.js';
import { type MigrationTlsFiles, sourceProxyTls, targetProxyTls, writeMigrationTls } from '../../src/virt/handler/migration-tls.js';
import { createCa, issueCertificate } from '../../src/api/pki.js';
import { writeFile } from 'node:fs/promises';
import { SourceMigration } from '../../src/virt/handler/migration-source.js';
import { TargetMigration } from '../../src/virt/handler/migration-target.js';
import { requireNetTools, runClusterName, snapshotCairn, added, type HostSnapshot } from '../support/net-lab.js';
import { until } from '../support/until.js';

const run = runClusterName();
const srcNs = `cairn-${run}-msrc`;
const dstNs = `cairn-${run}-mdst`;
const octet = randomInt(10, 250);
const srcIp = `10.252.${octet}.1`;
const dstIp = `10.252.${octet}.2`;
let dir: string;
let guest: TestGuest;
let snap0: HostSnapshot;
/** Each "node"'s migration certificates, issued by one CA as `cairn up` issues them; `rogue` is a third node. */
let pki: { src: MigrationTlsFiles; dst: MigrationTlsFiles; rogue: MigrationTlsFiles };
const qemus: QemuProcess[] = [];
const proxies: MigrationProxy[] = [];

function requireTools(): void {
  for (const [cmd, arg, pkg] of [['qemu-system-x86_64', '--version', 'qemu-system-x86'], ['qemu-img', '--version', 'qemu-utils'], ['socat', '-V', 'socat'], ['setpriv', '--version', 'util-linux']] as const) {
    const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`${cmd} is missing (apt-get install ${pkg}; scripts/setup.sh does it): ${r.error?.message ?? r.stderr}`);
  }
}

/** Processes whose command line mentions this test's directory (socat left behind would). */
async function processesUsing(path: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(path)) out.push(`${pid}: ${cmd.replace(/\0/g, ' ')}`);
  }
  return out;
}

before(async () => {
  requireNetTools();
  requireTools();
  guest = testGuest();
  snap0 = await snapshotCairn();
  dir = await mkdtemp(join(tmpdir(), 'cairn-migproxy-'));
  await netns.add(srcNs);
  await netns.add(dstNs);
  const src = Ip.ns(srcNs);
  const dst = Ip.ns(dstNs);
  await src.addVeth('vmig', { name: 'vmig', netns: dstNs });
  await src.addAddr('vmig', `${srcIp}/24`);
  await dst.addAddr('vmig', `${dstIp}/24`);
  for (const [ip, link] of [[src, 'vmig'], [dst, 'vmig'], [src, 'lo'], [dst, 'lo']] as const) await ip.setLink(link, { up: true });
  pki = await issueNodeCertificates(join(dir, 'pki'));
});

/** Serving and client certificates of three nodes from one CA, written as an agent writes them. */
async function issueNodeCertificates(base: string): Promise<{ src: MigrationTlsFiles; dst: MigrationTlsFiles; rogue: MigrationTlsFiles }> {
  const ca = await createCa();
  const node = async (name: string, ip: string) => {
    const d = join(base, name);
    await mkdir(d, { recursive: true });
    const serving = await issueCertificate(ca, { commonName: name, dnsNames: [name], ips: [ip], usage: 'server' });
    const client = await issueCertificate(ca, { commonName: `system:node:${name}`, organizations: ['system:nodes'], usage: 'client' });
    await writeFile(join(d, 'serving.crt'), serving.certPem);
    await writeFile(join(d, 'serving.key'), serving.keyPem, { mode: 0o600 });
    return writeMigrationTls(join(d, 'migration-tls'), { caPem: ca.certPem, servingCertFile: join(d, 'serving.crt'), servingKeyFile: join(d, 'serving.key'), clientCertPem: client.certPem, clientKeyPem: client.keyPem });
  };
  return { src: await node('node-src', srcIp), dst: await node('node-dst', dstIp), rogue: await node('node-rogue', srcIp) };
}

after(async () => {
  for (const q of qemus) await q.kill();
  for (const p of proxies) await p.stop();
  await netns.remove(srcNs);
  await netns.remove(dstNs);
  if (dir) {
    const left = await processesUsing(dir);
    await rm(dir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'processes left behind');
  }
  assert.deepEqual(added(snap0, await snapshotCairn(), run), { netns: [], links: [], nftTables: [] });
});

/** A unix socket server that counts what it receives. */
function countingServer(path: string): Promise<{ server: Server; received: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    s.on('data', (b: Buffer) => (n += b.length));
    s.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve({ server, received: () => n }));
  });
}

/** Writes `total` bytes into a unix socket and closes it; resolves once the peer closed too. */
function sendThrough(socket: string, total: number): Promise<void> {
  const chunk = Buffer.alloc(4 * 1024 * 1024, 0xa5);
  return new Promise<void>((resolve, reject) => {
    const c = connect(socket, () => {
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!c.write(chunk)) return void c.once('drain', pump);
        }
        c.end();
      };
      pump();
    });
    c.once('error', reject);
    c.once('close', () => resolve());
  });
}

test('proxies: source unix socket → target node port (range of the source node only) → target unix socket; throughput', async () => {
  const sink = join(dir, 'sink.sock');
  const { server, received } = await countingServer(sink);
  try {
    const target = await MigrationProxy.tcpToUnixOnFreePort({ bind: dstIp, allowFrom: srcIp, toSocket: sink }, [51_111, 51_112], { netns: dstNs });
    proxies.push(target);
    // The port is taken: the next candidate is used.
    const second = await MigrationProxy.tcpToUnixOnFreePort({ bind: dstIp, allowFrom: srcIp, toSocket: sink }, [target.port, target.port + 1], { netns: dstNs });
    proxies.push(second);
    assert.equal(second.port, target.port + 1);
    const taken = await MigrationProxy.tcpToUnix({ bind: dstIp, allowFrom: srcIp, toSocket: sink, port: target.port }, { netns: dstNs }).catch((e: unknown) => e);
    assert.ok(taken instanceof MigrationProxyError && taken.reason === 'addrinuse', String(taken));
    await second.stop();
    assert.equal(second.running, false);

    // A peer other than the source node (the target node itself) is refused: nothing arrives.
    const refused = spawnSync('ip', ['netns', 'exec', dstNs, 'socat', '-u', 'OPEN:/etc/hostname', `TCP4:${dstIp}:${target.port}`], { encoding: 'utf8', timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received(), 0, `a connection from ${dstIp} got through: ${refused.stderr}`);

    const out = join(dir, 'out.sock');
    const source = await MigrationProxy.unixToTcp({ socket: out, host: dstIp, port: target.port }, { netns: srcNs });
    proxies.push(source);
    const total = 1024 * 1024 * 1024;
    const t0 = process.hrtime.bigint();
    await sendThrough(out, total);
    await until('all bytes through both proxies', () => received() >= total, 60_000, 20);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const mbps = total / 1e6 / secs;
    console.log(`# migration proxy throughput (unix → socat → TCP across namespaces → socat → unix): ${mbps.toFixed(0)} MB/s (1 GiB in ${secs.toFixed(2)} s)`);
    // The figure is informational (benchmarks judge performance); the bytes must all arrive.
    assert.equal(received(), total);
    await source.stop();
    await target.stop();
    assert.equal(existsSync(out), true, 'the socket file stays until the next unlink-early (harmless)');
  } finally {
    // A failed assertion must not leave this test's socats to the next tests' "no socat left".
    for (const p of proxies) await p.stop();
    await new Promise((r) => server.close(() => r(undefined)));
  }
});

test('TLS proxies: the target lets in only the source node\'s certificate, the source trusts only the target node\'s; throughput', async () => {
  const sink = join(dir, 'tls-sink.sock');
  const { server, received } = await countingServer(sink);
  const started: MigrationProxy[] = [];
  const source = async (name: string, tls: Parameters<typeof MigrationProxy.unixToTcp>[0]['tls'], port: number) => {
    const p = await MigrationProxy.unixToTcp({ socket: join(dir, `${name}.sock`), host: dstIp, port, ...(tls ? { tls } : {}) }, { netns: srcNs });
    started.push(p);
    return join(dir, `${name}.sock`);
  };
  try {
    const target = await MigrationProxy.tcpToUnixOnFreePort({ bind: dstIp, allowFrom: srcIp, toSocket: sink, tls: targetProxyTls(pki.dst, 'node-src') }, [51_211, 51_212], { netns: dstNs });
    started.push(target);
    // Refused, each with nothing forwarded: another node's certificate (same CA, right address),
    // a source expecting another target, and plain TCP.
    const refused: [string, Parameters<typeof MigrationProxy.unixToTcp>[0]['tls']][] = [
      ['rogue', sourceProxyTls(pki.rogue, 'node-dst')],
      ['wrong-target', sourceProxyTls(pki.src, 'node-rogue')],
      ['plain', undefined],
    ];
    for (const [name, tls] of refused) {
      await sendThrough(await source(name, tls, target.port), 1024 * 1024).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(received(), 0, `${name}: bytes got through`);
    }
    const total = 512 * 1024 * 1024;
    const t0 = process.hrtime.bigint();
    await sendThrough(await source('good', sourceProxyTls(pki.src, 'node-dst'), target.port), total);
    await until('all bytes through both TLS proxies', () => received() >= total, 60_000, 20);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`# migration proxy throughput with TLS: ${(total / 1e6 / secs).toFixed(0)} MB/s (512 MiB in ${secs.toFixed(2)} s)`);
    assert.equal(received(), total);
  } finally {
    for (const p of started) await p.stop();
    await new Promise((r) => server.close(() => r(undefined)));
  }
});

test('live migration through the node proxies over TLS: two copied disks over NBD, memory stream, ticks go on, images identical', async () => {
  const srcDir = join(dir, 'src');
  const dstDir = join(dir, 'dst');
  await mkdir(srcDir);
  await mkdir(dstDir);
  const rootSize = (await stat(guest.diskRaw)).size;
  await copyFile(guest.diskQcow2, join(srcDir, 'root.qcow2'));
  // The emptyDisk-like scratch disk, with content to copy.
  const raw = join(dir, 'scratch.raw');
  const fill = spawnSync('sh', ['-c', 'head -c 8388608 /dev/urandom > "$1"', 'sh', raw], { encoding: 'utf8' });
  assert.equal(fill.status, 0, fill.stderr);
  const conv = spawnSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, join(srcDir, 'scratch.qcow2')], { encoding: 'utf8' });
  assert.equal(conv.status, 0, conv.stderr);
  for (const [f, size] of [['root.qcow2', rootSize], ['scratch.qcow2', 32 * 1024 * 1024]] as const) {
    const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dstDir, f), String(size)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const resize = spawnSync('qemu-img', ['resize', '-q', join(srcDir, 'scratch.qcow2'), String(32 * 1024 * 1024)], { encoding: 'utf8' });
  assert.equal(resize.status, 0, resize.stderr);
  const spec = (d: string, incoming?: 'defer') => ({
    name: `vm-migproxy-${d === srcDir ? 'src' : 'dst'}`,
    accel: 'tcg' as const,
    memoryMiB: 128,
    disks: [
      { id: 'rootdisk', path: join(d, 'root.qcow2'), format: 'qcow2' as const, bootIndex: 1, cache: 'writeback' as const },
      { id: 'scratch', path: join(d, 'scratch.qcow2'), format: 'qcow2' as const, cache: 'writeback' as const },
    ],
    serial: { socket: join(d, 'serial.sock'), logFile: join(d, 'serial.log') },
    qmp: { socket: join(d, 'qmp.sock') },
    ...(incoming ? { incoming } : {}),
  });
  const ticksIn = async (d: string) => {
    const t = existsSync(join(d, 'serial.log')) ? await readFile(join(d, 'serial.log'), 'utf8') : '';
    return [...t.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
  };
  const src = await QemuProcess.start(spec(srcDir), { logFile: join(srcDir, 'qemu.log'), dieWithParent: true });
  qemus.push(src);
  // The guest mounts its disk at boot, and its kernel writes the dirtied metadata back up to ~35 s
  // later (dirty_expire 30 s + the 5 s flusher): migrating before that, the write lands on the
  // target only and the images legitimately differ. Past it, the guest writes nothing more.
  await until('the disk-booted source guest to tick for 35 s', async () => ((await ticksIn(srcDir)).at(-1) ?? 0) >= 35, 240_000, 250);
  const dst = await QemuProcess.start(spec(dstDir, 'defer'), { logFile: join(dstDir, 'qemu.log'), dieWithParent: true });
  qemus.push(dst);
  const config = { ...DEFAULT_MIGRATION_CONFIGURATION, maxDowntimeMs: 300 };
  const copiedDisks = ['rootdisk', 'scratch'];
  // Over TLS, as between cluster nodes.
  const targetTls = targetProxyTls(pki.dst, 'node-src');
  const target = await TargetMigration.prepare({ qmp: dst.qmp, root: '', privateDir: dstDir, netns: dstNs, nodeAddress: dstIp, sourceAddress: srcIp, migrationUid: `uid-${run}`, config, copiedDisks, tls: targetTls });
  const ports = Object.entries(target.ports);
  assert.deepEqual(ports.map(([, v]) => v).sort(), [MIGRATION_PORT_MEMORY, MIGRATION_PORT_BLOCK]);
  // A second prepare (a restarted agent) is harmless and picks the same ports.
  await target.finish();
  const again = await TargetMigration.prepare({ qmp: dst.qmp, root: '', privateDir: dstDir, netns: dstNs, nodeAddress: dstIp, sourceAddress: srcIp, migrationUid: `uid-${run}`, config, copiedDisks, tls: targetTls });
  assert.deepEqual(again.ports, target.ports);
  const port = (kind: number) => Number(ports.find(([, v]) => v === kind)![0]);
  const modes: string[] = [];
  const before = (await ticksIn(srcDir)).at(-1)!;
  const t0 = Date.now();
  const mig = SourceMigration.start({
    qmp: src.qmp,
    root: '',
    privateDir: srcDir,
    netns: srcNs,
    targetAddress: dstIp,
    memoryPort: port(MIGRATION_PORT_MEMORY),
    blockPort: port(MIGRATION_PORT_BLOCK),
    tls: sourceProxyTls(pki.src, 'node-dst'),
    config,
    copiedDisks,
    memoryBytes: 128 * 1024 * 1024,
    copiedDiskBytes: rootSize + 32 * 1024 * 1024,
    onMode: (m) => modes.push(m),
  });
  const outcome = await mig.done;
  console.log(`# migration through the node proxies with TLS (tcg, 128 MiB, ${Math.round((rootSize + 32 * 1024 * 1024) / 1024 / 1024)} MiB of disks): ${Date.now() - t0} ms, QEMU total ${outcome.result === 'completed' ? outcome.totalMs : '-'} ms, downtime ${outcome.result === 'completed' ? outcome.downtimeMs : '-'} ms`);
  assert.equal(outcome.result, 'completed', `${JSON.stringify(outcome)}\n${src.log()}\n${dst.log()}`);
  assert.equal(typeof (outcome.result === 'completed' && outcome.downtimeMs), 'number');
  assert.deepEqual(modes, ['PreCopy']);
  await until('the target to run the guest', () => again.guestHere(), 30_000, 100);
  await again.finish();
  assert.equal((await dst.qmp.queryStatus()).status, 'running');
  assert.equal((await src.qmp.queryStatus()).status, 'postmigrate');
  const onTarget = await until('ticks on the target', async () => {
    const t = await ticksIn(dstDir);
    return t.length >= 2 && t;
  }, 60_000, 250);
  assert.ok(onTarget[0]! >= before, `target ticks start at ${onTarget[0]}, source was at ${before}`);
  await src.kill();
  await dst.kill();
  for (const f of ['root.qcow2', 'scratch.qcow2']) {
    const cmp = spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', join(srcDir, f), join(dstDir, f)], { encoding: 'utf8' });
    assert.equal(cmp.status, 0, `${f}: ${cmp.stdout}${cmp.stderr}`);
  }
  assert.deepEqual(await processesUsing(dir), [], 'no socat left');
});

/** A 128 MiB TCG test guest whose serial and QMP sockets live in DIR under NAME's prefix N. */
function guestSpec(d: string, name: string, n: string, incoming?: 'defer') {
  return {
    name,
    accel: 'tcg' as const,
    memoryMiB: 128,
    kernel: { path: guest.kernel, initrd: guest.initrd, cmdline: TEST_GUEST_CMDLINE },
    serial: { socket: join(d, `${n}-serial.sock`), logFile: join(d, `${n}-serial.log`) },
    qmp: { socket: join(d, `${n}-qmp.sock`) },
    ...(incoming ? { incoming } : {}),
  };
}

test('completion timeout and abort: a throttled migration is cancelled with KubeVirt\'s reason, the guest runs on at the source; an agent restart mid-migration is adopted', async () => {
  const d = join(dir, 'throttled');
  await mkdir(d);
  const spec = (n: string, incoming?: 'defer') => guestSpec(d, `vm-migthrottle-${n}`, n, incoming);
  const ticks = async () => {
    const t = existsSync(join(d, 'src-serial.log')) ? await readFile(join(d, 'src-serial.log'), 'utf8') : '';
    return [...t.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
  };
  const src = await QemuProcess.start(spec('src'), { logFile: join(d, 'src-qemu.log'), dieWithParent: true });
  qemus.push(src);
  await until('the source guest to tick', async () => (await ticks()).length >= 2, 120_000, 250);
  // 1 MiB/s for 128 MiB of memory: far from done when 1 s × 1 GB of data has passed.
  const slow = { ...DEFAULT_MIGRATION_CONFIGURATION, bandwidthPerMigration: '1Mi', completionTimeoutPerGiB: 1 };
  const attempt = async (n: string, abort: boolean) => {
    const dst = await QemuProcess.start(spec(n, 'defer'), { logFile: join(d, `${n}-qemu.log`), dieWithParent: true });
    qemus.push(dst);
    const privateDir = join(d, n);
    await mkdir(privateDir);
    const target = await TargetMigration.prepare({ qmp: dst.qmp, root: '', privateDir, netns: dstNs, nodeAddress: dstIp, sourceAddress: srcIp, migrationUid: `uid-${run}-${n}`, config: slow, copiedDisks: [] });
    const memoryPort = Number(Object.keys(target.ports)[0]);
    const mig = SourceMigration.start({ qmp: src.qmp, root: '', privateDir: d, netns: srcNs, targetAddress: dstIp, memoryPort, config: abort ? { ...slow, completionTimeoutPerGiB: 150 } : slow, copiedDisks: [], memoryBytes: 128 * 2 ** 20, copiedDiskBytes: 0, onMode: () => undefined, pollMs: 200 });
    if (abort) {
      await until('the migration to be under way', async () => (await src.qmp.queryMigrate()).status === 'active', 10_000, 50);
      mig.abort();
    }
    const outcome = await mig.done;
    await target.finish();
    // The target's QEMU gives up on a broken incoming stream by itself.
    assert.equal(await dst.waitExit(30_000), true, 'the target QEMU exits after the failed incoming migration');
    return outcome;
  };
  const timedOut = await attempt('dst1', false);
  assert.deepEqual(timedOut, { result: 'failed', reason: 'Live migration is not completed after 1 seconds and has been aborted', aborted: false });
  const aborted = await attempt('dst2', true);
  assert.deepEqual(aborted, { result: 'failed', reason: 'Live migration has been aborted', aborted: true });
  assert.equal((await src.qmp.queryStatus()).status, 'running');
  const n = (await ticks()).at(-1)!;
  await until('the source guest to tick on', async () => ((await ticks()).at(-1)! >= n + 2 ? true : undefined), 30_000, 250);

  // An agent restart mid-migration: the old agent's listeners go (their forked socat children keep
  // both streams) and its QMP connections close; the new agent adopts the migration.
  const dst = await QemuProcess.start(spec('dst3', 'defer'), { logFile: join(d, 'dst3-qemu.log'), dieWithParent: true });
  qemus.push(dst);
  await mkdir(join(d, 'dst3'));
  const cfg = { ...DEFAULT_MIGRATION_CONFIGURATION, bandwidthPerMigration: '2Mi' };
  const targetInput = { root: '', privateDir: join(d, 'dst3'), netns: dstNs, nodeAddress: dstIp, sourceAddress: srcIp, migrationUid: `uid-${run}-dst3`, config: cfg, copiedDisks: [] };
  const t1 = await TargetMigration.prepare({ qmp: dst.qmp, ...targetInput });
  const sourceInput = { root: '', privateDir: d, netns: srcNs, targetAddress: dstIp, memoryPort: Number(Object.keys(t1.ports)[0]), config: cfg, copiedDisks: [], memoryBytes: 128 * 2 ** 20, copiedDiskBytes: 0, onMode: () => undefined, pollMs: 200 };
  const startedAtMs = Date.now();
  const m1 = SourceMigration.start({ qmp: src.qmp, ...sourceInput });
  await until('the migration to be under way', async () => ((await src.qmp.queryMigrate()).ram?.transferred ?? 0) > 2 ** 20, 20_000, 100);
  await m1.detach();
  await t1.detach();
  src.qmp.close();
  dst.qmp.close();
  assert.equal((await m1.done).result, 'failed', 'the old agent reports nothing (its outcome is dropped)');
  const srcQmp = await QmpClient.connect(join(d, 'src-qmp.sock'));
  const dstQmp = await QmpClient.connect(join(d, 'dst3-qmp.sock'));
  try {
    assert.equal((await srcQmp.queryMigrate()).status, 'active', 'the stream survived the old listeners');
    // Only so the test need not wait for 128 MiB at 2 MiB/s.
    await srcQmp.migrateSetParameters({ 'max-bandwidth': UNLIMITED_BANDWIDTH });
    const t2 = await TargetMigration.prepare({ qmp: dstQmp, ...targetInput, ports: t1.ports });
    assert.deepEqual(t2.ports, t1.ports, 'the same ports are published again');
    const adopted = await SourceMigration.start({ qmp: srcQmp, ...sourceInput, adopt: { startedAtMs } }).done;
    assert.equal(adopted.result, 'completed', JSON.stringify(adopted));
    await until('the target to run the guest', () => t2.guestHere(), 30_000, 100);
    await t2.finish();
    const dstTicks = async () => [...(await readFile(join(d, 'dst3-serial.log'), 'utf8').catch(() => '')).matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
    await until('ticks on the adopted target', async () => ((await dstTicks()).length >= 2 ? true : undefined), 60_000, 250);
    assert.ok((await dstTicks())[0]! >= n, 'the guest went on, not rebooted');
  } finally {
    srcQmp.close();
    dstQmp.close();
  }
  await src.kill();
  await dst.kill();
  assert.deepEqual(await processesUsing(d), [], 'no socat left');
});

test('post-copy: a migration that would hit its completion timeout switches to post-copy (allowPostCopy) and completes, mode PostCopy, the guest running on at the target', async () => {
  const d = join(dir, 'postcopy');
  await mkdir(d);
  const spec = (n: string, incoming?: 'defer') => guestSpec(d, `vm-migpostcopy-${n}`, n, incoming);
  const ticks = async (n: string) => [...(await readFile(join(d, `${n}-serial.log`), 'utf8').catch(() => '')).matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
  const src = await QemuProcess.start(spec('src'), { logFile: join(d, 'src-qemu.log'), dieWithParent: true });
  qemus.push(src);
  await until('the source guest to tick', async () => (await ticks('src')).length >= 2, 120_000, 250);
  const dst = await QemuProcess.start(spec('dst', 'defer'), { logFile: join(d, 'dst-qemu.log'), dieWithParent: true });
  qemus.push(dst);
  await mkdir(join(d, 'dst'));
  // 1 MiB/s for 128 MiB of guest memory cannot converge within 1 s × 1 GB: pre-copy would be
  // cancelled (the test above); allowed to, the monitor switches to post-copy instead, and the rest
  // of the memory follows at post-copy's own (unlimited) bandwidth while the guest runs on the target.
  const config = { ...DEFAULT_MIGRATION_CONFIGURATION, bandwidthPerMigration: '1Mi', completionTimeoutPerGiB: 1, allowPostCopy: true };
  const target = await TargetMigration.prepare({ qmp: dst.qmp, root: '', privateDir: join(d, 'dst'), netns: dstNs, nodeAddress: dstIp, sourceAddress: srcIp, migrationUid: `uid-${run}-postcopy`, config, copiedDisks: [], tls: targetProxyTls(pki.dst, 'node-src') });
  const modes: string[] = [];
  const before = (await ticks('src')).at(-1)!;
  const t0 = Date.now();
  const outcome = await SourceMigration.start({
    qmp: src.qmp,
    root: '',
    privateDir: d,
    netns: srcNs,
    targetAddress: dstIp,
    memoryPort: Number(Object.keys(target.ports)[0]),
    tls: sourceProxyTls(pki.src, 'node-dst'),
    config,
    copiedDisks: [],
    memoryBytes: 128 * 2 ** 20,
    copiedDiskBytes: 0,
    onMode: (m) => modes.push(m),
    pollMs: 200,
  }).done;
  console.log(`# post-copy migration through the TLS proxies (tcg, 128 MiB, 1 MiB/s pre-copy, switched after 1 s): ${Date.now() - t0} ms`);
  assert.equal(outcome.result, 'completed', `${JSON.stringify(outcome)}\n${src.log()}\n${dst.log()}`);
  assert.deepEqual(modes, ['PreCopy', 'PostCopy']);
  await until('the target to run the guest', () => target.guestHere(), 30_000, 100);
  await target.finish();
  assert.equal((await dst.qmp.queryStatus()).status, 'running');
  assert.equal((await src.qmp.queryStatus()).status, 'postmigrate');
  const onTarget = await until('ticks on the target', async () => {
    const t = await ticks('dst');
    return t.length >= 2 && t;
  }, 60_000, 250);
  assert.ok(onTarget[0]! >= before, `target ticks start at ${onTarget[0]}, source was at ${before}: the guest went on, not rebooted`);
  await src.kill();
  await dst.kill();
  assert.deepEqual(await processesUsing(d), [], 'no socat left');
});

test('a target that goes silent mid-migration (its link cut: no FIN, no RST): the source gives up within PEER_SILENCE_TIMEOUT_S and the guest runs on', async () => {
  const d = join(dir, 'silent');
  await mkdir(join(d, 'dst'), { recursive: true });
  const spec = (n: string, incoming?: 'defer') => ({
    name: `vm-migsilent-${n}`,
    accel: 'tcg' as const,
    memoryMiB: 128,
    kernel: { path: guest.kernel, initrd: guest.initrd, cmdline: TEST_GUEST_CMDLINE },
    serial: { socket: join(d, `${n}-serial.sock`), logFile: join(d, `${n}-serial.log`) },
    qmp: { socket: join(d, `${n}-qmp.sock`) },
    ...(incoming ? { incoming } : {}),
  });
  const ticks = async () => [...(await readFile(join(d, 'src-serial.log'), 'utf8').catch(() => '')).matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
  const src = await QemuProcess.start(spec('src'), { logFile: join(d, 'src-qemu.log'), dieWithParent: true });
  qemus.push(src);
  const dst = await QemuProcess.start(spec('dst', 'defer'), { logFile: join(d, 'dst-qemu.log'), dieWithParent: true });
  qemus.push(dst);
  await until('the source guest to tick', async () => (await ticks()).length >= 2, 120_000, 250);
  // Slow enough to be mid-stream when the link goes; KubeVirt's 150 s progress timeout is far off.
  const config = { ...DEFAULT_MIGRATION_CONFIGURATION, bandwidthPerMigration: '1Mi' };
  const target = await TargetMigration.prepare({ qmp: dst.qmp, root: '', privateDir: join(d, 'dst'), netns: dstNs, nodeAddress: dstIp, sourceAddress: srcIp, migrationUid: `uid-${run}-silent`, config, copiedDisks: [], tls: targetProxyTls(pki.dst, 'node-src') });
  const mig = SourceMigration.start({ qmp: src.qmp, root: '', privateDir: d, netns: srcNs, targetAddress: dstIp, memoryPort: Number(Object.keys(target.ports)[0]), tls: sourceProxyTls(pki.src, 'node-dst'), config, copiedDisks: [], memoryBytes: 128 * 2 ** 20, copiedDiskBytes: 0, onMode: () => undefined, pollMs: 200 });
  try {
    await until('the migration to be under way', async () => ((await src.qmp.queryMigrate()).ram?.transferred ?? 0) > 2 ** 20, 30_000, 100);
    const cutAt = Date.now();
    await Ip.ns(dstNs).setLink('vmig', { up: false });
    const outcome = await mig.done;
    const tookS = (Date.now() - cutAt) / 1000;
    console.log(`# silent target: the source gave up ${tookS.toFixed(1)} s after the cut (${JSON.stringify(outcome)})`);
    assert.equal(outcome.result, 'failed', JSON.stringify(outcome));
    assert.ok(tookS < PEER_SILENCE_TIMEOUT_S + 10, `the source noticed only after ${tookS.toFixed(1)} s`);
    assert.equal((await src.qmp.queryStatus()).status, 'running');
    const n = (await ticks()).at(-1)!;
    await until('the source guest to tick on', async () => ((await ticks()).at(-1)! >= n + 2 ? true : undefined), 30_000, 250);
  } finally {
    await Ip.ns(dstNs).setLink('vmig', { up: true });
    await target.finish();
  }
  await src.kill();
  await dst.kill();
  assert.deepEqual(await processesUsing(d), [], 'no socat left');
});
