import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTar, writeTar, LayerError, type TarHeader } from '../../src/agent/images/index.js';

async function collect(buf: Buffer, chunk = 7777): Promise<{ h: TarHeader; data: string }[]> {
  const chunks = async function* () {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  };
  const out: { h: TarHeader; data: string }[] = [];
  for await (const e of readTar(chunks())) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    out.push({ h: e.header, data: Buffer.concat(parts).toString() });
  }
  return out;
}

const longName = `${'d'.repeat(80)}/${'e'.repeat(80)}/${'f'.repeat(120)}.txt`;

function systemTar(format: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tar-'));
  try {
    const src = join(dir, 'src');
    mkdirSync(join(src, longName, '..'), { recursive: true });
    writeFileSync(join(src, longName), 'long\n');
    writeFileSync(join(src, 'small'), 'x'.repeat(1000));
    symlinkSync(`../${'t'.repeat(150)}`, join(src, 'longlink'));
    linkSync(join(src, 'small'), join(src, 'hard'));
    return execFileSync('tar', ['-C', src, `--format=${format}`, '--owner=1234', '--group=5678', '--mtime=@1700000000', '-cf', '-', '.']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const format of ['gnu', 'pax']) {
  test(`reads GNU tar's ${format} format: long names and link targets, hardlinks, owners`, async () => {
    for (const chunk of [1, 512, 100000]) {
      const es = await collect(systemTar(format), chunk);
      const byName = new Map(es.map((e) => [e.h.name.replace(/^\.\//, ''), e]));
      const long = byName.get(longName)!;
      assert.ok(long, `long name present (chunk ${chunk})`);
      assert.equal(long.data, 'long\n');
      assert.equal(long.h.uid, 1234);
      assert.equal(long.h.gid, 5678);
      assert.equal(Math.floor(long.h.mtime), 1700000000);
      const ll = byName.get('longlink')!;
      assert.equal(ll.h.type, 'symlink');
      assert.equal(ll.h.linkname, `../${'t'.repeat(150)}`);
      const small = byName.get('small') ?? byName.get('hard')!;
      const other = small === byName.get('small') ? byName.get('hard')! : byName.get('small')!;
      assert.equal(small.data, 'x'.repeat(1000));
      assert.equal(other.h.type, 'link');
      assert.equal(byName.get(`${'d'.repeat(80)}/`)?.h.type ?? byName.get(`${'d'.repeat(80)}`)?.h.type, 'directory');
    }
  });
}

test('the writer round-trips through the reader and through GNU tar', async () => {
  const buf = writeTar([
    { name: 'dir', type: 'directory', mode: 0o750 },
    { name: `dir/${'n'.repeat(200)}`, data: 'long name' },
    { name: 'dir/link', type: 'symlink', linkname: 'x'.repeat(300) },
    { name: 'dir/f', data: Buffer.alloc(513, 1), mode: 0o4755, uid: 7, gid: 8, mtime: 12345 },
  ]);
  const es = await collect(buf, 100);
  assert.deepEqual(es.map((e) => e.h.name), ['dir/', `dir/${'n'.repeat(200)}`, 'dir/link', 'dir/f']);
  assert.equal(es[0].h.mode, 0o750);
  assert.equal(es[2].h.linkname, 'x'.repeat(300));
  assert.deepEqual([es[3].h.mode, es[3].h.uid, es[3].h.gid, es[3].h.mtime, es[3].data.length], [0o4755, 7, 8, 12345, 513]);
  const listing = execFileSync('tar', ['-tvf', '-'], { input: buf, encoding: 'utf8' });
  assert.match(listing, new RegExp(`dir/${'n'.repeat(200)}`));
});

test('base-256 numbers, unread bodies skipped, bad checksums and truncation refused', async () => {
  const buf = writeTar([
    { name: 'a', data: 'A'.repeat(600) },
    { name: 'b', data: 'B' },
  ]);
  // uid in base-256
  const h = Buffer.from(buf.subarray(0, 512));
  h.fill(0, 108, 116);
  h[108] = 0x80;
  h.writeUInt32BE(3_000_000_000, 112);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  const patched = Buffer.concat([h, buf.subarray(512)]);
  const names: string[] = [];
  for await (const e of readTar([patched])) {
    names.push(e.header.name);
    if (e.header.name === 'a') assert.equal(e.header.uid, 3_000_000_000);
    // bodies deliberately not read
  }
  assert.deepEqual(names, ['a', 'b']);
  const bad = Buffer.from(buf);
  bad[0] = 'z'.charCodeAt(0);
  await assert.rejects(collect(bad), /invalid tar header checksum/);
  await assert.rejects(collect(buf.subarray(0, 700)), LayerError);
});
