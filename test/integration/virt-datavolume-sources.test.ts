/**
 * DataVolume sources beyond http/upload on a 2-node `cairn up` cluster, through the real
 * kubectl: a containerDisk image pulled by the importer from a registry (Debian's
 * docker-registry on loopback, reached by pods through a TLS front on the host's bridge address,
 * trusted through certConfigMap), an image without a disk failing with CDI's message and a
 * url without docker:// refused with CDI's; `pullMethod: node` (the node pulls the image from the
 * loopback registry, the image's container serves its disk to the importer) and an image the node
 * cannot pull (ImagePullFailed); a clone within a namespace (CSI clone) and across
 * namespaces (host-assisted: a source pod streams to an upload server) — allowed for a user with
 * `create datavolumes/source` in the source namespace, refused with CDI's message for one
 * without; a clone of a claim that does not exist waiting with CloneWithoutSource, one whose
 * source a pod writes waiting with CloneSourceInUse; a target
 * smaller than its source refused; and `cairn vm image-upload pvc`. Contents are checked by
 * busybox pods reading disk.img.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCa, issueCertificate } from '../../src/api/pki.js';
import { runVmImageUpload } from '../../src/cli/commands/vm-image-upload.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { image, layer, pushImage } from '../support/image-builder.js';
import { listenOn } from '../support/listen.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { until } from '../support/until.js';

const MI = 1024 * 1024;
const WAIT = 150_000;
const NS = 'dvs';
const OTHER = 'dvs-golden';

let cluster: CairnCluster;
let dir: string;
let reg: RegistryHandle;
let front: Server;
let registryHost: string;
let caPem: string;
/** The known bytes at the start of the disks. */
const data = randomBytes(2 * MI);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

interface DvStatus {
  phase?: string;
  progress?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

const immediate = { 'cdi.kubevirt.io/storage.bind.immediate.requested': 'true' };
function dataVolume(name: string, source: object, ns = NS, size = '64Mi'): object {
  return { apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { name, namespace: ns, annotations: immediate }, spec: { source, storage: { resources: { requests: { storage: size } } } } };
}

async function apply(...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}

const dvStatus = async (name: string, ns = NS): Promise<DvStatus> => ((await cluster.json<{ status?: DvStatus }>(['get', 'dv', '-n', ns, name])).status ?? {}) as DvStatus;
const condition = (s: DvStatus, type: string) => s.conditions?.find((c) => c.type === type);
const waitSucceeded = (name: string, ns = NS) => until(`DataVolume ${ns}/${name} Succeeded`, async () => (await dvStatus(name, ns)).phase === 'Succeeded', WAIT, 1000);

async function events(ns: string, name: string): Promise<string> {
  return cluster.ok(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`, '-o', 'custom-columns=REASON:.reason,MESSAGE:.message']);
}

/** md5 of the first `data.length` bytes of the claim's disk.img, read by a busybox pod. */
async function diskSum(pod: string, claim: string, ns = NS): Promise<string> {
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, namespace: ns },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: cluster.busybox, command: ['sh', '-c', `head -c ${data.length} /data/disk.img | md5sum`], volumeMounts: [{ name: 'disk', mountPath: '/data' }] }],
      volumes: [{ name: 'disk', persistentVolumeClaim: { claimName: claim } }],
    },
  });
  await until(`pod ${pod} done`, async () => ['Succeeded', 'Failed'].includes((await cluster.json<{ status?: { phase?: string } }>(['get', 'pod', '-n', ns, pod])).status?.phase ?? ''), WAIT, 1000);
  const log = await cluster.ok(['logs', '-n', ns, pod]);
  await cluster.ok(['delete', 'pod', '-n', ns, pod, '--wait=true']);
  return log.trim().split(' ')[0]!;
}

describe('DataVolume registry and clone sources', { timeout: 600_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-dvs-'));
    const raw = join(dir, 'disk.raw');
    writeFileSync(raw, data);
    truncateSync(raw, 16 * MI);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'disk.qcow2')]);
    reg = await startRegistry();
    // A containerDisk (the qcow2 under /disk, as KubeVirt's), and an image with no disk.
    await pushImage(reg.url, 'vm/disk', 'v1', image([layer([{ name: 'disk/', type: 'directory', mode: 0o755 }, { name: 'disk/guest.qcow2', data: readFileSync(join(dir, 'disk.qcow2')), mode: 0o644 }])]));
    await pushImage(reg.url, 'vm/nodisk', 'v1', image([layer([{ name: 'etc/hostname', data: 'x\n' }])]));

    cluster = await upCluster({ nodes: 2, label: 'dvs' });
    // Pods reach the host at its bridge address: a TLS front there for the loopback registry.
    const bridge = `${cluster.underlayPrefix}.1`;
    const ca = await createCa('dvs-test-ca');
    const cert = await issueCertificate(ca, { commonName: bridge, ips: [bridge], usage: 'server' });
    caPem = ca.certPem;
    const upstream = new URL(reg.url);
    front = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    });
    registryHost = `${bridge}:${await listenOn(front, bridge)}`;
    await cluster.ok(['create', 'namespace', NS]);
    await cluster.ok(['create', 'namespace', OTHER]);
    await cluster.ok(['create', 'configmap', 'registry-ca', '-n', NS, `--from-literal=ca.crt=${caPem}`]);
  });

  after(async () => {
    await new Promise((r) => (front ? front.close(r) : r(undefined)));
    try {
      await cluster?.down();
    } finally {
      await reg?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imports a containerDisk from a registry: the disk under /disk becomes disk.img', async () => {
    await apply(dataVolume('reg', { registry: { url: `docker://${registryHost}/vm/disk:v1`, certConfigMap: 'registry-ca' } }));
    await waitSucceeded('reg');
    const s = await dvStatus('reg');
    assert.equal(s.progress, '100.0%');
    assert.deepEqual([condition(s, 'Running')?.reason, condition(s, 'Running')?.message], ['Completed', 'Import Complete']);
    assert.equal(await diskSum('read-reg', 'reg'), md5(data));
  });

