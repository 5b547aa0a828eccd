/**
 * Bridge-bound secondary networks on a 2-node `cairn up` cluster, with the real kubectl: a
 * NetworkAttachmentDefinition of type bridge on every node's `br1` with VLAN 100, two VMs on
 * different nodes each with a masquerade pod NIC and a bridge NIC on it (static addresses from
 * cloud-init network-config v2, matched by MAC). VM A fetches VM B's page over 192.168.100.0/24
 * (across the nodes' VM trunk) and serves what it got on its pod network; a plain pod attached to
 * VLAN 100 (static IPAM, the `ips` capability) reaches a VM from the other node, one on VLAN 200
 * on the VM's own node does not; the pods carry Multus' network-status; the VM's MACs survive a
 * restart; a live migration keeps an open TCP stream over the VLAN going (QEMU announces the
 * guest's MAC from the target). A pod or VM naming a missing NAD does not start, and its event
 * says why.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { interfaceMac } from '../../src/virt/handler/launch-plan.js';
import { podInterfaceName } from '../../src/virt/net/secondary-names.js';
import { testGuest } from '../../src/virt/test-guest.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';
import { CONTAINER_DISK, fetchFromPod, getVmi, importContainerDisk, waitVmiRunning, userDataBlock } from '../support/virt.js';

const NS = 'secnet';
/** The VMs' placement: node-1 is slot a, node-2 slot b, until node-2 becomes a for the migration. */
const SLOT = 'secnet.cairn.io/slot';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
let cluster: CairnCluster;

/** The guest must be built from this tree's scripts (the per-MAC network config is new): the build's stamp says. */
function requireCurrentGuest(): void {
  const scripts = fileURLToPath(new URL('../../../scripts/', import.meta.url));
  const inputs = ['build-test-guest.sh', 'build-test-guest-init.sh', 'build-test-guest-cloud-config.awk', 'build-test-guest-netcfg.sh', 'build-test-guest-agent.sh'];
  const want = createHash('sha256').update(Buffer.concat(inputs.map((f) => readFileSync(join(scripts, f))))).digest('hex');
  const have = readFileSync(join(testGuest().dir, 'stamp'), 'utf8').trim();
  assert.equal(have, want, `the test guest in ${testGuest().dir} is older than scripts/build-test-guest*.sh: run scripts/build-test-guest.sh as root`);
}

const nad = (name: string, config: Record<string, unknown>) => `
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: ${name}
spec:
  config: '${JSON.stringify({ cniVersion: '0.3.1', name, type: 'bridge', bridge: 'br1', ...config })}'
`;

const vmMac = (vm: string) => interfaceMac({ metadata: { name: vm, namespace: NS } } as never, { name: 'vlan100' });

/** A VM in slot a or b: masquerade pod NIC first, then the bridge NIC on VLAN 100 with `addr` by network-config v2. */
const vmManifest = (name: string, slot: 'a' | 'b', addr: string, userData: string, networkName = 'br1-vlan100') => `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: ${name}
spec:
  runStrategy: Always
  template:
    spec:
      nodeSelector:
        ${SLOT}: ${slot}
      domain:
        memory:
          guest: 96Mi
        devices:
          disks:
          - name: containerdisk
            disk:
              bus: virtio
          - name: cloudinit
            disk:
              bus: virtio
          interfaces:
          - name: default
            masquerade: {}
          - name: vlan100
            bridge: {}
      networks:
      - name: default
        pod: {}
      - name: vlan100
        multus:
          networkName: ${networkName}
      volumes:
      - name: containerdisk
        containerDisk:
          image: ${CONTAINER_DISK}
          imagePullPolicy: IfNotPresent
      - name: cloudinit
        cloudInitNoCloud:
          networkData: |
            version: 2
            ethernets:
              secondary:
                match:
                  macaddress: "${vmMac(name)}"
                addresses: [${addr}]
          userData: |
${userDataBlock(userData)}
`;

/** A busybox pod on node-N attached to `net` with a static address (the `ips` capability). */
const podManifest = (name: string, node: number, net: string, ip: string) => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  annotations:
    k8s.v1.cni.cncf.io/networks: '[{"name":"${net}","ips":["${ip}"]}]'
