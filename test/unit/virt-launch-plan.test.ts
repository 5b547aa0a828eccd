// The VirtHandler's launch plan: a KubeVirt VMI and its launcher pod → the QEMU machine (paths as
// the launcher container sees them), the cloud-init ISOs and emptyDisks to make, the pod NIC —
// and the node's share of the VMI status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { launchPlan, LaunchPlanError, interfaceMac } from '../../src/virt/handler/launch-plan.js';
import { withNodeStatus } from '../../src/virt/handler/vmi-node-status.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';

const vmi = (spec: Partial<Vmi['spec']> = {}): Vmi => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'web', namespace: 'prod', uid: '5b2cd1d2-8f7e-4a8e-9a43-1c1d7b7e0c11' },
  spec: {
    domain: {
      cpu: { cores: 2 },
      memory: { guest: '128Mi' },
      devices: {
        disks: [
          { name: 'root', disk: { bus: 'virtio' }, bootOrder: 1 },
          { name: 'raw', disk: { bus: 'sata' } },
          { name: 'seed', disk: { bus: 'virtio' } },
          { name: 'scratch', disk: {} },
          { name: 'iso', cdrom: {} },
        ],
        interfaces: [{ name: 'default', masquerade: {}, ports: [{ port: 80 }] }],
      },
    },
    networks: [{ name: 'default', pod: {} }],
    volumes: [
      { name: 'root', dataVolume: { name: 'web-root' } },
      { name: 'raw', persistentVolumeClaim: { claimName: 'raw-claim', readOnly: true } },
      { name: 'seed', cloudInitNoCloud: { userData: '#!/bin/sh\necho hi\n' } },
      { name: 'scratch', emptyDisk: { capacity: '1Gi' } },
      { name: 'iso', persistentVolumeClaim: { claimName: 'iso-claim' } },
    ],
    ...spec,
  },
});

const pod: Pod = {
  metadata: { name: 'virt-launcher-web-abcde', namespace: 'prod', uid: 'p1' },
  spec: { containers: [{ name: 'compute', image: 'x', volumeDevices: [{ name: 'raw', devicePath: '/dev/raw' }] }] },
} as Pod;

test('disks: claims as disk.img or the block device, cloud-init as an ISO, emptyDisk as qcow2, CD-ROMs read-only on SATA', () => {
  const p = launchPlan(vmi(), pod, 'tcg');
  const d = p.machine.disks!;
  assert.deepEqual(
    d.map((x) => [x.id, x.path, x.format, x.bus, x.kind, !!x.block, !!x.readOnly, x.bootIndex]),
    [
      ['disk0', '/var/run/kubevirt-private/vmi-disks/root/disk.img', 'raw', 'virtio', 'disk', false, false, 1],
      ['disk1', '/dev/raw', 'raw', 'sata', 'disk', true, true, undefined],
      ['disk2', '/var/run/kubevirt-private/iso/seed.iso', 'raw', 'virtio', 'disk', false, true, undefined],
      ['disk3', '/var/run/kubevirt-ephemeral-disks/scratch.qcow2', 'qcow2', 'virtio', 'disk', false, false, undefined],
      ['disk4', '/var/run/kubevirt-private/vmi-disks/iso/disk.img', 'raw', 'sata', 'cdrom', false, true, undefined],
    ],
  );
  assert.deepEqual(p.cloudInit.map((c) => [c.volume, c.kind, c.path]), [['seed', 'noCloud', '/var/run/kubevirt-private/iso/seed.iso']]);
  assert.deepEqual(p.emptyDisks, [{ volume: 'scratch', path: '/var/run/kubevirt-ephemeral-disks/scratch.qcow2', capacityBytes: 2 ** 30 }]);
});

