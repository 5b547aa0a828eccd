/**
 * Instancetypes and preferences applied to a VMI spec as KubeVirt applies them: CPU topology from
 * the guest vCPUs and the preferred topology, memory (with overcommit), exclusive fields, the
 * conflicts (in KubeVirt's words) when the VM sets what the instancetype owns, preferences filling
 * only what is unset; the revision naming; the VMI made from a VM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyInstancetype, cpuTopology, InstancetypeConflictError, type InstancetypeSpec, type PreferenceSpec } from '../../src/virt/controllers/instancetype-apply.js';
import { resolveReference, revisionFor, revisionName, ReferenceNotFoundError } from '../../src/virt/controllers/instancetype-revision.js';
import type { VirtualMachine } from '../../src/virt/controllers/vm-api.js';
import { firmwareUuid, vmiFromVm } from '../../src/virt/controllers/vmi-from-vm.js';

const it4: InstancetypeSpec = { cpu: { guest: 4 }, memory: { guest: '2Gi' } };
const apply = (spec: Record<string, unknown>, it?: InstancetypeSpec, pref?: PreferenceSpec, annotations: Record<string, string> = {}) => applyInstancetype({ spec, annotations }, it, pref);
const domainOf = (s: Record<string, unknown>) => s.domain as Record<string, Record<string, unknown>>;

test('cpu.guest becomes sockets by default, or the preferred topology', () => {
  assert.deepEqual(domainOf(apply({ domain: {} }, it4).spec).cpu, { sockets: 4, cores: 1, threads: 1 });
  assert.deepEqual(domainOf(apply({ domain: {} }, it4).spec).memory, { guest: '2Gi' });
  assert.deepEqual(cpuTopology(4, { cpu: { preferredCPUTopology: 'cores' } }), { sockets: 1, cores: 4, threads: 1 });
  assert.deepEqual(cpuTopology(4, { cpu: { preferredCPUTopology: 'preferThreads' } }), { sockets: 1, cores: 1, threads: 4 });
  assert.deepEqual(cpuTopology(6, { cpu: { preferredCPUTopology: 'spread' } }), { sockets: 3, cores: 2, threads: 1 });
  assert.deepEqual(cpuTopology(8, { cpu: { preferredCPUTopology: 'spread', spreadOptions: { across: 'SocketsCoresThreads', ratio: 2 } } }), { sockets: 2, cores: 2, threads: 2 });
  assert.deepEqual(cpuTopology(6, { cpu: { preferredCPUTopology: 'spread', spreadOptions: { across: 'CoresThreads', ratio: 3 } } }), { sockets: 1, cores: 2, threads: 3 });
  assert.equal(cpuTopology(3, { cpu: { preferredCPUTopology: 'spread' } }), undefined);
  assert.deepEqual(cpuTopology(1, { cpu: { preferredCPUTopology: 'cores' } }), { sockets: 1, cores: 1, threads: 1 });
});

test('memory overcommit lowers the request; exclusive fields are copied', () => {
  const it: InstancetypeSpec = { cpu: { guest: 1, model: 'host-passthrough' }, memory: { guest: '2Gi', overcommitPercent: 50 }, ioThreadsPolicy: 'auto', nodeSelector: { gpu: 'yes' }, gpus: [{ name: 'g1', deviceName: 'nvidia.com/X' }] };
  const { spec } = apply({ domain: {} }, it);
  assert.deepEqual(domainOf(spec).resources, { requests: { memory: '1Gi' } });
  assert.equal(domainOf(spec).cpu.model, 'host-passthrough');
  assert.equal((spec.domain as Record<string, unknown>).ioThreadsPolicy, 'auto');
  assert.deepEqual(spec.nodeSelector, { gpu: 'yes' });
  assert.deepEqual(domainOf(spec).devices.gpus, [{ name: 'g1', deviceName: 'nvidia.com/X' }]);
});

test('a VM setting what the instancetype owns is a conflict, with every path in KubeVirt\'s message', () => {
  const spec = { domain: { cpu: { sockets: 2 }, memory: { guest: '1Gi' }, resources: { requests: { cpu: '1' } } } };
  assert.throws(
    () => apply(spec, it4),
    (e: unknown) =>
      e instanceof InstancetypeConflictError &&
      e.message === 'VM field(s) spec.template.spec.domain.resources.requests.cpu, spec.template.spec.domain.cpu.sockets, spec.template.spec.domain.memory.guest conflicts with selected instance type',
  );
  assert.throws(() => apply({ domain: {}, nodeSelector: { a: 'b' } }, { ...it4, nodeSelector: { c: 'd' } }), /VM field\(s\) spec\.template\.spec\.nodeSelector conflicts/);
  assert.throws(() => apply({ domain: {} }, { ...it4, annotations: { a: 'x' } }, undefined, { a: 'y' }), /annotations\.a conflicts/);
  // The same annotation value, or fields the instancetype leaves alone, are no conflict.
  assert.doesNotThrow(() => apply({ domain: { cpu: { model: 'x' }, devices: { gpus: [] } } }, it4, undefined, {}));
});

test('preferences fill only what the VM leaves unset', () => {
  const pref: PreferenceSpec = {
    devices: { preferredDiskBus: 'virtio', preferredInterfaceModel: 'virtio', preferredInterfaceMasquerade: {}, preferredDiskDedicatedIoThread: true },
    firmware: { preferredUseEfi: true, preferredUseSecureBoot: false },
    machine: { preferredMachineType: 'q35' },
    clock: { preferredClockOffset: { utc: {} }, preferredTimer: { rtc: { present: true } } },
    features: { preferredAcpi: {}, preferredSmm: {} },
    preferredTerminationGracePeriodSeconds: 180,
    cpu: { preferredCPUTopology: 'cores', preferredCPUFeatures: [{ name: 'invtsc', policy: 'require' }] },
  };
  const spec = {
    domain: {
      devices: {
        disks: [{ name: 'root' }, { name: 'data', disk: { bus: 'sata' } }, { name: 'cd', cdrom: {} }],
        interfaces: [{ name: 'default' }, { name: 'other', bridge: {}, model: 'e1000' }],
      },
      machine: { type: 'pc' },
      features: { acpi: { enabled: false } },
    },
    networks: [{ name: 'default', pod: {} }, { name: 'other', multus: { networkName: 'x' } }],
  };
  const out = apply(spec, it4, pref).spec;
  const d = domainOf(out);
  assert.deepEqual(d.cpu, { sockets: 1, cores: 4, threads: 1, features: [{ name: 'invtsc', policy: 'require' }] });
  const devices = d.devices as { disks: Record<string, unknown>[]; interfaces: Record<string, unknown>[] };
  assert.deepEqual(devices.disks, [
    { name: 'root', disk: { bus: 'virtio' }, dedicatedIOThread: true },
    { name: 'data', disk: { bus: 'sata' } },
    { name: 'cd', cdrom: {} },
  ]);
  assert.deepEqual(devices.interfaces, [{ name: 'default', model: 'virtio', masquerade: {} }, { name: 'other', bridge: {}, model: 'e1000' }]);
  assert.deepEqual(d.machine, { type: 'pc' }, 'the VM\'s machine type stays');
  assert.deepEqual(d.firmware, { bootloader: { efi: { secureBoot: false } } });
  assert.deepEqual(d.clock, { utc: {}, timer: { rtc: { present: true } } });
  assert.deepEqual(d.features, { acpi: { enabled: false }, smm: {} });
  assert.equal(out.terminationGracePeriodSeconds, 180);
  assert.deepEqual(domainOf(apply({ domain: {} }, undefined, pref).spec).machine, { type: 'q35' });
});

const vm: VirtualMachine = {
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name: 'web', namespace: 'ns', uid: 'vm-uid', generation: 3 },
  spec: {
    instancetype: { name: 'u1.small' },
    preference: { name: 'mine', kind: 'VirtualMachinePreference' },
    template: { metadata: { labels: { app: 'web' }, annotations: { note: 'x' } }, spec: { domain: { devices: {} } } },
  },
};
const clusterType = { apiVersion: 'instancetype.kubevirt.io/v1beta1', kind: 'VirtualMachineClusterInstancetype', metadata: { name: 'u1.small', uid: 'it-uid', generation: 2 }, spec: it4 };

test('references resolve to the cluster kind by default, to a pinned revision once pinned, and name what is missing', () => {
  const found = resolveReference<InstancetypeSpec>(vm, 'instancetype', (ref, ns, name) => (ref.kind === 'VirtualMachineClusterInstancetype' && ns === undefined && name === 'u1.small' ? clusterType : undefined));
  assert.equal(found?.kind, 'VirtualMachineClusterInstancetype');
  assert.equal(found?.toPin, clusterType);
  assert.equal(revisionName(vm, clusterType), 'web-u1.small-v1beta1-it-uid-2');
  const rev = revisionFor(vm, clusterType) as unknown as { metadata: { ownerReferences: { uid: string; controller: boolean }[] }; data: { spec: unknown } };
  assert.deepEqual(rev.data.spec, it4);
  assert.equal(rev.metadata.ownerReferences[0].uid, 'vm-uid');
  const pinned = { ...vm, spec: { ...vm.spec, instancetype: { name: 'u1.small', revisionName: 'r1' } } };
  const fromRev = resolveReference<InstancetypeSpec>(pinned, 'instancetype', (ref, _ns, name) => (ref.plural === 'controllerrevisions' && name === 'r1' ? ({ ...rev, metadata: { name: 'r1' } } as never) : undefined));
  assert.deepEqual(fromRev?.spec, it4);
  assert.equal(fromRev?.toPin, undefined);
  assert.throws(
    () => resolveReference(vm, 'preference', () => undefined),
    (e: unknown) => e instanceof ReferenceNotFoundError && e.reason === 'FailedFindPreference' && e.message === 'virtualmachinepreferences.instancetype.kubevirt.io "mine" not found',
  );
});

test('the VMI carries the template metadata, the owner, the generation and the applied types', () => {
  const vmi = vmiFromVm(vm, { instancetype: { spec: it4, kind: 'VirtualMachineClusterInstancetype' }, preference: { spec: { machine: { preferredMachineType: 'q35' } }, kind: 'VirtualMachinePreference' } }, { paused: true });
  assert.equal(vmi.metadata.name, 'web');
  assert.deepEqual(vmi.metadata.labels, { app: 'web' });
  assert.deepEqual(vmi.metadata.annotations, { note: 'x', 'kubevirt.io/cluster-instancetype-name': 'u1.small', 'kubevirt.io/preference-name': 'mine', 'kubevirt.io/vm-generation': '3' });
  assert.deepEqual(vmi.metadata.ownerReferences, [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'web', uid: 'vm-uid', controller: true, blockOwnerDeletion: true }]);
  assert.equal(vmi.spec.startStrategy, 'Paused');
  const domain = vmi.spec.domain as Record<string, Record<string, unknown>>;
  assert.deepEqual(domain.cpu, { sockets: 4, cores: 1, threads: 1 });
  assert.equal(domain.machine.type, 'q35');
  assert.equal(domain.firmware.uuid, firmwareUuid('web'));
  assert.match(firmwareUuid('web'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(vm.spec.template?.spec?.domain && (vm.spec.template.spec.domain as Record<string, unknown>).cpu, undefined, 'the VM is not changed');
});
