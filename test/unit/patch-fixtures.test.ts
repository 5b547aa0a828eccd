/**
 * Hand-made OpenAPI v3 component schemas for the patch tests: a small subset of the built-in
 * Pod, Deployment and Service schemas with the same merge extensions upstream publishes
 * (containers merged by name, ports by containerPort+protocol, env by name, volumes by name
 * with retainKeys, finalizers as a set, label selectors atomic). Refs use the allOf:[{$ref}]
 * wrapping with sibling extensions where upstream does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchema, SchemaResolver } from '../../src/schema/types.js';

const ref = (name: string, extra: JSONSchema = {}): JSONSchema => ({ allOf: [{ $ref: `#/components/schemas/${name}` }], ...extra });
const str: JSONSchema = { type: 'string' };
const int: JSONSchema = { type: 'integer', format: 'int32' };
const strMap: JSONSchema = { type: 'object', additionalProperties: { type: 'string', default: '' } };

const P = 'io.k8s.api.core.v1.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

export const components: Record<string, JSONSchema> = {
  [`${META}ObjectMeta`]: {
    type: 'object',
    properties: {
      name: str,
      namespace: str,
      uid: str,
      resourceVersion: str,
      generation: { type: 'integer', format: 'int64' },
      creationTimestamp: str,
      labels: strMap,
      annotations: strMap,
      finalizers: {
        type: 'array',
        items: { type: 'string', default: '' },
        'x-kubernetes-list-type': 'set',
        'x-kubernetes-patch-strategy': 'merge',
      },
      ownerReferences: {
        type: 'array',
        items: ref(`${META}OwnerReference`, { default: {} }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['uid'],
        'x-kubernetes-patch-merge-key': 'uid',
        'x-kubernetes-patch-strategy': 'merge',
      },
      managedFields: { type: 'array', items: { type: 'object' }, 'x-kubernetes-list-type': 'atomic' },
    },
  },
  [`${META}OwnerReference`]: {
    type: 'object',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    properties: { apiVersion: str, kind: str, name: str, uid: str, controller: { type: 'boolean' } },
    'x-kubernetes-map-type': 'atomic',
  },
  [`${META}LabelSelector`]: {
    type: 'object',
    properties: { matchLabels: strMap, matchExpressions: { type: 'array', items: { type: 'object' }, 'x-kubernetes-list-type': 'atomic' } },
    'x-kubernetes-map-type': 'atomic',
  },
  [`${P}ContainerPort`]: {
    type: 'object',
    required: ['containerPort'],
    properties: { name: str, containerPort: int, protocol: { type: 'string', default: 'TCP' } },
  },
  [`${P}EnvVar`]: {
    type: 'object',
    required: ['name'],
    properties: { name: str, value: str, valueFrom: { type: 'object', properties: { fieldRef: { type: 'object', properties: { fieldPath: str } } } } },
  },
  [`${P}ResourceRequirements`]: {
    type: 'object',
    properties: { limits: strMap, requests: strMap },
  },
  [`${P}Container`]: {
    type: 'object',
    required: ['name'],
    properties: {
      name: str,
      image: str,
      imagePullPolicy: str,
      command: { type: 'array', items: str, 'x-kubernetes-list-type': 'atomic' },
      args: { type: 'array', items: str, 'x-kubernetes-list-type': 'atomic' },
      ports: {
        type: 'array',
        items: ref(`${P}ContainerPort`, { default: {} }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
        'x-kubernetes-patch-merge-key': 'containerPort',
        'x-kubernetes-patch-strategy': 'merge',
      },
      env: {
        type: 'array',
        items: ref(`${P}EnvVar`, { default: {} }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-patch-strategy': 'merge',
      },
      resources: ref(`${P}ResourceRequirements`, { default: {} }),
      volumeMounts: {
        type: 'array',
        items: { type: 'object', properties: { name: str, mountPath: str, readOnly: { type: 'boolean' } } },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['mountPath'],
        'x-kubernetes-patch-merge-key': 'mountPath',
        'x-kubernetes-patch-strategy': 'merge',
      },
    },
  },
  [`${P}Volume`]: {
    type: 'object',
    required: ['name'],
    properties: {
      name: str,
      configMap: { type: 'object', properties: { name: str } },
      emptyDir: { type: 'object', properties: { medium: str, sizeLimit: str } },
      hostPath: { type: 'object', properties: { path: str, type: str } },
    },
  },
  [`${P}Toleration`]: { type: 'object', properties: { key: str, operator: str, value: str, effect: str } },
  [`${P}PodSpec`]: {
    type: 'object',
    required: ['containers'],
    properties: {
      containers: {
        type: 'array',
        items: ref(`${P}Container`, { default: {} }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-patch-strategy': 'merge',
      },
      initContainers: {
        type: 'array',
        items: ref(`${P}Container`, { default: {} }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-patch-strategy': 'merge',
      },
      volumes: {
        type: 'array',
        items: ref(`${P}Volume`, { default: {} }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-patch-strategy': 'merge,retainKeys',
      },
      tolerations: { type: 'array', items: ref(`${P}Toleration`, { default: {} }), 'x-kubernetes-list-type': 'atomic' },
      nodeSelector: { ...strMap, 'x-kubernetes-map-type': 'atomic' },
      restartPolicy: str,
      dnsPolicy: str,
      securityContext: { type: 'object', properties: { runAsUser: { type: 'integer', format: 'int64' } } },
    },
  },
  [`${P}PodTemplateSpec`]: {
    type: 'object',
    properties: { metadata: ref(`${META}ObjectMeta`, { default: {} }), spec: ref(`${P}PodSpec`, { default: {} }) },
  },
  [`${P}PodStatus`]: {
    type: 'object',
    properties: {
      phase: str,
      podIP: str,
      conditions: {
        type: 'array',
        items: { type: 'object', properties: { type: str, status: str } },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        'x-kubernetes-patch-merge-key': 'type',
        'x-kubernetes-patch-strategy': 'merge',
      },
    },
  },
  [`${P}Pod`]: {
    type: 'object',
    properties: {
      apiVersion: str,
      kind: str,
      metadata: ref(`${META}ObjectMeta`, { default: {} }),
      spec: ref(`${P}PodSpec`, { default: {} }),
      status: ref(`${P}PodStatus`, { default: {} }),
    },
    'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Pod' }],
  },
  ['io.k8s.api.apps.v1.DeploymentStrategy']: {
    type: 'object',
    properties: {
      type: str,
      rollingUpdate: { type: 'object', properties: { maxSurge: { 'x-kubernetes-int-or-string': true }, maxUnavailable: { 'x-kubernetes-int-or-string': true } } },
    },
  },
  ['io.k8s.api.apps.v1.DeploymentSpec']: {
    type: 'object',
    required: ['selector', 'template'],
    properties: {
      replicas: int,
      paused: { type: 'boolean' },
      minReadySeconds: int,
      selector: ref(`${META}LabelSelector`),
      template: ref(`${P}PodTemplateSpec`, { default: {} }),
      strategy: ref('io.k8s.api.apps.v1.DeploymentStrategy', { default: {}, 'x-kubernetes-patch-strategy': 'retainKeys' }),
    },
  },
  ['io.k8s.api.apps.v1.Deployment']: {
    type: 'object',
    properties: {
      apiVersion: str,
      kind: str,
      metadata: ref(`${META}ObjectMeta`, { default: {} }),
      spec: ref('io.k8s.api.apps.v1.DeploymentSpec', { default: {} }),
      status: { type: 'object', properties: { replicas: int, readyReplicas: int, observedGeneration: { type: 'integer' } } },
    },
    'x-kubernetes-group-version-kind': [{ group: 'apps', version: 'v1', kind: 'Deployment' }],
  },
  [`${P}ServicePort`]: {
    type: 'object',
    required: ['port'],
    properties: { name: str, port: int, protocol: { type: 'string', default: 'TCP' }, targetPort: { 'x-kubernetes-int-or-string': true }, nodePort: int },
  },
  [`${P}Service`]: {
    type: 'object',
    properties: {
      apiVersion: str,
      kind: str,
      metadata: ref(`${META}ObjectMeta`, { default: {} }),
      spec: {
        type: 'object',
        properties: {
          type: str,
          clusterIP: str,
          selector: { ...strMap, 'x-kubernetes-map-type': 'atomic' },
          ports: {
            type: 'array',
            items: ref(`${P}ServicePort`, { default: {} }),
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['port', 'protocol'],
            'x-kubernetes-patch-merge-key': 'port',
            'x-kubernetes-patch-strategy': 'merge',
          },
        },
      },
    },
  },
};

export const resolver: SchemaResolver = {
  resolve: (r) => components[r.replace('#/components/schemas/', '')],
};

export const schemaRef = (name: string): JSONSchema => ({ $ref: `#/components/schemas/${name}` });
export const podSchema = schemaRef(`${P}Pod`);
export const deploymentSchema = schemaRef('io.k8s.api.apps.v1.Deployment');
export const serviceSchema = schemaRef(`${P}Service`);

/** A realistic Deployment as kubectl would send it. */
export function nginxDeployment(): Record<string, any> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1.25',
              ports: [{ containerPort: 80 }],
              env: [
                { name: 'MODE', value: 'prod' },
                { name: 'LOG', value: 'info' },
              ],
            },
          ],
        },
      },
    },
  };
}

test('fixture: every $ref in the fixture resolves', () => {
  const refs = JSON.stringify(components).match(/#\/components\/schemas\/[\w.]+/g) ?? [];
  for (const r of refs) assert.ok(resolver.resolve(r), `unresolved ${r}`);
});