test('containerDisk: copied out of its image into the ephemeral dir', () => {
  const spec = { domain: { memory: { guest: '64Mi' }, devices: { disks: [{ name: 'root' }] } }, volumes: [{ name: 'root', containerDisk: { image: 'registry.local/cirros:1', imagePullPolicy: 'IfNotPresent' } }] };
  const p = launchPlan(vmi(spec), pod, 'tcg');
  assert.deepEqual(p.containerDisks, [{ volume: 'root', image: 'registry.local/cirros:1', imagePullPolicy: 'IfNotPresent', path: '/var/run/kubevirt-ephemeral-disks/container-disks/root.img', diskIndex: 0 }]);
  assert.equal(p.machine.disks![0]!.path, '/var/run/kubevirt-ephemeral-disks/container-disks/root.img');
});

test('configMap, secret and serviceAccount volumes become ISOs of the mounted files (volume label or cfgdata)', () => {
  const spec = {
    domain: { memory: { guest: '64Mi' }, devices: { disks: [{ name: 'cfg' }, { name: 'sec', cdrom: {} }, { name: 'sa' }] } },
    volumes: [{ name: 'cfg', configMap: { name: 'app-config', volumeLabel: 'APPCFG' } }, { name: 'sec', secret: { secretName: 'creds' } }, { name: 'sa', serviceAccount: { serviceAccountName: 'default' } }],
  };
  const p = launchPlan(vmi(spec), pod, 'tcg');
  assert.deepEqual(
    p.configIsos.map((c) => [c.volume, c.sourceDir, c.label, c.path]),
    [
      ['cfg', '/var/run/kubevirt-private/config-map-disks/cfg', 'APPCFG', '/var/run/kubevirt-private/iso/cfg.iso'],
      ['sec', '/var/run/kubevirt-private/secret-disks/sec', 'cfgdata', '/var/run/kubevirt-private/iso/sec.iso'],
      ['sa', '/var/run/kubevirt-private/service-account-disks/sa', 'cfgdata', '/var/run/kubevirt-private/iso/sa.iso'],
    ],
  );
  assert.deepEqual(p.machine.disks!.map((d) => [d.kind, d.readOnly]), [['disk', true], ['cdrom', true], ['disk', true]]);
});

test('machine: topology, memory, uuid from the VMI, sockets in the private dir, start paused on request', () => {
  const m = launchPlan(vmi({ startStrategy: 'Paused' }), pod, 'kvm').machine;
  assert.equal(m.accel, 'kvm');
  assert.deepEqual(m.cpu, { sockets: 1, cores: 2, threads: 1 });
  assert.equal(m.memoryMiB, 128);
  assert.equal(m.uuid, '5b2cd1d2-8f7e-4a8e-9a43-1c1d7b7e0c11');
  assert.equal(m.qmp.socket, '/var/run/kubevirt-private/qmp.sock');
  assert.equal(m.serial.logFile, '/var/run/kubevirt-private/serial.log');
  assert.equal(m.startPaused, true);
  assert.equal(launchPlan(vmi(), pod, 'tcg').machine.startPaused, undefined);
});

test('pod NIC: masquerade with a MAC stable for the VMI name, only the listed ports forwarded', () => {
  const p = launchPlan(vmi(), pod, 'tcg');
  assert.equal(p.podNic?.tap, 'tap0');
  assert.match(p.podNic!.mac, /^02(:[0-9a-f]{2}){5}$/);
  assert.deepEqual(p.podNic?.ports, [{ protocol: 'tcp', port: 80 }]);
  // Same name → same MAC (a restarted VM gets a new VMI uid); another VMI → another MAC.
  const again = vmi();
  again.metadata.uid = 'other';
  assert.equal(launchPlan(again, pod, 'tcg').podNic!.mac, p.podNic!.mac);
  const other = vmi();
  other.metadata.name = 'db';
  assert.notEqual(interfaceMac(other, { name: 'default' }), p.podNic!.mac);
  assert.equal(interfaceMac(other, { name: 'default', macAddress: 'DE-AD-BE-EF-00-01' }), 'de:ad:be:ef:00:01');
  assert.deepEqual(p.machine.nics, [{ id: 'net0', tap: 'tap0', mac: p.podNic!.mac }]);
});

