// Secondary networks, the pure parts: Multus' networks annotation, a NAD's bridge config, KubeVirt's
// name scheme for a VMI's secondary networks, the launcher pod's annotation, the NICs of the
// launch plan and their status, and the test guest's per-MAC network config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { networkStatus } from '../../src/agent/pods/pod-attachments.js';
import { NetConfError, parseBridgeNetConf } from '../../src/net/bridge-net-conf.js';
import { NetworksAnnotationError, parseNetworksAnnotation } from '../../src/net/multus-annotation.js';
import { attachmentVethName } from '../../src/net/pod-attachments.js';
import { vlanDomainNames, VlanDomainError } from '../../src/net/vlan-domains.js';
import { launchPlan, LaunchPlanError, interfaceMac } from '../../src/virt/handler/launch-plan.js';
import { withNodeStatus } from '../../src/virt/handler/vmi-node-status.js';
import { launcherPod } from '../../src/virt/launcher/launcher-pod.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { inPodBridgeName, podInterfaceName, secondaryTapName } from '../../src/virt/net/secondary-names.js';

test('networks annotation: the comma form (name, ns/name, name@ifname) and the JSON form, as Multus parses them', () => {
  assert.deepEqual(parseNetworksAnnotation('br1-vlan100', 'prod'), [{ name: 'br1-vlan100', namespace: 'prod', interface: 'net1' }]);
  assert.deepEqual(parseNetworksAnnotation(' a , other/b@data0 ,c@x', 'prod'), [
    { name: 'a', namespace: 'prod', interface: 'net1' },
    { name: 'b', namespace: 'other', interface: 'data0' },
    { name: 'c', namespace: 'prod', interface: 'x' },
  ]);
  assert.deepEqual(parseNetworksAnnotation('[{"name":"a","interface":"eth9","mac":"02:AA:00:00:00:01","ips":["10.1.0.5/24"]},{"name":"b","namespace":"n2"}]', 'prod'), [
    { name: 'a', namespace: 'prod', interface: 'eth9', mac: '02:aa:00:00:00:01', ips: ['10.1.0.5/24'] },
    { name: 'b', namespace: 'n2', interface: 'net2' },
  ]);
  assert.deepEqual(parseNetworksAnnotation('  ', 'prod'), []);
  for (const bad of ['a/b/c', 'a@b@c', 'Upper', 'a,a@net1', 'x@eth0', '[{"interface":"x"}]', '[1]', '{"name":"a"}', '[{"name":"a","mac":"zz"}]', 'a@this-name-is-too-long']) {
    assert.throws(() => parseNetworksAnnotation(bad, 'prod'), NetworksAnnotationError, bad);
  }
});

test('NAD config: the bridge plugin (or a one-plugin conflist) with vlan, mtu, empty or static IPAM; everything else refused', () => {
  assert.deepEqual(parseBridgeNetConf('{"cniVersion":"0.3.1","name":"br1-vlan100","type":"bridge","bridge":"br1","vlan":100,"ipam":{}}'), {
    name: 'br1-vlan100',
    bridge: 'br1',
    vlan: 100,
    ipam: { type: 'none' },
  });
  assert.deepEqual(parseBridgeNetConf('{"cniVersion":"0.3.1","plugins":[{"type":"bridge","mtu":1400,"preserveDefaultVlan":false}]}'), {
    bridge: 'cni0',
    mtu: 1400,
    ipam: { type: 'none' },
  });
  const st = parseBridgeNetConf('{"type":"bridge","bridge":"br1","capabilities":{"ips":true},"ipam":{"type":"static","addresses":[{"address":"192.168.100.10/24","gateway":"192.168.100.1"}]}}');
  assert.deepEqual(st.ipam, { type: 'static', addresses: ['192.168.100.10/24'], gateways: ['192.168.100.1'], ipsCapability: true });
  const refusals: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['{"type":"macvlan","master":"eth0"}', /type "macvlan" is not supported/],
    ['{"type":"bridge","ipam":{"type":"host-local","subnet":"10.0.0.0/24"}}', /IPAM type "host-local" is not supported/],
    ['{"type":"bridge","vlan":5000}', /vlan must be an integer in 0\.\.4094/],
    ['{"type":"bridge","bridge":"cairn0"}', /pod network's own/],
    ['{"type":"bridge","isGateway":true}', /isGateway is not supported/],
    ['{"plugins":[{"type":"bridge"},{"type":"tuning"}]}', /conflist of 2 plugins/],
    ['{"type":"bridge","ipam":{"type":"static","addresses":[{"address":"fd00::1/64"}]}}', /IPv6 is not supported/],
  ];
  for (const [text, msg] of refusals) assert.throws(() => parseBridgeNetConf(text), (e: unknown) => e instanceof NetConfError && msg.test(e.message), text);
});

