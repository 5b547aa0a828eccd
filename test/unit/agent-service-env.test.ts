import assert from 'node:assert/strict';
import { test } from 'node:test';
import { masterServiceEnv, namespaceServiceEnv, serviceVariables } from '../../src/agent/pods/service-env.js';

const svc = (namespace: string, name: string, clusterIP: string, ports: { name?: string; port: number; protocol?: string }[]) => ({
  metadata: { namespace, name },
  spec: { clusterIP, ports },
});

test('a Service gives the docker-links variables as the kubelet writes them', () => {
  assert.deepEqual(serviceVariables(svc('ns', 'redis-master', '10.96.0.11', [{ name: 'redis', port: 6379 }, { name: 'metrics', port: 9121, protocol: 'UDP' }])), {
    REDIS_MASTER_SERVICE_HOST: '10.96.0.11',
    REDIS_MASTER_SERVICE_PORT: '6379',
    REDIS_MASTER_SERVICE_PORT_REDIS: '6379',
    REDIS_MASTER_SERVICE_PORT_METRICS: '9121',
    REDIS_MASTER_PORT: 'tcp://10.96.0.11:6379',
    REDIS_MASTER_PORT_6379_TCP: 'tcp://10.96.0.11:6379',
    REDIS_MASTER_PORT_6379_TCP_PROTO: 'tcp',
    REDIS_MASTER_PORT_6379_TCP_PORT: '6379',
    REDIS_MASTER_PORT_6379_TCP_ADDR: '10.96.0.11',
    REDIS_MASTER_PORT_9121_UDP: 'udp://10.96.0.11:9121',
    REDIS_MASTER_PORT_9121_UDP_PROTO: 'udp',
    REDIS_MASTER_PORT_9121_UDP_PORT: '9121',
    REDIS_MASTER_PORT_9121_UDP_ADDR: '10.96.0.11',
  });
});

test('headless Services and Services of other namespaces give nothing; the master service always', () => {
  const all = [svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]), svc('ns', 'db', 'None', [{ port: 5432 }]), svc('other', 'web', '10.96.0.20', [{ port: 80 }])];
  assert.deepEqual(namespaceServiceEnv(all, 'ns'), {});
  assert.equal(masterServiceEnv(all).KUBERNETES_SERVICE_HOST, '10.96.0.1');
  assert.equal(masterServiceEnv(all).KUBERNETES_SERVICE_PORT_HTTPS, '443');
  assert.equal(namespaceServiceEnv(all, 'other').WEB_PORT, 'tcp://10.96.0.20:80');
});
