/**
 * The image store against a real registry (Debian's docker-registry on 127.0.0.1) filled with
 * busybox images built offline: pulls by tag, digest and through an index, whiteouts and opaque
 * dirs, layer sharing, digest checks, not-found and auth errors, rootfs mounts and GC.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DigestMismatchError,
  ImageNeverPullError,
  ImageStore,
  ManifestUnknownError,
  UnauthorizedError,
  type PullProgress,
} from '../../src/agent/images/index.js';
import { buildFixture, MTIME, pushImage, pushIndex, image, layer, type Fixture } from '../support/image-builder.js';
import { registryBlobPath, startRegistry, startTokenServer, type RegistryHandle, type TokenServerHandle } from '../support/registry.js';

let fx: Fixture;
let reg: RegistryHandle;
const dirs: string[] = [];
const mktemp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-images-'));
  dirs.push(d);
  return d;
};
const newStore = async () => new ImageStore(mktemp()).init();

before(async () => {
  fx = buildFixture(); // fails loudly without busybox-static
  reg = await startRegistry(); // fails loudly without docker-registry
  await pushImage(reg.url, 'cairn/app', '1.36', fx.appImage);
  await pushImage(reg.url, 'cairn/other', '1', fx.otherImage);
  await pushIndex(reg.url, 'cairn/multi', '1', fx.multi, [fx.armImage, fx.appImage]);
});

after(async () => {
  await reg?.stop();
  for (const d of dirs) {
    try {
      execFileSync('umount', ['-R', join(d, 'c', 'rootfs')], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
    rmSync(d, { recursive: true, force: true });
  }
});

function checkAppRootfs(root: string) {
  const bb = join(root, 'bin', 'busybox');
  assert.equal(statSync(bb).size, statSync('/bin/busybox').size);
  assert.equal(statSync(bb).mode & 0o7777, 0o755);
  assert.equal(Math.floor(statSync(bb).mtimeMs / 1000), MTIME);
  assert.equal(readlinkSync(join(root, 'bin', 'sh')), 'busybox');
  assert.equal(statSync(join(root, 'bin', 'busybox-hardlink')).ino, statSync(bb).ino, 'hardlink shares the inode');
  // whiteout: etc/deleteme gone, the rest of etc kept
  assert.equal(existsSync(join(root, 'etc', 'deleteme')), false);
  assert.ok(existsSync(join(root, 'etc', 'passwd')));
  assert.equal(readFileSync(join(root, 'etc', 'app'), 'utf8'), 'app layer\n');
  // opaque dir: only what layer 2 put in /data
  assert.deepEqual(readdirSync(join(root, 'data')).sort(), ['new']);
  assert.equal(statSync(join(root, 'data')).mode & 0o7777, 0o750);
  // ownership and modes
  const sec = statSync(join(root, 'etc', 'secret'));
  assert.equal(sec.mode & 0o7777, 0o600);
  if (process.getuid?.() === 0) assert.deepEqual([sec.uid, sec.gid], [1000, 1000]);
  assert.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(readFileSync(join(root, 'deep', 'x'.repeat(120), 'long-name-file'), 'utf8'), 'long path via PAX\n');
}

describe('pull from a registry', () => {
  test('by tag: every blob stored under its digest, rootfs with whiteouts and opaque dirs applied', async () => {
    const store = await newStore();
    const progress: PullProgress[] = [];
    const rec = await store.pull(`${reg.host}/cairn/app:1.36`, { onProgress: (p) => progress.push(p) });
    assert.equal(rec.digest, fx.appImage.manifest.desc.digest);
    assert.equal(rec.id, fx.appImage.config.desc.digest);
    assert.deepEqual(rec.references, [`${reg.host}/cairn/app:1.36`]);
    assert.deepEqual(rec.repoDigests, [`${reg.host}/cairn/app@${rec.digest}`]);
    assert.deepEqual(rec.imageConfig.Cmd, ['/bin/sh']);
    for (const d of [rec.digest, rec.id, fx.base.desc.digest, fx.app.desc.digest]) assert.ok(await store.hasBlob(d), d);
    const last = progress[progress.length - 1];
    assert.equal(last.overallDownloaded, fx.base.desc.size + fx.app.desc.size);
    assert.equal(last.overallTotal, last.overallDownloaded);
    checkAppRootfs(store.snapshotPath(rec.chainID));
    assert.equal((await store.get(`${reg.host}/cairn/app:1.36`))?.digest, rec.digest);
    assert.equal((await store.get(rec.id))?.digest, rec.digest);
    assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')).filter((n) => n.startsWith('.tmp')), []);
  });

  test('by digest', async () => {
    const store = await newStore();
    const ref = `${reg.host}/cairn/app@${fx.appImage.manifest.desc.digest}`;
    const rec = await store.pull(ref);
    assert.equal(rec.digest, fx.appImage.manifest.desc.digest);
    assert.deepEqual(rec.references, []);
    assert.equal((await store.get(ref))?.digest, rec.digest);
  });

  test('an index resolves to its linux/amd64 image', async () => {
    const store = await newStore();
    const rec = await store.pull(`${reg.host}/cairn/multi:1`);
    assert.equal(rec.digest, fx.appImage.manifest.desc.digest);
    assert.ok(rec.repoDigests.includes(`${reg.host}/cairn/multi@${fx.multi.desc.digest}`));
    assert.equal(await store.hasBlob(fx.armImage.layers[0].desc.digest), false, 'the arm64 layer is not downloaded');
    assert.equal((await store.get(`${reg.host}/cairn/multi@${fx.multi.desc.digest}`))?.digest, rec.digest);
  });

  test('a second image sharing the base layer downloads only its own layer', async () => {
    const store = await newStore();
    await store.pull(`${reg.host}/cairn/app:1.36`);
    const got = new Set<string>();
    const rec = await store.pull(`${reg.host}/cairn/other:1`, { onProgress: (p) => got.add(p.digest) });
    assert.deepEqual([...got], [fx.other.desc.digest]);
    assert.equal((await store.blobRefCounts()).get(fx.base.desc.digest), 2);
    const root = store.snapshotPath(rec.chainID);
    assert.equal(readFileSync(join(root, 'etc', 'other'), 'utf8'), 'other image\n');
    assert.ok(existsSync(join(root, 'etc', 'deleteme')), 'the other image has no whiteout');
    assert.deepEqual(readdirSync(join(root, 'data')).sort(), ['a', 'sub']);
    // its base snapshot is the app image's, shared by hardlinks
    assert.equal(statSync(join(root, 'bin', 'busybox')).ino, statSync(join(store.snapshotPath(fx.base.diffID), 'bin', 'busybox')).ino);
  });

  test('pull policies: IfNotPresent uses the local image, Never fails when absent', async () => {
    const store = await newStore();
    await assert.rejects(store.ensureImage(`${reg.host}/cairn/app:1.36`, 'Never'), (e: unknown) => {
      assert.ok(e instanceof ImageNeverPullError);
      assert.equal(e.reason, 'ErrImageNeverPull');
      return true;
    });
    const a = await store.ensureImage(`${reg.host}/cairn/app:1.36`, 'IfNotPresent');
    const b = await store.ensureImage(`${reg.host}/cairn/app:1.36`, 'Never');
    assert.equal(a.digest, b.digest);
  });

  test('unknown tags and repositories are ErrImagePull "not found"', async () => {
    const store = await newStore();
    const ref = `${reg.host}/cairn/nope:1`;
    await assert.rejects(store.pull(ref), (e: unknown) => {
      assert.ok(e instanceof ManifestUnknownError, String(e));
      assert.equal(e.reason, 'ErrImagePull');
      assert.equal(e.message, `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`);
      return true;
    });
    await assert.rejects(store.pull(`${reg.host}/cairn/app:9.99`), ManifestUnknownError);
  });

  test('a corrupted blob in the registry is detected and nothing of it is kept', async () => {
    const evil = layer([{ name: 'etc/evil', data: 'x'.repeat(5000) }]);
    const img = image([fx.base, evil], { label: 'evil' });
    await pushImage(reg.url, 'cairn/evil', '1', img);
    const path = registryBlobPath(reg.storageDir, evil.desc.digest);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('corrupt!'), 0, 8, 20); // same size, different bytes
    closeSync(fd);
    const store = await newStore();
    await assert.rejects(store.pull(`${reg.host}/cairn/evil:1`), (e: unknown) => {
      assert.ok(e instanceof DigestMismatchError, String(e));
      assert.match(e.message, new RegExp(`failed to pull and unpack image .*digest mismatch for blob ${evil.desc.digest}`));
      return true;
    });
    assert.equal(await store.hasBlob(evil.desc.digest), false);
    assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')).filter((n) => n.startsWith('.tmp')), []);
    assert.equal(await store.get(`${reg.host}/cairn/evil:1`), undefined);
  });

  test('a manifest whose content does not match the pinned digest is refused', async () => {
    // push a manifest, then ask for it by a digest of other bytes: the registry answers 404,
    // so instead tamper with the stored manifest revision's data
    const img = image([fx.base], { label: 'tamper-manifest' });
    await pushImage(reg.url, 'cairn/tm', '1', img);
    const p = registryBlobPath(reg.storageDir, img.manifest.desc.digest);
    const tampered = Buffer.from(img.manifest.bytes.toString().replace('"schemaVersion":2', '"schemaVersion":2 '));
    writeFileSync(p, tampered);
    const store = await newStore();
    await assert.rejects(store.pull(`${reg.host}/cairn/tm@${img.manifest.desc.digest}`), DigestMismatchError);
  });

  test('a layer whose uncompressed content is not its diffID is refused', async () => {
    const l = layer([{ name: 'etc/x', data: 'x' }]);
    const wrong = { ...l, diffID: fx.base.diffID };
    const img = image([wrong], { label: 'bad-diffid' });
    await pushImage(reg.url, 'cairn/baddiff', '1', img);
    const store = await newStore();
    await assert.rejects(store.pull(`${reg.host}/cairn/baddiff:1`), (e: unknown) => e instanceof DigestMismatchError && /diffID/.test(e.message));
  });
});

describe('container root filesystems', () => {
  test('overlay over the snapshot: container writes stay in its upper dir; busybox runs in it', async () => {
    const store = await newStore();
    const rec = await store.pull(`${reg.host}/cairn/app:1.36`);
    const dir = join(mktemp(), 'c');
    const h = await store.prepareRootfs(rec, dir);
    try {
      assert.equal(h.mode, 'overlay');
      checkAppRootfs(h.rootfs);
      writeFileSync(join(h.rootfs, 'etc', 'passwd'), 'changed\n');
      rmSync(join(h.rootfs, 'etc', 'app'));
      assert.notEqual(readFileSync(join(store.snapshotPath(rec.chainID), 'etc', 'passwd'), 'utf8'), 'changed\n');
      assert.ok(existsSync(join(store.snapshotPath(rec.chainID), 'etc', 'app')));
      assert.equal(readFileSync(join(dir, 'upper', 'etc', 'passwd'), 'utf8'), 'changed\n');
      if (process.getuid?.() === 0) {
        const out = execFileSync('chroot', [h.rootfs, '/bin/sh', '-c', 'echo hello from $(cat /data/new)'], { encoding: 'utf8' });
        assert.equal(out, 'hello from new in layer 2\n');
      }
    } finally {
      await store.releaseRootfs(dir);
    }
    assert.equal(existsSync(dir), false);
  });

  test('copy mode gives an independent copy', async () => {
    const store = await newStore();
    const rec = await store.pull(`${reg.host}/cairn/app:1.36`);
    const dir = join(mktemp(), 'copy');
    const h = await store.prepareRootfs(rec, dir, { mode: 'copy' });
    assert.equal(h.mode, 'copy');
    checkAppRootfs(h.rootfs);
    assert.notEqual(statSync(join(h.rootfs, 'bin', 'busybox')).ino, statSync(join(store.snapshotPath(rec.chainID), 'bin', 'busybox')).ino);
    await store.releaseRootfs(dir);
    assert.equal(existsSync(dir), false);
  });
});

describe('image garbage collection', () => {
  test('frees down to the low threshold, least recently used first, never images in use', async () => {
    const store = await newStore();
    const app = await store.pull(`${reg.host}/cairn/app:1.36`);
    await new Promise((r) => setTimeout(r, 5));
    const other = await store.pull(`${reg.host}/cairn/other:1`);
    await new Promise((r) => setTimeout(r, 5));
    const multi = await store.pull(`${reg.host}/cairn/multi:1`); // same manifest as app: one record
    assert.equal(multi.digest, app.digest);
    const used = await store.diskUsage();
    // a disk whose only user is the store, sized so the store is at 95%
    const capacity = Math.ceil(used / 0.95);
    const usage = async () => ({ capacityBytes: capacity, availableBytes: capacity - (await store.diskUsage()) });
    // below the high threshold: nothing happens
    const none = await store.gc({ inUse: [], highThresholdPercent: 99, lowThresholdPercent: 50, usage });
    assert.deepEqual(none.removed, []);
    // app is in use (by its tag); other is the only candidate
    const r = await store.gc({ inUse: [`${reg.host}/cairn/app:1.36`], highThresholdPercent: 90, lowThresholdPercent: 10, usage });
    assert.deepEqual(r.removed, [other.digest]);
    assert.ok(r.usagePercentAfter < r.usagePercentBefore);
    assert.equal(await store.get(other.digest), undefined);
    assert.equal(await store.hasBlob(fx.other.desc.digest), false, "other's own layer is gone");
    assert.equal(await store.hasBlob(fx.base.desc.digest), true, 'the shared base layer stays');
    assert.equal(existsSync(store.snapshotPath(other.chainID)), false);
    checkAppRootfs(store.snapshotPath(app.chainID));
    // nothing in use: the app image goes too, and the store is empty of blobs and snapshots
    const r2 = await store.gc({ inUse: [], highThresholdPercent: 1, lowThresholdPercent: 0, usage });
    assert.deepEqual(r2.removed, [app.digest]);
    assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
    assert.deepEqual(readdirSync(join(store.root, 'snapshots')), []);
  });
});

describe('bearer-token auth', () => {
  let tokens: TokenServerHandle;
  let authReg: RegistryHandle;
  before(async () => {
    tokens = await startTokenServer({ puller: 's3cret' });
    // the same storage as the open registry, served behind token auth
    authReg = await startRegistry({ storageDir: reg.storageDir, token: tokens });
  });
  after(async () => {
    await authReg?.stop();
    await tokens?.stop();
  });

  test('without credentials: UnauthorizedError', async () => {
    const store = await newStore();
    await assert.rejects(store.pull(`${authReg.host}/cairn/app:1.36`), (e: unknown) => {
      assert.ok(e instanceof UnauthorizedError, String(e));
      assert.equal(e.reason, 'ErrImagePull');
      assert.match(e.message, /^failed to pull and unpack image ".*": failed to resolve reference ".*": pull access denied/);
      return true;
    });
  });

  test('wrong password: UnauthorizedError from the token endpoint', async () => {
    const store = await newStore();
    const secret = { auths: { [authReg.host]: { username: 'puller', password: 'nope' } } };
    await assert.rejects(store.pull(`${authReg.host}/cairn/app:1.36`, { pullSecrets: [secret] }), (e: unknown) => {
      assert.ok(e instanceof UnauthorizedError, String(e));
      assert.match(e.message, /failed to fetch oauth token: unexpected status: 401/);
      return true;
    });
  });

  test('with a dockerconfigjson secret: pulls, the token scoped to the repository', async () => {
    const store = await newStore();
    const secret = JSON.stringify({ auths: { [`http://${authReg.host}`]: { auth: Buffer.from('puller:s3cret').toString('base64') } } });
    const other = { auths: { 'example.com': { username: 'x', password: 'y' } } };
    const rec = await store.pull(`${authReg.host}/cairn/app:1.36`, { pullSecrets: [other, Buffer.from(secret).toString('base64')] });
    assert.equal(rec.digest, fx.appImage.manifest.desc.digest);
    assert.ok(tokens.requests.some((r) => r.user === 'puller' && r.scope === 'repository:cairn/app:pull'));
    checkAppRootfs(store.snapshotPath(rec.chainID));
  });
});

