/**
 * Probes against a real busybox container on runc: exec probes through the runtime's exec, the
 * timeout killing the command, and the probe manager turning a real liveness failure into the
 * kill decision. Runs as root; fails (never skips) when runc or busybox-static is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Container } from '../../src/agent/pods/api-types.js';
import { ProbeManager } from '../../src/agent/probes/probe-manager.js';
import { runProbe, type ProbeTarget } from '../../src/agent/probes/probe.js';
import { RuntimeFixture, until } from '../support/runtime.js';

describe('probes on a runc container', () => {
  let fx: RuntimeFixture;
  let id: string;
  let target: ProbeTarget;
  before(async () => {
    fx = new RuntimeFixture('probes');
    id = await fx.run('probed', { args: ['sh', '-c', 'touch /tmp/healthy; exec sleep 600'] });
    const container: Container = { name: 'probed', env: [{ name: 'FILE', value: '/tmp/healthy' }] };
    // What the agent gives the prober: the runtime's exec, stdout and stderr together.
    target = {
      podIP: '',
      container,
      exec: async (argv, timeoutMs) => {
        const r = await fx.runtime.exec(id, argv, { timeoutMs });
        return { exitCode: r.exitCode, output: r.stdout + r.stderr, timedOut: r.timedOut };
      },
    };
    await until('the probe file', async () => (await fx.runtime.exec(id, ['test', '-e', '/tmp/healthy'])).exitCode === 0);
  });
  after(async () => fx?.cleanup());

  it('succeeds on exit 0 and fails with the command output', async () => {
    assert.deepEqual(await runProbe({ exec: { command: ['cat', '$(FILE)'] } }, target, 5000), { result: 'success', message: '' });
    assert.deepEqual(await runProbe({ exec: { command: ['cat', '/tmp/missing'] } }, target, 5000), {
      result: 'failure',
      message: "cat: can't open '/tmp/missing': No such file or directory\n",
    });
  });

  it('kills a command that outlives the timeout and fails the probe', async () => {
    const t0 = Date.now();
    assert.deepEqual(await runProbe({ exec: { command: ['sleep', '77'] } }, target, 1000), { result: 'failure', message: 'command "sleep 77" timed out' });
    assert.ok(Date.now() - t0 < 5000);
    const ps = await fx.runtime.exec(id, ['ps', '-o', 'args']);
    assert.ok(!ps.stdout.includes('sleep 77'), `the timed-out command still runs:\n${ps.stdout}`);
  });

  it('a command that does not exist is a probe error, not a failure', async () => {
    const r = await runProbe({ exec: { command: ['/no/such/binary'] } }, target, 5000);
    assert.equal(r.result, 'unknown');
    assert.match(r.message, /no such file|not found/i);
  });

  it('liveness fails once the file is gone: the instance is marked to be killed', async () => {
    const events: string[] = [];
    let changes = 0;
    const m = new ProbeManager({ onChange: () => changes++, event: (_u, type, reason, message) => events.push(`${type} ${reason} ${message}`) });
    try {
      m.startContainer('cairn-pod', 'probed', id, new Date(), { livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 } }, target);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(m.state('cairn-pod', 'probed').livenessFailed, undefined);
      await fx.runtime.exec(id, ['rm', '/tmp/healthy']);
      await until('liveness to fail', () => m.state('cairn-pod', 'probed').livenessFailed, 10_000);
      assert.deepEqual(m.state('cairn-pod', 'probed'), { ready: true, started: true, livenessFailed: { message: 'Container probed failed liveness probe, will be restarted' } });
      assert.equal(changes, 1);
      assert.deepEqual(events, Array(2).fill("Warning Unhealthy Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n"));
    } finally {
      m.removePod('cairn-pod');
    }
  });
});
