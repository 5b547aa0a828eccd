/**
 * Virtual machines running on a 2-node `cairn up` cluster, driven with the real kubectl: a
 * KubeVirt VirtualMachine from a plain manifest — its root disk a DataVolume imported over HTTP
 * (the offline test guest's qcow2) and a cloudInitNoCloud disk — reaches Running under QEMU in
 * its virt-launcher pod; `kubectl get vm/vmi` print KubeVirt's columns; the guest ran the user
 * data and serves it over HTTP through a Service selecting the VM's labels (masquerade binding:
 * the pod IP reaches the guest); `cairn vm stop` shuts the guest down through ACPI and `cairn vm
 * start` brings it back with the same MAC and the disk's data. A VMI from a containerDisk image
 * (the guest's disk under /disk, imported with `cairn image import`) boots too; a bad one gets an
 * event naming the problem; a configMap disk is an ISO of its keys.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { CONTAINER_DISK, fetchFromPod, getVmi, type GuestDiskServer, guestVmManifest, importContainerDisk, serveGuestDisk, VM_BOOT_MS, waitVmiRunning } from '../support/virt.js';
import { until } from '../support/until.js';

const NS = 'vms';

let cluster: CairnCluster;
let disks: GuestDiskServer;


const USER_DATA = `#cloud-config
write_files:
- path: /www/hello.txt
  content: hello from cloud-init
runcmd:
- [sh, -c, "date +%s >> /mnt/disk/boots; cp /mnt/disk/boots /www/boots.txt"]
`;

const vmi = (name: string) => getVmi(cluster, NS, name);
const waitRunning = (name: string, notUid?: string) => waitVmiRunning(cluster, NS, name, notUid);

const fetchFromClient = (url: string) => fetchFromPod(cluster, NS, 'client', url);

const vmiManifest = (name: string, image: string) => `
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: ${name}
spec:
  domain:
    memory:
      guest: 96Mi
    devices:
      disks:
      - name: containerdisk
        disk:
          bus: virtio
      - name: settings
        disk:
          bus: virtio
  volumes:
  - name: containerdisk
    containerDisk:
      image: ${image}
      imagePullPolicy: IfNotPresent
  - name: settings
    configMap:
      name: settings
`;

describe('virtual machines', { timeout: 1_200_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'vmrun' });
    disks = await serveGuestDisk(cluster);
    await cluster.ok(['create', 'namespace', NS]);
    await importContainerDisk(cluster);
    await cluster.ok(['run', 'client', '-n', NS, `--image=${cluster.busybox}`, '--restart=Never', '--', 'sleep', '3600']);
  });

  after(async () => {
    await disks?.close();
    await cluster?.down();
  });

  it('a VM from a plain manifest boots its imported disk, runs its user data and serves it through a Service', async () => {
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: guestVmManifest({ name: 'web', base: disks.base, userData: USER_DATA, labels: { app: 'web' } }) });
    // A plain Service selecting the VM's labels, as KubeVirt users write it.
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } }) });
    const v = await waitRunning('web');
    assert.ok(v.status?.nodeName?.length, 'the VMI names its node');
    assert.ok(['kvm', 'tcg'].includes(v.metadata.annotations?.['cairn.io/virt-accel'] ?? ''), 'the VMI says which accelerator it got');
    const pods = await cluster.ok(['get', 'pods', '-n', NS, '-l', 'kubevirt.io=virt-launcher,vm.kubevirt.io/name=web', '-o', 'name']);
    assert.match(pods.trim(), /^pod\/virt-launcher-web-[a-z0-9]{5}$/);
    const table = await cluster.ok(['get', 'vmi', '-n', NS, 'web']);
    assert.match(table, /^NAME\s+AGE\s+PHASE\s+IP\s+NODENAME\s+READY/m);
    assert.match(table, new RegExp(`^web\\s+\\S+\\s+Running\\s+${v.status!.interfaces![0]!.ipAddress!.replace(/\./g, '\\.')}\\s+${v.status!.nodeName}\\s+True`, 'm'));
    await until('kubectl get vm shows Running', async () => /^web\s+\S+\s+Running\s+True/m.test(await cluster.ok(['get', 'vm', '-n', NS, 'web'])), 60_000, 1000);

    assert.equal((await fetchFromClient(`http://${v.status!.interfaces![0]!.ipAddress}/hello.txt`)).trim(), 'hello from cloud-init');
    assert.equal((await fetchFromClient(`http://web.${NS}.svc.cluster.local/hello.txt`)).trim(), 'hello from cloud-init');
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=VirtualMachineInstance']);
    assert.match(events, /Started\s+.*VirtualMachineInstance started\./);
  });

  it('stop shuts the guest down through ACPI; start boots it again with the same MAC and its disk data', async () => {
    const before = await waitRunning('web');
    const cli = async (...args: string[]) => {
      const r = await cluster.cairn('vm', ...args, '-n', NS, '--kubeconfig', cluster.kubeconfig);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.match(await cli('stop', 'web'), /was scheduled to stop/);
    await until('the VMI and its launcher gone', async () => !(await vmi('web')) && !(await cluster.ok(['get', 'pods', '-n', NS, '-l', 'vm.kubevirt.io/name=web', '-o', 'name'])).trim(), 180_000, 1000);
    const shutdown = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=VirtualMachineInstance,reason=ShuttingDown']);
    assert.match(shutdown, /Signaled Graceful Shutdown/);
    assert.match(await cli('start', 'web'), /was scheduled to start/);
    const again = await waitRunning('web', before.metadata.uid);
    assert.equal(again.status!.interfaces![0]!.mac, before.status!.interfaces![0]!.mac, 'the MAC is stable across restarts');
    const boots = await fetchFromClient(`http://${again.status!.interfaces![0]!.ipAddress}/boots.txt`);
    assert.equal(boots.trim().split('\n').length, 2, `two boots recorded on the disk: ${boots}`);
  });

  it('QEMU killed: the VMI fails with the reason in an event and runStrategy Always starts a new one', async () => {
    const before = await waitRunning('web');
    const qemu = execFileSync('pgrep', ['-f', `guest=${NS}_web,`], { encoding: 'utf8' }).trim().split('\n')[0]!;
    process.kill(Number(qemu), 'SIGKILL');
    const again = await waitRunning('web', before.metadata.uid);
    assert.notEqual(again.metadata.uid, before.metadata.uid);
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', `involvedObject.uid=${before.metadata.uid},type=Warning`]);
    assert.match(events, /virt-launcher pod virt-launcher-web-\S+ failed: .*137/, events);
  });

  it('a restarted node agent takes its running VM back: QEMU runs on, and the new agent shuts the guest down gracefully', async () => {
    const v = await waitRunning('web');
    const qemu = Number(execFileSync('pgrep', ['-f', `guest=${NS}_web,`], { encoding: 'utf8' }).trim().split('\n')[0]);
    const node = Number(v.status!.nodeName!.replace(/^node-/, ''));
    const state = JSON.parse(readFileSync(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> };
    const agent = state.agentPids[String(node)]!;
    process.kill(agent, 'SIGKILL');
    await until(`node-${node}'s agent gone`, () => !existsSync(`/proc/${agent}`), 10_000);
    const up = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
    assert.equal(up.code, 0, up.stderr);
    assert.ok(existsSync(`/proc/${qemu}`), 'QEMU outlived its agent');
    assert.match(await fetchFromClient(`http://${v.status!.interfaces![0]!.ipAddress}/hello.txt`), /hello from cloud-init/);
    const r = await cluster.cairn('vm', 'stop', 'web', '-n', NS, '--kubeconfig', cluster.kubeconfig);
    assert.equal(r.code, 0, r.stderr);
    await until('the guest powered off', () => !existsSync(`/proc/${qemu}`), 180_000, 1000);
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', `involvedObject.uid=${v.metadata.uid},reason=ShuttingDown`]);
    assert.match(events, /Signaled Graceful Shutdown/);
    await cluster.cairn('vm', 'start', 'web', '-n', NS, '--kubeconfig', cluster.kubeconfig);
  });

  it('a VMI boots from a containerDisk image; an image with no disk gets an event naming the problem', async () => {
    await cluster.ok(['create', 'configmap', 'settings', '-n', NS, '--from-literal=mode=blue']);
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: vmiManifest('cd', CONTAINER_DISK) + '---' + vmiManifest('nodisk', cluster.busybox) });
    const v = await waitRunning('cd');
    // The configMap disk: an ISO (volume id cfgdata) holding the key, made from the pod's configMap volume.
    const qemu = execFileSync('pgrep', ['-f', `guest=${NS}_cd,`], { encoding: 'utf8' }).trim().split('\n')[0]!;
    const iso = `/proc/${qemu}/root/var/run/kubevirt-private/iso/settings.iso`;
    assert.match(execFileSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' }), /Volume id: cfgdata/);
    assert.match(execFileSync('isoinfo', ['-R', '-f', '-i', iso], { encoding: 'utf8' }), /^\/mode$/m);
    assert.match(await fetchFromClient(`http://${v.status!.interfaces![0]!.ipAddress}/guest.txt`), /^hostname=.*\n.*\nseed=/m, "the guest booted from the containerDisk serves its page");
    await until(
      'a SyncFailed event for the image without /disk',
      async () => /SyncFailed.*containerDisk containerdisk: image .* must hold exactly one file under \/disk/s.test(await cluster.ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=nodisk'])),
      VM_BOOT_MS,
      2000,
    );
    await cluster.ok(['delete', 'vmi', '-n', NS, 'cd', 'nodisk', '--wait=false']);
  });
});
