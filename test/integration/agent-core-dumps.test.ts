/**
 * Core dumps of crashing containers on the real kernel: the collector installs Cairn's handler
 * as core_pattern, busybox containers crash with SIGSEGV / SIGABRT, their cores are collected
 * into the agent's data dir with the event message, and core_pattern is put back afterwards
 * (also when a test fails). Also: the handler's decisions on crafted input, and the
 * reference counting of core_pattern between collectors. Runs as root; fails (never skips)
 * when runc or busybox-static is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreDumpCollector, type CollectedCore } from '../../src/agent/crash/core-collector.js';
import { handleCore } from '../../src/agent/crash/core-handler.js';
import { readCorePattern, writeCorePattern } from '../../src/agent/crash/core-pattern.js';
import { coreRlimit } from '../../src/agent/crash/core-rlimit.js';
import { DEFAULT_SPOOL_DIR, HOLDERS_DIR, processStartTime, SAVED_PATTERN_FILE } from '../../src/agent/crash/spool.js';
import { RuntimeFixture, until } from '../support/runtime.js';

describe('core dumps of crashing containers', () => {
  let fx: RuntimeFixture;
  let collector: CoreDumpCollector;
  let originalPattern: string;
  /** The directories install() will create (the spool and missing parents), outermost first. */
  const created: string[] = [];
  const owners = new Map<string, { podUid: string; container: string }>();
  let podUid: string;

  before(async () => {
    fx = new RuntimeFixture('cores');
    podUid = `cairn-test-${fx.runId}`;
    // Another test's agents may hold the handler right now: the host's own pattern is then the one they saved.
    const saved = join(DEFAULT_SPOOL_DIR, SAVED_PATTERN_FILE);
    originalPattern = otherCairnHolders() && existsSync(saved) ? readFileSync(saved, 'utf8') : readCorePattern();
    for (let d = DEFAULT_SPOOL_DIR; !existsSync(d); d = dirname(d)) created.unshift(d);
    collector = new CoreDumpCollector({ dataDir: join(fx.base, 'agent'), cgroupPrefix: fx.cgroupParent });
    await collector.install();
  });

  after(async () => {
    const errors: unknown[] = [];
    await collector?.uninstall().catch((e) => errors.push(e));
    // Whatever happened above, the host keeps its core_pattern.
    if (originalPattern !== undefined && readCorePattern() !== originalPattern && !otherCairnHolders()) {
      writeCorePattern(originalPattern);
      errors.push(new Error('core_pattern had to be restored by the test'));
    }
    if (created.length && !otherCairnHolders()) {
      rmSync(DEFAULT_SPOOL_DIR, { recursive: true, force: true });
      // Parents only when empty: other agents' data may have appeared under /var/lib/cairn meanwhile.
      for (const d of created.slice(0, -1).reverse()) rmdirIfEmpty(d);
    }
    await fx?.cleanup().catch((e) => errors.push(e));
    if (errors.length) throw new AggregateError(errors, 'core dump test cleanup');
  });

  const rmdirIfEmpty = (d: string) => {
    try {
      rmdirSync(d);
    } catch {
      /* not empty (or gone): not ours to remove */
    }
  };
  /** Holders of agents other than this test (a cluster running on the host): leave their setup alone. */
  const otherCairnHolders = () => existsSync(join(DEFAULT_SPOOL_DIR, HOLDERS_DIR)) && readdirSync(join(DEFAULT_SPOOL_DIR, HOLDERS_DIR)).length > 0;

  const crash = async (name: string, signal: 'SEGV' | 'ABRT', rlimit: { type: string; soft: number; hard: number }) => {
    // The crashing shell is not pid 1 (the namespace's init ignores signals it has no handler for).
    const id = await fx.run(name, { args: ['sh', '-c', `sh -c 'kill -${signal} $$'; echo survived`], rlimits: [rlimit] });
    owners.set(id, { podUid, container: name });
    await until(`${id} to exit`, async () => (await fx.runtime.status(id)).state === 'exited', 15_000);
    return id;
  };
  const collected: CollectedCore[] = [];
  const collectUntil = async (n: number) => {
    await until(`${n} cores collected`, async () => {
      collected.push(...(await collector.collect((id) => owners.get(id))));
      return collected.length >= n;
    }, 15_000);
  };

  it('installs the handler as core_pattern', () => {
    const p = readCorePattern();
    assert.ok(p.startsWith('|/') && p.includes(` ${DEFAULT_SPOOL_DIR} %P %s %t %c`), p);
  });

  it('collects the core of a container that dies of SIGSEGV', async () => {
    await crash('segv', 'SEGV', coreRlimit());
    await collectUntil(1);
    const [c] = collected;
    assert.equal(c.container, 'segv');
    assert.equal(c.podUid, podUid);
    assert.equal(c.signal, 11);
    assert.equal(c.truncated, false);
    assert.equal(c.kept, true);
    assert.ok(c.path.startsWith(join(fx.base, 'agent', 'cores', podUid) + '/'), c.path);
    assert.equal(statSync(c.path).size, c.bytes);
    assert.ok(c.bytes > 4096);
    assert.equal(readFileSync(c.path).subarray(0, 4).toString('latin1'), '\x7fELF', 'an ELF core file');
    assert.equal(c.message, `Container segv dumped core (signal 11): ${c.path}, ${c.bytes} bytes`);
    assert.deepEqual(await collector.collect((id) => owners.get(id)), [], 'each core is reported once');
  });

  it('cuts a core at the container RLIMIT_CORE and marks it truncated', async () => {
    await crash('abrt', 'ABRT', coreRlimit(64 * 1024));
    await collectUntil(2);
    const c = collected[1];
    assert.equal(c.signal, 6);
    assert.equal(c.truncated, true);
    assert.equal(c.bytes, 64 * 1024);
    assert.ok(existsSync(`${c.path}.truncated`));
    assert.match(c.message, /^Container abrt dumped core \(signal 6\): .*, 65536 bytes \(truncated at the container RLIMIT_CORE\)$/);
  });

  it('keeps nothing for a container with RLIMIT_CORE 0, nor for processes outside Cairn', async () => {
    const id = await crash('nolimit', 'SEGV', { type: 'RLIMIT_CORE', soft: 0, hard: 0 });
    // A crash on the host, outside any container.
    const host = spawnSync('sh', ['-c', `ulimit -c unlimited; sh -c 'kill -SEGV $$'`]);
    assert.equal(host.status, 139);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await collector.collect((x) => owners.get(x)), []);
    assert.ok(!existsSync(join(DEFAULT_SPOOL_DIR, id)));
    const spoolDirs = readdirSync(DEFAULT_SPOOL_DIR).filter((n) => !n.startsWith('.'));
    assert.ok(!spoolDirs.some((n) => n.startsWith(`cairn-${fx.runId}`)), spoolDirs.join(' '));
  });

  it('enforces the node limits, oldest first', async () => {
    const strict = new CoreDumpCollector({ dataDir: join(fx.base, 'agent'), maxCount: 1 });
    assert.deepEqual(await strict.collect(() => undefined), []);
    const left = readdirSync(join(fx.base, 'agent', 'cores', podUid)).filter((n) => n.endsWith('.core'));
    assert.deepEqual(left, [collected[1].path.split('/').pop()], 'only the newest core is kept');
    assert.ok(!existsSync(collected[0].path));
  });
});

