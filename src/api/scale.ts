/** The scale subresource: an autoscaling/v1 Scale view of any kind that declares replica paths. */
import type { KindDefinition } from '../kinds/types.js';
import { labelSelectorRequirements } from '../registry/selectors.js';
import { deepClone, isPlainObject, type KubeObject } from '../util/object.js';

function pathParts(p: string): string[] {
  return p.replace(/^\./, '').split('.').filter(Boolean);
}

export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of pathParts(path)) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown) {
  const parts = pathParts(path);
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(cur[part])) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = value;
}

/** A label selector as the string form Scale.status.selector carries. */
function selectorString(sel: unknown): string | undefined {
  if (typeof sel === 'string') return sel;
  if (!isPlainObject(sel)) return undefined;
  return labelSelectorRequirements(sel as Parameters<typeof labelSelectorRequirements>[0])
    .map((r) => {
      switch (r.op) {
        case 'in':
          return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
        case 'notin':
          return `${r.key} notin (${r.values.join(',')})`;
        case 'exists':
          return r.key;
        case '!':
          return `!${r.key}`;
        default:
          return '';
      }
    })
    .join(',');
}

export function scaleFromObject(kind: KindDefinition, obj: KubeObject) {
  const s = kind.scale!;
  // Built-in workloads keep their selector in spec.selector; upstream reports it in status.selector.
  const selector = selectorString(getPath(obj, s.labelSelectorPath ?? '') ?? getPath(obj, '.spec.selector'));
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: (getPath(obj, s.specReplicasPath) as number | undefined) ?? 0 },
    status: {
      replicas: (getPath(obj, s.statusReplicasPath) as number | undefined) ?? 0,
      ...(selector ? { selector } : {}),
    },
  };
}

export function setScaleReplicas(kind: KindDefinition, obj: KubeObject, replicas: number): KubeObject {
  const next = deepClone(obj);
  setPath(next as Record<string, unknown>, kind.scale!.specReplicasPath, replicas);
  return next;
}