test('refusals name the field', () => {
  const cases: [Partial<Vmi['spec']>, RegExp][] = [
    [{ volumes: [{ name: 'root', hostDisk: { path: '/x', type: 'Disk' } } as never] }, /^spec\.volumes\[0\]\.hostDisk: volume source hostDisk is not supported yet/],
    [{ domain: { memory: { guest: '128Mi' }, devices: { disks: [{ name: 'nope' }] } } }, /^spec\.domain\.devices\.disks\[0\]\.name: no volume named "nope"/],
    [{ domain: { memory: { guest: '128Mi' }, devices: { disks: [{ name: 'root', disk: { bus: 'usb' } }] } }, volumes: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }] }, /disks\[0\]\.disk\.bus: bus "usb" is not supported/],
    [{ domain: { devices: {} } }, /^spec\.domain\.memory\.guest: the VMI asks for no memory/],
    [{ domain: { memory: { guest: '100M' }, devices: {} } }, /whole number of MiB/],
    [{ domain: { memory: { guest: '64Mi' }, devices: { interfaces: [{ name: 'default', bridge: {} }] } } }, /interfaces\[0\]: only the masquerade binding/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => launchPlan(vmi(spec), pod, 'tcg'), (e: Error) => e instanceof LaunchPlanError && re.test(e.message), String(re));
  }
});

test('node status: Running, the pod IP on the interface, Paused by user, agent data, LiveMigratable', () => {
  const v = vmi();
  v.status = { phase: 'Scheduled', nodeName: 'node-1', conditions: [{ type: 'Ready', status: 'False' }] };
  const nic = launchPlan(v, pod, 'tcg').podNic;
  const s = withNodeStatus({
    vmi: v,
    podIP: '10.244.1.7',
    nic,
    session: { runState: 'paused', userPaused: true, agent: { osInfo: { id: 'cairn', name: 'Cairn test guest', 'kernel-release': '6.1.0' }, interfaces: [{ name: 'eth0', 'hardware-address': nic!.mac }] } },
    unsharedClaims: ['web-root'],
    now: '2026-11-21T09:00:00Z',
  });
  assert.equal(s.phase, 'Running');
  assert.equal(s.nodeName, 'node-1');
  assert.deepEqual(s.interfaces, [{ name: 'default', mac: nic!.mac, ipAddress: '10.244.1.7', ipAddresses: ['10.244.1.7'], podInterfaceName: 'eth0', interfaceName: 'eth0', infoSource: 'domain, guest-agent', queueCount: 1, linkState: 'up' }]);
  const cond = (t: string) => s.conditions?.find((c) => c.type === t);
  assert.equal(cond('Ready')?.status, 'False', "the controller's conditions are kept");
  assert.equal(cond('Paused')?.reason, 'PausedByUser');
  assert.equal(cond('AgentConnected')?.status, 'True');
  assert.equal(cond('LiveMigratable')?.reason, 'DisksNotLiveMigratable');
  assert.match(cond('LiveMigratable')!.message!, /PVC web-root is not shared/);
  assert.deepEqual(s.guestOSInfo, { id: 'cairn', name: 'Cairn test guest', kernelRelease: '6.1.0' });
  assert.deepEqual(s.memory, { guestAtBoot: '128Mi', guestCurrent: '128Mi', guestRequested: '128Mi' });
  const running = withNodeStatus({ vmi: { ...v, status: s }, podIP: '10.244.1.7', nic, session: { runState: 'running', userPaused: false }, unsharedClaims: [], now: '2026-11-21T09:01:00Z' });
  assert.equal(running.conditions?.find((c) => c.type === 'Paused'), undefined);
  assert.equal(running.conditions?.find((c) => c.type === 'LiveMigratable')?.status, 'True');
  assert.equal(running.guestOSInfo, undefined);
});
