/**
 * The VMI controller on a 2-node `cairn up` cluster through the real kubectl: a VMI from a plain
 * manifest gets its launcher pod `virt-launcher-NAME-xxxxx` asking the guest's memory plus the
 * launcher's overhead and the tun device, and is Scheduled on the pod's node (the node side may
 * take it on to Running); a VMI asking 1000 cores stays Scheduling with the scheduler's reason; a
 * VMI whose claim is missing stays Pending with KubeVirt's reason until the claim appears; a DataVolume on the
 * WaitForFirstConsumer class is bound by a provisioning pod before the launcher comes; deleting
 * the launcher pod under a scheduled VMI fails it; `kubectl delete vmi` removes pod and VMI; a VM
 * with runStrategy Always gets a new VMI after its VMI failed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { binaryQuantity } from '../../src/agent/node/quantity.js';
import { memoryOverheadBytes } from '../../src/virt/controllers/vmi-resources.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const MI = 1024 * 1024;
const WAIT = 180_000;
const NS = 'vmic';

let cluster: CairnCluster;

interface PodObj {
  metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string }[] };
  spec: { nodeName?: string; containers: { name: string; image: string; resources: { requests?: Record<string, string>; limits?: Record<string, string> } }[] };
}

function vmiManifest(name: string, spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: { terminationGracePeriodSeconds: 0, domain: { devices: {}, resources: { requests: { memory: '128Mi' } }, ...spec }, ...extra },
  });
}

const getVmi = (name: string) => cluster.json<Vmi>(['get', 'vmi', name, '-n', NS, '-o', 'json']);
const cond = (v: Vmi, type: string) => v.status?.conditions?.find((c) => c.type === type);
const launcherPods = async (vmi: Vmi) =>
  (await cluster.json<{ items: PodObj[] }>(['get', 'pod', '-n', NS, '-l', `kubevirt.io=virt-launcher,kubevirt.io/created-by=${vmi.metadata.uid}`, '-o', 'json'])).items;
const waitPhase = (name: string, phases: string[], ms = WAIT) =>
  until(`VMI ${name} in ${phases.join('/')}`, async () => {
    const v = await getVmi(name);
    return phases.includes(v.status?.phase ?? '') && v;
  }, ms, 500);

before(
  async () => {
    cluster = await upCluster({ nodes: 2, label: 'vmic' });
    await cluster.ok(['create', 'namespace', NS]);
    // A node takes VMs once its KVM probe has answered (up to 20 s on a fresh node).
    await until('both nodes kubevirt.io/schedulable', async () => (await cluster.ok(['get', 'nodes', '-l', 'kubevirt.io/schedulable=true', '-o', 'name'])).trim().split('\n').length === 2, 120_000, 500);
  },
  { timeout: 300_000 },
);

after(async () => {
  await cluster?.down();
});

describe('VirtualMachineInstance controller', { timeout: 900_000 }, () => {
  it('a VMI gets its launcher pod with the guest memory plus overhead and the tun device, and is Scheduled on its node', async () => {
    await cluster.ok(['apply', '-f', '-'], { input: vmiManifest('testvmi') });
    const vmi = await until('VMI testvmi has a uid', () => getVmi('testvmi'), 30_000, 200);
    const out = await until('launcher pod listed', async () => {
      const o = await cluster.ok(['get', 'pod', '-n', NS, '-l', 'kubevirt.io=virt-launcher', '-o', 'name']);
      return o.trim() && o;
    }, 60_000, 250);
    assert.match(out.trim(), /^pod\/virt-launcher-testvmi-[a-z0-9]{5}$/);
    const [pod] = await launcherPods(vmi);
    assert.ok(pod, 'the launcher pod carries the VMI uid label');
    assert.deepEqual(pod.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid]), [['VirtualMachineInstance', 'testvmi', vmi.metadata.uid]]);
    assert.equal(pod.metadata.labels?.app, 'testvmi');
    const compute = pod.spec.containers.find((c) => c.name === 'compute')!;
    assert.match(compute.image, /^cairn\.local\/virt-launcher:/);
    assert.deepEqual(compute.resources.requests, {
      cpu: '100m',
      memory: binaryQuantity(128 * MI + memoryOverheadBytes(vmi.spec)),
      'devices.kubevirt.io/tun': '1',
    });

    const scheduled = await waitPhase('testvmi', ['Scheduled', 'Running']);
    const node = (await launcherPods(vmi))[0]!.spec.nodeName;
    assert.ok(node);
    assert.equal(scheduled.status?.nodeName, node);
    assert.equal(scheduled.metadata.labels?.['kubevirt.io/nodeName'], node);
    assert.deepEqual(scheduled.status?.activePods, { [pod.metadata.uid]: node });
    assert.deepEqual(scheduled.metadata.finalizers, ['kubevirt.io/foregroundDeleteVirtualMachine']);
    assert.deepEqual(scheduled.status?.phaseTransitionTimestamps?.slice(0, 3).map((t) => t.phase), ['Pending', 'Scheduling', 'Scheduled']);
    assert.equal(scheduled.status?.launcherContainerImageVersion, compute.image);
    // kubectl's columns: NAME AGE PHASE IP NODENAME READY.
    const row = (await cluster.ok(['get', 'vmi', 'testvmi', '-n', NS, '--no-headers'])).trim().split(/\s+/);
    assert.ok(row.includes(node), `NODENAME column: ${row.join(' ')}`);
  });

  it('a VMI asking 1000 cores stays Scheduling with the scheduler\'s reason', async () => {
    await cluster.ok(['apply', '-f', '-'], { input: vmiManifest('huge', { resources: { requests: { memory: '128Mi', cpu: '1000' } } }) });
    const v = await until('huge Unschedulable', async () => {
      const x = await getVmi('huge');
      return cond(x, 'PodScheduled')?.reason === 'Unschedulable' && x;
    }, WAIT, 500);
    assert.equal(v.status?.phase, 'Scheduling');
    assert.equal(cond(v, 'PodScheduled')?.status, 'False');
    assert.match(cond(v, 'PodScheduled')?.message ?? '', /^0\/2 nodes are available: .*2 Insufficient cpu/);
    await cluster.ok(['delete', 'vmi', 'huge', '-n', NS, '--timeout=120s']);
  });

  it('a VMI whose claim is missing is Pending with KubeVirt\'s reason, and proceeds once the claim exists', async () => {
    const disks = { devices: { disks: [{ name: 'data', disk: { bus: 'virtio' } }] }, resources: { requests: { memory: '128Mi' } } };
    await cluster.ok(['apply', '-f', '-'], { input: vmiManifest('needsdisk', disks, { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'later-pvc' } }] }) });
    const message = `PVC ${NS}/later-pvc does not exist, waiting for it to appear`;
    const v = await until('needsdisk FailedPvcNotFound', async () => {
      const x = await getVmi('needsdisk');
      return cond(x, 'Synchronized')?.reason === 'FailedPvcNotFound' && x;
    }, 60_000, 250);
    assert.equal(v.status?.phase, 'Pending');
    assert.deepEqual([cond(v, 'Synchronized')?.status, cond(v, 'Synchronized')?.message], ['False', message]);
    assert.deepEqual([cond(v, 'PodScheduled')?.status, cond(v, 'PodScheduled')?.reason], ['False', 'Unschedulable']);
    assert.deepEqual(await launcherPods(v), []);
    // `kubectl get vmi` of a VM would show ErrorPvcNotFound from this; the event says it too.
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=needsdisk', '-o', 'custom-columns=R:.reason', '--no-headers']);
    assert.match(events, /FailedPvcNotFound/);

    await cluster.ok(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'later-pvc', namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } }),
    });
    const p = await waitPhase('needsdisk', ['Scheduling', 'Scheduled', 'Running'], 60_000);
    assert.equal(cond(p, 'Synchronized'), undefined);
    assert.equal((await launcherPods(p)).length, 1);
    await cluster.ok(['delete', 'vmi', 'needsdisk', '-n', NS, '--timeout=150s'], { timeoutMs: 170_000 });
  });

  it('a DataVolume waiting for its first consumer: a provisioning pod binds it, the launcher follows once it is populated', async () => {
    await cluster.ok(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { name: 'blank', namespace: NS }, spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '64Mi' } } } } }),
    });
    const disks = { devices: { disks: [{ name: 'data', disk: { bus: 'virtio' } }] }, resources: { requests: { memory: '128Mi' } } };
    await cluster.ok(['apply', '-f', '-'], { input: vmiManifest('withdv', disks, { volumes: [{ name: 'data', dataVolume: { name: 'blank' } }] }) });
    // Whatever the guest does with its blank disk afterwards, the launcher was handed to the node.
    const v = await until('withdv Scheduled', async () => {
      const x = await getVmi('withdv');
      return x.status?.phaseTransitionTimestamps?.some((t) => t.phase === 'Scheduled') && x;
    }, WAIT, 500);
    assert.equal((await cluster.ok(['get', 'dv', 'blank', '-n', NS, '-o', 'jsonpath={.status.phase}'])).trim(), 'Succeeded');
    assert.deepEqual([cond(v, 'DataVolumesReady')?.status, cond(v, 'DataVolumesReady')?.reason], ['True', 'AllDVsReady']);
    const pods = await launcherPods(v);
    assert.equal(pods.length, 1);
    assert.equal(pods[0]!.metadata.annotations?.['kubevirt.io/ephemeral-provisioning'], undefined);
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=withdv', '-o', 'custom-columns=R:.reason,M:.message', '--no-headers']);
    // The provisioning pod, then the launcher.
    assert.equal(events.match(/SuccessfulCreate\s+Created virtual machine pod virt-launcher-withdv-/g)?.length, 2, events);
    assert.match(events, /SuccessfulDelete\s+Deleted virtual machine pod virt-launcher-withdv-/);
    await cluster.ok(['delete', 'vmi', 'withdv', '-n', NS, '--timeout=150s'], { timeoutMs: 170_000 });
  });

  it('deleting the launcher pod under a scheduled VMI fails the VMI; it never comes back', async () => {
    const vmi = await getVmi('testvmi');
    const [pod] = await launcherPods(vmi);
    await cluster.ok(['delete', 'pod', pod!.metadata.name, '-n', NS, '--grace-period=1', '--wait=false']);
    const failed = await waitPhase('testvmi', ['Failed'], WAIT);
    assert.equal(cond(failed, 'Ready')?.status, 'False');
    // Once the pod is gone for good, the finalizer goes (the VMI stays, Failed, until deleted).
    await until('finalizer dropped', async () => !(await getVmi('testvmi')).metadata.finalizers, 120_000, 500);
    assert.equal((await getVmi('testvmi')).status?.phase, 'Failed');
  });

  it('kubectl delete vmi removes its launcher pod and then the VMI', async () => {
    await cluster.ok(['apply', '-f', '-'], { input: vmiManifest('shortlived') });
    const v = await waitPhase('shortlived', ['Scheduled', 'Running']);
    assert.equal((await launcherPods(v)).length, 1);
    await cluster.ok(['delete', 'vmi', 'shortlived', '-n', NS, '--timeout=150s'], { timeoutMs: 170_000 });
    assert.deepEqual(await launcherPods(v), []);
    const r = await cluster.kubectl(['get', 'vmi', 'shortlived', '-n', NS]);
    assert.match(r.stderr, /NotFound/);
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=shortlived', '-o', 'custom-columns=R:.reason,M:.message', '--no-headers']);
    assert.match(events, /SuccessfulCreate\s+Created virtual machine pod virt-launcher-shortlived-/);
    assert.match(events, /SuccessfulDelete\s+Deleted virtual machine pod virt-launcher-shortlived-/);
  });

  it('a VM with runStrategy Always gets a new VMI after its VMI failed', async () => {
    await cluster.ok(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'always', namespace: NS },
        spec: { runStrategy: 'Always', template: { metadata: { labels: { app: 'always' } }, spec: { terminationGracePeriodSeconds: 0, domain: { devices: {}, resources: { requests: { memory: '128Mi' } } } } } },
      }),
    });
    const first = await waitPhase('always', ['Scheduled', 'Running']);
    const vmStatus = async () => (await cluster.ok(['get', 'vm', 'always', '-n', NS, '-o', 'jsonpath={.status.printableStatus}'])).trim();
    assert.ok(['Starting', 'Running'].includes(await vmStatus()));
    const [pod] = await launcherPods(first);
    await cluster.ok(['delete', 'pod', pod!.metadata.name, '-n', NS, '--grace-period=1', '--wait=false']);
    // The failed start backs off (KubeVirt's CrashLoopBackOff), then a new VMI comes.
    const second = await until('a new VMI for VM always', async () => {
      const v = await getVmi('always');
      return v.metadata.uid !== first.metadata.uid && v;
    }, WAIT, 500);
    const again = await waitPhase('always', ['Scheduled', 'Running']);
    assert.equal(again.metadata.uid, second.metadata.uid);
    assert.equal((await launcherPods(again)).length, 1);
    await cluster.ok(['delete', 'vm', 'always', '-n', NS, '--timeout=150s'], { timeoutMs: 170_000 });
  });
});