spec:
  nodeName: node-${node}
  containers:
  - name: c
    image: ${cluster.busybox}
    command: [sleep, "3600"]
`;

/** VM A fetches VM B's page over the VLAN and serves it as peer.txt; its cgi-bin/ticks is a response that never ends, a line a second. */
const VMA_USER_DATA = `#!/bin/sh
(while :; do wget -qO /tmp/peer http://192.168.100.2/guest.txt && cp /tmp/peer /www/peer.txt; sleep 2; done) &
mkdir -p /www/cgi-bin
printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\ni=0\\nwhile :; do echo tick $i; i=$((i+1)); sleep 1; done\\n' > /www/cgi-bin/ticks
chmod +x /www/cgi-bin/ticks
`;

/** The ticks p100's open stream from VM A has received (`tick N` lines), and whether its wget ended. */
async function ticks(): Promise<{ last: number; count: number; ended: boolean }> {
  const out = await cluster.ok(['exec', '-n', NS, 'p100', '--', 'cat', '/tmp/ticks']);
  const nums = [...out.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
  return { last: nums.at(-1) ?? -1, count: nums.length, ended: /^wget-exit/m.test(out) };
}

const podStatus = async (name: string) => {
  const p = await cluster.json<{ metadata: { annotations?: Record<string, string> } }>(['get', 'pod', '-n', NS, name]);
  const s = p.metadata.annotations?.[STATUS];
  return s ? (JSON.parse(s) as { name: string; interface: string; ips?: string[]; mac?: string; default?: boolean }[]) : undefined;
};

const launcherOf = async (vm: string) => {
  const pods = await cluster.json<{ items: { metadata: { name: string; annotations?: Record<string, string> }; status?: { phase?: string } }[] }>(['get', 'pods', '-n', NS, '-l', `vm.kubevirt.io/name=${vm}`]);
  return pods.items.find((p) => p.status?.phase === 'Running') ?? pods.items[0];
};

const eventsFor = async (kind: string, name: string) =>
  cluster.ok(['get', 'events', '-n', NS, '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`, '-o', 'custom-columns=R:.reason,M:.message', '--no-headers']);

