// The launcher pod rendered from a VMI (KubeVirt's template.go and renderresources.go, Cairn's
// layout): names, labels, scheduling fields, resources with the memory overhead, volumes, probes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launcherPod } from '../../src/virt/launcher/launcher-pod.js';
import { virtLauncherImage, LAUNCHER_PRESTOP } from '../../src/virt/launcher/launcher-image.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { binaryQuantity } from '../../src/agent/node/quantity.js';
import { memoryOverheadBytes, QEMU_OVERHEAD_BYTES, TCG_CACHE_OVERHEAD_BYTES, VCPU_OVERHEAD_BYTES, VIDEO_OVERHEAD_BYTES } from '../../src/virt/controllers/vmi-resources.js';

const MI = 1024 * 1024;
type Obj = Record<string, any>;

function vmi(spec: Partial<Vmi['spec']> = {}, labels: Record<string, string> = { app: 'web' }): Vmi {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'testvmi', namespace: 'vms', uid: 'uid-1', labels },
    spec: { domain: { devices: {}, memory: { guest: '256Mi' }, resources: { requests: { memory: '256Mi' } } }, ...spec },
  };
}
const noClaims = () => undefined;
const compute = (pod: Obj): Obj => pod.spec.containers[0];
/** Page tables as KubeVirt counts them: a bit per 512 bytes of RAM, in kilobytes rounded up. */
const pageTables = (bytes: number) => Math.floor((Math.ceil(bytes / 1000) * 1000) / 512);

