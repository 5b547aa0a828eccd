/**
 * KubeVirt's VMI/VM admission as Cairn's admission plugin: every default the mutating webhooks
 * write, and every refusal of the validating webhooks with its field path and KubeVirt's message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.js';
import type { UserInfo } from '../../src/api/types.js';
import type { KindDefinition } from '../../src/kinds/types.js';
import type { Operation } from '../../src/registry/hooks.js';
import type { KubeObject } from '../../src/util/object.js';
import { kubevirtAdmission } from '../../src/virt/api/vmi-admission.js';
import { validateVolumesUsed } from '../../src/virt/api/vmi-validation-storage.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';

const USER: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
const API_SERVER: UserInfo = { name: 'system:apiserver', groups: ['system:masters'] };
const NODE: UserInfo = { name: 'system:node:node-1', groups: ['system:nodes', 'system:authenticated'] };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const plugin = kubevirtAdmission();
const kind = (plural: string) => ({ group: 'kubevirt.io', version: 'v1', plural }) as KindDefinition;

type Spec = Record<string, unknown>;
const MEM = { resources: { requests: { memory: '64Mi' } } };

function vmiOf(spec: Spec, labels?: Record<string, string>): Vmi {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vmi1', namespace: 'ns', ...(labels ? { labels } : {}) }, spec } as unknown as Vmi;
}
/** A VMI spec with memory, the given devices and whatever else is passed. */
const withDomain = (devices: Spec, rest: Spec = {}, domain: Spec = {}): Spec => ({ domain: { devices, ...MEM, ...domain }, ...rest });

async function admit(plural: string, operation: Operation, object: KubeObject, old?: KubeObject, user = USER): Promise<KubeObject> {
  await plugin.admit({ operation, kind: kind(plural), namespace: 'ns', name: object.metadata.name!, object, oldObject: old, user, dryRun: false });
  return object;
}
const createVmi = async (spec: Spec, labels?: Record<string, string>) => (await admit('virtualmachineinstances', 'CREATE', vmiOf(spec, labels))) as Vmi;

async function causesOf(p: Promise<unknown>): Promise<{ error: ApiError; causes: [string, string][] }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return { error: e, causes: (e.details?.causes ?? []).map((c) => [c.field ?? '', c.message ?? '']) };
  }
  assert.fail('expected a refusal');
}
/** The [field, message] pairs a VMI create is refused with. */
const vmiRefusals = async (spec: Spec, labels?: Record<string, string>) => (await causesOf(createVmi(spec, labels))).causes;

test('a minimal VMI gets KubeVirt defaults: pod network with masquerade, q35, host-model CPU, 1x1x1, guest memory, firmware UUID, Pending', async () => {
  const before = Date.now();
  const vmi = await createVmi({ domain: { devices: {}, resources: { requests: { memory: '64Mi' } } } });
  const d = vmi.spec.domain;
  assert.deepEqual(d.devices.interfaces, [{ name: 'default', masquerade: {} }]);
  assert.deepEqual(vmi.spec.networks, [{ name: 'default', pod: {} }]);
  assert.deepEqual(d.machine, { type: 'q35' });
  assert.equal(vmi.spec.architecture, 'amd64');
  assert.deepEqual(d.cpu, { sockets: 1, cores: 1, threads: 1, model: 'host-model' });
  assert.deepEqual(d.memory, { guest: '64Mi' });
  assert.deepEqual(d.resources, { requests: { memory: '64Mi' } });
  assert.match(d.firmware!.uuid!, UUID);
  assert.deepEqual(d.features, { acpi: { enabled: true } });
  assert.equal(vmi.spec.evictionStrategy, 'None');
  assert.equal(vmi.status?.phase, 'Pending');
  assert.equal(vmi.status?.phaseTransitionTimestamps?.length, 1);
  assert.equal(vmi.status!.phaseTransitionTimestamps![0].phase, 'Pending');
  assert.ok(Date.parse(vmi.status!.phaseTransitionTimestamps![0].phaseTransitionTimestamp) >= Math.floor(before / 1000) * 1000);
  assert.deepEqual(vmi.status?.memory, { guestAtBoot: '64Mi', guestCurrent: '64Mi', guestRequested: '64Mi' });
  assert.deepEqual(vmi.status?.currentCPUTopology, { sockets: 1, cores: 1, threads: 1 });
  assert.deepEqual(vmi.metadata, { name: 'vmi1', namespace: 'ns' });
  // Two VMIs never share a firmware UUID.
  const other = await createVmi({ domain: { devices: {}, ...MEM } });
  assert.notEqual(other.spec.domain.firmware!.uuid, d.firmware!.uuid);
});