test('network-status: the cluster network first (default), then each attachment as namespace/name', () => {
  const primary = { id: 'u', netns: 'n', hostVeth: 'h', podIP: '10.244.1.7', prefixLength: 24, gateway: '10.244.1.1', mac: '0a:58:0a:f4:01:07', mtu: 1450 };
  const sel = parseNetworksAnnotation('a,b', 'prod');
  assert.deepEqual(
    networkStatus(primary, sel, [
      { ifname: 'net1', hostVeth: 'x', mac: '02:00:00:00:00:01', addresses: ['192.168.100.9/24'] },
      { ifname: 'net2', hostVeth: 'y', mac: '02:00:00:00:00:02', addresses: [] },
    ]),
    [
      { name: 'cairn', interface: 'eth0', ips: ['10.244.1.7'], mac: '0a:58:0a:f4:01:07', default: true, dns: {} },
      { name: 'prod/a', interface: 'net1', ips: ['192.168.100.9'], mac: '02:00:00:00:00:01', dns: {} },
      { name: 'prod/b', interface: 'net2', mac: '02:00:00:00:00:02', dns: {} },
    ],
  );
  // Node ends: 15 characters, never the primary network's `cairn` + 10 hex.
  const v = attachmentVethName('5b2cd1d2-8f7e', 3);
  assert.match(v, /^cairnm[0-9a-f]{7}03$/);
  assert.equal(v, attachmentVethName('5b2cd1d2-8f7e', 3));
});

test('VLANs without 802.1Q: a bridge per VLAN (Proxmox\'s vmbr0v100) and its VXLAN segment, VNI = VLAN; untagged is VLAN 1', () => {
  assert.deepEqual(vlanDomainNames('br1', 100), { bridge: 'br1v100', vxlan: 'br1.100' });
  assert.deepEqual(vlanDomainNames('br1'), { bridge: 'br1', vxlan: 'br1.1' });
  assert.deepEqual(vlanDomainNames('br1', 1), { bridge: 'br1', vxlan: 'br1.1' });
  assert.throws(() => vlanDomainNames('a-long-bridge', 4000), VlanDomainError);
  assert.throws(() => vlanDomainNames('br1', 4095), VlanDomainError);
});

test("KubeVirt's name scheme: pod<11 hex of sha256(network name)>, k6t-<the same>, tap<the same>", () => {
  // KubeVirt's own examples (pkg/network/multus and pkg/network/link tests): networks "blue" and "red".
  assert.equal(podInterfaceName('blue'), 'pod16477688c0e');
  assert.equal(podInterfaceName('red'), 'podb1f51a511f1');
  assert.equal(inPodBridgeName(podInterfaceName('blue')), 'k6t-16477688c0e');
  assert.equal(secondaryTapName(podInterfaceName('blue')), 'tap16477688c0e');
  assert.equal(inPodBridgeName('eth0'), 'k6t-eth0');
});

const vmi = (spec: Partial<Vmi['spec']> = {}): Vmi => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'web', namespace: 'prod', uid: 'u-1' },
  spec: {
    domain: {
      memory: { guest: '128Mi' },
      devices: { interfaces: [{ name: 'default', masquerade: {} }, { name: 'vlan100', bridge: {} }, { name: 'storage', bridge: {}, macAddress: '02:12:34:56:78:9a' }] },
    },
    networks: [
      { name: 'default', pod: {} },
      { name: 'vlan100', multus: { networkName: 'br1-vlan100' } },
      { name: 'storage', multus: { networkName: 'infra/storage' } },
    ],
    ...spec,
  },
});
const pod = { metadata: { name: 'virt-launcher-web-x', namespace: 'prod', uid: 'p1' }, spec: { containers: [{ name: 'compute', image: 'x' }] } } as Pod;

