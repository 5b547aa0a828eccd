// Which node announces a LoadBalancer IP: the first Ready node by name, for
// externalTrafficPolicy Local the first with a ready endpoint; only IPs of the node's subnet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ip } from '../../src/net/ip.js';
import { announcingNode, eligibleNodes, EXCLUDE_LABEL, LoadBalancerAnnouncer } from '../../src/proxy/lb-announcer.js';
import type { KubeObject } from '../../src/util/object.js';
import { slice, svc } from './proxy-fixtures.js';

const node = (name: string, ready: boolean, labels: Record<string, string> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }) as KubeObject;
const lb = (name: string, ip: string, etp = 'Cluster') => svc(name, { type: 'LoadBalancer', externalTrafficPolicy: etp, clusterIP: '10.96.0.5', ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] }, { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } });

test('eligible nodes: Ready, not excluded from load balancers, by name', () => {
  assert.deepEqual(eligibleNodes([node('node-3', true), node('node-1', false), node('node-2', true), node('node-0', true, { [EXCLUDE_LABEL]: '' })]), ['node-2', 'node-3']);
});

test('Cluster: the first eligible node; Local: the first with a ready endpoint, or none', () => {
  const eligible = ['node-1', 'node-2', 'node-3'];
  assert.equal(announcingNode(lb('a', '172.20.0.230'), eligible, new Set(['node-3'])), 'node-1');
  assert.equal(announcingNode(lb('a', '172.20.0.230', 'Local'), eligible, new Set(['node-3', 'node-2'])), 'node-2');
  assert.equal(announcingNode(lb('a', '172.20.0.230', 'Local'), eligible, new Set()), undefined);
  assert.equal(announcingNode(lb('a', '172.20.0.230'), [], new Set()), undefined);
});

test('what a node holds: its announced IPs inside its subnet only', () => {
  const services = [lb('web', '172.20.0.230'), lb('local', '172.20.0.231', 'Local'), lb('elsewhere', '192.168.9.9'), lb('mine-too', '172.20.0.232', 'Local')];
  const slices: Record<string, KubeObject[]> = {
    'default/local': [slice('local', [{ ip: '10.244.2.7', node: 'node-2' }], [{ port: 8080 }])],
    'default/mine-too': [slice('mine-too', [{ ip: '10.244.1.7', node: 'node-1' }, { ip: '10.244.1.8', node: 'node-1', ready: false }], [{ port: 8080 }])],
  };
  const make = (nodeName: string) =>
    new LoadBalancerAnnouncer({
      node: Ip.ns('cairn-test-unused'),
      nodeName,
      underlayDev: 'eth0',
      internalIP: nodeName === 'node-1' ? '172.20.0.11' : '172.20.0.12',
      services: () => services,
      slices: (k) => slices[k] ?? [],
      nodes: () => [node('node-1', true), node('node-2', true)],
      logger: () => undefined,
    });
  assert.deepEqual([...make('node-1').wanted('172.20.0.11/24')].sort(), ['172.20.0.230', '172.20.0.232']);
  assert.deepEqual([...make('node-2').wanted('172.20.0.12/24')], ['172.20.0.231']);
});
