// The pure parts of the registry and clone sources: CDI's registry validation, docker:// references
// and /disk file names, the clone strategy and size check, pods holding a claim, the clone phases,
// and a registry pull (with a fake fetch) that finds the disk in the image's last layer.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256, writeTar } from '../../src/agent/images/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { CLONE_TARGET_TOO_SMALL, cloneSizeRefusal, cloneSourceOf, cloneStrategy, podsUsingClaim } from '../../src/virt/cdi/clone-plan.js';
import { registrySourceCauses } from '../../src/virt/cdi/datavolume-admission.js';
import type { DataVolume } from '../../src/virt/cdi/datavolume-api.js';
import { dataVolumeStatus } from '../../src/virt/cdi/datavolume-status.js';
import { importerPod } from '../../src/virt/cdi/importer-pod.js';
import { NODE_PULL_ENDPOINT } from '../../src/virt/cdi/registry-node-pull.js';
import { diskFileName, NO_DISK_IN_IMAGE, openRegistrySource, registryReference, RegistrySourceError } from '../../src/virt/cdi/registry-source.js';

const dv = (spec: DataVolume['spec'], ns = 'n'): DataVolume => ({ apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { name: 'd', namespace: ns, uid: 'u1' }, spec });
const claim = (ns: string, name: string, spec: Record<string, unknown>, status?: object): KubeObject => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: ns, uid: `uid-${name}` }, spec, ...(status ? { status } : {}) });

describe('registry source validation (CDI datavolume-validate)', () => {
  const msg = (r: object) => registrySourceCauses(r).map((c) => c.message);
  it('accepts docker:// and oci-archive:// urls with pod or node pull', () => {
    assert.deepEqual(msg({ url: 'docker://r.example/vm/disk:1' }), []);
    assert.deepEqual(msg({ url: 'oci-archive://r.example/x', pullMethod: 'node' }), []);
  });
  it("refuses CDI's cases with its messages", () => {
    assert.deepEqual(msg({ url: 'https://r.example/vm/disk' }), ['Illegal registry source URL scheme https://r.example/vm/disk']);
    assert.deepEqual(msg({}), ['Source registry should have either URL or ImageStream']);
    assert.deepEqual(msg({ url: 'docker://a/b', imageStream: 'x' }), ['Source registry should have either URL or ImageStream']);
    assert.deepEqual(msg({ url: 'docker://a/b', pullMethod: 'ftp' }), ['ImportMethod ftp is neither pod, node or ""']);
    assert.deepEqual(msg({ imageStream: 'is' }), ['Source registry ImageStream is supported only with node pull import method']);
  });
});

