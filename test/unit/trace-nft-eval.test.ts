// The trace evaluator on recorded `nft -j` output of real tables (no root needed): Service
// dispatch through verdict maps on concatenations, numgen endpoint choice, DNAT, hairpin and
// off-cluster masquerade marks, session affinity sets, NodePorts via fib, no-endpoint rejects,
// NetworkPolicy chains with interval sets and concatenated interval keys, ct state, and the
// odd expressions of a second table one rule at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Nft, type NftTableState } from '../../src/net/nft.js';
import { evaluateHook, type HookEnv, type HookName, type HookResult } from '../../src/trace/nft-eval.js';
import { newPacket, type L4Protocol, type TracePacket } from '../../src/trace/packet.js';
import { EXTRA_TABLE_JSON, SERVICE_TABLE_JSON } from './trace-fixtures.js';

/** Nft.list()'s own parser over recorded output. */
class RecordedNft extends Nft {
  constructor(private readonly json: string) {
    super();
  }
  override async run(): Promise<string> {
    return this.json;
  }
}
const parse = async (json: string) => (await new RecordedNft(json).list())!;

const LOCAL = new Set(['172.20.0.11', '10.244.1.1', '10.244.1.0', '127.0.0.1']);
function env(hook: HookName, more: Partial<HookEnv> = {}): HookEnv {
  return { hook, addressType: (ip) => (LOCAL.has(ip) ? 'local' : 'unicast'), ...more };
}
function pkt(saddr: string, daddr: string, dport: number, protocol: L4Protocol = 'tcp'): TracePacket {
  return newPacket(protocol, { saddr, daddr, sport: 40000, dport });
}
const one = (rs: HookResult[]) => {
  assert.equal(rs.length, 1, `one outcome expected, got ${rs.length}`);
  return rs[0]!;
};
const comments = (r: HookResult) => r.hits.map((h) => h.comment).filter(Boolean);

let table: NftTableState;
test('the recorded table parses with Nft.list()', async () => {
  table = await parse(SERVICE_TABLE_JSON);
  assert.ok(table.chains.some((c) => c.name === 'proxy-nat-prerouting' && c.hook === 'prerouting' && c.prio === -100));
  assert.ok(table.maps.some((m) => m.name === 'service-ips'));
});

test('pod to ClusterIP: verdict map on daddr . l4proto . dport, numgen draws each endpoint, DNAT', async () => {
  const rs = evaluateHook(table, env('prerouting', { iifname: 'cairn0123456789' }), pkt('10.244.1.4', '10.96.0.20', 80));
  assert.equal(rs.length, 2);
  assert.deepEqual(
    rs.map((r) => [r.probability, r.packet.daddr, r.packet.dport]),
    [
      [0.5, '10.244.1.5', 8080],
      [0.5, '10.244.2.7', 8080],
    ],
  );
  for (const r of rs) {
    assert.equal(r.verdict, 'accept');
    assert.equal(r.packet.mark, 0, 'in-cluster source: no masquerade mark');
    assert.equal(r.packet.ct.original.daddr, '10.96.0.20');
    assert.equal(r.nat.length, 1);
    assert.deepEqual(r.hits.slice(0, 3).map((h) => h.chain), ['proxy-nat-prerouting', 'proxy-services', 'service-aaaa1111-default-web-tcp-80']);
    assert.match(r.hits.at(-1)!.effect!, /^dnat to /);
    assert.match(r.hits[1]!.effect!, /^goto service-aaaa1111/);
    assert.equal(r.hits[1]!.rule, 'ip daddr . meta l4proto . th dport vmap @service-ips');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0]!.comment, 'default/web:http');
  }
  assert.deepEqual(comments(rs[0]!), ['default/web:http', 'default/web:http -> 10.244.1.5:8080']);
  assert.equal(rs[1]!.hits[3]!.effect, 'dnat to 10.244.2.7:8080');
  // Endpoint a also records the client in its affinity set.
  assert.equal(rs[0]!.hits[3]!.effect, 'update ip saddr in @affinity-dddd4444-default-web-tcp-80-a');
  assert.deepEqual(rs.map((r) => r.chains.map((c) => `${c.name}:${c.by}`)), [['proxy-nat-prerouting:nat'], ['proxy-nat-prerouting:nat']]);
});