test('a VMI with bridge-bound secondary networks: the launcher pod asks Multus for them, QEMU gets one NIC per interface in spec order', () => {
  const rendered = launcherPod(vmi(), () => undefined).pod;
  assert.deepEqual(JSON.parse(rendered.metadata.annotations!['k8s.v1.cni.cncf.io/networks']!), [
    { name: 'br1-vlan100', namespace: 'prod', interface: podInterfaceName('vlan100') },
    { name: 'storage', namespace: 'infra', interface: podInterfaceName('storage') },
  ]);
  assert.equal(launcherPod(vmi({ networks: [{ name: 'default', pod: {} }] }), () => undefined).pod.metadata.annotations!['k8s.v1.cni.cncf.io/networks'], undefined);

  const p = launchPlan(vmi(), pod, 'tcg');
  const v = vmi();
  assert.deepEqual(
    p.machine.nics!.map((n) => [n.id, n.tap, n.mac]),
    [
      ['net0', 'tap0', interfaceMac(v, { name: 'default' })],
      ['net1', secondaryTapName(podInterfaceName('vlan100')), interfaceMac(v, { name: 'vlan100' })],
      ['net2', secondaryTapName(podInterfaceName('storage')), '02:12:34:56:78:9a'],
    ],
  );
  assert.deepEqual(p.bridgeNics[0], { name: 'vlan100', mac: interfaceMac(v, { name: 'vlan100' }), podIface: podInterfaceName('vlan100'), bridge: inPodBridgeName(podInterfaceName('vlan100')), tap: secondaryTapName(podInterfaceName('vlan100')) });
  // The spec's order is the guest's: a secondary NIC listed first is the guest's first.
  const reordered = vmi();
  reordered.spec.domain.devices.interfaces!.reverse();
  assert.deepEqual(launchPlan(reordered, pod, 'tcg').machine.nics!.map((n) => n.tap), [secondaryTapName(podInterfaceName('storage')), secondaryTapName(podInterfaceName('vlan100')), 'tap0']);

  const status = withNodeStatus({
    vmi: v,
    podIP: '10.244.1.9',
    nic: p.podNic,
    bridgeNics: p.bridgeNics,
    session: { runState: 'running', userPaused: false, agent: { interfaces: [{ name: 'eth1', 'hardware-address': p.bridgeNics[0]!.mac, 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '192.168.100.1', prefix: 24 }] }] } } as never,
    unsharedClaims: [],
    now: '2026-01-01T00:00:00Z',
  });
  assert.deepEqual(status.interfaces!.map((i) => [i.name, i.mac, i.podInterfaceName, i.interfaceName, i.ipAddress, i.infoSource]), [
    ['default', p.podNic!.mac, 'eth0', undefined, '10.244.1.9', 'domain'],
    ['vlan100', p.bridgeNics[0]!.mac, podInterfaceName('vlan100'), 'eth1', '192.168.100.1', 'domain, guest-agent, multus-status'],
    ['storage', '02:12:34:56:78:9a', podInterfaceName('storage'), undefined, undefined, 'domain, multus-status'],
  ]);
});

test('refused: a Multus default network, and a binding other than bridge on a secondary network', () => {
  assert.throws(
    () => launchPlan(vmi({ networks: [{ name: 'default', multus: { networkName: 'x', default: true } }] }), pod, 'tcg'),
    (e: unknown) => e instanceof LaunchPlanError && /Multus default network is not supported/.test(e.message) && e.field === 'spec.networks[0].multus.default',
  );
  const v = vmi();
  v.spec.domain.devices.interfaces![1] = { name: 'vlan100', masquerade: {} };
  assert.throws(() => launchPlan(v, pod, 'tcg'), (e: unknown) => e instanceof LaunchPlanError && /only the bridge binding is supported on secondary networks/.test(e.message));
});

test("the test guest's network config: a v2 entry matching a MAC is that NIC's (--by-mac), never the first NIC's", () => {
  const script = fileURLToPath(new URL('../../../scripts/build-test-guest-netcfg.sh', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'cairn-netcfg-mac-'));
  try {
    const cfg = join(dir, 'cfg');
    writeFileSync(
      cfg,
      [
        'version: 2',
        'ethernets:',
        '  data:',
        '    match:',
        '      macaddress: "02:AA:bb:cc:dd:01"',
        '    addresses: [192.168.100.1/24, 192.168.100.5/24]',
        '  eth0:',
        '    addresses:',
        '      - 10.9.9.9/24',
        '    gateway4: 10.9.9.1',
        '    nameservers:',
        '      addresses: [10.96.0.10]',
        '  other:',
        '    match: {macaddress: 02:00:00:00:00:02}',
        '    addresses:',
        '    - 192.168.200.7/24',
        '',
      ].join('\n'),
    );
    const run = (...args: string[]) => {
      const r = spawnSync('busybox', ['sh', script, cfg, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(run(), '10.9.9.9/24 10.9.9.1');
    assert.equal(run('--by-mac'), '02:aa:bb:cc:dd:01 192.168.100.1/24\n02:00:00:00:00:02 192.168.200.7/24');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