test('disks: a volume without a disk gets one; disk type, SATA bus (amd64), CD-ROM read-only and closed; given values kept', async () => {
  const vmi = await createVmi(
    withDomain(
      { disks: [{ name: 'root', disk: { bus: 'virtio' } }, { name: 'iso', cdrom: {} }, { name: 'data' }] },
      {
        volumes: [
          { name: 'root', containerDisk: { image: 'example/disk:v1' } },
          { name: 'iso', containerDisk: { image: 'example/iso' } },
          { name: 'data', emptyDisk: { capacity: '1Gi' } },
          { name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } },
        ],
      },
    ),
  );
  assert.deepEqual(vmi.spec.domain.devices.disks, [
    { name: 'root', disk: { bus: 'virtio' } },
    { name: 'iso', cdrom: { bus: 'sata', readonly: true, tray: 'closed' } },
    { name: 'data', disk: { bus: 'sata' } },
    { name: 'cloudinit', disk: { bus: 'sata' } },
  ]);
  // containerDisk pull policy: a tag other than latest → IfNotPresent, else Always.
  assert.deepEqual(vmi.spec.volumes!.slice(0, 2).map((v) => v.containerDisk?.imagePullPolicy), ['IfNotPresent', 'Always']);
});

test('networks are defaulted only when none are named and autoattachPodInterface is not false', async () => {
  const off = await createVmi(withDomain({ autoattachPodInterface: false }));
  assert.equal(off.spec.networks, undefined);
  assert.equal(off.spec.domain.devices.interfaces, undefined);
  const given = await createVmi(withDomain({ interfaces: [{ name: 'nic', masquerade: {} }] }, { networks: [{ name: 'nic', pod: {} }] }));
  assert.deepEqual(given.spec.domain.devices.interfaces, [{ name: 'nic', masquerade: {} }]);
  assert.deepEqual(given.spec.networks, [{ name: 'nic', pod: {} }]);
});

test('memory and CPU: guest memory from the request, else the limit; sockets from the CPU limit; a CPU limit becomes the request', async () => {
  const fromLimit = await createVmi({ domain: { devices: {}, resources: { limits: { memory: '128Mi', cpu: '2' } } } });
  assert.equal(fromLimit.spec.domain.memory?.guest, '128Mi');
  assert.deepEqual(fromLimit.spec.domain.resources, { limits: { memory: '128Mi', cpu: '2' }, requests: { cpu: '2' } });
  assert.deepEqual(fromLimit.spec.domain.cpu, { sockets: 2, cores: 1, threads: 1, model: 'host-model' });
  // Guest memory alone: KubeVirt leaves the requests to the launcher pod.
  const guestOnly = await createVmi({ domain: { devices: {}, memory: { guest: '256Mi' }, cpu: { cores: 2 } } });
  assert.equal(guestOnly.spec.domain.resources?.requests, undefined);
  assert.deepEqual(guestOnly.spec.domain.cpu, { cores: 2, model: 'host-model' });
  assert.deepEqual(guestOnly.status?.currentCPUTopology, { cores: 2 });
  const halfCpu = await createVmi({ domain: { devices: {}, ...MEM, cpu: { model: 'Haswell' } }, architecture: 'amd64' });
  assert.deepEqual(halfCpu.spec.domain.cpu, { model: 'Haswell', sockets: 1, cores: 1, threads: 1 });
});

