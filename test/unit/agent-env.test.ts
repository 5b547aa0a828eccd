/**
 * The node agent's container environment (src/agent/pods/env.ts) and `$(VAR)` expansion
 * (expansion.ts), against upstream's makeEnvironmentVariables and
 * third_party/forked/golang/expansion cases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigMapObject, Container, Pod, PodObjectSource, SecretObject } from '../../src/agent/pods/api-types.js';
import { INVALID_ENV_VAR_NAMES_REASON, invalidEnvFromKeys, resolveEnv } from '../../src/agent/pods/env.js';
import { ContainerConfigError } from '../../src/agent/pods/errors.js';
import { expand, lookupIn } from '../../src/agent/pods/expansion.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function source(cms: ConfigMapObject[] = [], secrets: SecretObject[] = [], allocatable: Record<string, string> = { cpu: '2', memory: '4Gi', 'ephemeral-storage': '10Gi' }): PodObjectSource {
  return {
    configMap: (ns, name) => cms.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
    secret: (ns, name) => secrets.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
    nodeAllocatable: () => allocatable,
  };
}

function pod(container: Partial<Container>, extra: Partial<Pod['spec']> = {}): Pod {
  return {
    metadata: { name: 'web', namespace: 'ns1', uid: 'uid-1', labels: { app: 'web', tier: 'front' }, annotations: { note: 'hi "there"' } },
    spec: { nodeName: 'node-a', serviceAccountName: 'sa1', containers: [{ name: 'c', image: 'busybox', ...container }], ...extra },
  };
}

const envOf = (p: Pod, src = source(), opts: Partial<Parameters<typeof resolveEnv>[3]> = {}) =>
  resolveEnv(p, p.spec.containers[0], src, { nodeName: 'node-a', podIP: '10.244.1.5', hostIP: '192.168.1.10', ...opts });

describe('expand ($(VAR) as upstream expansion)', () => {
  const vars = lookupIn({ VAR_A: 'A', VAR_B: 'B', VAR_C: 'C', VAR_REF: '$(VAR_A)', VAR_EMPTY: '' });
  const cases: [string, string][] = [
    ['$(VAR_A)', 'A'],
    ['___$(VAR_B)___', '___B___'],
    ['$(VAR_A)-$(VAR_A)', 'A-A'],
    ['f000-$$VAR_A', 'f000-$VAR_A'],
    ['foo\\$(VAR_C)bar', 'foo\\Cbar'],
    ['foo\\\\$(VAR_C)bar', 'foo\\\\Cbar'],
    ['$$(VAR_B)$(VAR_A)', '$(VAR_B)A'],
    ['$(VAR_EMPTY)', ''],
    ['$(VAR_REF)', '$(VAR_A)'],
    ['$(UNKNOWN)', '$(UNKNOWN)'],
    ['$()', '$()'],
    ['$(VAR_A', '$(VAR_A'],
    ['$(VAR_A$(VAR_B)', '$(VAR_A$(VAR_B)'],
    ['$$$$$$(BIG_MONEY)', '$$$(BIG_MONEY)'],
    ['$$$$$$$(VAR_A)', '$$$A'],
    ['$VAR_A', '$VAR_A'],
    ['$', '$'],
    ['foo$', 'foo$'],
    ['$$', '$'],
    ['$(VAR_A)$', 'A$'],
    ['$é', '$é'],
  ];
  for (const [input, want] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(expand(input, vars), want));
});

describe('resolveEnv', () => {
  it('orders service env, envFrom, then env; env overrides envFrom and service vars', () => {
    const cm: ConfigMapObject = { metadata: { name: 'cfg', namespace: 'ns1' }, data: { A: 'from-cm', B: 'b' } };
    const p = pod({ envFrom: [{ configMapRef: { name: 'cfg' } }], env: [{ name: 'A', value: 'from-env' }, { name: 'SVC_HOST', value: 'mine' }] });
    const env = envOf(p, source([cm]), { serviceEnv: { SVC_HOST: '10.96.0.5', OTHER_SERVICE_HOST: '10.96.0.6' } });
    assert.deepEqual(env, ['OTHER_SERVICE_HOST=10.96.0.6', 'B=b', 'A=from-env', 'SVC_HOST=mine']);
  });

  it('drops service links with enableServiceLinks: false but keeps the master service', () => {
    const p = pod({}, { enableServiceLinks: false });
    const env = envOf(p, source(), { serviceEnv: { OTHER_SERVICE_HOST: '10.96.0.6' }, masterServiceEnv: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    assert.deepEqual(env, ['KUBERNETES_SERVICE_HOST=10.96.0.1']);
  });

  it('expands $(VAR) against earlier env, envFrom and service vars, leaving unknown and later ones', () => {
    const cm: ConfigMapObject = { metadata: { name: 'cfg', namespace: 'ns1' }, data: { HOST: 'db' } };
    const p = pod({
      envFrom: [{ configMapRef: { name: 'cfg' } }],
      env: [
        { name: 'URL', value: 'http://$(HOST):$(PORT)/$(SVC_SERVICE_HOST)' },
        { name: 'PORT', value: '5432' },
        { name: 'URL2', value: '$(HOST):$(PORT) $$(HOST) $(NOPE)' },
      ],
    });
    const env = envOf(p, source([cm]), { serviceEnv: { SVC_SERVICE_HOST: '10.0.0.9' } });
    assert.ok(env.includes('URL=http://db:$(PORT)/10.0.0.9'));
    assert.ok(env.includes('URL2=db:5432 $(HOST) $(NOPE)'));
  });

  it('applies envFrom prefixes, later sources winning, and decodes secrets', () => {
    const cm: ConfigMapObject = { metadata: { name: 'cfg', namespace: 'ns1' }, data: { K: 'cm' } };
    const sec: SecretObject = { metadata: { name: 'sec', namespace: 'ns1' }, data: { K: b64('secret'), PASS: b64('p@ss\nword') } };
    const p = pod({ envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CM_' }, { configMapRef: { name: 'cfg' } }, { secretRef: { name: 'sec' } }] });
    assert.deepEqual(envOf(p, source([cm], [sec])), ['CM_K=cm', 'K=secret', 'PASS=p@ss\nword']);
  });

  it('resolves valueFrom configMapKeyRef and secretKeyRef, skipping optional misses', () => {
    const cm: ConfigMapObject = { metadata: { name: 'cfg', namespace: 'ns1' }, data: { level: 'debug' } };
    const sec: SecretObject = { metadata: { name: 'sec', namespace: 'ns1' }, data: { token: b64('t0k') } };
    const p = pod({
      env: [
        { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } },
        { name: 'GONE', valueFrom: { configMapKeyRef: { name: 'missing', key: 'x', optional: true } } },
        { name: 'NOKEY', valueFrom: { secretKeyRef: { name: 'sec', key: 'nope', optional: true } } },
        { name: 'EMPTY', value: '' },
      ],
    });
    assert.deepEqual(envOf(p, source([cm], [sec])), ['LEVEL=debug', 'TOKEN=t0k', 'EMPTY=']);
  });

  it('fails with the kubelet messages for missing objects and keys', () => {
    const cm: ConfigMapObject = { metadata: { name: 'cfg', namespace: 'ns1' }, data: {} };
    const sec: SecretObject = { metadata: { name: 'sec', namespace: 'ns1' }, data: {} };
    const cases: [Partial<Container>, string][] = [
      [{ envFrom: [{ configMapRef: { name: 'nope' } }] }, 'configmap "nope" not found'],
      [{ envFrom: [{ secretRef: { name: 'nope' } }] }, 'secret "nope" not found'],
      [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }] }, 'configmap "nope" not found'],
      [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }] }, "couldn't find key k in ConfigMap ns1/cfg"],
      [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }] }, 'secret "nope" not found'],
      [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }] }, "couldn't find key k in Secret ns1/sec"],
    ];
    for (const [c, message] of cases) {
      assert.throws(
        () => envOf(pod(c), source([cm], [sec])),
        (e: unknown) => e instanceof ContainerConfigError && e.reason === 'CreateContainerConfigError' && e.message === message,
        message,
      );
    }
    // An optional envFrom source that is missing is skipped.
    assert.deepEqual(envOf(pod({ envFrom: [{ secretRef: { name: 'nope', optional: true } }] })), []);
  });

  it('resolves downward API field references', () => {
    const p = pod({
      env: [
        { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'NOTE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['note']" } } },
        { name: 'MISSING', valueFrom: { fieldRef: { fieldPath: "metadata.labels['nope']" } } },
        { name: 'LABELS', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'HOST_IPS', valueFrom: { fieldRef: { fieldPath: 'status.hostIPs' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'POD_IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
      ],
    });
    const env = envOf(p, source(), { podIPs: ['10.244.1.5', 'fd00::5'] });
    assert.deepEqual(env, [
      'NAME=web',
      'NS=ns1',
      'UID=uid-1',
      'APP=web',
      'NOTE=hi "there"',
      'MISSING=',
      'LABELS=app="web"\ntier="front"',
      'NODE=node-a',
      'SA=sa1',
      'HOST_IP=192.168.1.10',
      'HOST_IPS=192.168.1.10',
      'POD_IP=10.244.1.5',
      'POD_IPS=10.244.1.5,fd00::5',
    ]);
  });

  it('resolves resourceFieldRef with divisors, rounding up, and node allocatable for missing limits', () => {
    const p = pod({
      resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m', memory: '32Mi', 'ephemeral-storage': '1Gi' } },
      env: [
        { name: 'CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'CPU_LIMIT_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
        { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
        { name: 'CPU_REQ_M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
        { name: 'CPU_REQ_100M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '100m' } } },
        { name: 'MEM_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
        { name: 'MEM_LIMIT_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'MEM_REQ_G', valueFrom: { resourceFieldRef: { resource: 'requests.memory', divisor: '1G' } } },
        { name: 'EPH_LIMIT_GI', valueFrom: { resourceFieldRef: { resource: 'limits.ephemeral-storage', divisor: '1Gi' } } },
        { name: 'EPH_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.ephemeral-storage' } } },
        { name: 'OTHER', valueFrom: { resourceFieldRef: { containerName: 'side', resource: 'limits.cpu', divisor: '1m' } } },
      ],
    });
    p.spec.containers.push({ name: 'side', resources: { limits: { cpu: '1.1' } } });
    assert.deepEqual(envOf(p), [
      'CPU_LIMIT=2',
      'CPU_LIMIT_M=2000',
      'CPU_REQ=1',
      'CPU_REQ_M=250',
      'CPU_REQ_100M=3',
      `MEM_LIMIT=${64 * 1024 * 1024}`,
      'MEM_LIMIT_MI=64',
      'MEM_REQ_G=1',
      'EPH_LIMIT_GI=10',
      `EPH_REQ=${1024 ** 3}`,
      'OTHER=1100',
    ]);
    assert.throws(
      () => envOf(pod({ env: [{ name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.gpu' } } }] })),
      (e: unknown) => e instanceof ContainerConfigError && e.message === 'unsupported container resource : limits.gpu',
    );
  });
});

describe('invalidEnvFromKeys', () => {
  it('reports and resolveEnv skips keys that are not valid variable names', () => {
    const cm: ConfigMapObject = { metadata: { name: 'cfg', namespace: 'ns1' }, data: { good: '1', 'bad=key': '2', 'tab\tkey': '3' } };
    const sec: SecretObject = { metadata: { name: 'sec', namespace: 'ns1' }, data: { 'x=y': b64('z') } };
    const p = pod({ envFrom: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 'sec' }, prefix: 'S_' }, { configMapRef: { name: 'missing' } }] });
    const src = source([cm], [sec]);
    assert.deepEqual(invalidEnvFromKeys(p, p.spec.containers[0], src), [
      {
        source: 'configMap',
        name: 'cfg',
        keys: ['bad=key', 'tab\tkey'],
        message: 'Keys [bad=key, tab\tkey] from the EnvFrom configMap ns1/cfg were skipped since they are considered invalid environment variable names.',
      },
      { source: 'secret', name: 'sec', keys: ['S_x=y'], message: 'Keys [S_x=y] from the EnvFrom secret ns1/sec were skipped since they are considered invalid environment variable names.' },
    ]);
    assert.equal(INVALID_ENV_VAR_NAMES_REASON, 'InvalidEnvironmentVariableNames');
    p.spec.containers[0].envFrom!.pop();
    assert.deepEqual(envOf(p, src), ['good=1']);
  });
});
