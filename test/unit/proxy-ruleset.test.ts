// Rendering of one Service into chains, affinity sets and map elements: the kube-proxy nftables
// layout, traffic policies, affinity, Services without endpoints, comments on every rule, and
// the Services the proxy refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serviceEndpoints } from '../../src/proxy/endpoints.js';
import { endpointChainName, externalChainName, firewallChainName, localChainName, serviceChainName } from '../../src/proxy/names.js';
import { NftScript } from '../../src/net/nft.js';
import { renderService, type ServiceRules, writeFixedRuleset } from '../../src/proxy/ruleset.js';
import { InvalidServiceError, servicePorts } from '../../src/proxy/service-ports.js';
import type { KubeObject } from '../../src/util/object.js';
import { CFG, slice, svc, WEB, WEB_SLICE } from './proxy-fixtures.js';

const web = { namespace: 'default', name: 'web', protocol: 'tcp', port: 80 };
const render = (s: KubeObject, slices: KubeObject[], node = 'node-1') => renderService(servicePorts(s), serviceEndpoints(slices, node), CFG);
/** Elements as "container key => value". */
const elements = (r: ServiceRules) => [...r.elements.values()].map((e) => `${e.container} ${e.key.map((k) => k.text).join(' . ')}${e.value ? ` => ${e.value.text}` : ''}`).sort();
const rules = (r: ServiceRules, chain: string) => {
  const list = r.chains.get(chain);
  assert.ok(list, `no chain ${chain}; have ${[...r.chains.keys()].join(', ')}`);
  return list.map((x) => x.text);
};
const with0 = (s: KubeObject, patch: Record<string, unknown>) => svc(s.metadata.name!, { ...(s.spec as object), ...patch }, s.status as Record<string, unknown>);

test('a LoadBalancer Service with two endpoints: dispatch maps, service, external and endpoint chains', () => {
  const r = render(WEB, [WEB_SLICE]);
  const sc = serviceChainName(web);
  const ext = externalChainName(web);
  const ep1 = endpointChainName(web, '10.244.1.5', 8080);
  const ep2 = endpointChainName(web, '10.244.2.7', 8080);
  assert.deepEqual(elements(r), [
    'cluster-ips 10.96.0.20',
    `service-ips 10.96.0.20 . tcp . 80 => goto ${sc}`,
    `service-ips 172.20.0.230 . tcp . 80 => goto ${ext}`,
    `service-nodeports tcp . 30080 => goto ${ext}`,
  ]);
  assert.deepEqual([...r.chains.keys()].sort(), [ep1, ep2, ext, sc].sort());
  // Endpoints in address order, so numgen indexes do not move when nothing changed.
  assert.deepEqual(rules(r, sc), [`numgen random mod 2 vmap { 0 : goto ${ep1}, 1 : goto ${ep2} }`]);
  assert.deepEqual(rules(r, ext), ['jump proxy-mark-for-masquerade', `goto ${sc}`]);
  assert.deepEqual(rules(r, ep1), ['ip saddr 10.244.1.5 jump proxy-mark-for-masquerade', 'meta l4proto tcp dnat to 10.244.1.5:8080']);
  assert.equal(r.affinitySets.size, 0);
});

test('every rule carries a comment naming the Service port and, where it leads to one, the endpoint', () => {
  const r = render(with0(WEB, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), [WEB_SLICE]);
  for (const [chain, list] of r.chains) for (const x of list) assert.match(x.comment ?? '', /^default\/web:80/, `${chain}: ${x.text}`);
  const ep1 = r.chains.get(endpointChainName(web, '10.244.1.5', 8080))!;
  assert.deepEqual(
    ep1.map((x) => x.comment),
    ['default/web:80 -> 10.244.1.5:8080 hairpin', 'default/web:80 -> 10.244.1.5:8080 affinity', 'default/web:80 -> 10.244.1.5:8080'],
  );
  for (const e of r.elements.values()) if (e.container !== 'cluster-ips') assert.match(e.comment ?? '', /^default\/web:80 /);
});