test('probes, inputs, watchdog, features and timers get the generated defaulters’ values', async () => {
  const vmi = await createVmi(
    withDomain(
      { inputs: [{ name: 'tablet' }], watchdog: { name: 'wd' } },
      { readinessProbe: { tcpSocket: { port: 80 } }, livenessProbe: { httpGet: { port: 80 }, periodSeconds: 5 } },
      { features: { apic: {}, smm: { enabled: false }, hyperv: { relaxed: {}, spinlocks: {} } }, clock: { timer: { rtc: {}, hpet: { present: false } } } },
    ),
  );
  assert.deepEqual(vmi.spec.readinessProbe, { tcpSocket: { port: 80 }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  assert.equal(vmi.spec.livenessProbe?.periodSeconds, 5);
  assert.deepEqual(vmi.spec.domain.devices.inputs, [{ name: 'tablet', bus: 'usb', type: 'tablet' }]);
  assert.deepEqual(vmi.spec.domain.devices.watchdog, { name: 'wd', i6300esb: { action: 'reset' } });
  assert.deepEqual(vmi.spec.domain.features, { apic: { enabled: true }, smm: { enabled: false }, hyperv: { relaxed: { enabled: true }, spinlocks: { enabled: true, spinlocks: 4096 } }, acpi: { enabled: true } });
  assert.deepEqual(vmi.spec.domain.clock, { timer: { rtc: { present: true }, hpet: { present: false } } });
});

test('a refusal is a 422 Invalid from the create validator, one cause per problem', async () => {
  const { error, causes } = await causesOf(createVmi({ domain: { devices: { disks: [{ name: 'root' }] } } }));
  assert.equal(error.code, 422);
  assert.equal(error.reason, 'Invalid');
  assert.equal(
    error.message,
    `admission webhook "virtualmachineinstances-create-validator.kubevirt.io" denied the request: spec.domain.devices.disks[0].Name 'root' not found., no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.pageSize' or 'spec.domain.resources.requests.memory' must be set`,
  );
  assert.deepEqual(causes, [
    ['spec.domain.devices.disks[0].name', "spec.domain.devices.disks[0].Name 'root' not found."],
    ['', "no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.pageSize' or 'spec.domain.resources.requests.memory' must be set"],
  ]);
  assert.equal(error.details?.kind, undefined);
  assert.equal(error.details?.causes?.[0].reason, 'FieldValueInvalid');
});

test('disk refusals: duplicate names, two targets, unknown and wrong buses, boot orders, names that are not DNS labels', async () => {
  const vol = (name: string) => ({ name, emptyDisk: { capacity: '1Gi' } });
  assert.deepEqual(await vmiRefusals(withDomain({ disks: [{ name: 'a' }, { name: 'a' }] }, { volumes: [vol('a')] })), [
    ['spec.domain.devices.disks[1].name', 'spec.domain.devices.disks[1] and spec.domain.devices.disks[0] must not have the same Name.'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ disks: [{ name: 'a', disk: {}, cdrom: {} }] }, { volumes: [vol('a')] })), [
    ['spec.domain.devices.disks[0]', 'spec.domain.devices.disks[0] can only have a single target type defined'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ disks: [{ name: 'a', disk: { bus: 'floppy' } }, { name: 'b', cdrom: { bus: 'virtio' } }] }, { volumes: [vol('a'), vol('b')] })), [
    ['spec.domain.devices.disks[0].disk.bus', 'spec.domain.devices.disks[0] is set with an unrecognized bus floppy, must be one of: [virtio scsi sata usb]'],
    ['spec.domain.devices.disks[1].cdrom.bus', 'Bus type virtio is invalid for CD-ROM device'],
  ]);
  assert.deepEqual(
    await vmiRefusals(withDomain({ disks: [{ name: 'a', bootOrder: 1 }, { name: 'b', bootOrder: 1 }, { name: 'c', bootOrder: 0 }] }, { volumes: [vol('a'), vol('b'), vol('c')] })),
    [
      ['spec.domain.devices.disks[1].bootOrder', 'Boot order for spec.domain.devices.disks[1].bootOrder already set for a different device.'],
      ['spec.domain.devices.disks[2].bootOrder', 'spec.domain.devices.disks[2] must have a boot order > 0, if supplied'],
    ],
  );
  const [[field, message]] = await vmiRefusals(withDomain({ disks: [{ name: 'Root_Disk' }] }, { volumes: [vol('Root_Disk')] }));
  assert.equal(field, 'spec.domain.devices.disks[0].name');
  assert.match(message, /^a lowercase RFC 1123 label must consist of/);
  assert.deepEqual(await vmiRefusals(withDomain({ disks: [{ name: 'a', disk: { bus: 'sata', readonly: true } }] }, { volumes: [vol('a')] })), [
    ['spec.domain.devices.disks[0].disk.bus', 'sata hard-disks do not support read-only.'],
  ]);
});

