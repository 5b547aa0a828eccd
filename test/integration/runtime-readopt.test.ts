/**
 * Re-adoption: the process that started containers dies (SIGKILL); the containers and their
 * shims keep running and logging; a new runtime instance over the same data dir finds them,
 * execs into them, and learns the exit codes of those that ended while nobody was watching.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { RuncRuntime } from '../../src/agent/runtime/container-runtime.js';
import { parseCriLog } from '../../src/agent/runtime/cri-log.js';
import { RuntimeFixture, until } from '../support/runtime.js';

const childScript = fileURLToPath(new URL('../support/runtime-agent-child.js', import.meta.url));

describe('container runtime re-adoption', () => {
  let fx: RuntimeFixture;
  before(() => {
    fx = new RuntimeFixture('readopt');
  });
  after(async () => fx?.cleanup());

  it('survives the agent being killed and is re-adopted by a new runtime instance', async () => {
    const ticker = fx.id('ticker');
    const quitter = fx.id('quitter');
    const orphan = fx.id('orphan');
    const containers = [
      { id: ticker, args: ['sh', '-c', 'i=0; while [ ! -f /tmp/stop-$HOSTNAME ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; exit 7'] },
      { id: quitter, args: ['sh', '-c', 'sleep 1.5; echo bye; exit 5'] },
      { id: orphan, args: ['sleep', '1000'] },
    ].map((c) => ({ id: c.id, bundleDir: fx.bundle(c.id), logPath: fx.logPath(c.id), spec: fx.spec(c.id, { args: c.args }) }));

    const child = spawn(process.execPath, [childScript, JSON.stringify({ dataDir: fx.runtime.dataDir, containers })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let childExited = false;
    child.on('exit', () => (childExited = true));
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`agent child exited early (${code})`)));
      });
      assert.deepEqual(JSON.parse(first).started, [ticker, quitter, orphan]);
      child.kill('SIGKILL');
      await until('agent child to die', () => childExited);
    } finally {
      if (!childExited) child.kill('SIGKILL');
    }

    const rt = new RuncRuntime({ dataDir: fx.runtime.dataDir });
    const st = await rt.status(ticker);
    assert.equal(st.state, 'running');
    assert.ok(st.pid && st.pid > 1);
    // The shim keeps logging with no agent around.
    const ticks = () => parseCriLog(readFileSync(fx.logPath(ticker), 'utf8')).filter((e) => e.content.startsWith('tick')).length;
    const n0 = ticks();
    await until('more ticks after the agent died', () => ticks() > n0 + 3);

    // Ended while no agent ran: the exit code comes from the shim's record.
    const q = await until('quitter to exit', async () => {
      const s = await rt.status(quitter);
      return s.state === 'exited' ? s : null;
    });
    assert.equal(q.exitCode, 5);
    assert.equal(q.oomKilled, false);

    // The re-adopted container can be exec'd into and stopped; its own exit code is kept.
    const r = await rt.exec(ticker, ['sh', '-c', 'touch /tmp/stop-$(hostname)']);
    assert.equal(r.exitCode, 0);
    const t = await until('ticker to exit', async () => {
      const s = await rt.status(ticker);
      return s.state === 'exited' ? s : null;
    });
    assert.equal(t.exitCode, 7);

    // A container whose shim is gone too: its end cannot be observed, reported as the kubelet does.
    const shimPid = Number(readFileSync(join(rt.containersDir, orphan, 'shim.pid'), 'utf8'));
    process.kill(shimPid, 'SIGKILL');
    assert.equal((await rt.status(orphan)).state, 'running');
    await rt.runc.kill(orphan, 'SIGKILL');
    const o = await until('orphan to be reported', async () => {
      const s = await rt.status(orphan);
      return s.state === 'unknown' ? s : null;
    });
    assert.equal(o.reason, 'ContainerStatusUnknown');
    assert.equal(o.exitCode, 137);

    const listed = await rt.list();
    assert.deepEqual(listed.map((c) => [c.id, c.state]).sort(), [[orphan, 'unknown'], [quitter, 'exited'], [ticker, 'exited']].sort());
    for (const c of listed) await rt.remove(c.id);
    assert.deepEqual(await rt.list(), []);
    assert.deepEqual(await rt.runc.list(), []);
  });
});
