/**
 * The KubeVirt-compatible API on a plain Cairn API server, driven by the machine's real kubectl:
 * KubeVirt, CDI and Multus documentation manifests (examples/vm/) apply unchanged and keep every
 * field, `kubectl get vm/vmi/vmim/dv` print KubeVirt's columns, short names and the `all`
 * category work, and bad input is refused with the field named. A one-node `cairn up` cluster
 * carries the common cluster instancetypes and preferences.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { upCluster, type CairnCluster } from '../support/cairn-cluster.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { kubectl as runKubectl, type KubectlRun } from '../support/workloads.js';
import { until } from '../support/until.js';

const CAIRN = fileURLToPath(new URL('../../../bin/cairn.js', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../../examples/vm/', import.meta.url));
const NS = 'virt';

let server: TestServer;
let cacheDir: string;

const kubectl = (args: string[], input?: string): Promise<KubectlRun> => runKubectl(server, cacheDir, args, input === undefined ? {} : { input });

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function fails(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} unexpectedly succeeded:\n${r.stdout}`);
  return r.stderr;
}

/** A printed table as rows of cells (kubectl separates columns by 3+ spaces). */
interface KubeObjectLike {
  metadata: { name: string; generateName?: string };
}
const table = (out: string) => out.trimEnd().split('\n').map((l) => l.trim().split(/\s{3,}/));
const jsonpath = (args: string[], path: string) => ok([...args, '-o', `jsonpath=${path}`]);