test('volume refusals: unused, one source each, unique names, cloud-init data, one cloud-init volume, emptyDisk capacity', async () => {
  // A volume no disk names gets one from the defaults, so it is not refused.
  assert.equal((await createVmi(withDomain({ disks: [] }, { volumes: [{ name: 'extra', containerDisk: { image: 'x' } }] }))).spec.domain.devices.disks?.[0].name, 'extra');
  const twoSources = await vmiRefusals(withDomain({}, { volumes: [{ name: 'v', containerDisk: { image: 'x' }, emptyDisk: { capacity: '1Gi' } }] }));
  assert.deepEqual(twoSources, [['spec.volumes[0]', 'spec.volumes[0] must have exactly one source type set']]);
  assert.deepEqual(await vmiRefusals(withDomain({ disks: [{ name: 'v' }] }, { volumes: [{ name: 'v', containerDisk: { image: 'x' } }, { name: 'v', containerDisk: { image: 'y' } }] })), [
    ['spec.volumes[1].name', 'spec.volumes[1] and spec.volumes[0] must not have the same Name.'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { volumes: [{ name: 'ci', cloudInitNoCloud: { userDataBase64: 'not base64!' } }] })), [
    ['spec.volumes[0].cloudInitNoCloud.userDataBase64', 'spec.volumes[0].cloudInitNoCloud.userDataBase64 is not a valid base64 value'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { volumes: [{ name: 'ci', cloudInitConfigDrive: {} }] })), [
    ['spec.volumes[0].cloudInitConfigDrive', 'spec.volumes[0].cloudInitConfigDrive must have at least one userdatasource or one networkdatasource set.'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { volumes: [{ name: 'ci', cloudInitNoCloud: { userData: 'a', secretRef: { name: 's' } } }] })), [
    ['spec.volumes[0].cloudInitNoCloud', 'spec.volumes[0].cloudInitNoCloud must have only one userdata source set (userData, secretRef)'],
  ]);
  assert.deepEqual(
    await vmiRefusals(withDomain({}, { volumes: [{ name: 'a', cloudInitNoCloud: { userData: 'a' } }, { name: 'b', cloudInitConfigDrive: { secretRef: { name: 's' } } }] })),
    [['spec.volumes', 'spec.volumes must have max one cloudInitNoCloud or cloudInitConfigDrive volume set']],
  );
  assert.deepEqual(await vmiRefusals(withDomain({}, { volumes: [{ name: 'e', emptyDisk: { capacity: '0' } }] })), [
    ['spec.volumes[0].emptyDisk.capacity', "spec.volumes[0].emptyDisk.capacity '0': must be greater than 0."],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { volumes: [{ name: 'c', configMap: {} }, { name: 'p', containerDisk: { image: 'x', path: '../disk' } }] })), [
    ['spec.volumes[0].configMap.name', 'spec.volumes[0].configMap.name is a required field'],
    ['spec.volumes[1].containerDisk', 'spec.volumes[1].containerDisk must be an absolute path to a file without relative components'],
  ]);
});

test('a VMI volume must be used by a disk — unless the defaults add one; this path is KubeVirt’s spec.domain.volumes', () => {
  // The defaults add a disk for the volume, so a VMI is never refused for this on create; the check
  // catches a disk renamed after the defaults ran (here: by hand, through the validation alone).
  const spec = withDomain({ disks: [{ name: 'other' }] }, { volumes: [{ name: 'v', containerDisk: { image: 'x' } }] }) as unknown as Vmi['spec'];
  assert.deepEqual(validateVolumesUsed('spec', spec), [{ type: 'FieldValueInvalid', field: 'spec.domain.volumes[0].name', message: "spec.domain.volumes[0].name 'v' not found." }]);
});