test('hairpin: the endpoint reaching itself is marked, then masqueraded once at postrouting', async () => {
  const [self, other] = evaluateHook(table, env('prerouting', { iifname: 'cairn0123456789' }), pkt('10.244.1.5', '10.96.0.20', 80));
  assert.equal(self!.packet.mark, 0x4000);
  assert.ok(self!.hits.some((h) => h.chain === 'proxy-mark-for-masquerade' && h.effect === 'meta mark 0x00004000'));
  assert.equal(other!.packet.mark, 0);

  const post = one(evaluateHook(table, env('postrouting', { oifname: 'cairn0', masqueradeAddress: '10.244.1.1' }), self!.packet));
  assert.equal(post.packet.saddr, '10.244.1.1');
  assert.equal(post.packet.mark, 0, 'the mark is cleared before masquerading');
  assert.equal(post.nat[0]!.kind, 'masquerade');
  assert.match(post.nat[0]!.hit.effect!, /masquerade to 10.244.1.1 \(random source port\)/);
  // The overlay's chain has the same priority but comes later: a binding exists, so it is skipped.
  assert.deepEqual(post.chains.map((c) => `${c.name}:${c.by}`), ['proxy-nat-postrouting:nat', 'pod-masquerade:skipped']);

  const plain = one(evaluateHook(table, env('postrouting', { oifname: 'cairn.1', masqueradeAddress: '10.244.1.0' }), other!.packet));
  assert.equal(plain.packet.saddr, '10.244.1.5', 'pod to pod: no NAT');
  assert.deepEqual(comments(plain), ['pod to pod: no NAT']);
});

test('a client from off the cluster network is marked for masquerade by the service chain', async () => {
  const rs = evaluateHook(table, env('output', { oifname: 'eth0' }), pkt('172.20.0.11', '10.96.0.20', 80));
  assert.equal(rs.length, 2);
  for (const r of rs) assert.equal(r.packet.mark, 0x4000);
  assert.equal(rs[0]!.hits.find((h) => h.comment === 'default/web:http cluster IP')?.effect, 'jump proxy-mark-for-masquerade');
  const post = one(evaluateHook(table, env('postrouting', { oifname: 'cairn.1', masqueradeAddress: '10.244.1.0' }), rs[1]!.packet));
  assert.equal(post.packet.saddr, '10.244.1.0');
});

test('session affinity: a source in the affinity set goes straight to its endpoint', async () => {
  const r = one(evaluateHook(table, env('prerouting', { iifname: 'eth0' }), pkt('10.244.9.9', '10.96.0.20', 80)));
  assert.equal(r.packet.daddr, '10.244.1.5');
  assert.ok(r.hits.some((h) => h.effect === 'update ip saddr in @affinity-dddd4444-default-web-tcp-80-a'));
  assert.equal(r.choices.length, 0);
});

test('NodePort: fib daddr type local, then the nodeport map', async () => {
  const rs = evaluateHook(table, env('prerouting', { iifname: 'eth0' }), pkt('172.20.0.1', '172.20.0.11', 30080));
  assert.equal(rs.length, 2);
  assert.equal(rs[0]!.hits[1]!.rule, 'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports');
  assert.deepEqual(rs.map((r) => r.packet.daddr), ['10.244.1.5', '10.244.2.7']);
  // Not local here: no NodePort.
  const none = one(evaluateHook(table, env('prerouting', { iifname: 'eth0' }), pkt('172.20.0.1', '172.20.0.12', 30080)));
  assert.equal(none.packet.daddr, '172.20.0.12');
  assert.equal(none.nat.length, 0);
});

test('filter: no endpoints rejects, a wrong port of a ClusterIP rejects, an unallocated ClusterIP drops', async () => {
  const fwd = env('forward', { iifname: 'cairn0', oifname: 'eth0' });
  const noEp = one(evaluateHook(table, fwd, pkt('10.244.1.4', '10.96.0.30', 80)));
  assert.equal(noEp.verdict, 'reject');
  assert.equal(noEp.rejectWith, 'icmp port-unreachable');
  assert.equal(noEp.decidedBy?.chain, 'proxy-filter-forward');
  assert.equal(noEp.decidedBy?.hit?.chain, 'proxy-reject-chain');

  const badPort = one(evaluateHook(table, fwd, pkt('10.244.1.4', '10.96.0.20', 81)));
  assert.equal(badPort.verdict, 'reject');
  assert.equal(badPort.decidedBy?.hit?.comment, 'invalid ports of cluster IPs');

  const unallocated = one(evaluateHook(table, fwd, pkt('10.244.1.4', '10.96.9.9', 80)));
  assert.equal(unallocated.verdict, 'drop');
  assert.equal(unallocated.decidedBy?.hit?.comment, 'unallocated cluster IPs');
  assert.deepEqual(unallocated.chains.map((c) => `${c.name}:${c.verdict}`), ['proxy-filter-forward:drop']);
});