describe('bridge-bound secondary networks', { timeout: 900_000 }, () => {
  before(async () => {
    requireCurrentGuest();
    cluster = await upCluster({ nodes: 2, label: 'secnet' });
    await cluster.ok(['create', 'namespace', NS]);
    await cluster.ok(['label', 'node', 'node-1', `${SLOT}=a`]);
    await cluster.ok(['label', 'node', 'node-2', `${SLOT}=b`]);
    await importContainerDisk(cluster);
    await cluster.ok(['apply', '-n', NS, '-f', '-'], {
      input: [
        nad('br1-vlan100', { vlan: 100, ipam: {} }),
        nad('vlan100-ips', { vlan: 100, capabilities: { ips: true }, ipam: { type: 'static' } }),
        nad('vlan200-ips', { vlan: 200, capabilities: { ips: true }, ipam: { type: 'static' } }),
      ].join('---\n'),
    });
  });

  after(async () => {
    await cluster?.down();
  });

  it('VM A reaches VM B on the other node over the VLAN; a VLAN 100 pod reaches a VM, a VLAN 200 pod does not', { timeout: 600_000 }, async () => {
    // B serves the guest's page; A fetches B's over the secondary network and serves the result on its pod network.
    await cluster.ok(['apply', '-n', NS, '-f', '-'], {
      input: [
        vmManifest('vmb', 'b', '192.168.100.2/24', '#!/bin/sh\necho vmb-ready > /www/role.txt\n'),
        vmManifest('vma', 'a', '192.168.100.1/24', VMA_USER_DATA),
        podManifest('p100', 2, 'vlan100-ips', '192.168.100.10/24'),
        podManifest('p200', 1, 'vlan200-ips', '192.168.100.20/24'),
      ].join('---\n'),
    });
    await cluster.ok(['run', 'client', '-n', NS, `--image=${cluster.busybox}`, '--restart=Never', '--', 'sleep', '3600']);
    const a = await waitVmiRunning(cluster, NS, 'vma');
    const b = await waitVmiRunning(cluster, NS, 'vmb');
    assert.equal(a.status?.nodeName, 'node-1');
    assert.equal(b.status?.nodeName, 'node-2');
    const peer = await fetchFromPod(cluster, NS, 'client', `http://${a.status!.interfaces![0]!.ipAddress}/peer.txt`);
    assert.match(peer, /hostname=vmb/);

    // VLAN 100 from the other node reaches VM A; VLAN 200 on A's own bridge does not.
    const fromP100 = await fetchFromPod(cluster, NS, 'p100', 'http://192.168.100.1/guest.txt');
    assert.match(fromP100, /hostname=vma/);
    const r = await cluster.kubectl(['exec', '-n', NS, 'p200', '--', 'timeout', '8', 'wget', '-qO-', 'http://192.168.100.1/guest.txt'], { timeoutMs: 30_000 });
    assert.notEqual(r.code, 0, `a pod on VLAN 200 reached VM A: ${r.stdout}`);
    const p200SeesNet1 = await cluster.ok(['exec', '-n', NS, 'p200', '--', 'ip', '-4', 'addr', 'show', 'net1']);
    assert.match(p200SeesNet1, /192\.168\.100\.20\/24/);

    // Multus' network-status: the pod network first, then the attachment with its address and MAC.
    const st = await podStatus('p100');
    assert.deepEqual(st?.map((s) => [s.name, s.interface, s.default ?? false]), [['cairn', 'eth0', true], [`${NS}/vlan100-ips`, 'net1', false]]);
    assert.deepEqual(st?.[1]?.ips, ['192.168.100.10']);
    assert.match(st?.[1]?.mac ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const launcher = await launcherOf('vma');
    const lst = JSON.parse(launcher!.metadata.annotations![STATUS]!) as { name: string; interface: string }[];
    assert.deepEqual(lst[1] && [lst[1].name, lst[1].interface], [`${NS}/br1-vlan100`, podInterfaceName('vlan100')]);

    // The VMI lists both NICs; the secondary's MAC is the stable one the guest's network-config matched.
    assert.deepEqual(a.status?.interfaces?.map((i) => i.name), ['default', 'vlan100']);
    assert.equal(a.status?.interfaces?.[1]?.mac, vmMac('vma'));
  });

  it('the MACs stay the same across a restart, and the guest is on the VLAN again', { timeout: 420_000 }, async () => {
    const first = await getVmi(cluster, NS, 'vma');
    const macs = first!.status!.interfaces!.map((i) => i.mac);
    const r = await cluster.cairn('vm', 'restart', 'vma', '-n', NS, '--kubeconfig', cluster.kubeconfig);
    assert.equal(r.code, 0, r.stderr);
    const again = await waitVmiRunning(cluster, NS, 'vma', first!.metadata.uid);
    assert.deepEqual(again.status!.interfaces!.map((i) => i.mac), macs);
    assert.match(await fetchFromPod(cluster, NS, 'p100', 'http://192.168.100.1/guest.txt'), /hostname=vma/);
  });

  it('a live migration keeps an open TCP stream over the VLAN going', { timeout: 420_000 }, async () => {
    const v = await waitVmiRunning(cluster, NS, 'vma');
    assert.equal(v.status?.nodeName, 'node-1');
    await until('LiveMigratable=True', async () => (await getVmi(cluster, NS, 'vma'))?.status?.conditions?.find((c) => c.type === 'LiveMigratable')?.status === 'True', 60_000, 1000);
    // From p100 on node-2 over VLAN 100: across the trunk before the move, on node-2's own bridge after it.
    await cluster.ok(['exec', '-n', NS, 'p100', '--', 'sh', '-c', '(wget -qO- http://192.168.100.1/cgi-bin/ticks > /tmp/ticks 2>&1; echo wget-exit $? >> /tmp/ticks) > /dev/null 2>&1 &']);
    const streaming = await until('ticks arriving', async () => ((await ticks()).count >= 3 ? await ticks() : undefined), 60_000, 1000);

    await cluster.ok(['label', 'node', 'node-2', `${SLOT}=a`, '--overwrite']);
    const r = await cluster.cairn('vm', 'migrate', 'vma', '-n', NS, '--kubeconfig', cluster.kubeconfig);
    assert.equal(r.code, 0, r.stderr);
    const moved = await until(
      'VM A migrated to node-2',
      async () => {
        const m = (await getVmi(cluster, NS, 'vma')) as (Awaited<ReturnType<typeof getVmi>> & { status?: { migrationState?: { completed?: boolean; failed?: boolean } } }) | undefined;
        if (m?.status?.migrationState?.failed) assert.fail(`the migration failed: ${JSON.stringify(m.status.migrationState)}`);
        return m?.status?.phase === 'Running' && m.status.migrationState?.completed && m.status.nodeName === 'node-2' ? m : undefined;
      },
      300_000,
      1000,
    );
    assert.deepEqual(moved.status!.interfaces!.map((i) => i.mac), v.status!.interfaces!.map((i) => i.mac));
    const afterMove = await until('ticks after the move', async () => {
      const t = await ticks();
      return t.last >= streaming.last + 5 ? t : undefined;
    }, 120_000, 1000);
    assert.equal(afterMove.ended, false, "p100's connection is still open");
    assert.equal(afterMove.count, afterMove.last + 1, 'no tick lost or repeated');
    // The target launcher pod has its own attachment on node-2's bridge.
    const launcher = await launcherOf('vma');
    const lst = JSON.parse(launcher!.metadata.annotations![STATUS]!) as { name: string; interface: string }[];
    assert.equal(lst[1]?.interface, podInterfaceName('vlan100'));
  });

  it("an agent restart re-adopts the pods' attachments as they are: the stream goes on", { timeout: 240_000 }, async () => {
    const state = JSON.parse(readFileSync(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> };
    const streaming = await ticks();
    assert.equal(streaming.ended, false);
    // node-2 holds p100's end of the stream and, since the migration, VM A.
    process.kill(state.agentPids['2']!, 'SIGKILL');
    const r = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
    assert.equal(r.code, 0, `cairn up again failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /node-2: agent starting/);
    const later = await until('ticks after the agent restart', async () => {
      const t = await ticks();
      return t.last >= streaming.last + 5 ? t : undefined;
    }, 120_000, 1000);
    assert.equal(later.ended, false, "p100's connection is still open");
    assert.equal(later.count, later.last + 1, 'no tick lost or repeated');
  });

  it('a pod or a VM naming a missing NAD does not start, and says why', { timeout: 180_000 }, async () => {
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: podManifest('lost', 1, 'nope', '192.168.100.30/24') });
    await until(
      'the missing NAD in the pod events',
      async () => {
        const ev = await eventsFor('Pod', 'lost');
        return /FailedCreatePodSandBox .*cannot find a network-attachment-definition \(nope\) in namespace \(secnet\)/.test(ev) ? ev : undefined;
      },
      60_000,
      1000,
    );
    const phase = await cluster.ok(['get', 'pod', '-n', NS, 'lost', '-o', 'jsonpath={.status.phase}']);
    assert.equal(phase, 'Pending');

    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: vmManifest('vmlost', 'a', '192.168.100.40/24', '#!/bin/sh\n', 'missing-net') });
    const launcher = await until('the lost VM launcher pod', async () => (await launcherOf('vmlost'))?.metadata.name, 60_000, 1000);
    await until(
      'the missing NAD in the launcher pod events',
      async () => {
        const ev = await eventsFor('Pod', launcher);
        return /FailedCreatePodSandBox .*network-attachment-definition \(missing-net\)/.test(ev) ? ev : undefined;
      },
      60_000,
      1000,
    );
    assert.notEqual((await getVmi(cluster, NS, 'vmlost'))?.status?.phase, 'Running');
    await cluster.ok(['delete', 'vm', '-n', NS, 'vmlost', '--wait=false']);
    await cluster.ok(['delete', 'pod', '-n', NS, 'lost', '--wait=false']);
  });
});