test('network refusals: pairing by name, one pod network, bindings, masquerade only on the pod network, MAC, model, ports', async () => {
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a', masquerade: {} }] }, { networks: [{ name: 'b', pod: {} }] })), [
    ['spec.domain.devices.interfaces[0].name', 'Masquerade interface only implemented with pod network'],
    ['spec.networks[0].name', "spec.networks[0].name 'b' not found."],
    ['spec.domain.devices.interfaces[0].name', "spec.domain.devices.interfaces[0].name 'a' not found."],
  ]);
  assert.deepEqual(
    await vmiRefusals(withDomain({ interfaces: [{ name: 'a', masquerade: {} }, { name: 'b', masquerade: {} }] }, { networks: [{ name: 'a', pod: {} }, { name: 'b', pod: {} }] })),
    [['spec.interfaces', 'more than one interface is connected to a pod network in spec.interfaces']],
  );
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a' }] }, { networks: [{ name: 'a', pod: {} }] })), [
    ['spec.domain.devices.interfaces[0]', 'logical a interface must have exactly one binding method or binding plugin'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a', bridge: {} }] }, { networks: [{ name: 'a', pod: {} }] })), [
    ['spec.domain.devices.interfaces[0].name', 'Bridge on pod network configuration is not enabled under kubevirt-config'],
  ]);
  assert.deepEqual(
    await vmiRefusals(withDomain({ interfaces: [{ name: 'a', masquerade: {}, macAddress: '02:00:00:00:00:0g', model: 'ne2k_isa', ports: [{ port: 0 }, { port: 80, protocol: 'SCTP' }] }] }, { networks: [{ name: 'a', pod: {} }] })),
    [
      ['spec.domain.devices.interfaces[0].model', 'interface spec.domain.devices.interfaces[0].name uses model ne2k_isa that is not supported.'],
      ['spec.domain.devices.interfaces[0].macAddress', 'interface spec.domain.devices.interfaces[0].name has malformed MAC address (02:00:00:00:00:0g).'],
      ['spec.domain.devices.interfaces[0].ports[0].port', 'Port field is mandatory.'],
      ['spec.domain.devices.interfaces[0].ports[1].protocol', 'Unknown protocol, only TCP or UDP allowed'],
    ],
  );
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a', masquerade: {}, macAddress: '02:00:00:00:00:00' }] }, { networks: [{ name: 'a', pod: {} }] })), [
    ['spec.domain.devices.interfaces[0].macAddress', 'The requested MAC address is reserved for the in-pod bridge. Please choose another one.'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a', masquerade: {}, macAddress: '02:00:00:00:00:01:02:03' }] }, { networks: [{ name: 'a', pod: {} }] })), [
    ['spec.domain.devices.interfaces[0].macAddress', 'interface spec.domain.devices.interfaces[0].name has too long MAC address (02:00:00:00:00:01:02:03).'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a', bridge: {} }] }, { networks: [{ name: 'a', multus: { networkName: '' } }] })), [
    ['spec.networks[0]', 'CNI delegating plugin must have a networkName'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ interfaces: [{ name: 'a', slirp: {} }] }, { networks: [{ name: 'a', pod: {} }] })), [
    ['spec.domain.devices.interfaces[0].slirp', 'Slirp interface support has been discontinued since v1.3'],
    ['spec.domain.devices.interfaces[0]', 'logical a interface must have exactly one binding method or binding plugin'],
  ]);
  // Interface boot orders share the disks' numbering.
  assert.deepEqual(
    await vmiRefusals(withDomain({ disks: [{ name: 'v', bootOrder: 1 }], interfaces: [{ name: 'a', masquerade: {}, bootOrder: 1 }] }, { networks: [{ name: 'a', pod: {} }], volumes: [{ name: 'v', containerDisk: { image: 'x' } }] })),
    [['spec.domain.devices.interfaces[0].bootOrder', 'Boot order for spec.domain.devices.interfaces[0].bootOrder already set for a different device.']],
  );
});
test('memory, CPU and other spec refusals', async () => {
  assert.deepEqual(await vmiRefusals({ domain: { devices: {}, resources: { requests: { memory: '512k' } } } }), [
    ['spec.domain.resources.requests.memory', "spec.domain.resources.requests.memory '512k': must be greater than or equal to 1M."],
  ]);
  assert.deepEqual(await vmiRefusals({ domain: { devices: {}, resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } } }), [
    ['spec.domain.resources.requests.memory', "spec.domain.resources.requests.memory '2Gi' is greater than spec.domain.resources.limits.memory '1Gi'"],
    // The guest memory defaulted from the request is then above the limit too, as in KubeVirt.
    ['spec.domain.memory.guest', "spec.domain.memory.guest '2Gi' must be equal to or less than the memory limit spec.domain.resources.limits.memory '1Gi'"],
  ]);
  assert.deepEqual(await vmiRefusals({ domain: { devices: {}, memory: { guest: '2Gi' }, resources: { limits: { memory: '1Gi' } } } }), [
    ['spec.domain.memory.guest', "spec.domain.memory.guest '2Gi' must be equal to or less than the memory limit spec.domain.resources.limits.memory '1Gi'"],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, {}, { resources: { requests: { memory: '64Mi', cpu: '2' }, limits: { cpu: '1' } } })), [
    ['spec.domain.resources.requests.cpu', "spec.domain.resources.requests.cpu '2' is greater than spec.domain.resources.limits.cpu '1'"],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, {}, { cpu: { cores: -1 } })), [['spec.domain.cpu.cores', "spec.domain.cpu.cores '-1': must be greater than or equal to 0."]]);
  assert.deepEqual(await vmiRefusals(withDomain({}, {}, { machine: { type: 'pc-i440fx-7.2' } })), [
    ['spec.domain.machine.type', 'spec.domain.machine.type is not supported: pc-i440fx-7.2 (allowed values: [q35* pc-q35*])'],
  ]);
  const [[hostField, hostMessage]] = await vmiRefusals(withDomain({}, { hostname: 'Not_A_Label' }));
  assert.equal(hostField, 'spec.hostname');
  assert.match(hostMessage, /^spec\.hostname does not conform to the kubernetes DNS_LABEL rules : a lowercase RFC 1123 label/);
  assert.deepEqual(await vmiRefusals(withDomain({}, { startStrategy: 'Later' })), [['spec.startStrategy', 'spec.startStrategy is set with an unrecognized option: Later']]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { evictionStrategy: 'Sometimes' })), [['spec.evictionStrategy', 'spec.evictionStrategy is set with an unrecognized option: Sometimes']]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { readinessProbe: { periodSeconds: 3 } })), [
    ['spec.readinessProbe', 'either spec.readinessProbe.tcpSocket, spec.readinessProbe.exec or spec.readinessProbe.httpGet must be set if a spec.readinessProbe is specified'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({ autoattachPodInterface: false }, { livenessProbe: { tcpSocket: { port: 22 } } })), [
    ['spec.livenessProbe.tcpSocket', 'spec.livenessProbe.tcpSocket is only allowed if the Pod Network is attached'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, {}, { firmware: { bootloader: { efi: {} } } })), [
    ['spec.domain', 'spec.domain has EFI SecureBoot enabled. SecureBoot requires SMM, which is currently disabled.'],
  ]);
  assert.deepEqual(await vmiRefusals(withDomain({}, { architecture: 'riscv64' })), [['spec.architecture', 'unsupported architecture: riscv64']]);
  assert.deepEqual(await vmiRefusals(withDomain({}), { 'kubevirt.io/nodeName': 'node-1' }), [
    ['metadata.labels', 'creation of the following reserved kubevirt.io/ labels on a VMI object is prohibited'],
  ]);
});