test('policy: interval sets, port ranges, concatenated interval keys, anonymous sets, default deny', async () => {
  const fwd = env('forward', { iifname: 'cairn0', oifname: 'cairn0' });
  const fromRange = one(evaluateHook(table, fwd, pkt('10.244.3.5', '10.244.1.5', 8080)));
  assert.equal(fromRange.verdict, 'accept');
  assert.deepEqual(comments(fromRange), ['policy default/allow ingress[0] from[0]']);
  assert.ok(fromRange.hits.some((h) => h.chain === 'policy-forward' && h.effect === 'jump policy-ingress-web'));

  const concat = one(evaluateHook(table, fwd, pkt('10.244.5.6', '10.244.1.5', 8080)));
  assert.deepEqual(comments(concat), ['policy default/allow ingress[1]']);

  const dns = one(evaluateHook(table, fwd, pkt('10.1.2.3', '10.244.1.5', 53, 'udp')));
  assert.equal(dns.verdict, 'accept');
  assert.equal(dns.hits.at(-1)!.rule, 'meta l4proto { tcp, udp } th dport 53 ip saddr { 10.0.0.0/8, 192.168.1.1 } accept');

  const denied = one(evaluateHook(table, fwd, pkt('10.244.6.6', '10.244.1.5', 8080)));
  assert.equal(denied.verdict, 'drop');
  assert.equal(denied.decidedBy?.hit?.comment, 'default deny ingress default/web-0');
  assert.equal(denied.decidedBy?.chain, 'policy-forward');

  const node = one(evaluateHook(table, fwd, pkt('10.244.1.1', '10.244.1.5', 9999)));
  assert.deepEqual(comments(node), ["from the pod's own node"]);

  const reply = evaluateHook(table, fwd, { ...pkt('10.244.6.6', '10.244.1.5', 8080), ct: { ...pkt('10.244.6.6', '10.244.1.5', 8080).ct, state: 'established' } });
  assert.equal(one(reply).verdict, 'accept');
  assert.equal(one(reply).hits[0]!.rule, 'ct state established,related accept');
});

test('nat chains see only new connections', async () => {
  const p = pkt('10.244.1.4', '10.96.0.20', 80);
  p.ct.state = 'established';
  const r = one(evaluateHook(table, env('prerouting', { iifname: 'cairn0' }), p));
  assert.equal(r.packet.daddr, '10.96.0.20');
  assert.deepEqual(r.chains.map((c) => c.by), ['skipped']);
});

// ---- the second table, one rule at a time ----

let extra: NftTableState;
/** The table with only rule `handle`, in a base chain of the given hook and type. */
function only(handle: number, hook: HookName, type = 'filter'): NftTableState {
  const r = extra.rules.find((x) => x.handle === handle);
  assert.ok(r, `rule ${handle}`);
  return { ...extra, chains: [{ name: r.chain, handle: 1, type, hook, prio: 0, policy: 'accept' }], rules: [r] };
}
/** The recorded rules by their position in the script (handles are assigned in order). */
let h: (n: number) => number;

