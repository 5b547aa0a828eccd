/**
 * /etc/hosts and /etc/resolv.conf of a pod, compared with what a kubelet (+ containerd) writes
 * for the same pod.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { etcHostsContent, parseResolvConf, podDNSConfig, podHostnameAndDomain, resolvConfContent } from '../../src/agent/pods/etc-files.js';

function pod(spec: Partial<Pod['spec']> = {}, name = 'web-0'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', uid: 'u' }, spec: { containers: [{ name: 'app' }], ...spec } };
}

const LOCAL = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n';

describe('/etc/hosts', () => {
  it('names the pod IP with the pod name', () => {
    assert.equal(etcHostsContent(pod(), '10.244.1.5'), `# Kubernetes-managed hosts file.\n${LOCAL}10.244.1.5\tweb-0\n`);
  });

  it('puts the FQDN first with a subdomain, one line per pod IP, then host aliases', () => {
    const p = pod({ hostname: 'db', subdomain: 'backend', hostAliases: [{ ip: '203.0.113.7', hostnames: ['foo.local', 'bar.local'] }] });
    assert.equal(
      etcHostsContent(p, ['10.244.1.5', 'fd00::5']),
      `# Kubernetes-managed hosts file.\n${LOCAL}` +
        '10.244.1.5\tdb.backend.shop.svc.cluster.local\tdb\n' +
        'fd00::5\tdb.backend.shop.svc.cluster.local\tdb\n' +
        '\n# Entries added by HostAliases.\n203.0.113.7\tfoo.local\tbar.local\n',
    );
    assert.match(etcHostsContent(p, '10.0.0.1', [], { clusterDomain: 'corp.example' }), /10\.0\.0\.1\tdb\.backend\.shop\.svc\.corp\.example\tdb\n$/);
  });

  it('gives hostNetwork pods the node file under the host-network header', () => {
    const p = pod({ hostNetwork: true, hostAliases: [{ ip: '1.2.3.4', hostnames: ['x'] }] });
    assert.equal(
      etcHostsContent(p, '192.0.2.10', undefined, { nodeHostsFile: '127.0.0.1 localhost\n' }),
      '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n1.2.3.4\tx\n',
    );
  });

  it('cuts long hostnames to 63 characters without a trailing dash or dot', () => {
    const long = `${'a'.repeat(61)}-.b`;
    assert.equal(podHostnameAndDomain(pod({}, long)).hostname, 'a'.repeat(61));
  });
});

describe('/etc/resolv.conf', () => {
  const host = '# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. lab.example .\noptions edns0 ndots:2\noptions timeout:1\n';
  const opts = { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolvConf: host };

  it('parses the host file as the kubelet does', () => {
    assert.deepEqual(parseResolvConf(host), { servers: ['192.0.2.53', '192.0.2.54'], searches: ['corp.example', 'lab.example'], options: ['edns0', 'ndots:2', 'timeout:1'] });
  });

  it('ClusterFirst: cluster DNS, cluster searches before the host ones, ndots:5', () => {
    assert.equal(
      resolvConfContent(pod(), opts),
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
  });

  it('hostNetwork: ClusterFirst falls back to the host, ClusterFirstWithHostNet does not', () => {
    assert.equal(resolvConfContent(pod({ hostNetwork: true }), opts), 'search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0 ndots:2 timeout:1\n');
    assert.match(resolvConfContent(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), opts), /^search shop\.svc\.cluster\.local .*\nnameserver 10\.96\.0\.10\n/);
  });

  it('Default is the host configuration', () => {
    assert.equal(resolvConfContent(pod({ dnsPolicy: 'Default' }), opts), 'search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0 ndots:2 timeout:1\n');
  });

  it('None is dnsConfig only', () => {
    const p = pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] } });
    assert.equal(resolvConfContent(p, opts), 'search a.example\nnameserver 1.1.1.1\noptions ndots:2 rotate\n');
    assert.equal(resolvConfContent(pod({ dnsPolicy: 'None' }), opts), '');
  });

  it('merges dnsConfig: duplicates dropped, options overridden by name', () => {
    const p = pod({ dnsConfig: { nameservers: ['10.96.0.10', '8.8.8.8'], searches: ['svc.cluster.local', 'extra.example'], options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }] } });
    assert.equal(
      resolvConfContent(p, opts),
      'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example extra.example\nnameserver 10.96.0.10\nnameserver 8.8.8.8\noptions ndots:1 edns0\n',
    );
  });

  it('keeps 3 nameservers and 32 searches within 2048 characters, with warnings', () => {
    const ns = pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'] } });
    const r = podDNSConfig(ns, opts);
    assert.deepEqual(r.servers, ['1.1.1.1', '2.2.2.2', '3.3.3.3']);
    assert.deepEqual(r.warnings, ['Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 1.1.1.1 2.2.2.2 3.3.3.3']);

    const many = pod({ dnsPolicy: 'None', dnsConfig: { searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) } });
    const m = podDNSConfig(many, opts);
    assert.equal(m.searches.length, 32);
    assert.match(m.warnings[0], /^Search Line limits were exceeded, some search paths have been omitted, the applied search line is: d0\.example d1\.example/);

    const long = pod({ dnsPolicy: 'None', dnsConfig: { searches: Array.from({ length: 10 }, (_, i) => `${String(i).repeat(250)}.x`) } });
    const l = podDNSConfig(long, opts);
    assert.equal(l.searches.length, 8, 'eight 252-character domains fit in 2048 characters');
    assert.ok(l.searches.join(' ').length <= 2048);

    const huge = pod({ dnsPolicy: 'None', dnsConfig: { searches: ['a'.repeat(254), 'ok.example'] } });
    assert.deepEqual(podDNSConfig(huge, opts).searches, ['ok.example']);
  });

  it('ClusterFirst without a cluster DNS falls back to the host, with the kubelet warning', () => {
    const r = podDNSConfig(pod(), { ...opts, clusterDNS: [] });
    assert.deepEqual(r.servers, ['192.0.2.53', '192.0.2.54']);
    assert.match(r.warnings[0], /does not have ClusterDNS IP configured/);
  });
});
