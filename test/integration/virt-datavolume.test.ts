/**
 * DataVolumes on a 2-node `cairn up` cluster through the real kubectl: images served over HTTP
 * from the host's bridge address are imported by importer pods running `cairn.local/cdi-importer`
 * — a qcow2 into a Filesystem claim's disk.img, a gzipped qcow2 onto a Block claim, a blank
 * disk — with `kubectl get dv` showing PHASE Succeeded and PROGRESS 100.0%, and pods reading the
 * bytes back; basic credentials from a secretRef; a WaitForFirstConsumer class waiting for its
 * consumer; a 404, a truncated qcow2 and an image larger than its claim make the importer pod
 * restart with the reason in the Running condition; deleting a DataVolume deletes its claim.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { listenOn } from '../support/listen.js';
import { until } from '../support/until.js';

const MI = 1024 * 1024;
const WAIT = 150_000;
const NS = 'dv';

let cluster: CairnCluster;
let dir: string;
let server: Server;
let base: string;
const files = new Map<string, Buffer>();
/** The known bytes at the start of every good image's disk. */
const data = randomBytes(4 * MI);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

interface DvStatus {
  phase?: string;
  progress?: string;
  restartCount?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

function dataVolume(name: string, source: object, storage: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'cdi.kubevirt.io/v1beta1',
    kind: 'DataVolume',
    // The default class is WaitForFirstConsumer: the importer is the first consumer.
    metadata: { name, annotations: { 'cdi.kubevirt.io/storage.bind.immediate.requested': 'true' } },
    spec: { source, storage: { resources: { requests: { storage: '64Mi' } }, ...storage } },
  };
}
const http = (path: string) => ({ http: { url: `${base}${path}` } });

async function apply(...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}

async function dvStatus(name: string): Promise<DvStatus> {
  return ((await cluster.json<{ status?: DvStatus }>(['get', 'dv', '-n', NS, name])).status ?? {}) as DvStatus;
}

const condition = (s: DvStatus, type: string) => s.conditions?.find((c) => c.type === type);

async function waitSucceeded(name: string): Promise<void> {
  await until(`DataVolume ${name} Succeeded`, async () => (await dvStatus(name)).phase === 'Succeeded', WAIT, 1000);
}

/** Waits until the importer has restarted at least once and its Running condition names the failure. */
async function waitFailing(name: string, pattern: RegExp): Promise<DvStatus> {
  return until(
    `DataVolume ${name} failing with ${pattern}`,
    async () => {
      const s = await dvStatus(name);
      const running = condition(s, 'Running');
      return (s.restartCount ?? 0) > 0 && running?.status === 'False' && pattern.test(running.message ?? '') && s;
    },
    WAIT,
    1000,
  );
}

/** Runs a busybox pod on the claim and returns its log. */
async function readClaim(name: string, claim: string, script: string, block = false): Promise<string> {
  const c = {
    name: 'main',
    image: cluster.busybox,
    command: ['sh', '-c', script],
    ...(block ? { volumeDevices: [{ name: 'disk', devicePath: '/dev/disk0' }] } : { volumeMounts: [{ name: 'disk', mountPath: '/data' }] }),
  };
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [c], volumes: [{ name: 'disk', persistentVolumeClaim: { claimName: claim } }] },
  });
  await until(`pod ${name} done`, async () => {
    const p = await cluster.json<{ status?: { phase?: string } }>(['get', 'pod', '-n', NS, name]);
    return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
  }, WAIT, 1000);
  const log = await cluster.ok(['logs', '-n', NS, name]);
  await cluster.ok(['delete', 'pod', '-n', NS, name, '--wait=false']);
  return log;
}