describe('KubeVirt API with kubectl', { timeout: 180_000 }, () => {
  before(async () => {
    // No controllers: the statuses below are the ones the test writes, as KubeVirt's and CDI's would.
    server = await startTestServer({ server: { controllers: false } });
    cacheDir = await mkdtemp(join(tmpdir(), 'cairn-virt-api-kubectl-'));
    await ok(['create', 'namespace', NS]);
  });

  after(async () => {
    await server?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  test('discovery lists the kinds with KubeVirt’s short names', async () => {
    const rows = table(await ok(['api-resources', '--api-group=kubevirt.io']));
    assert.deepEqual(rows[0], ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
    assert.deepEqual(
      rows.slice(1).map((r) => r.join(' ')),
      [
        'kubevirts kv,kvs kubevirt.io/v1 true KubeVirt',
        'virtualmachineinstancemigrations vmim,vmims kubevirt.io/v1 true VirtualMachineInstanceMigration',
        'virtualmachineinstances vmi,vmis kubevirt.io/v1 true VirtualMachineInstance',
        'virtualmachines vm,vms kubevirt.io/v1 true VirtualMachine',
      ],
    );
    const groups = await ok(['api-versions']);
    for (const gv of ['kubevirt.io/v1', 'instancetype.kubevirt.io/v1beta1', 'snapshot.kubevirt.io/v1beta1', 'clone.kubevirt.io/v1beta1', 'cdi.kubevirt.io/v1beta1', 'k8s.cni.cncf.io/v1'])
      assert.ok(groups.split('\n').includes(gv), `${gv} not served:\n${groups}`);
  });

  test('a VM with a containerDisk and cloudInitNoCloud user data applies unchanged', async () => {
    assert.match(await ok(['apply', '-n', NS, '-f', join(EXAMPLES, 'vm-cloudinit.yaml')]), /virtualmachine.kubevirt.io\/testvm created/);
    const vm = JSON.parse(await ok(['get', 'vm', 'testvm', '-n', NS, '-o', 'json']));
    assert.equal(vm.metadata.name, 'testvm');
    assert.deepEqual(vm.spec.template.metadata.labels, { 'kubevirt.io/size': 'small', 'kubevirt.io/domain': 'testvm' });
    assert.deepEqual(vm.spec.template.spec.domain.devices.interfaces, [{ name: 'default', masquerade: {} }]);
    assert.deepEqual(vm.spec.template.spec.networks, [{ name: 'default', pod: {} }]);
    assert.equal(vm.spec.template.spec.domain.resources.requests.memory, '64M');
    assert.match(vm.spec.template.spec.volumes[1].cloudInitNoCloud.userData, /^#cloud-config\npassword: cirros\n/);
    // Applying the same file again changes nothing: nothing was pruned from what kubectl recorded.
    assert.match(await ok(['apply', '-n', NS, '-f', join(EXAMPLES, 'vm-cloudinit.yaml')]), /virtualmachine.kubevirt.io\/testvm unchanged/);
  });

  test('kubectl get vm prints NAME AGE STATUS READY from the status KubeVirt writes', async () => {
    const status = { status: { printableStatus: 'Stopped', ready: false, conditions: [{ type: 'Ready', status: 'False', reason: 'VMINotExists' }] } };
    await ok(['patch', 'vm', 'testvm', '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
    const rows = table(await ok(['get', 'vms', '-n', NS]));
    assert.deepEqual(rows[0], ['NAME', 'AGE', 'STATUS', 'READY']);
    assert.equal(rows[1][0], 'testvm');
    assert.match(rows[1][1], /^\d+s$/);
    assert.deepEqual(rows[1].slice(2), ['Stopped', 'False']);
    // The status subresource: status sent with the main resource is ignored.
    await ok(['patch', 'vm', 'testvm', '-n', NS, '--type=merge', '-p', '{"status":{"printableStatus":"Running"}}']);
    assert.equal(await jsonpath(['get', 'vm', 'testvm', '-n', NS], '{.status.printableStatus}'), 'Stopped');
    assert.match(await ok(['get', 'all', '-n', NS]), /virtualmachine\.kubevirt\.io\/testvm/);
  });

  test('kubectl get vmi prints NAME AGE PHASE IP NODENAME READY (and -o wide the migratable and paused conditions)', async () => {
    const vmi = {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'testvmi', namespace: NS },
      spec: { domain: { devices: { disks: [{ name: 'containerdisk', disk: { bus: 'virtio' } }] }, resources: { requests: { memory: '64M' } } }, volumes: [{ name: 'containerdisk', containerDisk: { image: 'quay.io/kubevirt/cirros-container-disk-demo' } }] },
    };
    // A new VMI is Pending (KubeVirt's mutator): the status is the one KubeVirt's components write later.
    const status = {
      status: {
        phase: 'Running',
        nodeName: 'node-1',
        interfaces: [{ name: 'default', ipAddress: '10.244.1.7', ipAddresses: ['10.244.1.7'], mac: '52:54:00:12:34:56' }],
        conditions: [
          { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: null },
          { type: 'LiveMigratable', status: 'False', reason: 'DisksNotLiveMigratable' },
        ],
      },
    };
    await ok(['create', '-f', '-'], JSON.stringify(vmi));
    assert.equal(await jsonpath(['get', 'vmi', 'testvmi', '-n', NS], '{.status.phase}'), 'Pending');
    await ok(['patch', 'vmi', 'testvmi', '-n', NS, '--type=merge', '-p', JSON.stringify(status)]);
    const rows = table(await ok(['get', 'vmi', '-n', NS]));
    assert.deepEqual(rows[0], ['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY']);
    assert.deepEqual([rows[1][0], ...rows[1].slice(2)], ['testvmi', 'Running', '10.244.1.7', 'node-1', 'True']);
    const wide = table(await ok(['get', 'vmis', '-n', NS, '-o', 'wide']));
    assert.deepEqual(wide[0], ['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY', 'LIVE-MIGRATABLE', 'PAUSED']);
    assert.deepEqual(wide[1].slice(5), ['True', 'False']);
  });

  test('a VirtualMachineInstanceMigration prints PHASE and VMI', async () => {
    // KubeVirt refuses to migrate a VMI that is LiveMigratable=False, as testvmi above is.
    await ok(['patch', 'vmi', 'testvmi', '-n', NS, '--type=merge', '-p', '{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"LiveMigratable","status":"True"}]}}']);
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'mig', namespace: NS }, spec: { vmiName: 'testvmi' } }));
    await ok(['patch', 'vmim', 'mig', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Scheduling"}}']);
    const rows = table(await ok(['get', 'vmim', '-n', NS]));
    assert.deepEqual(rows, [['NAME', 'PHASE', 'VMI'], ['mig', 'Scheduling', 'testvmi']]);
  });

  test('a VM with dataVolumeTemplates keeps the embedded DataVolume metadata', async () => {
    await ok(['apply', '-n', NS, '-f', join(EXAMPLES, 'vm-datavolume-template.yaml')]);
    const vm = JSON.parse(await ok(['get', 'vm', 'vm-alpine-datavolume', '-n', NS, '-o', 'json']));
    assert.deepEqual(vm.metadata.labels, { 'kubevirt.io/vm': 'vm-alpine-datavolume' });
    assert.deepEqual(vm.spec.dataVolumeTemplates, [
      {
        metadata: { name: 'alpine-dv' },
        spec: { pvc: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } }, source: { http: { url: 'http://cdi-http-import-server.kubevirt/images/alpine.iso' } } },
      },
    ]);
  });

  test('the manifests apply server-side too, quantities and all', async () => {
    await ok(['create', 'namespace', 'virt-ssa']);
    for (const f of ['vm-cloudinit.yaml', 'vm-datavolume-template.yaml', 'datavolume.yaml', 'instancetype-preference.yaml'])
      await ok(['apply', '--server-side', '-n', 'virt-ssa', '-f', join(EXAMPLES, f)]);
    assert.equal(await jsonpath(['get', 'vm', 'testvm', '-n', 'virt-ssa'], '{.spec.template.spec.domain.resources.requests.memory}'), '64M');
    assert.equal(await jsonpath(['get', 'vm', 'vm-alpine-datavolume', '-n', 'virt-ssa'], '{.spec.dataVolumeTemplates[0].metadata.name}'), 'alpine-dv');
  });

  test('kubectl get dv prints NAME PHASE PROGRESS RESTARTS AGE', async () => {
    await ok(['apply', '-n', NS, '-f', join(EXAMPLES, 'datavolume.yaml')]);
    await ok(['patch', 'dv', 'example-import-dv', '-n', NS, '--type=merge', '-p', '{"status":{"phase":"ImportInProgress","progress":"42.00%","restartCount":1}}']);
    const rows = table(await ok(['get', 'dv', '-n', NS]));
    assert.deepEqual(rows[0], ['NAME', 'PHASE', 'PROGRESS', 'RESTARTS', 'AGE']);
    assert.deepEqual(rows[1].slice(0, 4), ['example-import-dv', 'ImportInProgress', '42.00%', '1']);
    assert.equal(await jsonpath(['get', 'dv', 'example-import-dv', '-n', NS], '{.spec.storage.resources.requests.storage}'), '64Mi');
  });

  test('a NetworkAttachmentDefinition keeps its CNI config', async () => {
    await ok(['apply', '-n', NS, '-f', join(EXAMPLES, 'bridge-network.yaml')]);
    const config = JSON.parse(await jsonpath(['get', 'net-attach-def', 'bridge-network', '-n', NS], '{.spec.config}'));
    assert.deepEqual(config, { cniVersion: '0.3.1', name: 'bridge-network', type: 'bridge', bridge: 'br1', vlan: 100 });
  });

  test('an instancetype, a preference and a VM referring to them', async () => {
    const out = await ok(['apply', '-n', NS, '-f', join(EXAMPLES, 'instancetype-preference.yaml')]);
    assert.match(out, /virtualmachineinstancetype.instancetype.kubevirt.io\/example-instancetype created/);
    assert.match(out, /virtualmachinepreference.instancetype.kubevirt.io\/example-preference created/);
    assert.equal(await jsonpath(['get', 'vmf', 'example-instancetype', '-n', NS], '{.spec.memory.guest}'), '128Mi');
    assert.equal(await jsonpath(['get', 'vmpref', 'example-preference', '-n', NS], '{.spec.devices.preferredDiskBus}'), 'virtio');
    assert.equal(await jsonpath(['get', 'vm', 'example-vm', '-n', NS], '{.spec.instancetype.name}'), 'example-instancetype');
    assert.deepEqual(table(await ok(['get', 'vminstancetypes', '-n', NS]))[0], ['NAME', 'AGE']);
  });

  test('kubectl explain describes the VM spec', async () => {
    const out = await ok(['explain', 'vm.spec']);
    assert.match(out, /KIND:\s+VirtualMachine/);
    for (const field of ['dataVolumeTemplates', 'instancetype', 'runStrategy', 'running', 'template']) assert.match(out, new RegExp(`^\\s+${field}\\s`, 'm'), out);
    assert.match(await ok(['explain', 'vm.spec.template.spec.domain.cpu']), /^\s+cores\s+<integer>/m);
  });

  test('a value of the wrong type is refused with its field path', async () => {
    const bad = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'bad', namespace: NS }, spec: { running: 'yes', template: { spec: { domain: { devices: {}, cpu: { cores: 'two' } } } } } };
    const err = await fails(['create', '-f', '-'], JSON.stringify(bad));
    assert.match(err, /The VirtualMachine "bad" is invalid/);
    assert.match(err, /spec\.running: Invalid value: "string": spec\.running in body must be of type boolean: "string"/);
    assert.match(err, /spec\.template\.spec\.domain\.cpu\.cores: Invalid value: "string": spec\.template\.spec\.domain\.cpu\.cores in body must be of type integer: "string"/);
    const missing = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'bad', namespace: NS }, spec: { template: { spec: { domain: {} } } } };
    assert.match(await fails(['create', '-f', '-'], JSON.stringify(missing)), /spec\.template\.spec\.domain\.devices: Required value/);
  });

  test('an unknown field is refused under --validate=strict and dropped otherwise', async () => {
    // A VM must name its run strategy (KubeVirt's VM admission), so the typo sits beside one.
    const vm = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'typo', namespace: NS }, spec: { runStrategy: 'Halted', runStrateggy: 'Always', template: { spec: { domain: { devices: {} } } } } };
    assert.match(await fails(['create', '--validate=strict', '-f', '-'], JSON.stringify(vm)), /unknown field "spec\.runStrateggy"/);
    await ok(['create', '--validate=false', '-f', '-'], JSON.stringify(vm));
    assert.deepEqual(Object.keys(JSON.parse(await jsonpath(['get', 'vm', 'typo', '-n', NS], '{.spec}'))).sort(), ['runStrategy', 'template']);
  });

  test('subresources.kubevirt.io/v1 is discoverable and lists the VM actions', async () => {
    assert.ok((await ok(['api-versions'])).split('\n').includes('subresources.kubevirt.io/v1'));
    const list = JSON.parse(await ok(['get', '--raw', '/apis/subresources.kubevirt.io/v1']));
    assert.equal(list.groupVersion, 'subresources.kubevirt.io/v1');
    assert.deepEqual(list.resources.map((r: { name: string; verbs: string[] }) => `${r.name}:${r.verbs}`), [
      'virtualmachines/start:update',
      'virtualmachines/stop:update',
      'virtualmachines/restart:update',
      'virtualmachines/migrate:update',
      'virtualmachineinstances/console:get',
      'virtualmachineinstances/vnc:get',
      'virtualmachineinstances/pause:update',
      'virtualmachineinstances/unpause:update',
      'virtualmachineinstances/freeze:update',
      'virtualmachineinstances/unfreeze:update',
    ]);
    // The group adds no resource names of its own: the short names still mean kubevirt.io.
    assert.match(await ok(['get', 'vms', '-n', NS]), /^testvm\s/m);
  });

  test('start, stop and restart change the run strategy or queue requests exactly as virt-api', async () => {
    const put = (vm: string, action: string, body = '{}') => kubectl(['replace', '--raw', `/apis/subresources.kubevirt.io/v1/namespaces/${NS}/virtualmachines/${vm}/${action}`, '-f', '-'], body);
    const strategy = () => jsonpath(['get', 'vm', 'testvm', '-n', NS], '{.spec.runStrategy}');
    assert.equal((await put('testvm', 'start')).code, 0);
    assert.equal(await strategy(), 'Always');
    let r = await put('testvm', 'start');
    assert.match(r.stderr, /Error from server \(Conflict\): Operation cannot be fulfilled on virtualmachine\.kubevirt\.io "testvm": Always does not support manual start requests/);
    assert.equal((await put('testvm', 'stop')).code, 0);
    assert.equal(await strategy(), 'Halted');
    r = await put('testvm', 'stop');
    assert.match(r.stderr, /Operation cannot be fulfilled on virtualmachine\.kubevirt\.io "testvm": VM is not running/);
    r = await put('testvm', 'restart');
    assert.match(r.stderr, /RunStategy Halted does not support manual restart requests/);
    r = await put('nosuchvm', 'start');
    assert.match(r.stderr, /Error from server \(NotFound\): virtualmachine\.kubevirt\.io "nosuchvm" not found/);

    await ok(['patch', 'vm', 'testvm', '-n', NS, '--type=merge', '-p', '{"spec":{"runStrategy":"Manual"}}']);
    assert.equal((await put('testvm', 'start', '{"paused":true}')).code, 0);
    assert.equal(await jsonpath(['get', 'vm', 'testvm', '-n', NS], '{.status.stateChangeRequests}'), '[{"action":"Start","data":{"paused":"true"}}]');
    r = await put('testvm', 'start');
    assert.match(r.stderr, /unable to complete request: stop\/start already underway/);
  });

  test('migrate creates a VirtualMachineInstanceMigration for the running VMI', async () => {
    const vm = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'testvmi', namespace: NS }, spec: { runStrategy: 'Always', template: { spec: { domain: { devices: {} } } } } };
    await ok(['create', '-f', '-'], JSON.stringify(vm));
    // KubeVirt refuses a second migration of a VMI while one is in flight: end the one above first.
    await ok(['patch', 'vmim', 'mig', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Succeeded"}}']);
    await ok(['replace', '--raw', `/apis/subresources.kubevirt.io/v1/namespaces/${NS}/virtualmachines/testvmi/migrate`, '-f', '-'], '{"addedNodeSelector":{"zone":"b"}}');
    const migrations = JSON.parse(await ok(['get', 'vmim', '-n', NS, '-o', 'json'])).items.filter((m: KubeObjectLike) => m.metadata.generateName === 'kubevirt-migrate-vm-');
    assert.equal(migrations.length, 1);
    assert.match(migrations[0].metadata.name, /^kubevirt-migrate-vm-[a-z0-9]{5}$/);
    assert.deepEqual(migrations[0].spec, { vmiName: 'testvmi', addedNodeSelector: { zone: 'b' } });
  });

  test('cairn vm start/stop: the same API, one plain line per answer', async () => {
    const vm = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'clivm', namespace: NS }, spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: {} } } } } };
    await ok(['create', '-f', '-'], JSON.stringify(vm));
    // Asynchronously: the server runs in this process.
    const cairn = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [CAIRN, 'vm', ...args, '-n', NS, '--kubeconfig', server.kubeconfigPath], { encoding: 'utf8', timeout: 30_000 }, (e, stdout, stderr) =>
          resolve({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr }),
        ),
      );
    let r = await cairn('start', 'clivm');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'VM clivm was scheduled to start\n');
    assert.equal(await jsonpath(['get', 'vm', 'clivm', '-n', NS], '{.spec.runStrategy}'), 'Always');
    r = await cairn('start', 'clivm');
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim(), /^error: cairn vm start clivm: Operation cannot be fulfilled on virtualmachine\.kubevirt\.io "clivm": Always does not support manual start requests$/);
    r = await cairn('stop', 'clivm', '--grace-period', 'soon');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--grace-period wants whole seconds/);
    assert.equal((await cairn('stop', 'clivm', '--grace-period', '5')).status, 0);
    assert.equal(await jsonpath(['get', 'vm', 'clivm', '-n', NS], '{.spec.runStrategy}'), 'Halted');
    r = await cairn('stop', 'nosuch');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /virtualmachine\.kubevirt\.io "nosuch" not found/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    r = await cairn('frobnicate', 'clivm');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cairn vm wants one of start, stop, restart, migrate, pause, unpause, console, vnc, image-upload, import, not "frobnicate"/);
  });
});

