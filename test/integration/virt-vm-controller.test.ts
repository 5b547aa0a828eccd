/**
 * The VirtualMachine controller on an in-process API server with the controller manager, driven
 * by the machine's real kubectl and `cairn vm`: a VM with runStrategy Always gets its VMI with the
 * instancetype's CPU and memory and the preference's defaults, pinned in a ControllerRevision so a
 * later edit of the instancetype changes nothing; `kubectl get vm` shows STATUS/READY as the VMI
 * moves (the test plays the VMI's side, which the next session's controllers write); `cairn vm
 * stop`/`start`/`restart` for Always and Manual VMs; RerunOnFailure recreates after Failed only;
 * a VMI failing before it ever ran backs the next start off (CrashLoopBackOff); an unknown
 * instancetype and a conflicting VM get a Failure condition and an event, and no VMI;
 * dataVolumeTemplates become DataVolumes owned by the VM before the VMI (Provisioning until
 * populated; at once, WaitingForVolumeBinding, for a WaitForFirstConsumer class); running and
 * runStrategy together are refused by the API (KubeVirt's VM admission); deleting the VM takes its
 * VMI, DataVolumes and revisions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '../../src/client/index.js';
import { PVCS, STORAGE_CLASSES } from '../../src/storage/api.js';
import { DATAVOLUMES, type DataVolume } from '../../src/virt/cdi/datavolume-api.js';
import { CLUSTER_INSTANCETYPES, CLUSTER_PREFERENCES, CONTROLLER_REVISIONS, VIRTUAL_MACHINES, type VirtualMachine, type VirtualMachineInstance, VMIS } from '../../src/virt/controllers/vm-api.js';
import type { KubeObject } from '../../src/util/object.js';
import { CONTROLLERS } from '../../src/controllers/manager.js';
import { vmiController } from '../../src/virt/controllers/vmi-controller.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { adminClient, createNamespace, eventsFor, refused, waitFor } from '../support/objects.js';
import { kubectl as runKubectl } from '../support/workloads.js';

const CAIRN = fileURLToPath(new URL('../../../bin/cairn.js', import.meta.url));
const NS = 'vms';

let server: TestServer;
let c: Client;
let cacheDir: string;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await runKubectl(server, cacheDir, args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function cairnVm(verb: string, name: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CAIRN, 'vm', verb, name, '-n', NS, '--kubeconfig', server.kubeconfigPath], (err, _out, stderr) => (err ? reject(new Error(`cairn vm ${verb} ${name}: ${stderr}`)) : resolve())),
  );
}

/** STATUS and READY of `kubectl get vm NAME` (columns NAME AGE STATUS READY). */
async function vmRow(name: string): Promise<{ status: string; ready: string }> {
  const lines = (await ok(['get', 'vm', name, '-n', NS])).trimEnd().split('\n');
  const header = lines[0].split(/\s{2,}/);
  assert.deepEqual(header, ['NAME', 'AGE', 'STATUS', 'READY']);
  const cells = lines[1].split(/\s{2,}/);
  return { status: cells[2] ?? '', ready: cells[3] ?? '' };
}
const waitRow = (name: string, status: string, ready?: string) =>
  waitFor(async () => {
    const r = await vmRow(name);
    return r.status === status && (ready === undefined || r.ready === ready) && r;
  }, `vm ${name} ${status}${ready ? `/${ready}` : ''}`);

const getVm = (name: string) => c.resource<VirtualMachine>(VIRTUAL_MACHINES).get(name, NS);
const getVmi = (name: string) => c.resource<VirtualMachineInstance>(VMIS).get(name, NS).catch(() => undefined);
const waitVmi = (name: string, notUid?: string) => waitFor(async () => { const v = await getVmi(name); return v && v.metadata.uid !== notUid && v; }, `VMI ${name}${notUid ? ' (a new one)' : ''}`);
const waitNoVmi = (name: string) => waitFor(async () => !(await getVmi(name)), `VMI ${name} gone`);
/** The VMI side (next session's VMI controller and handler): phase, Ready condition, and the record of having run. */
const setVmiStatus = (name: string, phase: string, ready = false) =>
  c.resource(VMIS).patch(
    name,
    { status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], ...(phase === 'Running' ? { phaseTransitionTimestamps: [{ phase, phaseTransitionTimestamp: new Date().toISOString() }] } : {}) } },
    'merge',
    { namespace: NS },
  );