test('sessionAffinity ClientIP: a timed set per endpoint, checked before the random choice', () => {
  const r = render(with0(WEB, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }), [WEB_SLICE]);
  assert.deepEqual([...r.affinitySets.values()], [600, 600]);
  const [a1, a2] = [...r.affinitySets.keys()];
  const sc = rules(r, serviceChainName(web));
  assert.equal(sc.length, 3);
  assert.match(sc[0]!, new RegExp(`^ip saddr @${a1} goto endpoint-`));
  assert.match(sc[1]!, new RegExp(`^ip saddr @${a2} goto endpoint-`));
  assert.match(sc[2]!, /^numgen random mod 2 vmap/);
  assert.ok(rules(r, endpointChainName(web, '10.244.1.5', 8080)).includes(`update @${a1} { ip saddr }`));
});

test('externalTrafficPolicy Local: short-circuits, then the local endpoints; a node without one drops', () => {
  const local = with0(WEB, { externalTrafficPolicy: 'Local' });
  const sc = serviceChainName(web);
  const lc = localChainName(web);
  const onNode1 = render(local, [WEB_SLICE], 'node-1');
  assert.deepEqual(rules(onNode1, externalChainName(web)), [
    `ip saddr 10.244.0.0/16 goto ${sc}`,
    'fib saddr type local jump proxy-mark-for-masquerade',
    `fib saddr type local goto ${sc}`,
    `goto ${lc}`,
  ]);
  assert.deepEqual(rules(onNode1, lc), [`numgen random mod 1 vmap { 0 : goto ${endpointChainName(web, '10.244.1.5', 8080)} }`]);
  const elsewhere = render(local, [slice('web', [{ ip: '10.244.2.7', node: 'node-2' }], [{ name: 'http', port: 8080 }])], 'node-1');
  const ext = elsewhere.chains.get(externalChainName(web))!;
  assert.equal(ext.at(-1)!.text, 'drop');
  assert.equal(ext.at(-1)!.comment, 'default/web:80 has no local endpoints');
  assert.ok(!elsewhere.chains.has(lc));
  // The cluster IP still reaches the remote endpoint.
  assert.ok(elements(elsewhere).includes(`service-ips 10.96.0.20 . tcp . 80 => goto ${sc}`));
});

test('internalTrafficPolicy Local: the cluster IP goes to local endpoints, or is dropped without one', () => {
  const itp = svc('web', { clusterIP: '10.96.0.20', internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
  const here = render(itp, [WEB_SLICE], 'node-2');
  assert.ok(elements(here).includes(`service-ips 10.96.0.20 . tcp . 80 => goto ${localChainName(web)}`));
  assert.deepEqual(rules(here, localChainName(web)), [`numgen random mod 1 vmap { 0 : goto ${endpointChainName(web, '10.244.2.7', 8080)} }`]);
  assert.ok(!here.chains.has(serviceChainName(web)), 'no Cluster policy in use');
  const none = render(itp, [WEB_SLICE], 'node-3');
  assert.deepEqual(elements(none), ['cluster-ips 10.96.0.20', 'no-endpoint-services 10.96.0.20 . tcp . 80 => drop']);
  assert.equal(none.chains.size, 0);
});

test('no endpoints: cluster, LB and node port addresses are rejected, no chains', () => {
  const r = render(WEB, [slice('web', [], [{ name: 'http', port: 8080 }])]);
  assert.deepEqual(elements(r), [
    'cluster-ips 10.96.0.20',
    'no-endpoint-nodeports tcp . 30080 => goto proxy-reject-chain',
    'no-endpoint-services 10.96.0.20 . tcp . 80 => goto proxy-reject-chain',
    'no-endpoint-services 172.20.0.230 . tcp . 80 => goto proxy-reject-chain',
  ]);
  assert.equal(r.chains.size, 0);
});

test('terminating endpoints serve only when none is ready; not-ready ones never', () => {
  const eps = [
    { ip: '10.244.1.5', node: 'node-1', ready: false, serving: true, terminating: true },
    { ip: '10.244.1.6', node: 'node-1', ready: false, serving: false, terminating: false },
  ];
  const r = render(WEB, [slice('web', eps, [{ name: 'http', port: 8080 }])]);
  assert.deepEqual([...r.chains.keys()].filter((c) => c.startsWith('endpoint-')), [endpointChainName(web, '10.244.1.5', 8080)]);
  const withReady = render(WEB, [slice('web', [...eps, { ip: '10.244.2.9', node: 'node-2' }], [{ name: 'http', port: 8080 }])]);
  assert.deepEqual([...withReady.chains.keys()].filter((c) => c.startsWith('endpoint-')), [endpointChainName(web, '10.244.2.9', 8080)]);
});

test('multi-port: each Service port gets the endpoints of its own port name and protocol', () => {
  const s = svc('dns', { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'metrics', port: 9153, protocol: 'TCP' }] });
  const sl = slice('dns', [{ ip: '10.244.1.9' }], [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5353, protocol: 'TCP' }, { name: 'metrics', port: 9153, protocol: 'TCP' }], { name: 'dns-x' });
  const r = render(s, [sl]);
  const dnat = [...r.chains.values()].flat().filter((x) => x.text.includes('dnat')).map((x) => x.text).sort();
  assert.deepEqual(dnat, ['meta l4proto tcp dnat to 10.244.1.9:5353', 'meta l4proto tcp dnat to 10.244.1.9:9153', 'meta l4proto udp dnat to 10.244.1.9:5353']);
  assert.deepEqual(elements(r).filter((e) => e.startsWith('service-ips')).length, 3);
});