test('a plain VMI: names, labels, owner, scheduling fields, one compute container', () => {
  const { pod, warnings } = launcherPod(
    vmi({ nodeSelector: { zone: 'a' }, tolerations: [{ key: 'k', operator: 'Exists' }], schedulerName: 'default-scheduler', priorityClassName: 'high', dnsPolicy: 'ClusterFirst', subdomain: 'sub' }),
    noClaims,
  ) as { pod: Obj; warnings: string[] };
  assert.deepEqual(warnings, []);
  assert.equal(pod.metadata.generateName, 'virt-launcher-testvmi-');
  assert.equal(pod.metadata.name, undefined);
  assert.equal(pod.metadata.namespace, 'vms');
  assert.deepEqual(pod.metadata.labels, { app: 'web', 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': 'uid-1', 'vm.kubevirt.io/name': 'testvmi' });
  assert.equal(pod.metadata.annotations['kubevirt.io/domain'], 'testvmi');
  assert.deepEqual(pod.metadata.ownerReferences, [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'testvmi', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  const s = pod.spec;
  assert.equal(s.restartPolicy, 'Never');
  assert.deepEqual(s.nodeSelector, { zone: 'a', 'kubevirt.io/schedulable': 'true' });
  assert.deepEqual(s.tolerations, [{ key: 'k', operator: 'Exists' }]);
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.equal(s.priorityClassName, 'high');
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.hostname, 'testvmi');
  assert.equal(s.subdomain, 'sub');
  assert.equal(s.automountServiceAccountToken, false);
  // KubeVirt's default 30 s, padded twice by 15 s for the launcher.
  assert.equal(s.terminationGracePeriodSeconds, 60);
  assert.equal(s.containers.length, 1);
  const c = compute(pod);
  assert.equal(c.name, 'compute');
  assert.equal(c.image, virtLauncherImage());
  assert.equal(c.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(c.lifecycle.preStop.exec.command, [...LAUNCHER_PRESTOP]);
  assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
  assert.equal(c.command, undefined);
  assert.deepEqual(s.volumes, [
    { name: 'private', emptyDir: {} },
    { name: 'ephemeral-disks', emptyDir: {} },
  ]);
  assert.deepEqual(c.volumeMounts, [
    { name: 'private', mountPath: '/var/run/kubevirt-private' },
    { name: 'ephemeral-disks', mountPath: '/var/run/kubevirt-ephemeral-disks' },
  ]);
});

test('resources: a tenth of a core per vCPU, guest memory plus the overhead, the tun device; no kvm', () => {
  const { pod } = launcherPod(vmi(), noClaims) as { pod: Obj };
  const overhead = pageTables(256 * MI) + QEMU_OVERHEAD_BYTES + TCG_CACHE_OVERHEAD_BYTES + VCPU_OVERHEAD_BYTES + VIDEO_OVERHEAD_BYTES;
  assert.equal(memoryOverheadBytes(vmi().spec), overhead);
  assert.deepEqual(compute(pod).resources, {
    requests: { cpu: '100m', memory: binaryQuantity(256 * MI + overhead), 'devices.kubevirt.io/tun': '1' },
    limits: { 'devices.kubevirt.io/tun': '1' },
  });

  // 2 sockets × 2 cores × 2 threads, no graphics device: 800m, 8 vCPUs' allowance, no video RAM.
  const big = vmi();
  big.spec.domain.cpu = { sockets: 2, cores: 2, threads: 2 };
  big.spec.domain.devices.autoattachGraphicsDevice = false;
  big.spec.domain.memory = { guest: '1Gi' };
  big.spec.domain.resources = { requests: { memory: '1Gi' } };
  const r = compute(launcherPod(big, noClaims).pod as Obj).resources;
  assert.equal(r.requests.cpu, '800m');
  assert.equal(r.requests.memory, binaryQuantity(1024 * MI + pageTables(1024 * MI) + QEMU_OVERHEAD_BYTES + TCG_CACHE_OVERHEAD_BYTES + 8 * VCPU_OVERHEAD_BYTES));
  assert.equal(r.requests['devices.kubevirt.io/kvm'], undefined);

  // The VMI's own CPU request wins.
  const asked = vmi();
  asked.spec.domain.resources!.requests!.cpu = '1000';
  assert.equal(compute(launcherPod(asked, noClaims).pod as Obj).resources.requests.cpu, '1000');
});

test('limits: the memory limit carries the overhead; the CPU limit is copied', () => {
  const v = vmi();
  v.spec.domain.resources = { requests: { memory: '256Mi', cpu: '500m' }, limits: { memory: '512Mi', cpu: '2' } };
  const overhead = memoryOverheadBytes(v.spec);
  assert.deepEqual(compute(launcherPod(v, noClaims).pod as Obj).resources, {
    requests: { cpu: '500m', memory: binaryQuantity(256 * MI + overhead), 'devices.kubevirt.io/tun': '1' },
    limits: { cpu: '2', memory: binaryQuantity(512 * MI + overhead), 'devices.kubevirt.io/tun': '1' },
  });
});

test('overcommitGuestOverhead: the request is the guest memory alone, the limit still has the overhead', () => {
  const v = vmi();
  v.spec.domain.resources = { requests: { memory: '256Mi' }, limits: { memory: '256Mi' }, overcommitGuestOverhead: true };
  const r = compute(launcherPod(v, noClaims).pod as Obj).resources;
  assert.equal(r.requests.memory, '256Mi');
  assert.equal(r.limits.memory, binaryQuantity(256 * MI + memoryOverheadBytes(v.spec)));
});

test('volumes: Filesystem and Block claims, a DataVolume, config disks; cloud-init and emptyDisk need none', () => {
  const v = vmi({
    volumes: [
      { name: 'rootdisk', persistentVolumeClaim: { claimName: 'root-pvc' } },
      { name: 'blockdisk', persistentVolumeClaim: { claimName: 'block-pvc', readOnly: true } },
      { name: 'dvdisk', dataVolume: { name: 'fedora-dv' } },
      { name: 'cfg', configMap: { name: 'app-config' } },
      { name: 'sec', secret: { secretName: 'app-secret', optional: true } },
      { name: 'sa', serviceAccount: { serviceAccountName: 'builder' } },
      { name: 'scratch', emptyDisk: { capacity: '1Gi' } },
      { name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } },
    ],
  });
  const modes: Record<string, string> = { 'root-pvc': 'Filesystem', 'block-pvc': 'Block' };
  const { pod } = launcherPod(v, (claim) => modes[claim]) as { pod: Obj };
  const vols = Object.fromEntries((pod.spec.volumes as Obj[]).map((x) => [x.name, x]));
  assert.deepEqual(Object.keys(vols), ['private', 'ephemeral-disks', 'rootdisk', 'blockdisk', 'dvdisk', 'cfg', 'sec', 'sa']);
  assert.deepEqual(vols.rootdisk, { name: 'rootdisk', persistentVolumeClaim: { claimName: 'root-pvc' } });
  assert.deepEqual(vols.blockdisk, { name: 'blockdisk', persistentVolumeClaim: { claimName: 'block-pvc', readOnly: true } });
  assert.deepEqual(vols.dvdisk, { name: 'dvdisk', persistentVolumeClaim: { claimName: 'fedora-dv' } });
  assert.deepEqual(vols.cfg, { name: 'cfg', configMap: { name: 'app-config' } });
  assert.deepEqual(vols.sec, { name: 'sec', secret: { secretName: 'app-secret', optional: true } });
  assert.equal(vols.sa.projected.sources[0].serviceAccountToken.path, 'token');
  assert.equal(pod.spec.serviceAccountName, 'builder');
  assert.equal(pod.spec.automountServiceAccountToken, false);
  const c = compute(pod);
  assert.deepEqual(c.volumeMounts.slice(2), [
    { name: 'rootdisk', mountPath: '/var/run/kubevirt-private/vmi-disks/rootdisk' },
    { name: 'dvdisk', mountPath: '/var/run/kubevirt-private/vmi-disks/dvdisk' },
    { name: 'cfg', mountPath: '/var/run/kubevirt-private/config-map-disks/cfg', readOnly: true },
    { name: 'sec', mountPath: '/var/run/kubevirt-private/secret-disks/sec', readOnly: true },
    { name: 'sa', mountPath: '/var/run/kubevirt-private/service-account-disks/sa', readOnly: true },
  ]);
  assert.deepEqual(c.volumeDevices, [{ name: 'blockdisk', devicePath: '/dev/blockdisk' }]);
});

test('a containerDisk needs no pod volume (the node copies it out of its image); its pull secret is the pod\'s', () => {
  const v = vmi({ volumes: [{ name: 'cd', containerDisk: { image: 'registry.example/fedora:40', imagePullSecret: 'regcred' } }] });
  const { pod } = launcherPod(v, noClaims) as { pod: Obj };
  assert.deepEqual((pod.spec as Obj).imagePullSecrets, [{ name: 'regcred' }]);
  assert.deepEqual(((pod.spec as Obj).volumes as Obj[]).map((x) => x.name), ['private', 'ephemeral-disks']);
});

test('probes: TCP and HTTP become the container\'s; exec and guestAgentPing are left out with a warning', () => {
  const v = vmi({
    readinessProbe: { httpGet: { port: 80, path: '/healthz' }, initialDelaySeconds: 5, periodSeconds: 2 },
    livenessProbe: { tcpSocket: { port: 22 }, failureThreshold: 3 },
    terminationGracePeriodSeconds: 0,
  });
  const { pod, warnings } = launcherPod(v, noClaims) as { pod: Obj; warnings: string[] };
  assert.deepEqual(compute(pod).readinessProbe, { httpGet: { port: 80, path: '/healthz' }, initialDelaySeconds: 5, periodSeconds: 2 });
  assert.deepEqual(compute(pod).livenessProbe, { tcpSocket: { port: 22 }, failureThreshold: 3 });
  assert.deepEqual(warnings, []);
  assert.equal(pod.spec.terminationGracePeriodSeconds, 30);

  const odd = vmi({ readinessProbe: { exec: { command: ['cat', '/tmp/ready'] } }, livenessProbe: { guestAgentPing: {} } });
  const r = launcherPod(odd, noClaims) as { pod: Obj; warnings: string[] };
  assert.equal(compute(r.pod).readinessProbe, undefined);
  assert.equal(compute(r.pod).livenessProbe, undefined);
  assert.deepEqual(r.warnings, [
    'spec.readinessProbe: exec probes are not supported yet; the probe is ignored',
    'spec.livenessProbe: guestAgentPing probes are not supported yet; the probe is ignored',
  ]);
});

test('spec.hostname wins; a dotted VMI name is cut at its first dot (KubeVirt)', () => {
  assert.equal((launcherPod(vmi({ hostname: 'myhost' }), noClaims).pod as Obj).spec.hostname, 'myhost');
  const dotted = vmi();
  dotted.metadata.name = 'web.example';
  assert.equal((launcherPod(dotted, noClaims).pod as Obj).spec.hostname, 'web');
});

test('the provisioning pod for WaitForFirstConsumer claims exits at once and carries KubeVirt\'s annotation', () => {
  const v = vmi({ readinessProbe: { tcpSocket: { port: 80 } }, volumes: [{ name: 'd', dataVolume: { name: 'dv' } }] });
  const { pod } = launcherPod(v, noClaims, { provisioning: true }) as { pod: Obj };
  assert.equal(pod.metadata.annotations['kubevirt.io/ephemeral-provisioning'], 'true');
  assert.deepEqual(compute(pod).command, ['/bin/sh', '-c', 'echo bound PVCs']);
  assert.equal(compute(pod).readinessProbe, undefined);
  assert.deepEqual(pod.spec.volumes[2], { name: 'd', persistentVolumeClaim: { claimName: 'dv' } });
});
