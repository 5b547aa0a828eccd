// The DataVolume upload server on loopback with the real qemu-img: its token, CDI's answers
// (404, 401, 400 with the reason for a bad image and another try allowed, 200, then 409), gzip
// undone, disk.img holding the image's bytes; and the upload pod, its Secret and the
// DataVolume phases CDI's upload controller shows.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { dataVolumeStatus } from '../../src/virt/cdi/datavolume-status.js';
import type { DataVolume } from '../../src/virt/cdi/datavolume-api.js';
import { DISK_IMAGE } from '../../src/virt/cdi/importer.js';
import { UPLOAD_PORT, UPLOAD_TOKEN_ENV } from '../../src/virt/cdi/upload-api.js';
import { uploadPod, uploadTokenSecret } from '../../src/virt/cdi/upload-pod.js';
import { createUploadServer, type UploadServer } from '../../src/virt/cdi/upload-server.js';
import { readHead } from '../support/file-head.js';

const MI = 1024 * 1024;
const TOKEN = 'sekrit-token';
const data = randomBytes(2 * MI);
let dir: string;
let volume: string;
let up: UploadServer;
let base: string;
const images = new Map<string, Buffer>();


async function post(body: Buffer, o: { token?: string; path?: string; method?: string } = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${o.path ?? '/v1beta1/upload'}`, {
    method: o.method ?? 'POST',
    headers: o.token === '' ? {} : { authorization: `Bearer ${o.token ?? TOKEN}` },
    body: new Uint8Array(body),
  });
  return { status: res.status, text: await res.text() };
}

describe('upload server', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-upload-'));
    volume = join(dir, 'volume');
    execFileSync('mkdir', [volume]);
    const raw = join(dir, 'src.raw');
    writeFileSync(raw, data);
    truncateSync(raw, 8 * MI);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'src.qcow2')]);
    const qcow2 = readFileSync(join(dir, 'src.qcow2'));
    images.set('qcow2', qcow2);
    images.set('truncated', qcow2.subarray(0, Math.floor(qcow2.length / 2)));
    images.set('gz', gzipSync(qcow2));
    up = createUploadServer({ token: TOKEN, target: { kind: 'filesystem', dir: volume }, scratchDir: join(dir, 'scratch') });
    await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  });
  after(() => {
    up?.server.close();
    up?.server.closeAllConnections();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers its readiness probe and refuses strangers', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await post(images.get('qcow2')!, { path: '/upload-elsewhere' })).status, 404);
    assert.equal((await post(images.get('qcow2')!, { token: '' })).status, 401);
    assert.equal((await post(images.get('qcow2')!, { token: 'sekrit-tokeN' })).status, 401);
    assert.equal(existsSync(join(volume, DISK_IMAGE)), false);
  });

  it('refuses a truncated qcow2 with the reason, and takes a good image after it', async () => {
    const bad = await post(images.get('truncated')!);
    assert.equal(bad.status, 400);
    assert.match(bad.text, /^Saving stream failed: /);
    assert.equal(existsSync(join(volume, DISK_IMAGE)), false);

    const good = await post(images.get('gz')!, { method: 'PUT' });
    assert.equal(good.status, 200, good.text);
    const result = await up.done;
    assert.equal(result.format, 'qcow2');
    assert.equal(result.imageSizeBytes, 8 * MI);
    assert.ok(readHead(join(volume, DISK_IMAGE), data.length).equals(data));

    const again = await post(images.get('qcow2')!);
    assert.equal(again.status, 409);
  });
});

describe('upload pod and phases', () => {
  const dv = { apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { name: 'up', namespace: 'ns', uid: 'dv-uid' }, spec: { source: { upload: {} }, storage: {} } } as DataVolume;
  const claim = (volumeMode: string) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'up', namespace: 'ns', uid: 'pvc-uid' }, spec: { volumeMode, resources: { requests: { storage: '1Gi' } } }, status: { phase: 'Bound' } });

  it('is CDI\'s upload server pod, with the token only as a secret reference', () => {
    const pod = uploadPod(dv, claim('Filesystem')) as unknown as { metadata: { name: string; labels: Record<string, string>; ownerReferences: { uid: string }[] }; spec: { restartPolicy: string; containers: Record<string, unknown>[] } };
    assert.equal(pod.metadata.name, 'cdi-upload-up');
    assert.equal(pod.metadata.labels['cdi.kubevirt.io'], 'cdi-upload-server');
    assert.equal(pod.metadata.ownerReferences[0]!.uid, 'pvc-uid');
    assert.equal(pod.spec.restartPolicy, 'OnFailure');
    const c = pod.spec.containers[0]!;
    assert.deepEqual((c.command as string[]).slice(-1), ['cdi-upload-server']);
    assert.deepEqual(c.volumeMounts, [{ name: 'cdi-data-vol', mountPath: '/data' }]);
    assert.deepEqual((c.readinessProbe as { httpGet: unknown }).httpGet, { path: '/healthz', port: UPLOAD_PORT });
    const tokenEnv = (c.env as { name: string; valueFrom?: { secretKeyRef: { name: string } } }[]).find((e) => e.name === UPLOAD_TOKEN_ENV);
    assert.equal(tokenEnv?.valueFrom?.secretKeyRef.name, 'cdi-upload-up-token');
    const block = uploadPod(dv, claim('Block')) as unknown as { spec: { containers: Record<string, unknown>[] } };
    assert.deepEqual(block.spec.containers[0]!.volumeDevices, [{ name: 'cdi-data-vol', devicePath: '/dev/cdi-block-volume' }]);

    const a = uploadTokenSecret(dv, claim('Filesystem')) as unknown as { data: { token: string } };
    const b = uploadTokenSecret(dv, claim('Filesystem')) as unknown as { data: { token: string } };
    assert.notEqual(a.data.token, b.data.token);
    assert.ok(Buffer.from(a.data.token, 'base64').length >= 32);
  });

  it('goes UploadScheduled → UploadReady (pod ready) → Succeeded with CDI\'s Running condition', () => {
    const pod = (phase: string, ready: boolean) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cdi-upload-up' }, status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ state: phase === 'Running' ? { running: {} } : { waiting: { reason: 'ContainerCreating' } }, restartCount: 0 }] } });
    const at = (p: ReturnType<typeof pod> | undefined, succeeded = false) => dataVolumeStatus(dv, { claim: claim('Filesystem'), pod: p, succeeded, waitingForConsumer: false, upload: true }, '2026-01-01T00:00:00Z');
    assert.equal(at(pod('Pending', false)).phase, 'UploadScheduled');
    assert.equal(at(pod('Running', false)).phase, 'UploadScheduled');
    const ready = at(pod('Running', true));
    assert.equal(ready.phase, 'UploadReady');
    assert.equal(ready.progress, 'N/A');
    const done = at(undefined, true);
    assert.equal(done.phase, 'Succeeded');
    assert.deepEqual(done.conditions?.find((c) => c.type === 'Running')?.message, 'Upload Complete');
  });
});
