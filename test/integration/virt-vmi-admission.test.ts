/**
 * KubeVirt's admission webhooks on a real `cairn up` cluster of two nodes, through the real
 * kubectl: a bad VMI or VM is refused with exit code 1 and kubectl's "The request is invalid"
 * listing one `field: message` line per cause; a minimal VMI (memory and a cloud-init volume
 * only) comes back from `kubectl get vmi -o json` with KubeVirt's defaults; a user's change to a
 * VMI's spec is refused. The VMI is pinned to a node that does not exist, so no guest is started.
 * Fails (never skips) when kubectl or the network tools are missing; the cluster goes in `after`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';

let cluster: CairnCluster;
const NS = 'default';

const vmi = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, namespace: NS }, spec });
const NOWHERE = { 'kubernetes.io/hostname': 'no-such-node' };

/** `kubectl apply` that must fail: its exit code and stderr lines. */
async function refusedApply(obj: object): Promise<string[]> {
  const r = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  assert.equal(r.code, 1, `kubectl apply should fail:\n${r.stdout}${r.stderr}`);
  return r.stderr.trimEnd().split('\n');
}

describe('KubeVirt admission (defaults and validation) through kubectl', { timeout: 300_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'vmi-admission' });
  }, { timeout: 300_000 });
  after(async () => {
    await cluster?.down();
  }, { timeout: 180_000 });

  it('a bad VMI is refused with one "field: message" line per cause, and is not created', async () => {
    const lines = await refusedApply(vmi('bad', { domain: { devices: { disks: [{ name: 'root', disk: { bus: 'floppy' } }], interfaces: [{ name: 'default', bridge: {} }] } }, networks: [{ name: 'default', pod: {} }] }));
    assert.deepEqual(lines, [
      'The request is invalid: ',
      '* spec.domain.devices.interfaces[0].name: Bridge on pod network configuration is not enabled under kubevirt-config',
      "* spec.domain.devices.disks[0].name: spec.domain.devices.disks[0].Name 'root' not found.",
      '* spec.domain.devices.disks[0].disk.bus: spec.domain.devices.disks[0] is set with an unrecognized bus floppy, must be one of: [virtio scsi sata usb]',
      "* : no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.pageSize' or 'spec.domain.resources.requests.memory' must be set",
    ]);
    const r = await cluster.kubectl(['get', 'vmi', 'bad', '-n', NS]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /virtualmachineinstances\.kubevirt\.io "bad" not found/);
  });

  it('one cause prints on one line', async () => {
    const lines = await refusedApply(
      vmi('onecause', { domain: { devices: { interfaces: [{ name: 'nic', masquerade: {} }] }, memory: { guest: '64Mi' } }, networks: [{ name: 'nic', multus: { networkName: 'br' } }] }),
    );
    assert.deepEqual(lines, ['The request is invalid: spec.domain.devices.interfaces[0].name: Masquerade interface only implemented with pod network']);
  });

  it('a minimal VMI comes back with KubeVirt defaults; its spec is then immutable for a user', async () => {
    await cluster.ok(['apply', '-f', '-'], {
      input: JSON.stringify(vmi('minimal', { nodeSelector: NOWHERE, domain: { devices: {}, resources: { requests: { memory: '64Mi' } } }, volumes: [{ name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } }] })),
    });
    const got = await cluster.json<{ spec: Record<string, any>; status: Record<string, any>; metadata: Record<string, any> }>(['get', 'vmi', 'minimal', '-n', NS]);
    const d = got.spec.domain;
    assert.deepEqual(d.devices.disks, [{ name: 'cloudinit', disk: { bus: 'sata' } }]);
    assert.deepEqual(d.devices.interfaces, [{ name: 'default', masquerade: {} }]);
    assert.deepEqual(got.spec.networks, [{ name: 'default', pod: {} }]);
    assert.deepEqual(d.machine, { type: 'q35' });
    assert.deepEqual(d.cpu, { cores: 1, model: 'host-model', sockets: 1, threads: 1 });
    assert.deepEqual(d.memory, { guest: '64Mi' });
    assert.match(d.firmware.uuid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(d.features, { acpi: { enabled: true } });
    assert.equal(got.spec.architecture, 'amd64');
    assert.equal(got.spec.evictionStrategy, 'None');
    assert.equal(got.status.phaseTransitionTimestamps[0].phase, 'Pending');
    assert.deepEqual(got.status.memory, { guestAtBoot: '64Mi', guestCurrent: '64Mi', guestRequested: '64Mi' });
    assert.deepEqual(got.status.currentCPUTopology, { cores: 1, sockets: 1, threads: 1 });

    const patch = await cluster.kubectl(['patch', 'vmi', 'minimal', '-n', NS, '--type=merge', '-p', '{"spec":{"hostname":"other"}}']);
    assert.equal(patch.code, 1, patch.stdout + patch.stderr);
    assert.equal(patch.stderr.trimEnd(), 'The request is invalid: : update of VMI object is restricted');
    // Labels and annotations are still the user's.
    await cluster.ok(['label', 'vmi', 'minimal', '-n', NS, 'app=web']);
  });

  it('a VM is checked as KubeVirt checks it: run strategy, and its template under spec.template.spec', async () => {
    const vm = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec });
    const template = { spec: { domain: { devices: {}, memory: { guest: '64Mi' } } } };
    assert.deepEqual(await refusedApply(vm('both', { running: false, runStrategy: 'Halted', template })), [
      'The request is invalid: spec.running: Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead',
    ]);
    const bad = { spec: { domain: { devices: { disks: [{ name: 'root', bootOrder: 0 }] }, memory: { guest: '64Mi' } }, volumes: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }] } };
    assert.deepEqual(await refusedApply(vm('badtemplate', { runStrategy: 'Halted', template: bad })), [
      'The request is invalid: spec.template.spec.domain.devices.disks[0].bootOrder: spec.template.spec.domain.devices.disks[0] must have a boot order > 0, if supplied',
    ]);
    // A valid VM is stored with the template's machine type and a firmware UUID, and no VMI defaults.
    await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify(vm('good', { runStrategy: 'Halted', template })) });
    const got = await cluster.json<{ spec: { template: { spec: Record<string, any> } } }>(['get', 'vm', 'good', '-n', NS]);
    assert.equal(got.spec.template.spec.domain.machine.type, 'q35');
    assert.match(got.spec.template.spec.domain.firmware.uuid, /^[0-9a-f-]{36}$/);
    assert.equal(got.spec.template.spec.networks, undefined);
  });
});
