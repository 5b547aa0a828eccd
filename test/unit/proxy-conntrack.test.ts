// The conntrack wrapper's parsing and arguments, and which UDP entries the proxy deletes after a
// change: entries toward a UDP Service's IPs or node ports not answered by a serving endpoint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConntrackEntry, filterArgs, parseConntrackLine } from '../../src/net/conntrack.js';
import { InvalidArgumentError } from '../../src/net/ip.js';
import { serviceEndpoints } from '../../src/proxy/endpoints.js';
import { servicePorts } from '../../src/proxy/service-ports.js';
import { staleUdpFilters, udpServicePorts } from '../../src/proxy/udp-conntrack.js';
import { slice, svc } from './proxy-fixtures.js';

test('parses udp, tcp and icmp entries: both tuples, state, flags, mark', () => {
  const udp = parseConntrackLine('udp      17 29 src=10.244.1.5 dst=10.96.0.10 sport=40000 dport=53 [UNREPLIED] src=10.244.2.3 dst=10.244.1.5 sport=5353 dport=40000 mark=0 use=1');
  assert.deepEqual(udp, {
    protocol: 'udp',
    protocolNumber: 17,
    timeout: 29,
    original: { src: '10.244.1.5', dst: '10.96.0.10', sport: 40000, dport: 53 },
    reply: { src: '10.244.2.3', dst: '10.244.1.5', sport: 5353, dport: 40000 },
    flags: ['UNREPLIED'],
    mark: 0,
  });
  const tcp = parseConntrackLine('tcp      6 431999 ESTABLISHED src=172.20.0.1 dst=172.20.0.11 sport=51000 dport=30080 src=10.244.2.7 dst=10.244.1.0 sport=8080 dport=51000 [ASSURED] mark=0 zone=3 use=2');
  assert.equal(tcp?.state, 'ESTABLISHED');
  assert.deepEqual(tcp?.flags, ['ASSURED']);
  assert.equal(tcp?.zone, 3);
  assert.equal(tcp?.reply.src, '10.244.2.7');
  const icmp = parseConntrackLine('icmp     1 29 src=10.244.1.5 dst=10.96.0.1 type=8 code=0 id=7 src=10.96.0.1 dst=10.244.1.5 type=0 code=0 id=7 mark=0 use=1');
  assert.deepEqual(icmp?.original, { src: '10.244.1.5', dst: '10.96.0.1', type: 8, code: 0, id: 7 });
  assert.equal(parseConntrackLine('conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.'), undefined);
  assert.equal(parseConntrackLine(''), undefined);
});

test('filters become checked conntrack options', () => {
  assert.deepEqual(filterArgs({ protocol: 'udp', origDst: '10.96.0.10', replySrc: '10.244.2.3' }), ['-f', 'ipv4', '-p', 'udp', '--orig-dst', '10.96.0.10', '--reply-src', '10.244.2.3']);
  assert.deepEqual(filterArgs({ protocol: 'udp', origDst: '172.20.0.11', origDstPort: 30053 }), ['-f', 'ipv4', '-p', 'udp', '--orig-dst', '172.20.0.11', '--orig-port-dst', '30053']);
  assert.throws(() => filterArgs({ origDstPort: 53 }), InvalidArgumentError);
  assert.throws(() => filterArgs({ protocol: 'udp', origDst: '10.96.0.10; rm -rf /' }), InvalidArgumentError);
  assert.throws(() => filterArgs({ protocol: 'udp', origDstPort: 70000 }), InvalidArgumentError);
});

const entry = (dst: string, dport: number, replySrc: string, protocol = 'udp'): ConntrackEntry => ({
  protocol,
  protocolNumber: protocol === 'udp' ? 17 : 6,
  timeout: 30,
  original: { src: '10.244.1.5', dst, sport: 40000, dport },
  reply: { src: replySrc, dst: '10.244.1.5', sport: 5353, dport: 40000 },
  flags: [],
});

test('stale UDP entries: a removed endpoint, a flow never DNATed, and node ports; TCP and live flows stay', () => {
  const dns = svc('dns', { type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }, { name: 'tcp', port: 53, protocol: 'TCP', nodePort: 30054 }] });
  const eps = serviceEndpoints([slice('dns', [{ ip: '10.244.2.3' }], [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'tcp', port: 5353, protocol: 'TCP' }])], 'node-1');
  const ports = udpServicePorts(servicePorts(dns), eps);
  assert.deepEqual(ports, [{ serviceIPs: ['10.96.0.10'], nodePort: 30053, servingIPs: ['10.244.2.3'] }]);
  const filters = staleUdpFilters(
    [
      entry('10.96.0.10', 53, '10.244.2.3'), // live
      entry('10.96.0.10', 53, '10.244.9.9'), // the endpoint that went away
      entry('10.96.0.10', 53, '10.96.0.10'), // sent while the Service had no endpoint
      entry('10.96.0.10', 53, '10.244.9.9', 'tcp'), // TCP breaks by itself
      entry('172.20.0.11', 30053, '10.244.9.9'), // node port, old endpoint
      entry('172.20.0.99', 30053, '10.244.9.9'), // another host's port 30053: not ours
    ],
    ports,
    ['172.20.0.11'],
  );
  assert.deepEqual(filters, [
    { protocol: 'udp', origDst: '10.96.0.10', replySrc: '10.244.9.9' },
    { protocol: 'udp', origDst: '10.96.0.10', replySrc: '10.96.0.10' },
    { protocol: 'udp', origDst: '172.20.0.11', origDstPort: 30053, replySrc: '10.244.9.9' },
  ]);
});
