// The text form of a trace (no cluster needed): hop lines aligned by place, the matched rules
// under each hook with effect and comment, branches as a tree, the end in capitals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Hop, TraceResult } from '../../src/trace/hops.js';
import { renderTrace } from '../../src/trace/render-text.js';

const pkt = { protocol: 'tcp', saddr: '10.244.1.4', sport: 40000, daddr: '10.96.0.20', dport: 80 };
const node1 = { kind: 'node' as const, name: 'node-1', netns: 'cairn-x-node-1' };
const pod = (name: string) => ({ kind: 'pod' as const, name, netns: `cairn-x-pod-1-${name.length}` });

const choice = (value: number) => ({ chain: 'service-web', handle: 5, comment: 'default/web:80', value, of: 2 });

function dnat(target: string, value: number): Hop {
  return {
    kind: 'nft',
    at: node1,
    packet: { ...pkt, daddr: target.split(':')[0]!, dport: 8080 },
    summary: `prerouting: accept, dnat to ${target}`,
    hook: 'prerouting',
    verdict: 'accept',
    chains: [{ name: 'proxy-nat-prerouting', type: 'nat', prio: -100, verdict: 'accept', by: 'nat' }],
    rules: [
      { chain: 'proxy-services', handle: 3, rule: 'ip daddr . meta l4proto . th dport vmap @service-ips', effect: 'goto service-web' },
      { chain: `endpoint-${value}`, handle: 9, rule: `meta l4proto tcp dnat to ${target}`, effect: `dnat to ${target}`, comment: `default/web:80 -> ${target}` },
      { chain: 'policy-ingress', handle: 12, rule: 'accept', effect: 'accept', comment: 'not isolated' },
    ],
    nat: [{ kind: 'dnat', addr: target.split(':')[0]!, port: 8080 }],
    choices: [choice(value)],
    notes: [],
  };
}

test('hops, rules, branches and ends as text', () => {
  const t: TraceResult = {
    from: { label: 'pod default/client', ip: '10.244.1.4' },
    to: { label: 'service default/web:80', ip: '10.96.0.20', port: 80 },
    protocol: 'tcp',
    packet: pkt,
    notes: ['node-1 prerouting: something to know'],
    hops: [{ kind: 'route', at: pod('default/client'), packet: pkt, why: 'send', route: { type: 'unicast', dst: '10.96.0.20', gateway: '10.244.1.1', dev: 'eth0' }, summary: '10.96.0.20 via 10.244.1.1 dev eth0' }],
    branches: [
      { probability: 0.5, choices: [choice(0)], target: '10.244.1.5:8080', hops: [dnat('10.244.1.5:8080', 0)], end: { outcome: 'delivered', at: pod('default/web-1'), reason: '10.244.1.5:8080/tcp is a local address of namespace x' } },
      { probability: 0.5, choices: [choice(1)], target: '10.244.2.7:8080', hops: [dnat('10.244.2.7:8080', 1)], end: { outcome: 'dropped', at: { kind: 'node', name: 'node-2', netns: 'n2' }, reason: 'dropped at forward by policy-x: drop' } },
    ],
  };
  const lines = renderTrace(t).split('\n');
  assert.deepEqual(lines.slice(0, 4), [
    'trace tcp from pod default/client (10.244.1.4) to service default/web:80 (10.96.0.20:80)',
    'packet 10.244.1.4:40000 -> 10.96.0.20:80 tcp (the first packet of a new connection)',
    '',
    '  default/client  route       10.96.0.20 via 10.244.1.1 dev eth0',
  ]);
  assert.equal(lines[4], '  one of 2 paths, drawn at random (numgen in service-web "default/web:80"):');
  assert.equal(lines[5], '  ├─ 1 of 2 (p=50%) -> 10.244.1.5:8080');
  assert.equal(lines[6], '  │  node-1          prerouting  accept, dnat to 10.244.1.5:8080');
  assert.equal(lines[7], '  │                              proxy-services: ip daddr . meta l4proto . th dport vmap @service-ips  => goto service-web');
  // An effect that repeats the rule's end is left out; the comment stays.
  assert.equal(lines[8], '  │                              endpoint-0: meta l4proto tcp dnat to 10.244.1.5:8080  # default/web:80 -> 10.244.1.5:8080');
  assert.equal(lines[9], '  │                              policy-ingress: accept  # not isolated');
  assert.equal(lines[10], '  │  DELIVERED to pod default/web-1: 10.244.1.5:8080/tcp is a local address of namespace x');
  assert.equal(lines[11], '  └─ 2 of 2 (p=50%) -> 10.244.2.7:8080');
  assert.equal(lines[16], '     DROPPED at node node-2: dropped at forward by policy-x: drop');
  assert.deepEqual(lines.slice(-2), ['', 'note: node-1 prerouting: something to know']);
});
