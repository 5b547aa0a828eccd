/**
 * NetworkPolicy compilation (policies + pods + namespaces → the node's policy chains, sets and
 * maps) and the incremental transaction between two compiled states: what the kernel is told
 * when a pod, a label or a policy changes. The kernel itself is exercised by
 * test/integration/netpol-truth-table.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, Pod } from '../../src/agent/pods/api-types.js';
import { NftScript } from '../../src/net/nft.js';
import { ipBlockPrefixes } from '../../src/netpol/ipv4-blocks.js';
import { podChain, policyChain, ruleSet } from '../../src/netpol/nft-names.js';
import { type CompileInput, type NetworkPolicy, compilePolicies, policyTypes } from '../../src/netpol/policy-compiler.js';
import { type Ruleset, elementText, planChanges, planFullResync } from '../../src/netpol/ruleset.js';
import type { KubeObject } from '../../src/util/object.js';

function pod(ns: string, name: string, ip: string, node: string, labels: Record<string, string>, extra: { ports?: Container['ports']; hostNetwork?: boolean; phase?: string } = {}): Pod {
  return {
    metadata: { namespace: ns, name, labels },
    spec: { nodeName: node, hostNetwork: extra.hostNetwork, containers: [{ name: 'c', image: 'busybox', ports: extra.ports }] },
    status: { podIP: ip, phase: (extra.phase ?? 'Running') as 'Running' },
  };
}
const namespace = (name: string, labels: Record<string, string>): KubeObject => ({ metadata: { name, labels } });
const policy = (ns: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { namespace: ns, name }, spec });

const PORTS: Container['ports'] = [
  { name: 'serve-80-tcp', containerPort: 80 },
  { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' },
];
function cluster(): CompileInput {
  return {
    nodeName: 'n1',
    nodeAddresses: ['172.20.0.1'],
    namespaces: [namespace('x', { ns: 'x' }), namespace('y', { ns: 'y' })],
    pods: [
      pod('x', 'a', '10.244.1.2', 'n1', { pod: 'a' }, { ports: PORTS }),
      pod('x', 'b', '10.244.2.2', 'n2', { pod: 'b' }, { ports: PORTS }),
      pod('y', 'a', '10.244.1.3', 'n1', { pod: 'a' }),
      pod('y', 'b', '10.244.2.3', 'n2', { pod: 'b' }, { ports: [{ name: 'serve-80-tcp', containerPort: 8080 }] }),
      pod('y', 'host', '172.20.0.12', 'n2', { pod: 'b' }, { hostNetwork: true }),
      pod('y', 'done', '10.244.2.9', 'n2', { pod: 'b' }, { phase: 'Succeeded' }),
    ],
    policies: [],
  };
}
const rules = (rs: Ruleset, chain: string) => rs.chains.get(chain)?.rules.map((r) => `${r.text} # ${r.comment}`);
const elements = (rs: Ruleset, set: string) => [...(rs.sets.get(set)?.elements.keys() ?? [])];
const script = (from: Ruleset, to: Ruleset) => {
  const s = new NftScript('ip', 'cairn');
  planChanges(s, from, to);
  return s.lines.map((l) => l.replace(/^(\w+ \w+) ip cairn /, '$1 '));
};

test('policyTypes default as upstream: Ingress always, Egress with egress rules', () => {
  assert.deepEqual(policyTypes({}), ['ingress']);
  assert.deepEqual(policyTypes({ egress: [{}] }), ['ingress', 'egress']);
  assert.deepEqual(policyTypes({ policyTypes: ['Egress'] }), ['egress']);
});

test('ipBlock: cidr minus except as canonical disjoint prefixes; blocks of a rule merged; IPv6 ignored', () => {
  assert.deepEqual(ipBlockPrefixes([{ cidr: '10.0.0.0/24', except: ['10.0.0.128/25', '10.0.0.5/32'] }]), [
    '10.0.0.0/30',
    '10.0.0.4/32',
    '10.0.0.6/31',
    '10.0.0.8/29',
    '10.0.0.16/28',
    '10.0.0.32/27',
    '10.0.0.64/26',
  ]);
  assert.deepEqual(ipBlockPrefixes([{ cidr: '10.0.0.0/25' }, { cidr: '10.0.0.128/25' }, { cidr: '10.0.0.7/32' }]), ['10.0.0.0/24']);
  assert.deepEqual(ipBlockPrefixes([{ cidr: '10.0.0.9/24' }]), ['10.0.0.0/24'], 'host bits are masked, as Go parses a CIDR');
  assert.deepEqual(ipBlockPrefixes([{ cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }]).slice(0, 3), ['0.0.0.0/5', '8.0.0.0/7', '11.0.0.0/8']);
  assert.deepEqual(ipBlockPrefixes([{ cidr: '0.0.0.0/0' }]), ['0.0.0.0/0']);
  assert.deepEqual(ipBlockPrefixes([{ cidr: '2001:db8::/64' }]), []);
});

test('no policy: the skeleton only, nobody isolated', () => {
  const rs = compilePolicies(cluster());
  assert.deepEqual([...rs.chains.keys()], ['policy-forward', 'policy-ingress']);
  assert.deepEqual(rs.chains.get('policy-forward')!.spec.base, { type: 'filter', hook: 'forward', priority: 0 });
  assert.deepEqual(rules(rs, 'policy-forward'), [
    'ct state established,related accept # replies of allowed connections',
    'ip saddr vmap @policy-egress-pods # pods of this node isolated for egress',
    'goto policy-ingress # ingress isolation',
  ]);
  assert.deepEqual(rules(rs, 'policy-ingress'), [
    'ip saddr @policy-node-addrs accept # from this node (kubelet probes)',
    'ip daddr vmap @policy-ingress-pods # pods of this node isolated for ingress',
    'accept # not isolated for ingress',
  ]);
  assert.deepEqual(elements(rs, 'policy-node-addrs'), ['172.20.0.1']);
  assert.equal(rs.maps.get('policy-ingress-pods')!.entries.size, 0);
});

test('default deny ingress isolates only the selected pods of this node, without a policy chain', () => {
  const input = cluster();
  input.policies = [policy('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })];
  const rs = compilePolicies(input);
  const chain = podChain('ingress', 'x', 'a');
  assert.deepEqual(
    [...rs.maps.get('policy-ingress-pods')!.entries.values()].map(([k, v]) => `${elementText(k)} : ${v.text}`),
    [`10.244.1.2 : goto ${chain}`],
    'x/b is on n2: not programmed here; y/a is not selected',
  );
  assert.deepEqual(rules(rs, chain), ['ct state invalid drop # invalid conntrack state ingress x/a', 'drop # default deny ingress x/a']);
  assert.equal(rs.maps.get('policy-egress-pods')!.entries.size, 0);
  assert.ok(!rs.chains.has(policyChain('ingress', 'x', 'deny')));
});

test('ingress peers: podSelector, namespaceSelector, both (AND), OR of peers, ipBlock; ports, ranges, named ports', () => {
  const input = cluster();
  input.policies = [
    policy('x', 'allow', {
      podSelector: { matchLabels: { pod: 'a' } },
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { pod: 'b' } } }, { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }, { ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.128.0/17'] } }],
          ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 81, endPort: 85 }, { protocol: 'SCTP' }, { protocol: 'UDP', port: 'serve-81-udp' }],
        },
        {},
      ],
    }),
  ];
  const rs = compilePolicies(input);
  const chain = policyChain('ingress', 'x', 'allow');
  const pods = ruleSet('ingress', 'x', 'allow', 0, 'pods');
  const cidrs = ruleSet('ingress', 'x', 'allow', 0, 'cidrs');
  const named = ruleSet('ingress', 'x', 'allow', 0, 'named');
  assert.deepEqual(rules(rs, chain), [
    `ip saddr @${pods} meta l4proto tcp th dport 80 accept # policy x/allow ingress[0] from[0,1] ports[0]`,
    `ip saddr @${pods} meta l4proto udp th dport 81-85 accept # policy x/allow ingress[0] from[0,1] ports[1]`,
    `ip saddr @${pods} meta l4proto sctp accept # policy x/allow ingress[0] from[0,1] ports[2]`,
    `ip saddr @${pods} ip daddr . meta l4proto . th dport @${named} accept # policy x/allow ingress[0] from[0,1] ports[3]`,
    `ip saddr @${cidrs} meta l4proto tcp th dport 80 accept # policy x/allow ingress[0] from[2] ipBlock ports[0]`,
    `ip saddr @${cidrs} meta l4proto udp th dport 81-85 accept # policy x/allow ingress[0] from[2] ipBlock ports[1]`,
    `ip saddr @${cidrs} meta l4proto sctp accept # policy x/allow ingress[0] from[2] ipBlock ports[2]`,
    `ip saddr @${cidrs} ip daddr . meta l4proto . th dport @${named} accept # policy x/allow ingress[0] from[2] ipBlock ports[3]`,
    'accept # policy x/allow ingress[1]',
  ]);
  // x/b by podSelector (same namespace), y/a by namespace AND pod; not the hostNetwork or finished pods.
  assert.deepEqual(elements(rs, pods), ['10.244.1.3', '10.244.2.2']);
  assert.deepEqual(rs.sets.get(cidrs)!.spec.flags, ['interval']);
  assert.deepEqual(elements(rs, cidrs), ['192.168.0.0/17']);
  // Named ports resolve against the selected (destination) pod, with the protocol.
  assert.deepEqual(elements(rs, named), ['10.244.1.2 . udp . 81']);
  assert.deepEqual(rules(rs, podChain('ingress', 'x', 'a')), [
    'ct state invalid drop # invalid conntrack state ingress x/a',
    `jump ${chain} # policy x/allow`,
    'drop # default deny ingress x/a',
  ]);
});

test('egress: allowed packets continue to ingress isolation; named ports resolve against the destination pods', () => {
  const input = cluster();
  input.policies = [
    policy('y', 'out', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 'serve-80-tcp' }] }, { ports: [{ protocol: 'UDP', port: 53 }] }],
    }),
  ];
  const rs = compilePolicies(input);
  const chain = policyChain('egress', 'y', 'out');
  const pods = ruleSet('egress', 'y', 'out', 0, 'pods');
  const named = ruleSet('egress', 'y', 'out', 0, 'named');
  assert.deepEqual(rules(rs, chain), [
    `ip daddr @${pods} ip daddr . meta l4proto . th dport @${named} goto policy-ingress # policy y/out egress[0] to[0] ports[0]`,
    'meta l4proto udp th dport 53 goto policy-ingress # policy y/out egress[1] ports[0]',
  ]);
  assert.deepEqual(elements(rs, named), ['10.244.1.2 . tcp . 80', '10.244.2.2 . tcp . 80', '10.244.2.3 . tcp . 8080']);
  assert.deepEqual(elements(rs, pods), ['10.244.1.2', '10.244.1.3', '10.244.2.2', '10.244.2.3']);
  assert.deepEqual(
    [...rs.maps.get('policy-egress-pods')!.entries.values()].map(([k, v]) => `${elementText(k)} : ${v.text}`),
    [`10.244.1.3 : goto ${podChain('egress', 'y', 'a')}`],
  );
  assert.equal(rs.maps.get('policy-ingress-pods')!.entries.size, 0, 'policyTypes [Egress] leaves ingress open');
});

test('several policies selecting one pod: the pod chain jumps to each (their union), in name order', () => {
  const input = cluster();
  input.policies = [
    policy('x', 'zeta', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
    policy('x', 'alpha', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }),
  ];
  const rs = compilePolicies(input);
  assert.deepEqual(rules(rs, podChain('ingress', 'x', 'a')), [
    'ct state invalid drop # invalid conntrack state ingress x/a',
    `jump ${policyChain('ingress', 'x', 'alpha')} # policy x/alpha`,
    `jump ${policyChain('ingress', 'x', 'zeta')} # policy x/zeta`,
    'drop # default deny ingress x/a',
  ]);
});

test('incremental: a new peer pod is one element add; a relabelled one an element delete; nothing changed, nothing sent', () => {
  const input = cluster();
  input.policies = [policy('x', 'allow', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })];
  const before = compilePolicies(input);
  const set = ruleSet('ingress', 'x', 'allow', 0, 'pods');
  assert.deepEqual(script(before, compilePolicies(input)), []);
  input.pods.push(pod('y', 'c', '10.244.2.7', 'n2', { pod: 'c' }));
  const added = compilePolicies(input);
  assert.deepEqual(script(before, added), [`add element ${set} { 10.244.2.7 }`]);
  input.namespaces[1] = namespace('y', { ns: 'other' });
  const relabelled = compilePolicies(input);
  assert.deepEqual(script(added, relabelled), [`delete element ${set} { 10.244.1.3, 10.244.2.3, 10.244.2.7 }`]);
});

test('incremental: a new local pod selected by a policy gets its chain before the map points at it', () => {
  const input = cluster();
  input.policies = [policy('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })];
  const before = compilePolicies(input);
  input.pods.push(pod('x', 'c', '10.244.1.9', 'n1', { pod: 'c' }));
  const chain = podChain('ingress', 'x', 'c');
  assert.deepEqual(script(before, compilePolicies(input)), [
    `add chain ${chain}`,
    `add element policy-ingress-pods { 10.244.1.9 comment "x/c" : goto ${chain} }`,
    `add rule ${chain} ct state invalid drop comment "invalid conntrack state ingress x/c"`,
    `add rule ${chain} drop comment "default deny ingress x/c"`,
  ]);
});

test('incremental: deleting a policy unhooks, empties and deletes its chains and sets, in an order nft accepts', () => {
  const input = cluster();
  input.policies = [policy('x', 'allow', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: {} }] }] })];
  const before = compilePolicies(input);
  input.policies = [];
  const pc = podChain('ingress', 'x', 'a');
  const ch = policyChain('ingress', 'x', 'allow');
  const set = ruleSet('ingress', 'x', 'allow', 0, 'pods');
  assert.deepEqual(script(before, compilePolicies(input)), [
    `delete element policy-ingress-pods { 10.244.1.2 }`,
    `flush chain ${ch}`,
    `flush chain ${pc}`,
    `delete chain ${ch}`,
    `delete chain ${pc}`,
    `delete set ${set}`,
  ]);
});

test('incremental: a changed policy rewrites its chain and refills its interval set without overlaps', () => {
  const input = cluster();
  input.policies = [policy('x', 'blk', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/24' } }] }] })];
  const before = compilePolicies(input);
  input.policies = [policy('x', 'blk', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.0/25'] } }], ports: [{ port: 80 }] }] })];
  const set = ruleSet('ingress', 'x', 'blk', 0, 'cidrs');
  const ch = policyChain('ingress', 'x', 'blk');
  assert.deepEqual(script(before, compilePolicies(input)), [
    `delete element ${set} { 10.0.0.0/24 }`,
    `add element ${set} { 10.0.0.128/25 }`,
    `flush chain ${ch}`,
    `add rule ${ch} ip saddr @${set} meta l4proto tcp th dport 80 accept comment "policy x/blk ingress[0] from[0] ipBlock ports[0]"`,
  ]);
});

test('full resync: what the kernel holds of ours goes, everything is built afresh, in one transaction', () => {
  const input = cluster();
  input.policies = [policy('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })];
  const rs = compilePolicies(input);
  const s = new NftScript('ip', 'cairn');
  planFullResync(s, { chains: ['policy-forward', 'policy-old-chain'], sets: ['policy-node-addrs'], maps: ['policy-ingress-pods'] }, rs);
  const lines = s.lines.map((l) => l.replace(/^(\w+ \w+) ip cairn /, '$1 '));
  assert.deepEqual(lines.slice(0, 8), [
    'add table ip cairn',
    'flush chain policy-forward',
    'flush chain policy-old-chain',
    'flush map policy-ingress-pods',
    'delete chain policy-forward',
    'delete chain policy-old-chain',
    'delete map policy-ingress-pods',
    'delete set policy-node-addrs',
  ]);
  assert.ok(lines.includes('add chain policy-forward { type filter hook forward priority 0; policy accept; }'));
  assert.ok(lines.indexOf('add map policy-ingress-pods { type ipv4_addr : verdict; }') < lines.findIndex((l) => l.startsWith('add rule policy-ingress ')));
});
