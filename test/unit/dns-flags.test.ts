// `cairn dns` flags (src/cli/commands/dns.ts): what each defaults to, and one clear line naming
// the flag for each mistake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDnsFlags } from '../../src/cli/commands/dns.js';
import { CliError } from '../../src/cli/errors.js';

describe('cairn dns flags', () => {
  it('defaults: the host resolvers, cluster.local, a 10,000-answer cache, no metrics', () => {
    assert.deepEqual(parseDnsFlags({ kubeconfig: '/k', listen: ['127.0.0.1:53'] }), {
      kubeconfig: '/k',
      listen: [{ host: '127.0.0.1', port: 53 }],
      upstreams: undefined,
      clusterDomain: 'cluster.local',
      metricsListen: undefined,
      cacheSize: 10_000,
    });
  });

  it('the kubeconfig from --data-dir, every listen and upstream, the domain without its trailing dot', () => {
    const f = parseDnsFlags({ 'data-dir': '/var/lib/cairn/dns', listen: ['172.20.0.1:53', '[::1]:5353'], upstream: ['10.0.0.2', '127.0.0.9:5353'], 'cluster-domain': 'Corp.Internal.', metrics: '172.20.0.1:9153', 'cache-size': '0' });
    assert.equal(f.kubeconfig, '/var/lib/cairn/dns/kubeconfig');
    assert.deepEqual(f.listen, [{ host: '172.20.0.1', port: 53 }, { host: '::1', port: 5353 }]);
    assert.deepEqual(f.upstreams, [{ host: '10.0.0.2', port: 53 }, { host: '127.0.0.9', port: 5353 }]);
    assert.equal(f.clusterDomain, 'corp.internal');
    assert.deepEqual(f.metricsListen, { host: '172.20.0.1', port: 9153 });
    assert.equal(f.cacheSize, 0);
  });

  it('names the flag in each error', () => {
    const err = (v: Record<string, string | string[]>, re: RegExp) => assert.throws(() => parseDnsFlags(v), (e) => e instanceof CliError && re.test(e.message));
    err({ listen: ['127.0.0.1:53'] }, /--kubeconfig is required/);
    err({ kubeconfig: '/k' }, /--listen ADDR:PORT is required/);
    err({ kubeconfig: '/k', listen: ['nowhere'] }, /--listen wants ADDR:PORT/);
    err({ kubeconfig: '/k', listen: ['127.0.0.1:53'], upstream: ['dns.google'] }, /--upstream: "dns.google" is not an IP address/);
    err({ kubeconfig: '/k', listen: ['127.0.0.1:53'], 'cluster-domain': 'bad_domain' }, /--cluster-domain/);
    err({ kubeconfig: '/k', listen: ['127.0.0.1:53'], metrics: '9153' }, /--metrics wants ADDR:PORT/);
    err({ kubeconfig: '/k', listen: ['127.0.0.1:53'], 'cache-size': '-1' }, /--cache-size wants a whole number/);
  });
});