describe('registry references and disk files', () => {
  it('parses docker:// urls into references', () => {
    assert.deepEqual({ ...registryReference('docker://10.1.0.1:5000/vm/disk:v1') }, { registry: '10.1.0.1:5000', repository: 'vm/disk', tag: 'v1', digest: undefined });
    assert.throws(() => registryReference('http://x/y'), RegistrySourceError);
  });
  it('takes only regular files directly under /disk', () => {
    assert.equal(diskFileName('disk/guest.qcow2'), 'guest.qcow2');
    assert.equal(diskFileName('./disk/guest.img'), 'guest.img');
    assert.equal(diskFileName('disk/sub/x.img'), undefined);
    assert.equal(diskFileName('disk/.wh.old.img'), undefined);
    assert.equal(diskFileName('etc/disk/x'), undefined);
  });
  it("pulls an image and finds its disk, the last layer's winning; an image without one fails with CDI's message", async () => {
    const layerOf = (entries: { name: string; data: string }[]) => writeTar(entries.map((e) => ({ ...e, type: 'file' as const, mode: 0o644 })));
    const old = layerOf([{ name: 'disk/old.img', data: 'old' }]);
    const top = layerOf([{ name: 'disk/new.img', data: 'new disk' }, { name: 'etc/x', data: 'x' }]);
    const plain = layerOf([{ name: 'etc/x', data: 'x' }]);
    const blobs = new Map([old, top, plain].map((l) => [sha256(l), l]));
    const manifest = (ls: Buffer[]) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(Buffer.from('{}')), size: 2 },
          layers: ls.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
        }),
      );
    const manifests: Record<string, Buffer> = { withdisk: manifest([old, top]), nodisk: manifest([plain]) };
    const fetchImpl = (async (input: string | URL) => {
      const path = new URL(String(input)).pathname;
      const m = /\/manifests\/(\w+)$/.exec(path);
      if (m && manifests[m[1]!]) return new Response(new Uint8Array(manifests[m[1]!]!), { headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
      const b = /\/blobs\/(sha256:\w+)$/.exec(path);
      if (b && blobs.has(b[1]!)) return new Response(new Uint8Array(blobs.get(b[1]!)!));
      return new Response('not found', { status: 404 });
    }) as typeof fetch;
    const dir = mkdtempSync(join(tmpdir(), 'cdi-reg-unit-'));
    try {
      const o = await openRegistrySource('docker://reg.test/vm/disk:withdisk', join(dir, 'a'), { fetchImpl });
      assert.equal(readFileSync(join(dir, 'a', 'disk'), 'utf8'), 'new disk');
      assert.equal(o.totalBytes, 8);
      o.stream.destroy();
      await assert.rejects(openRegistrySource('docker://reg.test/vm/disk:nodisk', join(dir, 'b'), { fetchImpl }), (e: Error) => e instanceof RegistrySourceError && e.message === NO_DISK_IN_IMAGE);
      await assert.rejects(openRegistrySource('docker://reg.test/vm/disk:missing', join(dir, 'c'), { fetchImpl }), /Unable to pull image reg\.test\/vm\/disk:missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('clone plan', () => {
  const golden = claim('g', 'golden', { storageClassName: 'local', volumeMode: 'Filesystem', resources: { requests: { storage: String(Math.ceil((64 * 2 ** 20) / 0.945)) } } });
  it('names the source claim', () => {
    assert.deepEqual(cloneSourceOf(dv({ source: { pvc: { namespace: 'g', name: 'golden' } } }, 'n')), { namespace: 'g', name: 'golden' });
    assert.equal(cloneSourceOf(dv({ source: { blank: {} } })), undefined);
  });
  it('uses a CSI clone in the same namespace, class and mode; host-assisted otherwise', () => {
    const target = (spec: object) => ({ metadata: {}, spec });
    assert.equal(cloneStrategy(dv({}, 'g'), target({ storageClassName: 'local', volumeMode: 'Filesystem' }), golden), 'csi-clone');
    assert.equal(cloneStrategy(dv({}, 'other'), target({ storageClassName: 'local', volumeMode: 'Filesystem' }), golden), 'copy');
    assert.equal(cloneStrategy(dv({}, 'g'), target({ storageClassName: 'rbd', volumeMode: 'Filesystem' }), golden), 'copy');
    assert.equal(cloneStrategy(dv({}, 'g'), target({ storageClassName: 'local', volumeMode: 'Block' }), golden), 'copy');
  });
  it("refuses a target smaller than the source with CDI's message", () => {
    const sized = (s: string) => dv({ source: { pvc: { namespace: 'g', name: 'golden' } }, storage: { resources: { requests: { storage: s } } } });
    assert.equal(cloneSizeRefusal(sized('64Mi'), golden), undefined);
    assert.equal(cloneSizeRefusal(sized('32Mi'), golden), CLONE_TARGET_TOO_SMALL);
    assert.equal(cloneSizeRefusal(dv({ source: { pvc: { namespace: 'g', name: 'golden' } }, storage: {} }), golden), undefined);
  });
  it('counts running writers of the claim, not read-only users, ended pods or the clone\'s own pod', () => {
    const pod = (name: string, readOnly: boolean, phase = 'Running') => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'g' }, spec: { volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'golden', readOnly } }] }, status: { phase } });
    const users = podsUsingClaim([pod('writer', false), pod('reader', true), pod('done', false, 'Succeeded'), pod('mine', false)], golden, 'mine');
    assert.deepEqual(users.map((p) => p.metadata.name), ['writer']);
  });
});

