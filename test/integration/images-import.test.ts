/**
 * `cairn image import`: OCI layout and docker-archive tarballs built offline from busybox, loaded
 * through the real CLI into a fresh data dir; tampered archives are refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ImageStore, importArchive, DigestMismatchError } from '../../src/agent/images/index.js';
import { writeTar } from '../../src/agent/images/tar.js';
import { buildFixture, dockerArchiveTar, ociLayoutTar } from '../support/image-builder.js';

const CAIRN = resolve('bin/cairn.js');
const dirs: string[] = [];
const mktemp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-import-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cairn(...args: string[]) {
  const r = spawnSync(process.execPath, [CAIRN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function checkRootfs(root: string) {
  assert.ok(existsSync(join(root, 'bin', 'busybox')));
  assert.equal(existsSync(join(root, 'etc', 'deleteme')), false);
  assert.deepEqual(readdirSync(join(root, 'data')), ['new']);
}

test('cairn image import loads an OCI layout tarball', async () => {
  const fx = buildFixture();
  const dir = mktemp();
  const file = join(dir, 'app.oci.tar');
  writeFileSync(file, ociLayoutTar(fx.appImage, 'import.local/cairn/app:1.0'));
  const data = join(dir, 'data');
  const r = cairn('image', 'import', file, '--data-dir', data);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^imported import\.local\/cairn\/app:1\.0 \(sha256:[a-f0-9]{64}, 2 layers\)\n$/);
  const store = await new ImageStore(data).init();
  const rec = await store.get('import.local/cairn/app:1.0');
  assert.equal(rec?.digest, fx.appImage.manifest.desc.digest);
  checkRootfs(store.snapshotPath(rec!.chainID));
  const list = cairn('image', 'list', '--data-dir', data);
  assert.match(list.stdout, /import\.local\/cairn\/app:1\.0\s+[a-f0-9]{12}/);
});

test('an OCI layout whose ref.name is only a tag takes --name', async () => {
  const fx = buildFixture();
  const dir = mktemp();
  const file = join(dir, 'other.oci.tar');
  writeFileSync(file, ociLayoutTar(fx.otherImage, '2.0'));
  const store = await new ImageStore(join(dir, 'data')).init();
  const [rec] = await importArchive(store, file, { name: 'import.local/cairn/other' });
  assert.deepEqual(rec.references, ['import.local/cairn/other:2.0']);
});

test('cairn image import loads a docker-archive tarball', async () => {
  const fx = buildFixture();
  const dir = mktemp();
  const file = join(dir, 'app.docker.tar');
  writeFileSync(file, dockerArchiveTar(fx.appImage, ['cairn/app:docker']));
  const data = join(dir, 'data');
  const r = cairn('image', 'import', file, '--data-dir', data, '--output', 'json');
  assert.equal(r.code, 0, r.stderr);
  const [rec] = JSON.parse(r.stdout) as { references: string[]; id: string; chainID: string; layers: { diffID: string }[] }[];
  assert.deepEqual(rec.references, ['docker.io/cairn/app:docker']);
  assert.equal(rec.id, fx.appImage.config.desc.digest);
  assert.deepEqual(rec.layers.map((l) => l.diffID), [fx.base.diffID, fx.app.diffID]);
  const store = await new ImageStore(data).init();
  checkRootfs(store.snapshotPath(rec.chainID));
  assert.equal((await store.get('cairn/app:docker'))?.id, rec.id);
});

test('tampered archives are refused with one clear line, leaving no image', async () => {
  const fx = buildFixture();
  const dir = mktemp();
  const data = join(dir, 'data');
  // OCI: a layer blob's bytes changed under its digest name
  const blobs = [fx.appImage.manifest, fx.appImage.config, fx.base, fx.app];
  const badOci = join(dir, 'bad.oci.tar');
  writeFileSync(
    badOci,
    writeTar([
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ ...fx.appImage.manifest.desc, annotations: { 'org.opencontainers.image.ref.name': 'x.local/bad:1' } }] }) },
      ...blobs.map((b) => ({ name: `blobs/sha256/${b.desc.digest.slice(7)}`, data: b === fx.app ? Buffer.concat([b.bytes.subarray(0, 10), Buffer.from('XX'), b.bytes.subarray(12)]) : b.bytes })),
    ]),
  );
  const r = cairn('image', 'import', badOci, '--data-dir', data);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^error: digest mismatch for blob blobs/sha256/${fx.app.desc.digest.slice(7)}: expected ${fx.app.desc.digest}, got sha256:[a-f0-9]{64}\\n$`));
  // docker-archive: a layer that is not the config's diff_id
  const badDocker = join(dir, 'bad.docker.tar');
  const store = await new ImageStore(data).init();
  const tampered = { ...fx.appImage, layers: [fx.appImage.layers[0], { ...fx.app, tar: fx.other.tar }] };
  writeFileSync(badDocker, dockerArchiveTar(tampered, ['bad/docker:1']));
  await assert.rejects(importArchive(store, badDocker), DigestMismatchError);
  assert.deepEqual(await store.list(), []);
  // not an archive at all
  const junk = join(dir, 'junk.tar');
  writeFileSync(junk, writeTar([{ name: 'hello.txt', data: 'hi' }]));
  const j = cairn('image', 'import', junk, '--data-dir', data);
  assert.equal(j.code, 1);
  assert.match(j.stderr, /neither an OCI layout .* nor a docker-archive/);
});
