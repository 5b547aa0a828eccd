// The proxy's transactions: an incremental change touches only what differs, in an order nft
// accepts (nothing deleted while referenced, nothing referenced before it exists); a full resync
// refills everything and removes what the kernel has that nothing needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NftScript } from '../../src/net/nft.js';
import { serviceEndpoints } from '../../src/proxy/endpoints.js';
import { endpointChainName, serviceChainName } from '../../src/proxy/names.js';
import { renderService } from '../../src/proxy/ruleset.js';
import { servicePorts } from '../../src/proxy/service-ports.js';
import { writeFullResync, writeServiceChanges } from '../../src/proxy/transaction.js';
import type { KubeObject } from '../../src/util/object.js';
import { CFG, slice, svc, WEB, WEB_SLICE } from './proxy-fixtures.js';

const web = { namespace: 'default', name: 'web', protocol: 'tcp', port: 80 };
const render = (s: KubeObject, slices: KubeObject[]) => renderService(servicePorts(s), serviceEndpoints(slices, 'node-1'), CFG);
const script = () => new NftScript('ip', 'cairn');
const indexOf = (lines: string[], re: RegExp) => {
  const i = lines.findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matching ${re} in\n${lines.join('\n')}`);
  return i;
};

test('nothing changed: an empty transaction', () => {
  const s = script();
  assert.equal(writeServiceChanges(s, [{ before: render(WEB, [WEB_SLICE]), after: render(WEB, [WEB_SLICE]) }]), 0);
  assert.deepEqual(s.lines, []);
});

test('one endpoint replaced: its chain goes, the new one comes, the Service chain is rewritten; nothing else', () => {
  const moved = slice('web', [{ ip: '10.244.1.5', node: 'node-1' }, { ip: '10.244.2.9', node: 'node-2' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  const s = script();
  writeServiceChanges(s, [{ before: render(WEB, [WEB_SLICE]), after: render(WEB, [moved]) }]);
  const sc = serviceChainName(web);
  const gone = endpointChainName(web, '10.244.2.7', 8080);
  const added = endpointChainName(web, '10.244.2.9', 8080);
  const kept = endpointChainName(web, '10.244.1.5', 8080);
  assert.deepEqual(s.lines.map((l) => l.split(' ').slice(0, 5).join(' ')).sort(), [
    `add chain ip cairn ${added}`,
    `add rule ip cairn ${added}`,
    `add rule ip cairn ${added}`,
    `add rule ip cairn ${sc}`,
    `delete chain ip cairn ${gone}`,
    `flush chain ip cairn ${gone}`,
    `flush chain ip cairn ${sc}`,
  ].sort());
  assert.ok(!s.lines.some((l) => l.includes(kept)) || s.lines.every((l) => !l.startsWith(`flush chain ip cairn ${kept}`)), 'the kept endpoint chain is untouched');
  // The Service chain stops pointing at the old endpoint before that chain is deleted, and the
  // new endpoint chain exists before the Service chain points at it.
  assert.ok(indexOf(s.lines, new RegExp(`^flush chain ip cairn ${sc}$`)) < indexOf(s.lines, new RegExp(`^delete chain ip cairn ${gone}$`)));
  assert.ok(indexOf(s.lines, new RegExp(`^add chain ip cairn ${added}$`)) < indexOf(s.lines, new RegExp(`^add rule ip cairn ${sc} numgen`)));
});

test('a Service goes: its elements first, then its chains', () => {
  const s = script();
  writeServiceChanges(s, [{ before: render(WEB, [WEB_SLICE]) }]);
  const firstDelete = indexOf(s.lines, /^delete chain/);
  assert.ok(indexOf(s.lines, /^delete element ip cairn service-ips \{ 10\.96\.0\.20 \. tcp \. 80, 172\.20\.0\.230 \. tcp \. 80 \}$/) < firstDelete);
  assert.ok(indexOf(s.lines, /^delete element ip cairn service-nodeports \{ tcp \. 30080 \}$/) < firstDelete);
  assert.ok(indexOf(s.lines, /^delete element ip cairn cluster-ips \{ 10\.96\.0\.20 \}$/) >= 0);
  assert.equal(s.lines.filter((l) => l.startsWith('delete chain')).length, 4);
  assert.ok(!s.lines.some((l) => l.startsWith('add ')));
});

test('an element whose value changes is deleted and added again; comments go with elements', () => {
  const none = slice('web', [], [{ name: 'http', port: 8080 }]);
  const s = script();
  writeServiceChanges(s, [{ before: render(WEB, [none]), after: render(WEB, [WEB_SLICE]) }]);
  assert.ok(indexOf(s.lines, /^delete element ip cairn no-endpoint-services/) < indexOf(s.lines, /^add element ip cairn service-ips/));
  assert.match(s.lines[indexOf(s.lines, /^add element ip cairn service-ips/)]!, /10\.96\.0\.20 \. tcp \. 80 comment "default\/web:80 cluster IP" : goto service-/);
});

test('an affinity timeout change makes the sets again and rewrites the chains using them', () => {
  const aff = (t: number) => svc('web', { ...(WEB.spec as object), sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: t } } }, WEB.status as Record<string, unknown>);
  const s = script();
  writeServiceChanges(s, [{ before: render(aff(60), [WEB_SLICE]), after: render(aff(120), [WEB_SLICE]) }]);
  const del = s.lines.filter((l) => l.startsWith('delete set')).length;
  assert.equal(del, 2);
  assert.equal(s.lines.filter((l) => /^add set ip cairn affinity-\S+ \{ type ipv4_addr; flags dynamic, timeout; timeout 120s; \}$/.test(l)).length, 2);
  assert.ok(indexOf(s.lines, /^flush chain ip cairn endpoint-/) < indexOf(s.lines, /^delete set/));
  assert.ok(indexOf(s.lines, /^add set/) < indexOf(s.lines, /^add rule ip cairn endpoint-.*update @affinity/));
});

test('full resync: fixed ruleset refilled, stale per-Service chains and sets deleted, others kept, nothing of other parts touched', () => {
  const s = script();
  const r = render(WEB, [WEB_SLICE]);
  const sc = serviceChainName(web);
  writeFullResync(
    s,
    CFG,
    { chains: ['proxy-services', sc, 'service-zzzzzzzz-default-old-tcp-80', 'policy-ingress-x', 'pod-masquerade'], affinitySets: new Map([['affinity-zzzzzzzz-default-old-tcp-80-10-1-1-1-80', 10800]]) },
    [r],
  );
  const text = s.text();
  assert.match(text, /^add table ip cairn$/m);
  assert.match(text, /^add chain ip cairn proxy-nat-prerouting \{ type nat hook prerouting priority dstnat; policy accept; \}$/m);
  assert.match(text, /^flush chain ip cairn proxy-services$/m);
  assert.match(text, /^flush map ip cairn service-ips$/m);
  assert.match(text, /^add element ip cairn nodeport-ips \{ 172\.20\.0\.11 \}$/m);
  assert.match(text, /^delete chain ip cairn service-zzzzzzzz-default-old-tcp-80$/m);
  assert.match(text, /^delete set ip cairn affinity-zzzzzzzz-default-old-tcp-80-10-1-1-1-80$/m);
  assert.doesNotMatch(text, new RegExp(`^delete chain ip cairn ${sc}$`, 'm'));
  assert.match(text, new RegExp(`^flush chain ip cairn ${sc}$`, 'm'));
  assert.doesNotMatch(text, /policy-ingress-x|pod-masquerade/);
  // Every rule of the fixed chains has a comment too.
  for (const l of s.lines.filter((x) => /^add rule ip cairn proxy-/.test(x))) assert.match(l, / comment "[^"]+"$/, l);
});
