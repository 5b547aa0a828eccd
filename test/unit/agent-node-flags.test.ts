// `cairn agent` flags: defaults, and one clear line naming the flag for every mistake.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentFlags, parseNodeLabels } from '../../src/cli/commands/agent.js';
import { CliError } from '../../src/cli/errors.js';

const base = { kubeconfig: '/k', 'node-name': 'node-1', 'hostname-override': 'node-1' };

test('defaults', () => {
  const f = parseAgentFlags(base);
  assert.equal(f.dataDir, '/var/lib/cairn/agent/node-1');
  assert.equal(f.hostname, 'node-1');
  assert.equal(f.listenHost, '0.0.0.0');
  assert.equal(f.listenPort, 10250);
  assert.equal(f.cgroupRoot, '/cairn');
  assert.equal(f.clusterCIDR, '10.244.0.0/16');
  assert.deepEqual(f.clusterDNS, ['10.96.0.10']);
  assert.equal(f.clusterDomain, 'cluster.local');
  assert.equal(f.maxPods, 110);
  assert.deepEqual(f.labels, {});
  assert.equal(f.podNetnsPrefix, 'cairn-pod-');
  assert.equal(f.nodeNetns, undefined);
  assert.equal(f.internalIP, undefined);
  assert.equal(f.tls, undefined);
});

test('everything given', () => {
  const f = parseAgentFlags({
    ...base,
    'hostname-override': 'Host-A',
    'data-dir': '/d',
    'node-netns': 'cairn-x-node-1',
    'internal-ip': '172.20.0.11',
    'underlay-dev': 'eth0',
    listen: '127.0.0.1:10251',
    'tls-cert-file': '/c',
    'tls-private-key-file': '/k2',
    'cgroup-root': '/cairn-x/node-1',
    'cluster-cidr': '10.200.0.0/16',
    'cluster-dns': ['10.96.0.10,10.96.0.11', '10.96.0.12'],
    'cluster-domain': 'example.internal',
    'max-pods': '20',
    'node-labels': 'cairn.io/pool=a, example.com/empty=',
    'pod-netns-prefix': 'cairn-x-pod-',
  });
  assert.equal(f.hostname, 'host-a');
  assert.equal(f.listenPort, 10251);
  assert.deepEqual(f.tls, { certFile: '/c', keyFile: '/k2' });
  assert.deepEqual(f.clusterDNS, ['10.96.0.10', '10.96.0.11', '10.96.0.12']);
  assert.deepEqual(f.labels, { 'cairn.io/pool': 'a', 'example.com/empty': '' });
  assert.equal(f.maxPods, 20);
});

test('each mistake is one line naming the flag', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ 'node-name': 'n' }, /^--kubeconfig is required/],
    [{ kubeconfig: '/k' }, /^--node-name is required/],
    [{ ...base, 'node-name': 'Node_1' }, /^--node-name "Node_1" is not a valid node name/],
    [{ ...base, 'internal-ip': '10.0.0' }, /^--internal-ip wants an IPv4 address/],
    [{ ...base, listen: 'nope' }, /^--listen wants ADDR:PORT/],
    [{ ...base, 'tls-cert-file': '/c' }, /^--tls-cert-file and --tls-private-key-file go together/],
    [{ ...base, 'cgroup-root': 'relative' }, /^--cgroup-root wants an absolute cgroup path/],
    [{ ...base, 'cgroup-root': '/a/../b' }, /^--cgroup-root/],
    [{ ...base, 'cluster-cidr': '10.0.0.0/25' }, /^--cluster-cidr wants an IPv4 CIDR of \/24 or larger/],
    [{ ...base, 'cluster-dns': ['x'] }, /^--cluster-dns wants an IPv4 address/],
    [{ ...base, 'max-pods': '0' }, /^--max-pods wants a whole number of at least 1/],
    [{ ...base, 'node-labels': 'novalue' }, /^--node-labels: "novalue" is not key=value/],
    [{ ...base, 'node-labels': 'bad key=v' }, /^--node-labels: "bad key" is not a valid label key/],
    [{ ...base, 'pod-netns-prefix': 'pods-' }, /^--pod-netns-prefix must start with "cairn"/],
  ];
  for (const [v, re] of bad) {
    assert.throws(
      () => parseAgentFlags(v as never),
      (e: unknown) => e instanceof CliError && re.test(e.message) && !e.message.includes('\n'),
      `${JSON.stringify(v)} → ${re}`,
    );
  }
});

test('node labels', () => {
  assert.deepEqual(parseNodeLabels(''), {});
  assert.deepEqual(parseNodeLabels('a=1,b=2'), { a: '1', b: '2' });
  assert.throws(() => parseNodeLabels(`a=${'x'.repeat(64)}`), /not a valid label value/);
});