describe('core handler decisions', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-core-handler-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A spool with one live holder (this process), a fake /proc/<pid>/cgroup, and a core on a file. */
  const setup = (cgroup: string, core: Buffer) => {
    const spool = join(dir, `spool-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(spool, HOLDERS_DIR), { recursive: true });
    const proc = join(spool, 'proc');
    mkdirSync(join(proc, '4242'), { recursive: true });
    writeFileSync(join(proc, '4242', 'cgroup'), cgroup);
    // The holder's liveness is checked through the same proc dir.
    mkdirSync(join(proc, String(process.pid)), { recursive: true });
    writeFileSync(join(proc, String(process.pid), 'stat'), readFileSync(`/proc/${process.pid}/stat`));
    writeFileSync(join(spool, HOLDERS_DIR, 'h.json'), JSON.stringify({ pid: process.pid, pidStart: processStartTime(process.pid), cgroupPrefix: '/cairn-x/' }));
    const input = join(spool, 'core.in');
    writeFileSync(input, core);
    return { spool, proc, input };
  };
  const run = (s: { spool: string; proc: string; input: string }, limit: string) => {
    const fd = openSync(s.input, 'r');
    try {
      return handleCore([s.spool, '4242', '11', '1700000000', limit], { input: fd, procDir: s.proc });
    } finally {
      closeSync(fd);
    }
  };

  it('writes a Cairn container core under its id, complete or cut at the limit', () => {
    const core = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const s = setup('12:memory:/cairn-x/podabc/abc-app-0\n0::/cairn-x/podabc/abc-app-0\n', core);
    const path = run(s, '18446744073709551615');
    assert.equal(path, join(s.spool, 'abc-app-0', '1700000000-11.core'));
    assert.ok(readFileSync(path!).equals(core));
    const second = run(s, '1000');
    assert.equal(second, join(s.spool, 'abc-app-0', '1700000000-11-4242.core'), 'the same second: the pid is added');
    assert.equal(statSync(second!).size, 1000);
    assert.ok(existsSync(`${second}.truncated`));
    assert.ok(!existsSync(`${path}.truncated`));
    assert.deepEqual(readdirSync(join(s.spool, 'abc-app-0')).filter((n) => n.endsWith('.partial')), []);
  });

  it('writes nothing for other processes, RLIMIT_CORE 0, or without a live collector', () => {
    const other = setup('0::/user.slice/session-1.scope\n', Buffer.from('core'));
    assert.equal(run(other, '1000000'), null);
    const zero = setup('0::/cairn-x/p/abc-app-1\n', Buffer.from('core'));
    assert.equal(run(zero, '0'), null);
    const orphan = setup('0::/cairn-x/p/abc-app-2\n', Buffer.from('core'));
    rmSync(join(orphan.spool, HOLDERS_DIR, 'h.json'));
    assert.equal(run(orphan, '1000000'), null);
    assert.equal(handleCore(['relative', 'x', '11', '1', '1']), null, 'bad arguments');
  });
});

describe('core_pattern reference counting', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-core-refs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the first collector saves the pattern, the last one restores it; dead holders do not count', async () => {
    const patternFile = join(dir, 'core_pattern');
    const spoolDir = join(dir, 'spool');
    writeFileSync(patternFile, 'core\n');
    const make = () => new CoreDumpCollector({ dataDir: join(dir, 'data'), spoolDir, corePatternFile: patternFile, handlerCommand: ['/usr/bin/node', '/opt/cairn/core-handler-cli.js'] });
    const a = make();
    const b = make();
    assert.equal(a.pattern, `|/usr/bin/node /opt/cairn/core-handler-cli.js ${spoolDir} %P %s %t %c`);
    await a.install();
    assert.equal(readCorePattern(patternFile), a.pattern);
    assert.equal(readFileSync(join(spoolDir, SAVED_PATTERN_FILE), 'utf8'), 'core');
    await b.install();
    // A holder left by a process that is gone.
    writeFileSync(join(spoolDir, HOLDERS_DIR, '999999-1.json'), JSON.stringify({ pid: 999_999, pidStart: '1', cgroupPrefix: '/cairn' }));
    await a.uninstall();
    assert.equal(readCorePattern(patternFile), a.pattern, 'b still holds it');
    await b.uninstall();
    assert.equal(readCorePattern(patternFile), 'core');
    assert.deepEqual(readdirSync(join(spoolDir, HOLDERS_DIR)), [], 'the stale holder was pruned');
    assert.ok(!existsSync(join(spoolDir, SAVED_PATTERN_FILE)));

    // A pattern left behind by an agent that died: the saved host pattern survives the next round.
    writeFileSync(patternFile, 'core\n');
    await a.install();
    writeFileSync(join(spoolDir, HOLDERS_DIR, readdirSync(join(spoolDir, HOLDERS_DIR))[0]), JSON.stringify({ pid: 999_999, pidStart: '1', cgroupPrefix: '/cairn' }));
    const c = make();
    await c.install();
    await c.uninstall();
    assert.equal(readCorePattern(patternFile), 'core');
  });

  it('refuses patterns the kernel would cut or split', () => {
    assert.throws(() => new CoreDumpCollector({ dataDir: dir, spoolDir: '/var/lib/with space', handlerCommand: ['/usr/bin/node', '/x.js'] }), /split on spaces/);
    assert.throws(() => new CoreDumpCollector({ dataDir: dir, handlerCommand: ['/usr/bin/node', `/${'d'.repeat(120)}/x.js`] }), /the kernel keeps 127/);
    assert.throws(() => new CoreDumpCollector({ dataDir: dir, handlerCommand: ['node', '/x.js'] }), /absolute path/);
  });
});
