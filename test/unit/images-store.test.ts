import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, DigestMismatchError, sha256, chainIDs } from '../../src/agent/images/index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-store-'));
  dirs.push(d);
  return d;
};

test('init clears interrupted downloads and snapshot builds', async () => {
  const data = tmp();
  mkdirSync(join(data, 'images', 'blobs', 'sha256'), { recursive: true });
  mkdirSync(join(data, 'images', 'snapshots', '.tmp-abc', 'bin'), { recursive: true });
  writeFileSync(join(data, 'images', 'blobs', 'sha256', '.tmp-123'), 'partial');
  await new ImageStore(data).init();
  assert.equal(existsSync(join(data, 'images', 'blobs', 'sha256', '.tmp-123')), false);
  assert.equal(existsSync(join(data, 'images', 'snapshots', '.tmp-abc')), false);
});

test('blobs are written only under their digest; unreferenced ones are pruned unless pinned', async () => {
  const store = await new ImageStore(tmp()).init();
  const b = Buffer.from('hello');
  await assert.rejects(store.putBlobBytes(sha256('other'), b), DigestMismatchError);
  await store.putBlobBytes(sha256(b), b);
  assert.ok(await store.hasBlob(sha256(b)));
  const unpin = store.pin([sha256(b)]);
  assert.deepEqual(await store.prune(), { blobs: 0, snapshots: 0 });
  assert.ok(await store.hasBlob(sha256(b)));
  unpin();
  assert.deepEqual(await store.prune(), { blobs: 1, snapshots: 0 });
  assert.equal(await store.hasBlob(sha256(b)), false);
});

test('chainIDs follow the OCI definition', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  assert.deepEqual(chainIDs([a, b]), [a, sha256(`${a} ${b}`)]);
  assert.deepEqual(chainIDs([]), []);
});
