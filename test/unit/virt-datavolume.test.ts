// The DataVolume controller's pure parts: the claim CDI renders from spec.storage, the status
// from what is observed, the importer's progress metric, and the host-tools image's host mounts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHostToolsImage, HostToolsImages } from '../../src/agent/images/host-tools-image.js';
import { claimSpec, ClaimSpecError } from '../../src/virt/cdi/claim-spec.js';
import type { DataVolume } from '../../src/virt/cdi/datavolume-api.js';
import { dataVolumeStatus } from '../../src/virt/cdi/datavolume-status.js';
import { importerPod } from '../../src/virt/cdi/importer-pod.js';
import { progressFromMetrics, progressMetricText } from '../../src/virt/cdi/importer-protocol.js';
import type { KubeObject } from '../../src/util/object.js';

const MI = 1024 * 1024;
const dv = (spec: DataVolume['spec'], status?: DataVolume['status']): DataVolume => ({ apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { name: 'd', namespace: 'n', uid: 'u1' }, spec, status });
const local = { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local' }, provisioner: 'cairn.io/local' };
const rbd = { ...local, metadata: { name: 'rbd' }, provisioner: 'cairn.io/ceph-rbd' };

describe('claimSpec', () => {
  it('copies spec.pvc verbatim', () => {
    const pvc = { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } };
    assert.deepEqual(claimSpec(dv({ pvc }), local), pvc);
  });
  it('completes spec.storage from the provisioner and inflates Filesystem sizes by 5.5 %', () => {
    const s = claimSpec(dv({ storage: { resources: { requests: { storage: '64Mi' } } } }), local);
    assert.deepEqual(s, { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem', resources: { requests: { storage: String(Math.ceil((64 * MI) / 0.945)) } }, storageClassName: 'local' });
    const b = claimSpec(dv({ storage: { storageClassName: 'rbd', resources: { requests: { storage: '1Gi' } } } }), rbd);
    assert.deepEqual(b, { storageClassName: 'rbd', accessModes: ['ReadWriteMany'], volumeMode: 'Block', resources: { requests: { storage: '1Gi' } } });
  });
  it('refuses a storage spec without a size', () => {
    assert.throws(() => claimSpec(dv({ storage: {} }), local), ClaimSpecError);
  });
});

describe('dataVolumeStatus', () => {
  const claim = (phase: string): KubeObject => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'd' }, status: { phase } });
  const pod = (phase: string, cs: object): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'importer-d' }, status: { phase, containerStatuses: [cs] } });
  const cond = (s: ReturnType<typeof dataVolumeStatus>, t: string) => s.conditions!.find((c) => c.type === t)!;

  it('walks Pending, WaitForFirstConsumer, ImportScheduled, ImportInProgress, Succeeded', () => {
    const d = dv({});
    assert.equal(dataVolumeStatus(d, { succeeded: false, waitingForConsumer: false }, 't').phase, 'Pending');
    assert.equal(dataVolumeStatus(d, { claim: claim('Pending'), succeeded: false, waitingForConsumer: true }, 't').phase, 'WaitForFirstConsumer');
    const scheduled = dataVolumeStatus(d, { claim: claim('Pending'), pod: pod('Pending', { state: { waiting: { reason: 'ContainerCreating' } }, restartCount: 0 }), succeeded: false, waitingForConsumer: false }, 't');
    assert.deepEqual([scheduled.phase, scheduled.progress, cond(scheduled, 'Bound').message], ['ImportScheduled', 'N/A', 'PVC d Pending']);
    const running = dataVolumeStatus(d, { claim: claim('Bound'), pod: pod('Running', { state: { running: {} }, restartCount: 0 }), succeeded: false, waitingForConsumer: false, progress: '45.00%' }, 't');
    assert.deepEqual([running.phase, running.progress, cond(running, 'Running').reason, cond(running, 'Ready').reason], ['ImportInProgress', '45.00%', 'Pod is running', 'TransferRunning']);
    const done = dataVolumeStatus(dv({}, running), { claim: claim('Bound'), succeeded: true, waitingForConsumer: false }, 't2');
    assert.deepEqual([done.phase, done.progress, cond(done, 'Ready').status, cond(done, 'Running').message], ['Succeeded', '100.0%', 'True', 'Import Complete']);
  });
  it('shows the last failure while the importer backs off, and keeps the restart count', () => {
    const failing = pod('Running', { state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'fetching x: HTTP 404 Not Found' } }, restartCount: 2 });
    const s = dataVolumeStatus(dv({}), { claim: claim('Bound'), pod: failing, succeeded: false, waitingForConsumer: false }, 't');
    assert.deepEqual([s.restartCount, cond(s, 'Running').status, cond(s, 'Running').reason, cond(s, 'Running').message], [2, 'False', 'Error', 'fetching x: HTTP 404 Not Found']);
  });
  it('moves condition times only on change', () => {
    const o = { claim: claim('Bound'), succeeded: true, waitingForConsumer: false };
    const first = dataVolumeStatus(dv({}), o, 't1');
    const again = dataVolumeStatus(dv({}, first), o, 't2');
    assert.deepEqual(again, first);
  });
});