  it('an image without a disk fails with CDI\'s message; a url without docker:// is refused', async () => {
    await apply(dataVolume('nodisk', { registry: { url: `docker://${registryHost}/vm/nodisk:v1`, certConfigMap: 'registry-ca' } }));
    await until(
      'the importer failing for want of a disk',
      async () => /Failed to find VM disk image file in the container image/.test(condition(await dvStatus('nodisk'), 'Running')?.message ?? ''),
      WAIT,
      1000,
    );
    await cluster.ok(['delete', 'dv', '-n', NS, 'nodisk', '--wait=false']);
    const bad = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(dataVolume('badurl', { registry: { url: `https://${registryHost}/vm/disk:v1` } })) });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.source\.Registry\.URL: Illegal registry source URL scheme https:\/\//);
  });

  it('pullMethod node: the node pulls the containerDisk image and the importer reads its disk; an image the node cannot pull is ImagePullFailed', async () => {
    // The agents run in the host's namespace, where the loopback registry is.
    await apply(dataVolume('nodepull', { registry: { url: `docker://${reg.host}/vm/disk:v1`, pullMethod: 'node' } }));
    await apply(dataVolume('nopull', { registry: { url: `docker://${reg.host}/vm/absent:v1`, pullMethod: 'node' } }));
    await waitSucceeded('nodepull');
    assert.equal(await diskSum('read-nodepull', 'nodepull'), md5(data));
    const failing = await until('ImagePullFailed', async () => {
      const c = condition(await dvStatus('nopull'), 'Running');
      return c?.reason === 'ImagePullFailed' && c;
    }, WAIT, 1000);
    assert.match(failing.message ?? '', /vm\/absent/);
    await cluster.ok(['delete', 'dv', '-n', NS, 'nopull', '--wait=false']);
  });

  it('clones within a namespace (CSI clone) and across namespaces (host-assisted), with CDI\'s phases and events', async () => {
    // The golden image lives in another namespace; the first clone is its neighbour.
    // A clone whose source does not exist yet waits (CDI's event), and proceeds once it is filled.
    await apply(dataVolume('copy', { pvc: { namespace: OTHER, name: 'golden' } }));
    await until('CloneWithoutSource', async () => /CloneWithoutSource\s+The source pvc golden doesn't exist/.test(await events(NS, 'copy')), 60_000, 1000);
    assert.equal((await dvStatus('copy')).phase, 'Pending');
    await cluster.ok(['create', 'configmap', 'registry-ca-golden', '-n', OTHER, `--from-literal=ca.crt=${caPem}`]);
    await apply(dataVolume('golden', { registry: { url: `docker://${registryHost}/vm/disk:v1`, certConfigMap: 'registry-ca-golden' } }, OTHER));
    await waitSucceeded('golden', OTHER);
    await apply(dataVolume('twin', { pvc: { namespace: OTHER, name: 'golden' } }, OTHER));
    await Promise.all([waitSucceeded('copy'), waitSucceeded('twin', OTHER)]);

    const twin = await cluster.json<{ metadata: { annotations: Record<string, string> }; spec: { dataSource?: { kind: string; name: string } } }>(['get', 'pvc', '-n', OTHER, 'twin']);
    assert.equal(twin.metadata.annotations['cdi.kubevirt.io/cloneType'], 'csi-clone');
    assert.deepEqual(twin.spec.dataSource, { kind: 'PersistentVolumeClaim', name: 'golden' });
    const copy = await cluster.json<{ metadata: { annotations: Record<string, string> } }>(['get', 'pvc', '-n', NS, 'copy']);
    assert.equal(copy.metadata.annotations['cdi.kubevirt.io/cloneType'], 'copy');
    assert.match(await events(NS, 'copy'), /CloneSucceeded\s+Successfully cloned from dvs-golden\/golden into dvs\/copy/);
    assert.match(await events(OTHER, 'twin'), /CloneSucceeded/);
    assert.deepEqual([condition(await dvStatus('copy'), 'Running')?.message, (await dvStatus('copy')).progress], ['Clone Complete', '100.0%']);
    // The source pod in the source namespace is gone.
    assert.doesNotMatch(await cluster.ok(['get', 'pods', '-n', OTHER, '-o', 'name']), /source-pod/);
    assert.equal(await diskSum('read-copy', 'copy'), md5(data));
    assert.equal(await diskSum('read-twin', 'twin', OTHER), md5(data));

    // A target smaller than its source is refused (CDI's message).
    const small = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(dataVolume('small', { pvc: { namespace: OTHER, name: 'golden' } }, NS, '16Mi')) });
    assert.notEqual(small.code, 0);
    assert.match(small.stderr, /target resources requests storage size is smaller than the source/);
  });

  it('a cross-namespace clone needs create on datavolumes/source in the source namespace', async () => {
    // A service account that may create DataVolumes in NS only.
    await apply(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'cloner', namespace: NS } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'dv-maker', namespace: NS }, rules: [{ apiGroups: ['cdi.kubevirt.io'], resources: ['datavolumes'], verbs: ['create', 'get'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'dv-maker', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'dv-maker' }, subjects: [{ kind: 'ServiceAccount', name: 'cloner', namespace: NS }] },
    );
    const as = ['--as', `system:serviceaccount:${NS}:cloner`];
    const dv = JSON.stringify(dataVolume('stolen', { pvc: { namespace: OTHER, name: 'golden' } }));
    const refused = await cluster.kubectl(['apply', ...as, '-f', '-'], { input: dv });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`User system:serviceaccount:${NS}:cloner has insufficient permissions in clone source namespace ${OTHER}`));
    // Granted datavolumes/source in the source namespace, the same request is admitted.
    await apply(
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'clone-source', namespace: OTHER }, rules: [{ apiGroups: ['cdi.kubevirt.io'], resources: ['datavolumes/source'], verbs: ['create'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'clone-source', namespace: OTHER }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'clone-source' }, subjects: [{ kind: 'ServiceAccount', name: 'cloner', namespace: NS }] },
    );
    await until('the RBAC grant seen', async () => (await cluster.kubectl(['create', ...as, '-f', '-'], { input: dv })).code === 0, 30_000, 1000);
    await waitSucceeded('stolen');
  });

  it('a host-assisted clone waits while a pod writes its source (CloneSourceInUse)', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'writer', namespace: OTHER },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: cluster.busybox, command: ['sleep', '3600'], volumeMounts: [{ name: 'd', mountPath: '/d' }] }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'golden' } }] },
    });
    await until('the writer running', async () => (await cluster.json<{ status?: { phase?: string } }>(['get', 'pod', '-n', OTHER, 'writer'])).status?.phase === 'Running', WAIT, 1000);
    await apply(dataVolume('held', { pvc: { namespace: OTHER, name: 'golden' } }));
    await until('CloneSourceInUse', async () => /CloneSourceInUse\s+pod dvs-golden\/writer using PersistentVolumeClaim golden/.test(await events(NS, 'held')), WAIT, 1000);
    assert.equal((await dvStatus('held')).phase, 'CloneScheduled');
    await cluster.ok(['delete', 'pod', '-n', OTHER, 'writer', '--wait=true']);
    await waitSucceeded('held');
  });

  it('cairn vm image-upload pvc: a bare claim annotated as CDI\'s upload target gets the image', async () => {
    const file = join(dir, 'disk.qcow2');
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      assert.equal(await runVmImageUpload({ kubeconfig: cluster.kubeconfig, namespace: NS, 'image-path': file, size: '64Mi', 'force-bind': true }, ['pvc', 'up']), 0);
    } finally {
      console.log = log;
    }
    assert.deepEqual(lines.filter((l) => /created|ready|Processing|completed successfully$/.test(l)).slice(0, 3), [`PVC ${NS}/up created`, 'Waiting for PVC up upload pod to be ready...', 'Pod now ready']);
    const pvc = await cluster.json<{ metadata: { annotations: Record<string, string> } }>(['get', 'pvc', '-n', NS, 'up']);
    assert.equal(pvc.metadata.annotations['cdi.kubevirt.io/storage.upload.target'], '');
    assert.equal(pvc.metadata.annotations['cdi.kubevirt.io/storage.pod.phase'], 'Succeeded');
    assert.equal(await diskSum('read-up', 'up'), md5(data));
  });
});