function vmManifest(name: string, spec: Record<string, unknown>, templateSpec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: {
      ...spec,
      template: {
        metadata: { labels: { 'kubevirt.io/vm': name } },
        spec: {
          // Memory comes from the instancetype where there is one; a VMI must ask for some (KubeVirt's admission).
          domain: { devices: { disks: [{ name: 'root' }], interfaces: [{ name: 'default', masquerade: {} }] }, ...(spec.instancetype ? {} : { memory: { guest: '64Mi' } }) },
          networks: [{ name: 'default', pod: {} }],
          volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora:40' } }],
          ...templateSpec,
        },
      },
    },
  });
}
const apply = (manifest: string) => ok(['apply', '-f', '-'], manifest);
const failure = (vm: VirtualMachine) => vm.status?.conditions?.find((x) => x.type === 'Failure');

describe('VirtualMachine controller', { timeout: 180_000 }, () => {
  before(async () => {
    // The test plays the VMI's side (phase, Ready) itself: the VMI controller, which writes them from launcher pods, is left out.
    server = await startTestServer({ server: { controllerOptions: { only: CONTROLLERS.map((s) => s.name).filter((n) => n !== vmiController.name) } } });
    c = adminClient(server);
    cacheDir = await mkdtemp(join(tmpdir(), 'cairn-vm-controller-kubectl-'));
    await createNamespace(c, NS);
    await c.resource(CLUSTER_INSTANCETYPES).create({ apiVersion: 'instancetype.kubevirt.io/v1beta1', kind: 'VirtualMachineClusterInstancetype', metadata: { name: 't.small' }, spec: { cpu: { guest: 2 }, memory: { guest: '256Mi' } } } as KubeObject);
    await c.resource(CLUSTER_PREFERENCES).create({
      apiVersion: 'instancetype.kubevirt.io/v1beta1',
      kind: 'VirtualMachineClusterPreference',
      metadata: { name: 'p.virtio' },
      spec: { devices: { preferredDiskBus: 'virtio', preferredInterfaceModel: 'virtio' }, machine: { preferredMachineType: 'q35' }, cpu: { preferredCPUTopology: 'cores' } },
    } as KubeObject);
  });

  after(async () => {
    await server?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  test('Always: the VMI carries the instancetype and preference, pinned in a ControllerRevision; STATUS follows the VMI', async () => {
    await apply(vmManifest('web', { runStrategy: 'Always', instancetype: { name: 't.small' }, preference: { name: 'p.virtio' } }));
    const vmi = await waitVmi('web');
    const domain = vmi.spec.domain as { cpu: Record<string, number>; memory: { guest: string }; machine: { type: string }; devices: { disks: { disk: { bus: string } }[]; interfaces: { model: string }[] } };
    assert.deepEqual([domain.cpu.sockets, domain.cpu.cores, domain.cpu.threads], [1, 2, 1]);
    assert.equal(domain.memory.guest, '256Mi');
    assert.equal(domain.machine.type, 'q35');
    assert.equal(domain.devices.disks[0].disk.bus, 'virtio');
    assert.equal(domain.devices.interfaces[0].model, 'virtio');
    assert.equal(vmi.metadata.labels?.['kubevirt.io/vm'], 'web');
    assert.equal(vmi.metadata.annotations?.['kubevirt.io/cluster-instancetype-name'], 't.small');
    const vm = await getVm('web');
    assert.deepEqual(vmi.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['VirtualMachine', 'web', vm.metadata.uid, true]]);
    const revName = vm.spec.instancetype?.revisionName;
    assert.match(revName ?? '', /^web-t\.small-v1beta1-[0-9a-f-]+-1$/);
    assert.equal(vm.status?.instancetypeRef?.controllerRevisionRef?.name, revName);
    const rev = await c.resource(CONTROLLER_REVISIONS).get(revName!, NS);
    assert.deepEqual((rev as unknown as { data: { spec: unknown } }).data.spec, { cpu: { guest: 2 }, memory: { guest: '256Mi' } });
    assert.ok(vm.spec.preference?.revisionName);
    // A revision is a snapshot: its data cannot change, and a revision needs data.
    const immutable = await refused(c.resource(CONTROLLER_REVISIONS).patch(revName!, { data: { spec: { cpu: { guest: 8 } } } }, 'merge', { namespace: NS }), 422);
    assert.match(immutable.message ?? '', /data: Invalid value: .*field is immutable/);
    const empty = await refused(c.resource(CONTROLLER_REVISIONS).create({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'empty', namespace: NS }, revision: 1 } as KubeObject), 422);
    assert.match(empty.message ?? '', /data: Required value: data is mandatory/);
    const revRow = (await ok(['get', 'controllerrevisions', revName!, '-n', NS])).trimEnd().split('\n')[1].split(/\s{2,}/);
    assert.deepEqual(revRow.slice(0, 3), [revName, 'virtualmachine.kubevirt.io/web', '0']);

    assert.deepEqual(await waitRow('web', 'Starting', 'False'), { status: 'Starting', ready: 'False' });
    await setVmiStatus('web', 'Running', true);
    await waitRow('web', 'Running', 'True');
    const running = await getVm('web');
    assert.deepEqual(
      [running.status?.created, running.status?.ready, running.status?.runStrategy, running.status?.desiredGeneration, running.status?.observedGeneration],
      [true, true, 'Always', running.metadata.generation, running.metadata.generation],
    );
  });

  test('stop (cairn vm stop) deletes the VMI and shows Stopped; start brings a VMI back with the pinned instancetype; restart replaces it', async () => {
    // Editing the instancetype must not change the VM: it runs its pinned revision.
    await c.resource(CLUSTER_INSTANCETYPES).patch('t.small', { spec: { cpu: { guest: 4 } } }, 'merge');
    await cairnVm('stop', 'web');
    await waitNoVmi('web');
    assert.deepEqual(await waitRow('web', 'Stopped', 'False'), { status: 'Stopped', ready: 'False' });
    assert.equal((await getVm('web')).spec.runStrategy, 'Halted');
    await cairnVm('start', 'web');
    const again = await waitVmi('web');
    assert.equal((again.spec.domain as { cpu: { cores: number } }).cpu.cores, 2);
    // Restart: the queued stop replaces this VMI, the queued start is cleared once the new one exists.
    await cairnVm('restart', 'web');
    await waitVmi('web', again.metadata.uid);
    await waitFor(async () => !(await getVm('web')).status?.stateChangeRequests, 'restart requests cleared');
  });

  test('Manual: nothing until a start request, which is cleared once the VMI exists; stop by request', async () => {
    await apply(vmManifest('manual', { runStrategy: 'Manual' }));
    await waitRow('manual', 'Stopped');
    assert.equal(await getVmi('manual'), undefined);
    await cairnVm('start', 'manual');
    const vmi = await waitVmi('manual');
    await waitFor(async () => !(await getVm('manual')).status?.stateChangeRequests, 'start request cleared');
    await setVmiStatus('manual', 'Running', true);
    await waitRow('manual', 'Running', 'True');
    await cairnVm('stop', 'manual');
    await waitNoVmi('manual');
    await waitFor(async () => !(await getVm('manual')).status?.stateChangeRequests && (await getVm('manual')).status?.printableStatus === 'Stopped', 'stop request cleared, Stopped');
    assert.ok(vmi.metadata.uid);
  });

  test('RerunOnFailure: a Failed VMI is replaced, a Succeeded one is not', async () => {
    await apply(vmManifest('rerun', { runStrategy: 'RerunOnFailure' }));
    const first = await waitVmi('rerun');
    await setVmiStatus('rerun', 'Running', true);
    await setVmiStatus('rerun', 'Failed');
    const second = await waitVmi('rerun', first.metadata.uid);
    await waitFor(async () => !(await getVm('rerun')).status?.stateChangeRequests, 'start request cleared');
    await setVmiStatus('rerun', 'Running', true);
    await setVmiStatus('rerun', 'Succeeded');
    await waitNoVmi('rerun');
    await waitRow('rerun', 'Stopped');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await getVmi('rerun'), undefined, 'no VMI after a success');
    assert.ok(second.metadata.uid);
  });

  test('a VMI that fails before ever running backs the next start off: CrashLoopBackOff', async () => {
    await apply(vmManifest('crashy', { runStrategy: 'Always' }));
    const first = await waitVmi('crashy');
    const failedAt = Date.now();
    await setVmiStatus('crashy', 'Failed');
    await waitNoVmi('crashy');
    const row = await waitRow('crashy', 'CrashLoopBackOff');
    assert.equal(row.ready, 'False');
    const sf = (await getVm('crashy')).status?.startFailure;
    assert.deepEqual([sf?.consecutiveFailCount, sf?.lastFailedVMIUID], [1, first.metadata.uid]);
    const delay = Date.parse(sf!.retryAfterTimestamp!) - failedAt;
    assert.ok(delay >= 8_000 && delay <= 16_000, `retry after ${delay} ms (10 s to 15 s in KubeVirt)`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await getVmi('crashy'), undefined, 'no new VMI during the back-off');
    await ok(['delete', 'vm', 'crashy', '-n', NS]);
  });

  test('an unknown instancetype or a VM in conflict with its instancetype: Failure condition, no VMI; running with runStrategy: refused', async () => {
    await apply(vmManifest('lost', { runStrategy: 'Always', instancetype: { name: 'no.such' } }));
    const lost = await waitFor(async () => { const v = await getVm('lost'); return failure(v) && v; }, 'Failure on lost');
    assert.deepEqual([failure(lost)?.reason, failure(lost)?.message], ['FailedFindInstancetype', 'virtualmachineclusterinstancetypes.instancetype.kubevirt.io "no.such" not found']);
    assert.equal(lost.status?.printableStatus, 'Stopped');
    await waitFor(async () => (await eventsFor(c, NS, 'lost')).some((e) => e.reason === 'FailedFindInstancetype' && e.message.includes('no.such')), 'FailedFindInstancetype event');
    // Creating it heals the VM.
    await c.resource(CLUSTER_INSTANCETYPES).create({ apiVersion: 'instancetype.kubevirt.io/v1beta1', kind: 'VirtualMachineClusterInstancetype', metadata: { name: 'no.such' }, spec: { cpu: { guest: 1 }, memory: { guest: '64Mi' } } } as KubeObject);
    await waitVmi('lost');
    await waitFor(async () => !failure(await getVm('lost')), 'Failure cleared');

    const both = await runKubectl(server, cacheDir, ['apply', '-f', '-'], { input: vmManifest('both', { running: true, runStrategy: 'Always' }) });
    assert.equal(both.code, 1, both.stdout);
    assert.equal(both.stderr.trimEnd(), 'The request is invalid: spec.running: Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead');
    assert.equal(await getVmi('both'), undefined);

    await apply(vmManifest('clash', { runStrategy: 'Always', instancetype: { name: 't.small' } }, { domain: { cpu: { sockets: 2 }, devices: { interfaces: [{ name: 'default', masquerade: {} }] } } }));
    const clash = await waitFor(async () => { const v = await getVm('clash'); return failure(v) && v; }, 'Failure on clash');
    assert.equal(failure(clash)?.message, 'Failure while starting VMI: VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type');
    assert.equal(await getVmi('clash'), undefined);
    const events = await eventsFor(c, NS, 'clash');
    assert.ok(events.some((e) => e.type === 'Warning' && e.reason === 'FailedCreate' && e.message.includes('spec.template.spec.domain.cpu.sockets')), JSON.stringify(events));
  });

  test('dataVolumeTemplates: DataVolumes owned by the VM first, the VMI once they are populated (or wait for their first consumer); deleting the VM takes everything', async () => {
    const manifest = JSON.parse(vmManifest('withdisk', { runStrategy: 'Always' }, { volumes: [{ name: 'root', dataVolume: { name: 'withdisk-root' } }] }));
    manifest.spec.dataVolumeTemplates = [{ metadata: { name: 'withdisk-root' }, spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '64Mi' } } } } }];
    await apply(JSON.stringify(manifest));
    const dv = await waitFor(() => c.resource<DataVolume>(DATAVOLUMES).get('withdisk-root', NS).catch(() => undefined), 'DataVolume withdisk-root');
    const vm = await getVm('withdisk');
    assert.deepEqual(dv.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['VirtualMachine', 'withdisk', vm.metadata.uid, true]]);
    assert.equal(dv.metadata.labels?.['kubevirt.io/created-by'], vm.metadata.uid);
    // No node runs the importer here: the DataVolume stays unpopulated and the VM Provisioning, without a VMI.
    await waitRow('withdisk', 'Provisioning');
    assert.equal(await getVmi('withdisk'), undefined);
    // The import finishing (as the importer pod would report it on the claim) lets the VMI start.
    await waitFor(() => c.resource(PVCS).get('withdisk-root', NS).catch(() => undefined), 'claim withdisk-root');
    await c.resource(PVCS).patch('withdisk-root', { metadata: { annotations: { 'cdi.kubevirt.io/storage.pod.phase': 'Succeeded' } } }, 'merge', { namespace: NS });
    await waitVmi('withdisk');

    // WaitForFirstConsumer: the VMI starts at once so that its launcher pod is the claim's first consumer.
    await c.resource(STORAGE_CLASSES).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'wffc' }, provisioner: 'example.com/none', volumeBindingMode: 'WaitForFirstConsumer' } as KubeObject);
    const late = JSON.parse(vmManifest('late', { runStrategy: 'Always' }, { volumes: [{ name: 'root', dataVolume: { name: 'late-root' } }] }));
    late.spec.dataVolumeTemplates = [{ metadata: { name: 'late-root' }, spec: { source: { blank: {} }, storage: { storageClassName: 'wffc', resources: { requests: { storage: '64Mi' } } } } }];
    await apply(JSON.stringify(late));
    await waitVmi('late');
    assert.equal((await c.resource<DataVolume>(DATAVOLUMES).get('late-root', NS)).status?.phase, 'WaitForFirstConsumer');
    await waitRow('late', 'WaitingForVolumeBinding');

    await ok(['delete', 'vm', 'withdisk', '-n', NS, '--wait=true']);
    await waitNoVmi('withdisk');
    await waitFor(() => c.resource(DATAVOLUMES).get('withdisk-root', NS).then(() => false, () => true), 'DataVolume garbage-collected');
    await ok(['delete', 'vm', 'web', '-n', NS, '--wait=true']);
    await waitNoVmi('web');
    const revisions = await c.resource(CONTROLLER_REVISIONS).list({ namespace: NS });
    await waitFor(async () => !(await c.resource(CONTROLLER_REVISIONS).list({ namespace: NS })).items.some((r) => r.metadata.name!.startsWith('web-')), `web's revisions garbage-collected (had ${revisions.items.length})`);
  });
});
