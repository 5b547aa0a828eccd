// Importing disk images as a DataVolume's importer does, with the real qemu-img, gzip and xz,
// from an HTTP server on loopback: into disk.img on a small Filesystem volume (a tmpfs with a
// real size) and onto a Block volume (a loop device); and the images it must refuse.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync, mkdirSync, truncateSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { mountTmpfs, unmount } from '../../src/agent/mount.js';
import { attachLoopDevice, detachLoopDevice } from '../../src/storage/losetup.js';
import { ImageSourceError, openHttpSource } from '../../src/virt/cdi/image-source.js';
import { DISK_IMAGE, ImportError, type ImportProgress, importImage } from '../../src/virt/cdi/importer.js';
import { readHead } from '../support/file-head.js';

const MI = 1024 * 1024;
let dir: string;
let server: Server;
let base: string;
const files = new Map<string, Buffer>();
/** The 4 MiB of data every test image carries. */
const data = randomBytes(4 * MI);

function qemuImg(...args: string[]) {
  execFileSync('qemu-img', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}


/** A mounted tmpfs of `mib` MiB standing for a Filesystem volume. */
async function volume(name: string, mib: number): Promise<string> {
  const path = join(dir, name);
  mkdirSync(path);
  await mountTmpfs(path, { sizeBytes: mib * MI });
  return path;
}

describe('disk image import', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-cdi-'));
    const raw = join(dir, 'src.raw');
    writeFileSync(raw, data);
    truncateSync(raw, 16 * MI);
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'src.qcow2'));
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', raw, join(dir, 'src.vmdk'));
    qemuImg('create', '-f', 'qcow2', join(dir, 'big.qcow2'), '200M');
    qemuImg('create', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', join(dir, 'backed.qcow2'));
    const qcow2 = readFileSync(join(dir, 'src.qcow2'));
    files.set('/disk.qcow2', qcow2);
    files.set('/disk.vmdk', readFileSync(join(dir, 'src.vmdk')));
    files.set('/disk.raw.gz', gzipSync(readFileSync(raw)));
    files.set('/disk.qcow2.xz', execFileSync('xz', ['-c', join(dir, 'src.qcow2')], { maxBuffer: 64 * MI }));
    files.set('/big.qcow2', readFileSync(join(dir, 'big.qcow2')));
    files.set('/backed.qcow2', readFileSync(join(dir, 'backed.qcow2')));
    // Cut inside the data clusters: the header is sound, the data is not there.
    files.set('/truncated.qcow2', qcow2.subarray(0, Math.floor(qcow2.length / 2)));
    files.set('/broken.xz', Buffer.concat([files.get('/disk.qcow2.xz')!.subarray(0, 2000), Buffer.alloc(100)]));
    server = createServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/disk.qcow2' }).end();
        return;
      }
      const body = files.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.close();
    for (const name of existsSync(dir) ? readdirSync(dir) : []) await unmount(join(dir, name)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const fetchAndImport = async (path: string, target: Parameters<typeof importImage>[0]['target'], progress: ImportProgress[] = []) =>
    importImage({ source: await openHttpSource(`${base}${path}`), target, scratchDir: join(dir, `scratch-${path.replace(/\W/g, '')}`), onProgress: (p) => progress.push(p) });

  it('a qcow2 over HTTP becomes disk.img, raw, grown to the volume less the filesystem overhead', async () => {
    const vol = await volume('fs1', 64);
    const progress: ImportProgress[] = [];
    const r = await fetchAndImport('/disk.qcow2', { kind: 'filesystem', dir: vol }, progress);
    assert.equal(r.format, 'qcow2');
    assert.equal(r.imageSizeBytes, 16 * MI);
    const img = join(vol, DISK_IMAGE);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', 'raw', img], { encoding: 'utf8' })) as { 'virtual-size': number };
    assert.equal(info['virtual-size'], r.diskSizeBytes);
    // 64 MiB less 5.5 %, to the sector.
    assert.ok(r.diskSizeBytes > 58 * MI && r.diskSizeBytes <= Math.floor(64 * MI * 0.945), `disk size ${r.diskSizeBytes}`);
    assert.ok(readHead(img, data.length).equals(data), 'disk.img does not hold the image data');
    assert.deepEqual(readdirSync(vol), [DISK_IMAGE]);
    assert.ok(!existsSync(join(dir, 'scratch-diskqcow2')), 'scratch space left behind');
    // Progress: the download and the conversion each reach 100 %.
    for (const phase of ['download', 'convert'] as const) assert.equal(Math.max(...progress.filter((p) => p.phase === phase).map((p) => p.percent)), 100, phase);
  });

  it('gzip and xz compressed images, a VMDK and a redirect are imported too', async () => {
    for (const path of ['/disk.raw.gz', '/disk.qcow2.xz', '/disk.vmdk', '/moved']) {
      const vol = await volume(`fs-${path.replace(/\W/g, '')}`, 32);
      await fetchAndImport(path, { kind: 'filesystem', dir: vol });
      assert.ok(readHead(join(vol, DISK_IMAGE), data.length).equals(data), `${path}: disk.img does not hold the image data`);
    }
  });

  it('onto a Block volume: the device holds the disk', async () => {
    const file = join(dir, 'block.img');
    writeFileSync(file, '');
    truncateSync(file, 32 * MI);
    const dev = await attachLoopDevice(file);
    try {
      const r = await fetchAndImport('/disk.qcow2', { kind: 'block', device: dev, sizeBytes: 32 * MI });
      assert.equal(r.diskSizeBytes, 32 * MI);
      assert.ok(readHead(dev, data.length).equals(data), 'the device does not hold the image data');
    } finally {
      await detachLoopDevice(dev);
    }
    assert.equal(statSync(file).size, 32 * MI);
  });

  it('refuses an image larger than the volume, with CDI’s message, leaving nothing behind', async () => {
    const vol = await volume('small', 32);
    await assert.rejects(fetchAndImport('/big.qcow2', { kind: 'filesystem', dir: vol }), (e: Error) => {
      assert.ok(e instanceof ImportError);
      assert.match(e.message, /^virtual image size 209715200 is larger than the reported available storage \d+\. A larger PVC is required\.$/);
      return true;
    });
    assert.deepEqual(readdirSync(vol), []);
  });

  it('refuses a truncated qcow2 with qemu-img’s error, a backing file, a broken xz stream and a 404', async () => {
    const vol = await volume('bad', 32);
    await assert.rejects(fetchAndImport('/truncated.qcow2', { kind: 'filesystem', dir: vol }), (e: Error) => {
      assert.ok(e instanceof ImportError, `${e.name}: ${e.message}`);
      assert.ok(!e.message.includes(dir), `the message names a scratch path: ${e.message}`);
      return true;
    });
    assert.deepEqual(readdirSync(vol), [], 'a partial disk.img was left');
    await assert.rejects(fetchAndImport('/backed.qcow2', { kind: 'filesystem', dir: vol }), /backing file \(\/etc\/hostname\)/);
    await assert.rejects(fetchAndImport('/broken.xz', { kind: 'filesystem', dir: vol }), (e: Error) => e instanceof ImageSourceError && /xz/.test(e.message));
    await assert.rejects(openHttpSource(`${base}/missing.qcow2`), /HTTP 404/);
    await assert.rejects(openHttpSource('ftp://127.0.0.1/x'), /unsupported URL scheme ftp/);
    assert.deepEqual(readdirSync(vol), []);
  });
});
