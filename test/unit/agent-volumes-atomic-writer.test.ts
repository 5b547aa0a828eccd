/**
 * The atomic writer as a container sees its volume: per-key symlinks through `..data`, a new
 * timestamped dir swapped in per change, exact file modes, pruning of removed keys, nothing
 * rewritten when nothing changed, and upstream's path validation messages.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { atomicWrite, validatePayloadPath, type Payload } from '../../src/agent/volumes/atomic-writer.js';

const file = (s: string, mode = 0o644) => ({ data: Buffer.from(s), mode });
const payload = (entries: Record<string, ReturnType<typeof file>>): Payload => new Map(Object.entries(entries));

describe('atomic writer', () => {
  let root: string;
  let n = 0;
  const dir = () => mkdtempSync(join(root, `v${n++}-`));
  before(() => {
    root = mkdtempSync(join(tmpdir(), `cairn-aw-${process.pid}-`));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('publishes files through ..data and one symlink per top-level path', async () => {
    const d = dir();
    assert.equal(await atomicWrite(d, payload({ 'app.conf': file('a=1\n'), 'nested/deep/key': file('x', 0o400) }), { now: () => Date.UTC(2024, 0, 2, 15, 4, 5) }), true);
    const ts = readlinkSync(join(d, '..data'));
    assert.match(ts, /^\.\.2024_01_02_15_04_05\.\d+$/);
    assert.equal(statSync(join(d, ts)).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(d, 'app.conf')), '..data/app.conf');
    assert.equal(readlinkSync(join(d, 'nested')), '..data/nested');
    assert.equal(readFileSync(join(d, 'app.conf'), 'utf8'), 'a=1\n');
    assert.equal(readFileSync(join(d, 'nested/deep/key'), 'utf8'), 'x');
    assert.equal(statSync(join(d, 'nested/deep/key')).mode & 0o777, 0o400);
    assert.equal(statSync(join(d, 'app.conf')).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(d).sort(), ['..data', ts, 'app.conf', 'nested'].sort());
  });

  it('applies the exact mode whatever the umask', async () => {
    const d = dir();
    const old = process.umask(0o077);
    try {
      await atomicWrite(d, payload({ k: file('v', 0o666) }));
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(join(d, 'k')).mode & 0o777, 0o666);
  });

  it('swaps in a new version: an open path sees the new content, removed keys disappear, the old dir goes', async () => {
    const d = dir();
    await atomicWrite(d, payload({ a: file('1'), b: file('2'), 'sub/c': file('3') }));
    const first = readlinkSync(join(d, '..data'));
    assert.equal(await atomicWrite(d, payload({ a: file('one'), 'sub/d': file('4') })), true);
    const second = readlinkSync(join(d, '..data'));
    assert.notEqual(second, first);
    assert.equal(readFileSync(join(d, 'a'), 'utf8'), 'one');
    assert.equal(readFileSync(join(d, 'sub/d'), 'utf8'), '4');
    assert.throws(() => lstatSync(join(d, 'b')), /ENOENT/);
    assert.throws(() => lstatSync(join(d, 'sub/c')), /ENOENT/);
    assert.throws(() => lstatSync(join(d, first)), /ENOENT/);
    assert.deepEqual(readdirSync(d).sort(), ['..data', second, 'a', 'sub'].sort());
  });

  it('writes nothing when the content is unchanged, but restores a missing visible symlink', async () => {
    const d = dir();
    await atomicWrite(d, payload({ a: file('1'), b: file('2') }));
    const ts = readlinkSync(join(d, '..data'));
    rmSync(join(d, 'b'));
    assert.equal(await atomicWrite(d, payload({ a: file('1'), b: file('2') })), false);
    assert.equal(readlinkSync(join(d, '..data')), ts);
    assert.equal(readFileSync(join(d, 'b'), 'utf8'), '2');
  });

  it('an empty payload leaves only ..data and its empty dir', async () => {
    const d = dir();
    await atomicWrite(d, payload({ a: file('1') }));
    await atomicWrite(d, new Map());
    const ts = readlinkSync(join(d, '..data'));
    assert.deepEqual(readdirSync(d).sort(), ['..data', ts].sort());
    assert.deepEqual(readdirSync(join(d, ts)), []);
  });

  it('replaces a ..data_tmp left by a crash', async () => {
    const d = dir();
    writeFileSync(join(d, '..data_tmp'), 'stale');
    await atomicWrite(d, payload({ a: file('1') }));
    assert.equal(readFileSync(join(d, 'a'), 'utf8'), '1');
    assert.throws(() => lstatSync(join(d, '..data_tmp')), /ENOENT/);
  });

  it('runs setPerms on the new dir before publishing it', async () => {
    const d = dir();
    let seen: string[] = [];
    await atomicWrite(d, payload({ a: file('1') }), {
      setPerms: async (ts) => {
        seen = readdirSync(join(d, ts));
        assert.throws(() => lstatSync(join(d, '..data')), /ENOENT/);
      },
    });
    assert.deepEqual(seen, ['a']);
  });

  it('rejects bad paths with the kubelet messages and writes nothing', async () => {
    const cases: [string, string][] = [
      ['', 'invalid path: must not be empty: ""'],
      ['/etc/passwd', 'invalid path: must be relative path: /etc/passwd'],
      ['a/../../b', "invalid path: must not contain '..': a/../../b"],
      ['..', "invalid path: must not contain '..': .."],
      ['..data', "invalid path: must not start with '..': ..data"],
      [`${'x'.repeat(256)}`, 'invalid path: filenames must be less than or equal to 255 characters'],
      [`${'a/'.repeat(2049)}b`, 'invalid path: must be less than or equal to 4096 characters'],
    ];
    for (const [p, msg] of cases) assert.throws(() => validatePayloadPath(p), { message: msg }, p);
    validatePayloadPath('a/b');
    validatePayloadPath('a/..b');
    const d = dir();
    await assert.rejects(atomicWrite(d, payload({ ok: file('1'), '../escape': file('2') })), { message: "invalid path: must not contain '..': ../escape" });
    assert.deepEqual(readdirSync(d), []);
  });
});
