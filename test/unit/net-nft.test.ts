// The nft script builder and the ip argument checks (no root needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NftScript, NftInvalidError, nv, rule, withComment, checkNftName } from '../../src/net/nft.js';
import { parseCidr, cidrContains, checkIfName, InvalidArgumentError, ipv4ToInt, intToIpv4 } from '../../src/net/ip.js';
import { hostVethName, podMac } from '../../src/net/pod-network.js';
import { linkTag } from '../../src/net/lab.js';
import { derivedMac } from '../../src/net/overlay.js';

test('rules take only checked values', () => {
  const r = rule`ip saddr ${nv.cidr('10.244.0.0/16')} tcp dport ${nv.anon([nv.port(80), nv.port(443)])} accept`;
  assert.equal(r.text, 'ip saddr 10.244.0.0/16 tcp dport { 80, 443 } accept');
  // A raw string is refused, however harmless it looks.
  assert.throws(() => rule`ip saddr ${'10.0.0.1' as never} accept`, NftInvalidError);
  assert.throws(() => nv.cidr('10.0.0.1/8'), /host bits/);
  assert.throws(() => nv.ip('10.0.0.1; flush ruleset'), InvalidArgumentError);
  assert.throws(() => nv.iface('eth0"; flush'), InvalidArgumentError);
  assert.throws(() => nv.str('a"b'), NftInvalidError);
  assert.throws(() => nv.port(70000), NftInvalidError);
});

test('names: keywords and odd characters are refused', () => {
  assert.equal(checkNftName('pod-masquerade'), 'pod-masquerade');
  assert.equal(checkNftName('cairn'), 'cairn');
  for (const bad of ['masquerade', 'drop', 'a;b', 'x y', 'Pod-x', '-a', 'fully-random', '']) assert.throws(() => checkNftName(bad), NftInvalidError, bad);
});

test('a script is one transaction text', () => {
  const s = new NftScript('ip', 'cairn')
    .addTable()
    .addChain({ name: 'pod-masquerade', base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' } })
    .flushChain('pod-masquerade')
    .addRule('pod-masquerade', withComment(rule`ip saddr ${nv.cidr('10.244.0.0/16')} masquerade`, 'x'))
    .addMap({ name: 'svc-ports', type: 'ipv4_addr . inet_service', valueType: 'verdict' })
    .addMapElements('svc-ports', [[[nv.ip('10.96.0.10'), nv.port(53)], nv.verdict({ jump: 'svc-dns' })]]);
  assert.equal(
    s.text(),
    [
      'add table ip cairn',
      'add chain ip cairn pod-masquerade { type nat hook postrouting priority srcnat; policy accept; }',
      'flush chain ip cairn pod-masquerade',
      'add rule ip cairn pod-masquerade ip saddr 10.244.0.0/16 masquerade comment "x"',
      'add map ip cairn svc-ports { type ipv4_addr . inet_service : verdict; }',
      'add element ip cairn svc-ports { 10.96.0.10 . 53 : jump svc-dns }',
      '',
    ].join('\n'),
  );
});

test('ip helpers: CIDRs, names, derived names', () => {
  const c = parseCidr('10.244.0.0/16');
  assert.ok(cidrContains(c, '10.244.255.7'));
  assert.ok(!cidrContains(c, '10.245.0.1'));
  assert.equal(intToIpv4(ipv4ToInt('172.20.0.11')), '172.20.0.11');
  assert.throws(() => parseCidr('10.244.0.0/33'), InvalidArgumentError);
  assert.throws(() => ipv4ToInt('1.2.3.04'), InvalidArgumentError);
  assert.throws(() => checkIfName('a-very-long-name-x'), InvalidArgumentError);
  assert.throws(() => checkIfName('-x'), InvalidArgumentError);
  assert.match(hostVethName('some-uid'), /^cairn[0-9a-f]{10}$/);
  assert.equal(podMac('10.244.1.2'), '0a:58:0a:f4:01:02');
  assert.equal(linkTag('abc'), 'abc');
  assert.match(linkTag('averylongname'), /^h[0-9a-f]{4}$/);
  assert.throws(() => linkTag('a-b'));
  assert.match(derivedMac('x'), /^0a(:[0-9a-f]{2}){5}$/);
});