test('ExternalName and headless Services need nothing in the kernel', () => {
  assert.deepEqual(servicePorts(svc('ext', { type: 'ExternalName', externalName: 'example.com', ports: [{ port: 80 }] })), []);
  assert.deepEqual(servicePorts(svc('headless', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 80 }] })), []);
});

test('Services the proxy cannot program are refused with a reason', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ clusterIP: '10.96.0.5', ports: [{ port: 80, protocol: 'ICMP' }] }, /ports\[0\]\.protocol "ICMP"/],
    [{ clusterIP: '10.96.0.5', ports: [{ port: 0 }] }, /ports\[0\]\.port 0/],
    [{ clusterIP: '10.96.0.5', ports: [{ port: 80, nodePort: 70000 }] }, /nodePort 70000/],
    [{ clusterIP: 'fd00::5', clusterIPs: ['fd00::5'], ports: [{ port: 80 }] }, /no IPv4 cluster IP/],
    [{ clusterIP: '10.96.0.5', externalIPs: ['not-an-ip'], ports: [{ port: 80 }] }, /external IP "not-an-ip"/],
    [{ clusterIP: '10.96.0.5', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } }, ports: [{ port: 80 }] }, /timeoutSeconds 0/],
  ];
  for (const [spec, msg] of bad) assert.throws(() => servicePorts(svc('bad', spec)), (e: Error) => e instanceof InvalidServiceError && msg.test(e.message), JSON.stringify(spec));
});

test('loadBalancerSourceRanges: the LB IP goes through a firewall chain that drops other sources; node ports do not', () => {
  const fw = firewallChainName(web);
  const r = render(with0(WEB, { loadBalancerSourceRanges: [' 192.168.7.9/24', '2001:db8::/32'] }), [WEB_SLICE]);
  assert.ok(elements(r).includes(`firewall-ips 172.20.0.230 . tcp . 80 => goto ${fw}`));
  assert.equal(elements(r).filter((e) => e.startsWith('firewall-ips')).length, 1);
  // Host bits cleared, IPv6 ranges left to the IPv6 proxy, the node's address not in range.
  assert.deepEqual(rules(r, fw), ['ip saddr != { 192.168.7.0/24 } drop']);
  // The node's own address in range: the VIP itself (the node's source for a local VIP) too.
  const fromNode = render(with0(WEB, { loadBalancerSourceRanges: ['172.20.0.0/24'] }), [WEB_SLICE]);
  assert.deepEqual(rules(fromNode, fw), ['ip saddr != { 172.20.0.0/24, 172.20.0.230 } drop']);
});

test('loadBalancerSourceRanges are ignored on other Service types and refused when not ranges', () => {
  const nodePort = render(with0(WEB, { type: 'NodePort', loadBalancerSourceRanges: ['10.0.0.0/8'] }), [WEB_SLICE]);
  assert.equal(nodePort.chains.has(firewallChainName(web)), false);
  assert.throws(() => servicePorts(with0(WEB, { loadBalancerSourceRanges: ['not-a-range'] })), InvalidServiceError);
});

test('the fixed ruleset drops addresses of the Service network that no Service holds, after rejecting unknown ports', () => {
  const s = new NftScript('ip', 'cairn');
  writeFixedRuleset(s, { ...CFG, serviceCidr: '10.96.0.0/12' });
  const lines = s.text().split('\n').filter((l) => l.startsWith('add rule ip cairn proxy-cluster-ips-check '));
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /ip daddr @cluster-ips goto proxy-reject-chain/);
  assert.match(lines[1]!, /ip daddr 10\.96\.0\.0\/12 drop comment "unallocated cluster IP"/);
});
