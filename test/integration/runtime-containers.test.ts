/**
 * The container runtime on the real kernel: runc + the Node shim, CRI logs, exit codes, OOM,
 * graceful stop, exec, security context, network namespaces. Runs as root; fails (never skips)
 * when runc or busybox-static is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ContainerStartError } from '../../src/agent/runtime/container-runtime.js';
import { parseCriLog } from '../../src/agent/runtime/cri-log.js';
import { ContainerNotFoundError, RuntimeError } from '../../src/agent/runtime/runc.js';
import { RuntimeFixture, until } from '../support/runtime.js';

describe('container runtime (runc)', () => {
  let fx: RuntimeFixture;
  before(() => {
    fx = new RuntimeFixture('ctr');
  });
  after(async () => fx?.cleanup());

  const waitExit = (id: string, ms = 10_000) =>
    until(`container ${id} to exit`, async () => {
      const s = await fx.runtime.status(id);
      return s.state === 'exited' ? s : null;
    }, ms);
  const log = (id: string) => parseCriLog(readFileSync(fx.logPath(id), 'utf8'));

  it('captures stdout and stderr as CRI log lines and reports exit code 3', async () => {
    const id = await fx.run('exit3', { args: ['sh', '-c', 'echo out-1; echo err-1 >&2; printf "no-newline"; exit 3'] });
    const st = await waitExit(id);
    assert.equal(st.exitCode, 3);
    assert.equal(st.oomKilled, false);
    assert.equal(st.reason, undefined);
    assert.ok(st.startedAt && st.finishedAt);
    const raw = readFileSync(fx.logPath(id), 'utf8');
    for (const line of raw.trimEnd().split('\n'))
      assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] /, `CRI line: ${line}`);
    const entries = log(id);
    assert.deepEqual(
      entries.filter((e) => e.stream === 'stdout').map((e) => [e.content, e.partial]),
      [
        ['out-1', false],
        ['no-newline', false],
      ],
    );
    assert.deepEqual(entries.filter((e) => e.stream === 'stderr').map((e) => e.content), ['err-1']);
  });

  it('reports OOMKilled with exit code 137 when the memory limit is far below need', async () => {
    const id = await fx.run('oom', {
      args: ['sh', '-c', 'echo start; x=$(head -c 67108864 /dev/zero | tr "\\000" a); echo survived ${#x}'],
      resources: { memoryLimitBytes: 8 * 1024 * 1024 },
    });
    const st = await waitExit(id, 20_000);
    assert.equal(st.exitCode, 137);
    assert.equal(st.oomKilled, true);
    assert.equal(st.reason, 'OOMKilled');
    assert.ok(!log(id).some((e) => e.content.startsWith('survived')));
  });

  it('stops gracefully with SIGTERM, and with SIGKILL after the grace period', async () => {
    const polite = await fx.run('term', { args: ['sh', '-c', 'trap "echo got-term; exit 0" TERM; echo ready; while true; do sleep 0.1; done'] });
    const stubborn = await fx.run('kill', { args: ['sleep', '1000'] }); // pid 1 ignores an unhandled SIGTERM
    await until('polite ready', () => log(polite).some((e) => e.content === 'ready'));
    const t0 = Date.now();
    const a = await fx.runtime.stop(polite, 10);
    assert.equal(a.state, 'exited');
    assert.equal(a.exitCode, 0);
    assert.ok(Date.now() - t0 < 5000, 'SIGTERM handled well before the grace period');
    assert.ok(log(polite).some((e) => e.content === 'got-term'));
    const t1 = Date.now();
    const b = await fx.runtime.stop(stubborn, 1);
    const took = Date.now() - t1;
    assert.equal(b.exitCode, 137);
    assert.equal(b.oomKilled, false);
    assert.ok(took >= 1000 && took < 6000, `killed after the 1 s grace period (took ${took} ms)`);
    // Stopping an exited container is a no-op that reports its status.
    assert.equal((await fx.runtime.stop(stubborn, 1)).exitCode, 137);
  });

  it('execs with exit code, stdout, stderr, env and a timeout', async () => {
    const id = await fx.run('exec', { args: ['sleep', '1000'], env: ['FOO=bar'] });
    const r = await fx.runtime.exec(id, ['sh', '-c', 'echo "$FOO $BAZ"; echo oops >&2; exit 42'], { env: ['BAZ=qux'] });
    assert.deepEqual({ ...r }, { exitCode: 42, stdout: 'bar qux\n', stderr: 'oops\n', timedOut: false });
    const ok = await fx.runtime.exec(id, ['cat'], { stdin: 'piped' });
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.stdout, 'piped');
    const t0 = Date.now();
    const slow = await fx.runtime.exec(id, ['sleep', '30'], { timeoutMs: 300 });
    assert.equal(slow.timedOut, true);
    assert.ok(Date.now() - t0 < 5000);
    const ps = await fx.runtime.exec(id, ['ps', '-o', 'args']);
    assert.ok(!ps.stdout.includes('sleep 30'), `timed-out exec process killed:\n${ps.stdout}`);
    await assert.rejects(fx.runtime.exec(id, ['/no/such/binary']), /no such file|not found/i);
    const stats = await fx.runtime.stats(id);
    assert.ok(stats.memoryUsageBytes > 0 && stats.pidsCurrent >= 1, JSON.stringify(stats).slice(0, 300));
    await fx.runtime.stop(id, 0);
    await assert.rejects(fx.runtime.exec(id, ['true']));
  });

  it('honours readOnlyRootFilesystem, runAsUser/Group and dropped capabilities', async () => {
    const ro = await fx.run('ro', {
      args: ['sh', '-c', 'touch /file 2>&1; echo rc=$?; touch /scratch/ok && echo scratch-ok'],
      readOnlyRootfs: true,
      mounts: [{ kind: 'tmpfs', destination: '/scratch', sizeBytes: 1 << 20 }],
    });
    const user = await fx.run('user', { args: ['sh', '-c', 'echo "$(id -u):$(id -g):$(id -G)"'], user: { uid: 1000, gid: 1000, additionalGids: [2000] } });
    const nochown = await fx.run('nochown', {
      args: ['sh', '-c', 'touch /tmp/f; chown 1000 /tmp/f 2>&1; echo rc=$?; grep CapEff /proc/self/status'],
      capabilities: { drop: ['CHOWN'] },
      allowPrivilegeEscalation: false,
    });
    const chown = await fx.run('chown', { args: ['sh', '-c', 'touch /tmp/g; chown 1000 /tmp/g; echo rc=$?; grep -E "CapEff|NoNewPrivs" /proc/self/status'] });
    for (const id of [ro, user, nochown, chown]) await waitExit(id);
    const text = (id: string) => log(id).map((e) => e.content).join('\n');
    assert.match(text(ro), /Read-only file system/);
    assert.match(text(ro), /rc=1/);
    assert.match(text(ro), /scratch-ok/);
    assert.equal(text(user), '1000:1000:1000 2000');
    assert.match(text(nochown), /Operation not permitted/);
    assert.match(text(nochown), /rc=1/);
    assert.match(text(chown), /rc=0/);
    assert.match(text(chown), /NoNewPrivs:\s+0/);
    // CAP_CHOWN is bit 0: set by default, cleared when dropped.
    const capEff = (id: string) => BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(text(id))![1]}`);
    assert.equal(capEff(chown) & 1n, 1n);
    assert.equal(capEff(nochown) & 1n, 0n);
  });

  it('joins a pre-made network namespace and sees its interfaces', async () => {
    const ns = fx.netns();
    const link = `cairnt${fx.runId.slice(-6)}`;
    execFileSync('ip', ['-n', ns, 'link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.251.7.2/24', 'dev', link]);
    execFileSync('ip', ['-n', ns, 'link', 'set', link, 'up']);
    execFileSync('ip', ['-n', ns, 'link', 'set', `${link}p`, 'up']);
    const id = await fx.run('netns', { args: ['sh', '-c', 'ip -o addr; hostname'], namespaces: { network: { path: `/var/run/netns/${ns}` } } });
    await waitExit(id);
    const text = log(id).map((e) => e.content).join('\n');
    assert.match(text, new RegExp(`${link}\\s+inet 10\\.251\\.7\\.2/24`));
    assert.ok(text.includes(id.slice(0, 63)), 'own UTS namespace with the hostname set');
  });

  it('applies cgroup limits and oom_score_adj, and shares a pid namespace', async () => {
    const first = await fx.run('pid1', { args: ['sleep', '1000'] });
    const pid = (await fx.runtime.status(first)).pid!;
    const id = await fx.run('limits', {
      args: ['sh', '-c', 'cat /proc/self/oom_score_adj; ps -o args; ulimit -n; sleep 1000'],
      namespaces: { pid: { path: `/proc/${pid}/ns/pid` } },
      resources: { memoryLimitBytes: 64 * 1024 * 1024, cpuLimitMilli: 250, cpuRequestMilli: 100, pidsLimit: 50 },
      oomScoreAdj: 500,
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 }],
    });
    await until('limits output', () => log(id).some((e) => e.content === '512'));
    const text = log(id).map((e) => e.content);
    assert.equal(text[0], '500');
    assert.ok(text.includes('sleep 1000'), `sees the first container's process: ${text.join('|')}`);
    const cg = `${fx.cgroupParent}/${id}`;
    const read = (ctl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctl}${cg}/${file}`, 'utf8').trim();
    assert.equal(read('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(read('cpu', 'cpu.cfs_quota_us'), '25000');
    assert.equal(read('cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(read('cpu', 'cpu.shares'), '102');
    assert.equal(read('pids', 'pids.max'), '50');
    await fx.runtime.stop(id, 0);
    await fx.runtime.stop(first, 0);
  });

  it('drives runc create/start/state/kill/delete directly', async () => {
    const id = fx.id('raw');
    const bundle = fx.bundle(id);
    writeFileSync(`${bundle}/config.json`, JSON.stringify(fx.spec(id, { args: ['sleep', '1000'] })));
    const runc = fx.runtime.runc;
    await runc.create(id, { bundle, pidFile: `${bundle}/pid` });
    try {
      assert.equal((await runc.state(id)).status, 'created');
      await runc.start(id);
      const st = await runc.state(id);
      assert.equal(st.status, 'running');
      assert.equal(st.pid, Number(readFileSync(`${bundle}/pid`, 'utf8')));
      await runc.kill(id, 'SIGKILL');
      await until('raw container stopped', async () => (await runc.state(id)).status === 'stopped');
    } finally {
      await runc.delete(id, { force: true });
    }
    assert.equal(await runc.stateOrNull(id), null);
    await assert.rejects(runc.kill(id, 'SIGTERM'), ContainerNotFoundError);
    await assert.rejects(runc.create(id, { bundle: '/nonexistent-cairn-bundle' }), (e: unknown) => e instanceof RuntimeError && /nonexistent-cairn-bundle|no such file/i.test(e.message));
  });

  it('reports a command that does not exist as ContainerCannotRun', async () => {
    const id = fx.id('nocmd');
    await fx.runtime.createContainer({ id, bundleDir: fx.bundle(id), spec: fx.spec(id, { args: ['/no/such/cmd'] }), logPath: fx.logPath(id) });
    assert.equal((await fx.runtime.status(id)).state, 'created');
    await assert.rejects(fx.runtime.start(id), (e: unknown) => {
      assert.ok(e instanceof ContainerStartError);
      assert.equal(e.status.reason, 'ContainerCannotRun');
      assert.match(e.status.message ?? '', /no such file|not found/i);
      return true;
    });
    const st = await fx.runtime.status(id);
    assert.equal(st.state, 'exited');
    assert.notEqual(st.exitCode, 0);
  });

  it('lists containers, removes them, and knows unknown ids', async () => {
    const id = await fx.run('list', { args: ['sleep', '1000'] });
    const all = await fx.runtime.list();
    const mine = all.find((c) => c.id === id);
    assert.equal(mine?.state, 'running');
    assert.ok(mine!.pid! > 1);
    assert.ok((await fx.runtime.runc.list()).some((c) => c.id === id && c.status === 'running'));
    await fx.runtime.remove(id);
    await fx.runtime.remove(id); // idempotent
    assert.ok(!(await fx.runtime.list()).some((c) => c.id === id));
    await assert.rejects(fx.runtime.status(id), ContainerNotFoundError);
    await assert.rejects(fx.runtime.runc.state(id), ContainerNotFoundError);
  });
});