test('updates: users change neither the spec nor reserved labels; KubeVirt components (API server, nodes) may', async () => {
  const old = await createVmi(withDomain({}));
  const changed = structuredClone(old);
  changed.spec.domain.cpu!.sockets = 2;
  const { error, causes } = await causesOf(admit('virtualmachineinstances', 'UPDATE', changed, old));
  assert.equal(error.message, 'admission webhook "virtualmachineinstances-update-validator.kubevirt.io" denied the request: update of VMI object is restricted');
  assert.deepEqual(causes, [['', 'update of VMI object is restricted']]);
  await admit('virtualmachineinstances', 'UPDATE', structuredClone(changed), old, API_SERVER);
  await admit('virtualmachineinstances', 'UPDATE', structuredClone(changed), old, NODE);
  const labelled = structuredClone(old);
  labelled.metadata.labels = { app: 'web' };
  await admit('virtualmachineinstances', 'UPDATE', labelled, old);
  labelled.metadata.labels = { 'kubevirt.io/nodeName': 'node-2' };
  assert.deepEqual((await causesOf(admit('virtualmachineinstances', 'UPDATE', labelled, old))).causes, [['', 'modification of the following reserved kubevirt.io/ labels on a VMI object is prohibited']]);
  // Status and spec untouched by an update: no defaults re-applied.
  const same = structuredClone(old);
  await admit('virtualmachineinstances', 'UPDATE', same, old);
  assert.deepEqual(same, old);
});

const vmOf = (spec: Spec): KubeObject => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm1', namespace: 'ns' }, spec });
const template = (spec: Spec = { domain: { devices: {} } }) => ({ metadata: { labels: { app: 'vm1' } }, spec });