describe('DataVolumes', { timeout: 900_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-dv-'));
    const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const raw = join(dir, 'src.raw');
    writeFileSync(raw, data);
    truncateSync(raw, 32 * MI);
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'src.qcow2'));
    qemuImg('create', '-f', 'qcow2', join(dir, 'big.qcow2'), '200M');
    const qcow2 = readFileSync(join(dir, 'src.qcow2'));
    files.set('/disk.qcow2', qcow2);
    files.set('/disk.qcow2.gz', gzipSync(qcow2));
    files.set('/truncated.qcow2', qcow2.subarray(0, Math.floor(qcow2.length / 2)));
    files.set('/big.qcow2', readFileSync(join(dir, 'big.qcow2')));

    cluster = await upCluster({ nodes: 2, label: 'dv' });
    // A host-side server on the bridge address: every node (and pod) reaches it.
    server = createServer((req, res) => {
      if (req.url?.startsWith('/auth/')) {
        if (req.headers.authorization !== `Basic ${Buffer.from('importer:s3cret').toString('base64')}`) return void res.writeHead(401).end('unauthorized');
        req.url = req.url.slice('/auth'.length);
      }
      const slow = req.url?.startsWith('/slow/');
      const body = files.get(slow ? req.url!.slice('/slow'.length) : (req.url ?? ''));
      if (!body) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      if (!slow) return void res.end(body);
      // About 8 s in 80 pieces, so the import is seen in progress.
      const piece = Math.ceil(body.length / 80);
      let at = 0;
      const timer = setInterval(() => {
        res.write(body.subarray(at, (at += piece)));
        if (at >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      res.on('close', () => clearInterval(timer));
    });
    base = `http://${cluster.underlayPrefix}.1:${await listenOn(server, `${cluster.underlayPrefix}.1`)}`;
    await cluster.ok(['create', 'namespace', NS]);
  });

  after(async () => {
    await new Promise((r) => server?.close(r));
    try {
      await cluster?.down();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imports a qcow2 over HTTP into a Filesystem claim: PHASE Succeeded, PROGRESS 100.0%, the bytes in disk.img', async () => {
    await apply(dataVolume('fs', http('/slow/disk.qcow2')));
    const during = await until(
      'the import in progress with a figure',
      async () => {
        const s = await dvStatus('fs');
        return s.phase === 'ImportInProgress' && /^\d+\.\d\d%$/.test(s.progress ?? '') && s;
      },
      WAIT,
      500,
    );
    assert.equal(condition(during, 'Running')?.reason, 'Pod is running');
    assert.equal(condition(during, 'Ready')?.reason, 'TransferRunning');
    await waitSucceeded('fs');
    const table = await cluster.ok(['get', 'dv', '-n', NS, 'fs']);
    assert.match(table, /^NAME\s+PHASE\s+PROGRESS\s+RESTARTS\s+AGE\s*\nfs\s+Succeeded\s+100\.0%\s+0\s+\S+\s*$/, table);
    const s = await dvStatus('fs');
    assert.equal(condition(s, 'Ready')?.status, 'True');
    assert.equal(condition(s, 'Bound')?.message, 'PVC fs Bound');
    assert.deepEqual([condition(s, 'Running')?.reason, condition(s, 'Running')?.message], ['Completed', 'Import Complete']);
    // The claim, owned by the DataVolume, asked for 64Mi plus CDI's filesystem overhead.
    const pvc = await cluster.json<{ metadata: { ownerReferences: { kind: string; name: string }[]; annotations: Record<string, string> }; spec: { resources: { requests: { storage: string } } } }>(['get', 'pvc', '-n', NS, 'fs']);
    assert.deepEqual(pvc.metadata.ownerReferences.map((r) => `${r.kind}/${r.name}`), ['DataVolume/fs']);
    assert.equal(pvc.spec.resources.requests.storage, String(Math.ceil((64 * MI) / (1 - 0.055))));
    assert.equal(pvc.metadata.annotations['cdi.kubevirt.io/storage.import.endpoint'], `${base}/slow/disk.qcow2`);
    await until('the importer pod deleted', async () => !(await cluster.kubectl(['get', 'pod', '-n', NS, 'importer-fs'])).stdout.includes('importer-fs'), 30_000, 500);
    const out = await readClaim('read-fs', 'fs', `head -c ${data.length} /data/disk.img | md5sum; stat -c %s /data/disk.img`);
    const [sum, size] = out.trim().split('\n');
    assert.equal(sum!.split(' ')[0], md5(data));
    assert.ok(Number(size) >= 32 * MI, `disk.img is ${size} bytes`);
  });

  it('imports a gzipped qcow2 onto a Block claim, and makes a blank disk', async () => {
    await apply(dataVolume('blk', http('/disk.qcow2.gz'), { volumeMode: 'Block' }), dataVolume('blank', { blank: {} }));
    await Promise.all([waitSucceeded('blk'), waitSucceeded('blank')]);
    const blk = await readClaim('read-blk', 'blk', `head -c ${data.length} /dev/disk0 | md5sum`, true);
    assert.equal(blk.trim().split(' ')[0], md5(data));
    const blank = await readClaim('read-blank', 'blank', 'stat -c %s /data/disk.img; head -c 1048576 /data/disk.img | md5sum');
    const [size, sum] = blank.trim().split('\n');
    // The claim's filesystem less CDI's 5.5% estimate: ext4's journal and reserved blocks make it less than the 64Mi asked.
    assert.ok(Number(size) >= 48 * MI && Number(size) <= 64 * MI, `blank disk.img is ${size} bytes`);
    assert.equal(sum!.split(' ')[0], md5(Buffer.alloc(MI)));
    assert.equal((await dvStatus('blank')).progress, '100.0%');
  });

  it('imports with basic credentials from secretRef', async () => {
    await apply(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { accessKeyId: 'importer', secretKey: 's3cret' } },
      dataVolume('auth', { http: { url: `${base}/auth/disk.qcow2`, secretRef: 'creds' } }),
    );
    await waitSucceeded('auth');
  });

  it('waits for the first consumer on a WaitForFirstConsumer class, then imports', async () => {
    const wffc = dataVolume('wffc', http('/disk.qcow2')) as { metadata: { annotations?: object } };
    delete wffc.metadata.annotations;
    await apply(wffc);
    await until('phase WaitForFirstConsumer', async () => (await dvStatus('wffc')).phase === 'WaitForFirstConsumer', 30_000, 500);
    const table = await cluster.ok(['get', 'dv', '-n', NS, 'wffc', '--no-headers']);
    assert.match(table, /^wffc\s+WaitForFirstConsumer\s+N\/A\s+0\s/, table);
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'consumer' },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: cluster.busybox, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], volumeMounts: [{ name: 'disk', mountPath: '/data' }] }],
        volumes: [{ name: 'disk', persistentVolumeClaim: { claimName: 'wffc' } }],
      },
    });
    await waitSucceeded('wffc');
    await cluster.ok(['delete', 'pod', '-n', NS, 'consumer', '--wait=false']);
  });

  it('restarts a failing importer with the reason in the Running condition: a 404, a truncated qcow2, an image larger than its claim', async () => {
    await apply(dataVolume('missing', http('/missing.qcow2')), dataVolume('trunc', http('/truncated.qcow2')), dataVolume('big', http('/big.qcow2')));
    const [missing, trunc, big] = await Promise.all([
      waitFailing('missing', /HTTP 404/),
      // qemu-img check's finding, naming no scratch path.
      waitFailing('trunc', /^checking the image: \S/),
      waitFailing('big', /^virtual image size 209715200 is larger than the reported available storage \d+\. A larger PVC is required\.$/),
    ]);
    for (const s of [missing, trunc, big]) assert.notEqual(s.phase, 'Succeeded');
    assert.equal(condition(trunc, 'Running')?.reason, 'Error');
    // The RESTARTS column shows it too.
    const table = await cluster.ok(['get', 'dv', '-n', NS, 'missing', '--no-headers']);
    assert.match(table, /^missing\s+\S+\s+\S+\s+[1-9]\d*\s/, table);
  });

  it('deleting a DataVolume deletes its claim and importer pod', async () => {
    await cluster.ok(['delete', 'dv', '-n', NS, 'missing', 'fs']);
    await until(
      'claims and importer pod gone',
      async () => {
        const r = await cluster.ok(['get', 'pvc,pod', '-n', NS, '-o', 'name']);
        return !/persistentvolumeclaim\/(missing|fs)$|pod\/importer-missing$/m.test(r);
      },
      60_000,
      1000,
    );
  });
});
