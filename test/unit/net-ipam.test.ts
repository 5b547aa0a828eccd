// IPAM (no root needed): range, idempotence, persistence, release, leak reclaim, concurrency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ipam, IpamError, IpamExhaustedError } from '../../src/net/ipam.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-ipam-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('allocates .2 to .254 of a /24, skipping the gateway, then reports exhaustion', () =>
  withDir(async (dir) => {
    const ipam = await Ipam.open({ dir, subnet: '10.244.7.0/24' });
    assert.equal(ipam.gateway, '10.244.7.1');
    const ips = new Set<string>();
    for (let i = 0; i < 253; i++) ips.add(await ipam.allocate(`pod-${i}`));
    assert.equal(ips.size, 253);
    assert.ok(!ips.has('10.244.7.0') && !ips.has('10.244.7.1') && !ips.has('10.244.7.255'));
    assert.ok(ips.has('10.244.7.2') && ips.has('10.244.7.254'));
    await assert.rejects(ipam.allocate('one-more'), IpamExhaustedError);
  }));

test('allocation is idempotent per id, persisted, and survives reopening', () =>
  withDir(async (dir) => {
    const a = await Ipam.open({ dir, subnet: '10.244.1.0/24' });
    const ip = await a.allocate('uid-a', { pod: 'default/a' });
    assert.equal(await a.allocate('uid-a'), ip);
    const b = await Ipam.open({ dir, subnet: '10.244.1.0/24' });
    assert.equal(b.get('uid-a')?.ip, ip);
    assert.equal(b.get('uid-a')?.meta?.['pod'], 'default/a');
    assert.notEqual(await b.allocate('uid-b'), ip);
    assert.deepEqual(await readdir(dir), ['10.244.1.0-24.json'], 'no temp files left');
    const onDisk = JSON.parse(await readFile(join(dir, '10.244.1.0-24.json'), 'utf8'));
    assert.equal(Object.keys(onDisk.allocations).length, 2);
  }));

test('release frees an address; round-robin does not reuse it at once', () =>
  withDir(async (dir) => {
    const ipam = await Ipam.open({ dir, subnet: '10.244.1.0/24' });
    const x = await ipam.allocate('x');
    assert.equal(await ipam.release('x'), x);
    assert.equal(await ipam.release('x'), undefined);
    const y = await ipam.allocate('y');
    assert.notEqual(y, x);
  }));

test('reclaim releases every owner not in the live set, also after a restart', () =>
  withDir(async (dir) => {
    const a = await Ipam.open({ dir, subnet: '10.244.2.0/24' });
    for (const id of ['live-1', 'leak-1', 'live-2', 'leak-2']) await a.allocate(id);
    const b = await Ipam.open({ dir, subnet: '10.244.2.0/24' }); // "agent restarted"
    const released = await b.reclaim(['live-1', 'live-2']);
    assert.deepEqual(released.map((r) => r.id).sort(), ['leak-1', 'leak-2']);
    assert.deepEqual(b.list().map((r) => r.id).sort(), ['live-1', 'live-2']);
    const c = await Ipam.open({ dir, subnet: '10.244.2.0/24' });
    assert.equal(c.list().length, 2);
  }));

test('concurrent allocations in one process get distinct addresses', () =>
  withDir(async (dir) => {
    const ipam = await Ipam.open({ dir, subnet: '10.244.3.0/24' });
    const ips = await Promise.all(Array.from({ length: 60 }, (_, i) => ipam.allocate(`c-${i % 50}`)));
    assert.equal(new Set(ips).size, 50);
    const again = await Ipam.open({ dir, subnet: '10.244.3.0/24' });
    assert.equal(again.list().length, 50);
  }));

test('bad input: corrupt state, wrong subnet, bad ids and subnets are refused', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, '10.244.4.0-24.json'), '{not json');
    await assert.rejects(Ipam.open({ dir, subnet: '10.244.4.0/24' }), IpamError);
    await assert.rejects(Ipam.open({ dir, subnet: '10.244.4.1/24' }), /host bits/);
    await assert.rejects(Ipam.open({ dir, subnet: '10.244.4.0/31' }), IpamError);
    const ipam = await Ipam.open({ dir, subnet: '10.244.5.0/24' });
    assert.throws(() => ipam.allocate('../etc'), IpamError);
    assert.throws(() => ipam.allocate(''), IpamError);
  }));
