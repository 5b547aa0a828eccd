// The guest agent client against fake agents on a unix socket: the guest-sync-delimited
// handshake discarding stale output, in-order commands, errors with qemu-ga's class, and no
// agent (a silent channel) as a timeout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestAgentClient, GuestAgentError, GuestAgentTimeoutError, GuestAgentClosedError } from '../../src/virt/qemu/guest-agent-client.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-qga-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A fake agent: `answer` maps each command line to the bytes written back (or nothing). */
function fakeAgent(answer: (cmd: { execute: string; arguments?: Record<string, unknown> }) => string | undefined, onConnect?: string): Promise<{ path: string; server: Server }> {
  const path = join(dir, `qga-${n++}.sock`);
  const server = createServer((sock) => {
    if (onConnect) sock.write(Buffer.from(onConnect, 'latin1'));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const out = answer(JSON.parse(buf.slice(0, i)) as { execute: string });
        buf = buf.slice(i + 1);
        if (out !== undefined) sock.write(Buffer.from(out, 'latin1'));
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server })));
}

test('sync past stale output, then typed commands in order', async () => {
  const f = await fakeAgent((c) => {
    if (c.execute === 'guest-sync-delimited') return `\xff{"return": ${String(c.arguments?.['id'])}}\n`;
    if (c.execute === 'guest-ping') return '{"return": {}}\n';
    if (c.execute === 'guest-get-host-name') return '{"return": {"host-name": "vm-one"}}\n';
    if (c.execute === 'guest-network-get-interfaces') return '{"return": [{"name": "eth0", "hardware-address": "52:54:00:00:00:01", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.2", "prefix": 24}]}]}\n';
    if (c.execute === 'guest-fsfreeze-freeze') return '{"error": {"class": "GenericError", "desc": "freeze failed"}}\n';
    return undefined;
  }, '{"return": 99}\n{"partial"');
  const agent = await GuestAgentClient.connect(f.path);
  try {
    const [, host, ifs] = await Promise.all([agent.ping(), agent.hostName(), agent.networkInterfaces()]);
    assert.equal(host, 'vm-one');
    assert.equal(ifs[0]?.['ip-addresses']?.[0]?.['ip-address'], '10.0.2.2');
    const e = await agent.fsfreezeFreeze().catch((x: unknown) => x);
    assert.ok(e instanceof GuestAgentError && e.errorClass === 'GenericError' && e.desc === 'freeze failed');
  } finally {
    agent.close();
    f.server.close();
  }
  await assert.rejects(agent.ping(), GuestAgentClosedError);
});

test('no agent: the sync times out; a command timing out closes the session', async () => {
  const silent = await fakeAgent(() => undefined);
  try {
    await assert.rejects(GuestAgentClient.connect(silent.path, { timeoutMs: 200 }), GuestAgentTimeoutError);
  } finally {
    silent.server.close();
  }
  const f = await fakeAgent((c) => (c.execute === 'guest-sync-delimited' ? `\xff{"return": ${String(c.arguments?.['id'])}}\n` : undefined));
  const agent = await GuestAgentClient.connect(f.path);
  try {
    await assert.rejects(agent.execute('guest-fsfreeze-status', undefined, { timeoutMs: 200 }), GuestAgentTimeoutError);
    await assert.rejects(agent.ping(), GuestAgentClosedError);
  } finally {
    agent.close();
    f.server.close();
  }
  await assert.rejects(GuestAgentClient.connect(join(dir, 'missing.sock')), GuestAgentClosedError);
});
