// The proxy's nftables names: upstream's hash-first scheme under Cairn's name rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNftName } from '../../src/net/nft.js';
import { affinitySetName, endpointChainName, externalChainName, hash8, localChainName, serviceChainName } from '../../src/proxy/names.js';

const web = { namespace: 'default', name: 'web', protocol: 'tcp', port: 80 };

test('names read as prefix-hash-namespace-name-protocol-port[-endpoint]', () => {
  assert.match(serviceChainName(web), /^service-[a-z2-7]{8}-default-web-tcp-80$/);
  assert.match(localChainName(web), /^service-[a-z2-7]{8}-local-default-web-tcp-80$/);
  assert.match(externalChainName(web), /^external-[a-z2-7]{8}-default-web-tcp-80$/);
  assert.match(endpointChainName(web, '10.244.1.5', 8080), /^endpoint-[a-z2-7]{8}-default-web-tcp-80-10-244-1-5-8080$/);
  assert.match(affinitySetName(web, '10.244.1.5', 8080), /^affinity-[a-z2-7]{8}-default-web-tcp-80-10-244-1-5-8080$/);
});

test('the hash is of the full identity: stable, and different for the cluster and local chains', () => {
  assert.equal(serviceChainName(web), serviceChainName({ ...web }));
  assert.equal(hash8('default/web/tcp/80'), serviceChainName(web).split('-')[1]);
  assert.notEqual(serviceChainName(web).split('-')[1], localChainName(web).split('-')[1]);
  assert.equal(serviceChainName(web).split('-')[1], externalChainName(web).split('-')[1], 'one Service port, one hash');
  assert.notEqual(endpointChainName(web, '10.244.1.5', 8080), endpointChainName(web, '10.244.1.5', 8081));
  assert.notEqual(serviceChainName(web), serviceChainName({ ...web, protocol: 'udp' }));
});

test('long names are cut to 64 characters and stay distinct; odd characters become single dashes', () => {
  const long = { namespace: 'n'.repeat(63), name: 's'.repeat(63), protocol: 'tcp', port: 443 };
  const a = endpointChainName(long, '10.244.1.5', 8443);
  const b = endpointChainName(long, '10.244.1.6', 8443);
  assert.ok(a.length <= 64 && b.length <= 64);
  assert.notEqual(a, b);
  assert.doesNotThrow(() => checkNftName(a));
  // DNS labels may hold "--"; nft names may not.
  const odd = serviceChainName({ namespace: 'a--b', name: 'x-', protocol: 'sctp', port: 9 });
  assert.match(odd, /^service-[a-z2-7]{8}-a-b-x-sctp-9$/);
  assert.doesNotThrow(() => checkNftName(odd));
});