test('VM: the template gets machine type and architecture, and on create a firmware UUID and serial; VMI defaults are not written', async () => {
  const vm = await admit('virtualmachines', 'CREATE', vmOf({ runStrategy: 'Always', template: template() }));
  const spec = (vm.spec as { template: { spec: Vmi['spec'] } }).template.spec;
  assert.equal(spec.domain.machine?.type, 'q35');
  assert.equal(spec.architecture, 'amd64');
  assert.match(spec.domain.firmware!.uuid!, UUID);
  assert.match(spec.domain.firmware!.serial!, UUID);
  assert.equal(spec.networks, undefined);
  assert.deepEqual(spec.domain.devices, {});
  // An update keeps the UUID and adds none.
  const next = structuredClone(vm);
  delete (next.spec as { template: { spec: Vmi['spec'] } }).template.spec.domain.firmware;
  await admit('virtualmachines', 'UPDATE', next, vm);
  assert.equal((next.spec as { template: { spec: Vmi['spec'] } }).template.spec.domain.firmware, undefined);
});

test('VM refusals: the run strategy, and the template checked as a VMI spec under spec.template.spec', async () => {
  const vmRefusals = async (spec: Spec) => (await causesOf(admit('virtualmachines', 'CREATE', vmOf(spec)))).causes;
  assert.deepEqual(await vmRefusals({ running: true, runStrategy: 'Always', template: template() }), [
    ['spec.running', 'Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead'],
  ]);
  assert.deepEqual(await vmRefusals({ template: template() }), [['spec.running', 'RunStrategy must be specified']]);
  assert.deepEqual(await vmRefusals({ runStrategy: 'Sometimes', template: template() }), [['spec.runStrategy', 'Invalid RunStrategy (Sometimes)']]);
  assert.deepEqual(await vmRefusals({ runStrategy: 'Halted', template: { metadata: { labels: { 'kubevirt.io/created-by': 'me' } }, spec: { domain: { devices: {} } } } }), [
    ['spec.template.metadata.labels', 'creation of the following reserved kubevirt.io/ labels on a VMI object is prohibited'],
  ]);
  const { error, causes } = await causesOf(
    admit('virtualmachines', 'CREATE', vmOf({ runStrategy: 'Halted', template: template({ domain: { devices: { disks: [{ name: 'root' }], interfaces: [{ name: 'default', bridge: {} }] } } }) })),
  );
  assert.match(error.message, /^admission webhook "virtualmachine-validator\.kubevirt\.io" denied the request: /);
  assert.deepEqual(causes, [
    ['spec.template.spec.domain.devices.interfaces[0].name', "spec.template.spec.domain.devices.interfaces[0].name 'default' not found."],
    ['spec.template.spec.domain.devices.disks[0].name', "spec.template.spec.domain.devices.disks[0].Name 'root' not found."],
  ]);
  // dataVolumeTemplates: well-formed, and used by a volume (KubeVirt's paths say dataVolumeTemplate).
  const dv = (name: string, spec: Spec) => ({ metadata: { name }, spec });
  const storage = { resources: { requests: { storage: '1Gi' } } };
  const withDisk = template({ domain: { devices: {} }, volumes: [{ name: 'root', dataVolume: { name: 'root-dv' } }] });
  assert.deepEqual(
    await vmRefusals({
      runStrategy: 'Halted',
      template: withDisk,
      dataVolumeTemplates: [dv('root-dv', { storage, source: { blank: {}, http: { url: 'http://x' } } }), dv('unused', { storage, source: { blank: {} } }), dv('', { storage }), dv('x', { source: { blank: {} } })],
    }),
    [
      ['spec.dataVolumeTemplate[0].source', 'Multiple dataVolume sources'],
      ['spec.dataVolumeTemplate[1]', "DataVolumeTemplate entry spec.dataVolumeTemplate[1] must be referenced in the VMI template's 'volumes' list"],
      ['spec.dataVolumeTemplate[2].name', "'name' field must not be empty for DataVolumeTemplate entry spec.dataVolumeTemplate[2].name."],
      ['spec.dataVolumeTemplate[3].PVC.Storage', 'Missing Data volume PVC or Storage'],
    ],
  );
  await admit('virtualmachines', 'CREATE', vmOf({ runStrategy: 'Halted', template: withDisk, dataVolumeTemplates: [dv('root-dv', { storage, source: { blank: {} } })] }));
  // No memory in a template is fine (an instancetype may give it); a VMI made from it is refused.
  await admit('virtualmachines', 'CREATE', vmOf({ running: false, template: template() }));
  // A deleting VM is not checked.
  const deleting = vmOf({ template: template() });
  deleting.metadata.deletionTimestamp = new Date().toISOString();
  await admit('virtualmachines', 'UPDATE', deleting, deleting);
});