describe('cairn up ships the common instancetypes and preferences', { timeout: 300_000 }, () => {
  let cluster: CairnCluster | undefined;
  before(async () => {
    cluster = await upCluster({ nodes: 1, label: 'virtapi' });
  });
  after(async () => {
    await cluster?.down();
  });

  test('kubectl lists them by KubeVirt’s names', async () => {
    const types = table(await cluster!.ok(['get', 'virtualmachineclusterinstancetypes']));
    assert.deepEqual(types[0], ['NAME', 'AGE']);
    const names = types.slice(1).map((r) => r[0]);
    for (const n of ['u1.nano', 'u1.small', 'u1.2xlarge', 'o1.medium', 'cx1.large', 'm1.xlarge']) assert.ok(names.includes(n), `${n} not in ${names.join(' ')}`);
    const small = await cluster!.json<{ spec: unknown }>(['get', 'vmcf', 'u1.small']);
    assert.deepEqual(small.spec, { cpu: { guest: 1 }, memory: { guest: '2Gi' } });
    const prefs = table(await cluster!.ok(['get', 'vmcps'])).slice(1).map((r) => r[0]);
    for (const n of ['fedora', 'ubuntu', 'debian', 'centos.stream9', 'windows.10', 'windows.11']) assert.ok(prefs.includes(n), `${n} not in ${prefs.join(' ')}`);
  });

  test('the KubeVirt CR kubevirt/kubevirt is there and Deployed; its migration configuration is validated; a second CR is refused', async () => {
    await until('kubevirt Deployed', async () => table(await cluster!.ok(['get', 'kubevirt', '-n', 'kubevirt']))[1]?.[2] === 'Deployed', 30_000, 200);
    const rows = table(await cluster!.ok(['get', 'kubevirt', '-n', 'kubevirt']));
    assert.deepEqual(rows[0], ['NAME', 'AGE', 'PHASE']);
    assert.equal(rows[1]![0], 'kubevirt');
    await cluster!.ok(['patch', 'kubevirt', 'kubevirt', '-n', 'kubevirt', '--type=merge', '-p', JSON.stringify({ spec: { configuration: { migrations: { parallelOutboundMigrationsPerNode: 1, bandwidthPerMigration: '64Mi' }, developerConfiguration: { featureGates: ['Snapshot'] } } } })]);
    const kv = await cluster!.json<{ spec: { configuration: unknown } }>(['get', 'kubevirt', 'kubevirt', '-n', 'kubevirt']);
    assert.deepEqual(kv.spec.configuration, { migrations: { parallelOutboundMigrationsPerNode: 1, bandwidthPerMigration: '64Mi' }, developerConfiguration: { featureGates: ['Snapshot'] } });
    const bad = await cluster!.kubectl(['patch', 'kubevirt', 'kubevirt', '-n', 'kubevirt', '--type=merge', '-p', JSON.stringify({ spec: { configuration: { migrations: { progressTimeout: -1 } } } })]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.configuration\.migrations\.progressTimeout: must not be negative/);
    const second = await cluster!.kubectl(['create', '-n', 'kubevirt', '-f', '-'], { input: JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { name: 'another' }, spec: {} }) });
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /admission webhook "kubevirt-create-validator\.kubevirt\.io" denied the request: Kubevirt is already created/);
  });
});