test('odd expressions from a second recorded table', async () => {
  extra = await parse(EXTRA_TABLE_JSON);
  const handles = extra.rules.map((r) => r.handle);
  h = (n) => handles[n]!;
  const fires = (n: number, hook: HookName, p: TracePacket, more: Partial<HookEnv> = {}, type = 'filter') => one(evaluateHook(only(h(n), hook, type), env(hook, more), p));

  const dnatted = pkt('10.244.1.4', '10.244.1.5', 80);
  dnatted.ct.status = 32;
  dnatted.ct.original.daddr = '10.96.0.1';
  assert.equal(fires(0, 'forward', dnatted).hits.length, 1, 'ct status dnat');
  assert.equal(fires(0, 'forward', pkt('10.244.1.4', '10.244.1.5', 80)).hits.length, 0);
  assert.equal(fires(1, 'forward', dnatted).hits.length, 1, 'ct original ip daddr');
  const marked = pkt('1.1.1.1', '2.2.2.2', 80);
  marked.mark = 0x4000;
  assert.equal(fires(2, 'forward', marked).hits.length, 1, 'meta mark 0x4000');
  assert.equal(fires(3, 'forward', pkt('1.1.1.1', '2.2.2.2', 80)).hits.length, 0, 'icmp type on a tcp packet');
  assert.equal(fires(4, 'forward', pkt('1.1.1.1', '2.2.2.2', 80, 'udp')).hits.length, 1, 'ip protocol udp');
  assert.equal(fires(5, 'forward', pkt('1.1.1.1', '2.2.2.2', 80)).hits.length, 0, 'tcp dport != 80');
  assert.equal(fires(5, 'forward', pkt('1.1.1.1', '2.2.2.2', 81)).hits.length, 1);
  assert.equal(fires(6, 'forward', pkt('1.1.1.1', '10.0.0.2', 81)).hits.length, 0, 'ip daddr != { ... }');

  const masq = fires(7, 'postrouting', pkt('10.244.1.4', '8.8.8.8', 53, 'udp'), { masqueradeAddress: '172.20.0.11' }, 'nat');
  assert.equal(masq.packet.saddr, '172.20.0.11');
  assert.equal(fires(8, 'postrouting', pkt('10.244.1.4', '8.8.8.8', 53), {}, 'nat').packet.saddr, '1.2.3.4');
  assert.equal(fires(9, 'prerouting', pkt('1.1.1.1', '2.2.2.2', 53, 'udp'), {}, 'nat').packet.daddr, '10.1.1.1');
  const redirected = fires(10, 'prerouting', pkt('1.1.1.1', '2.2.2.2', 80), { redirectAddress: '172.20.0.11' }, 'nat').packet;
  assert.deepEqual([redirected.daddr, redirected.dport], ['172.20.0.11', 8080]);
  // A NAT statement in a filter chain is refused by the kernel; here it is noted, not applied.
  const misplaced = fires(9, 'prerouting', pkt('1.1.1.1', '2.2.2.2', 53, 'udp'));
  assert.equal(misplaced.packet.daddr, '2.2.2.2');
  assert.match(misplaced.notes[0]!, /taken as not matching/);

  assert.equal(fires(11, 'prerouting', pkt('1.1.1.1', '2.2.2.2', 80), { iifname: 'cairn0' }).hits.length, 1, 'iifname { ... }');
  assert.equal(fires(11, 'output', pkt('1.1.1.1', '2.2.2.2', 80)).hits.length, 0, 'no input interface at output');
  assert.equal(fires(12, 'forward', pkt('1.1.1.1', '2.2.2.2', 1500)).hits.length, 1, 'tcp dport 1000-2000');
  assert.equal(fires(13, 'forward', pkt('1.1.1.1', '2.2.2.2', 1500, 'udp')).hits.length, 0, 'th dport < 1024');
  assert.equal(fires(13, 'forward', pkt('1.1.1.1', '2.2.2.2', 53, 'udp')).hits.length, 1);

  const mangled = fires(14, 'forward', pkt('1.1.1.1', '2.2.2.2', 53));
  assert.deepEqual([mangled.packet.mark, mangled.packet.ct.mark], [0x10, 0x10]);
  const fibOif = fires(15, 'forward', pkt('1.1.1.1', '2.2.2.2', 53));
  assert.equal(fibOif.verdict, 'accept', 'an expression it cannot evaluate never drops');
  assert.match(fibOif.notes[0]!, /fib oif is not evaluated; taken as not matching/);

  assert.equal(fires(17, 'forward', pkt('1.1.1.1', '10.9.9.9', 53)).verdict, 'drop', 'anonymous vmap with a prefix key');
  assert.equal(fires(17, 'forward', pkt('1.1.1.1', '192.168.0.5', 53)).verdict, 'accept');
  assert.equal(fires(18, 'prerouting', pkt('1.1.1.1', '10.96.0.5', 80), {}, 'nat').packet.daddr, '10.244.1.1', 'dnat to ip daddr map');
  const both = fires(19, 'prerouting', pkt('1.1.1.1', '10.96.0.6', 80), {}, 'nat').packet;
  assert.deepEqual([both.daddr, both.dport], ['10.244.1.2', 8080], 'dnat ip addr . port to ... map');
  assert.equal(fires(20, 'forward', pkt('10.1.2.9', '1.1.1.1', 80)).hits[0]!.effect, 'continue');
  const reset = fires(21, 'forward', pkt('1.1.1.1', '2.2.2.2', 80));
  assert.deepEqual([reset.verdict, reset.rejectWith], ['reject', 'tcp reset']);
  assert.equal(fires(23, 'forward', pkt('1.1.1.1', '2.2.2.2', 80, 'udp')).hits.length, 0, 'udp sport 53');
  assert.match(fires(23, 'forward', { ...pkt('1.1.1.1', '2.2.2.2', 80, 'udp'), sport: 53 }).notes[0]!, /matches the source port/);
});