describe('clone phases', () => {
  const target = claim('n', 'd', {}, { phase: 'Bound' });
  const ready = { status: { phase: 'Running', podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ state: { running: {} }, restartCount: 0 }] } };
  const pod = (o: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, ...o });
  const phase = (o: Parameters<typeof dataVolumeStatus>[1]) => dataVolumeStatus(dv({}), o, 'now').phase;
  it('host-assisted: CloneScheduled until the source pod runs against a ready upload server, then CloneInProgress', () => {
    assert.equal(phase({ claim: target, succeeded: false, waitingForConsumer: false, clone: 'copy', upload: true }), 'CloneScheduled');
    assert.equal(phase({ claim: target, pod: pod(ready), succeeded: false, waitingForConsumer: false, clone: 'copy', upload: true }), 'CloneScheduled');
    assert.equal(phase({ claim: target, pod: pod(ready), sourcePod: pod(ready), succeeded: false, waitingForConsumer: false, clone: 'copy', upload: true }), 'CloneInProgress');
  });
  it('CSI clone: CSICloneInProgress, then Succeeded with the Running condition saying Clone Complete', () => {
    assert.equal(phase({ claim: target, succeeded: false, waitingForConsumer: false, clone: 'csi-clone' }), 'CSICloneInProgress');
    const done = dataVolumeStatus(dv({}), { claim: target, succeeded: true, waitingForConsumer: false, clone: 'csi-clone' }, 'now');
    assert.equal(done.phase, 'Succeeded');
    assert.equal(done.conditions?.find((c) => c.type === 'Running')?.message, 'Clone Complete');
  });
});

describe('registry pullMethod node', () => {
  const target = claim('n', 'd', { volumeMode: 'Filesystem', resources: { requests: { storage: '1Gi' } } });
  it("runs the image as a container serving its disk to the importer, with the node's busybox copied in first", () => {
    const pod = importerPod(dv({ source: { registry: { url: 'docker://127.0.0.1:5000/vm/disk:v1', pullMethod: 'node' } } }), target) as KubeObject & {
      spec: { initContainers: { command: string[] }[]; containers: { name: string; image: string; command?: string[]; env: { name: string; value?: string }[] }[]; volumes: { name: string }[] };
    };
    assert.deepEqual(pod.spec.initContainers.map((c) => c.command), [['/bin/cp', '/bin/busybox', '/shared/busybox']]);
    const [importer, server] = pod.spec.containers;
    assert.equal(server!.image, '127.0.0.1:5000/vm/disk:v1');
    assert.equal(server!.command![0], '/shared/busybox');
    const env = Object.fromEntries(importer!.env.map((e) => [e.name, e.value]));
    assert.equal(env.IMPORTER_SOURCE, 'http');
    assert.equal(env.IMPORTER_ENDPOINT, NODE_PULL_ENDPOINT);
    assert.ok(pod.spec.volumes.some((v) => v.name === 'cdi-shared'));
  });
  it('a pod method pull keeps the single importer container', () => {
    const pod = importerPod(dv({ source: { registry: { url: 'docker://r/vm/disk:v1' } } }), target) as KubeObject & { spec: { containers: { env: { name: string; value?: string }[] }[]; initContainers?: object[] } };
    assert.equal(pod.spec.containers.length, 1);
    assert.equal(pod.spec.initContainers, undefined);
    assert.equal(pod.spec.containers[0]!.env.find((e) => e.name === 'IMPORTER_SOURCE')?.value, 'registry');
  });
  it("reports a container that cannot pull its image as CDI's ImagePullFailed", () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'importer-d' }, status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'PodInitializing' } } }, { state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "r/vm/absent:v1"' } } }] } };
    const s = dataVolumeStatus(dv({}), { claim: claim('n', 'd', {}, { phase: 'Bound' }), pod, succeeded: false, waitingForConsumer: false }, 'now');
    const running = s.conditions?.find((c) => c.type === 'Running');
    assert.deepEqual([running?.reason, running?.message], ['ImagePullFailed', 'Back-off pulling image "r/vm/absent:v1"']);
  });
});