describe('importerPod', () => {
  it('passes credentials by secretKeyRef, the CA as a configMap volume, and a Block claim as a device', () => {
    const d = dv({ source: { http: { url: 'https://h/x.qcow2', secretRef: 's', certConfigMap: 'ca' } } });
    const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'd', uid: 'c1' }, spec: { volumeMode: 'Block', resources: { requests: { storage: '1Gi' } } } };
    const p = importerPod(d, claim) as unknown as { metadata: { name: string; ownerReferences: { uid: string }[] }; spec: { restartPolicy: string; containers: { env: { name: string; value?: string; valueFrom?: object }[]; volumeMounts: object[]; volumeDevices?: object[] }[]; volumes: object[] } };
    const c = p.spec.containers[0]!;
    assert.equal(p.metadata.name, 'importer-d');
    assert.equal(p.metadata.ownerReferences[0]!.uid, 'c1');
    assert.equal(p.spec.restartPolicy, 'OnFailure');
    assert.deepEqual(c.env.find((e) => e.name === 'IMPORTER_SECRET_KEY'), { name: 'IMPORTER_SECRET_KEY', valueFrom: { secretKeyRef: { name: 's', key: 'secretKey', optional: false } } });
    assert.equal(c.env.find((e) => e.name === 'IMPORTER_CERT_DIR')?.value, '/certs');
    assert.deepEqual(c.volumeDevices, [{ name: 'cdi-data-vol', devicePath: '/dev/cdi-block-volume' }]);
    assert.deepEqual(c.volumeMounts, [{ name: 'cdi-cert-vol', mountPath: '/certs', readOnly: true }]);
  });
});

describe('importer progress metric', () => {
  it('round-trips the figure for its DataVolume only', () => {
    const text = progressMetricText('u1', 45.5);
    assert.equal(progressFromMetrics(text, 'u1'), '45.50%');
    assert.equal(progressFromMetrics(text, 'other'), undefined);
  });
});

describe('host-tools image', () => {
  it('binds real directories read-only and copies merged-/usr links into the layer', () => {
    const img = buildHostToolsImage({ repo: 'cairn.local/t', tag: '1', entrypoint: ['/usr/bin/true'], binds: ['/usr', '/bin', '/no/such/dir'] });
    assert.deepEqual(img.mounts, [{ kind: 'bind', source: '/usr', destination: '/usr', readOnly: true }, ...(img.mounts.length > 1 ? [{ kind: 'bind', source: '/bin', destination: '/bin', readOnly: true }] : [])]);
    assert.equal(img.reference, 'cairn.local/t:1');
    // Only digests the agent seeded get mounts.
    assert.deepEqual(new HostToolsImages().mountsFor(img.manifestDigest), []);
    // Deterministic: the same spec gives the same digest.
    assert.equal(buildHostToolsImage({ repo: 'cairn.local/t', tag: '1', entrypoint: ['/usr/bin/true'], binds: ['/usr', '/bin'] }).manifestDigest, img.manifestDigest);
  });
});
