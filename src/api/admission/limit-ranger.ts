/**
 * LimitRanger admission, as upstream's plugin (plugin/pkg/admission/limitranger): when a pod is
 * created in a namespace with LimitRanges, containers without a request or limit get the
 * Container item's defaultRequest / default (recorded in the `kubernetes.io/limit-ranger`
 * annotation), and then every Container and Pod item's min, max and maxLimitRequestRatio are
 * enforced; PersistentVolumeClaims are held to the PersistentVolumeClaim item's storage min/max.
 * Refusals are 403 Forbidden with upstream's messages, several joined as `[a, b]`.
 */
import { canonicalQuantity, milli, podResourceTotals, usageToList } from '../../kinds/core/quota-usage.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import { ApiError } from '../errors.js';
import type { RegistryAccess } from './resource-quota.js';

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

type List = Record<string, unknown>;
interface LimitItem {
  type?: string;
  max?: List;
  min?: List;
  default?: List;
  defaultRequest?: List;
  maxLimitRequestRatio?: List;
}
interface Container {
  name?: string;
  resources?: { requests?: List; limits?: List };
}

const itemsOf = (lr: KubeObject): LimitItem[] => ((isPlainObject(lr.spec) ? (lr.spec as { limits?: LimitItem[] }).limits : undefined) ?? []);
const q = (v: unknown) => canonicalQuantity(v);

function minConstraint(limitType: string, res: string, enforced: unknown, request: List, limit: List): string | undefined {
  const e = milli(enforced);
  if (request[res] === undefined) return `minimum ${res} usage per ${limitType} is ${q(enforced)}.  No request is specified`;
  if (milli(request[res]) < e) return `minimum ${res} usage per ${limitType} is ${q(enforced)}, but request is ${q(request[res])}`;
  if (limit[res] !== undefined && milli(limit[res]) < e) return `minimum ${res} usage per ${limitType} is ${q(enforced)}, but limit is ${q(limit[res])}`;
  return undefined;
}

function maxConstraint(limitType: string, res: string, enforced: unknown, request: List, limit: List): string | undefined {
  const e = milli(enforced);
  if (limit[res] === undefined) return `maximum ${res} usage per ${limitType} is ${q(enforced)}.  No limit is specified`;
  if (milli(limit[res]) > e) return `maximum ${res} usage per ${limitType} is ${q(enforced)}, but limit is ${q(limit[res])}`;
  if (request[res] !== undefined && milli(request[res]) > e) return `maximum ${res} usage per ${limitType} is ${q(enforced)}, but request is ${q(request[res])}`;
  return undefined;
}

function maxRequestConstraint(limitType: string, res: string, enforced: unknown, request: List): string | undefined {
  if (request[res] === undefined) return `maximum ${res} usage per ${limitType} is ${q(enforced)}.  No request is specified`;
  if (milli(request[res]) > milli(enforced)) return `maximum ${res} usage per ${limitType} is ${q(enforced)}, but request is ${q(request[res])}`;
  return undefined;
}

function ratioConstraint(limitType: string, res: string, enforced: unknown, request: List, limit: List): string | undefined {
  const req = request[res] === undefined ? 0 : milli(request[res]);
  const lim = limit[res] === undefined ? 0 : milli(limit[res]);
  if (!req) return `${res} max limit to request ratio per ${limitType} is ${q(enforced)}, but no request is specified or request is 0`;
  if (!lim) return `${res} max limit to request ratio per ${limitType} is ${q(enforced)}, but no limit is specified or limit is 0`;
  const ratio = lim / req;
  if (ratio * 1000 > milli(enforced)) return `${res} max limit to request ratio per ${limitType} is ${q(enforced)}, but provided ratio is ${ratio.toFixed(6)}`;
  return undefined;
}

function checkItem(item: LimitItem, limitType: string, request: List, limit: List, errs: string[]) {
  for (const [k, v] of Object.entries(item.min ?? {})) {
    const e = minConstraint(limitType, k, v, request, limit);
    if (e) errs.push(e);
  }
  for (const [k, v] of Object.entries(item.max ?? {})) {
    const e = maxConstraint(limitType, k, v, request, limit);
    if (e) errs.push(e);
  }
  for (const [k, v] of Object.entries(item.maxLimitRequestRatio ?? {})) {
    const e = ratioConstraint(limitType, k, v, request, limit);
    if (e) errs.push(e);
  }
}

/** mergeContainerResources: fills what each container leaves out; returns the annotation parts. */
function applyDefaults(pod: KubeObject, item: LimitItem): string[] {
  const notes: string[] = [];
  const spec = (pod.spec ?? {}) as { containers?: Container[]; initContainers?: Container[] };
  const fill = (containers: Container[] | undefined, what: string) => {
    for (const c of containers ?? []) {
      const res = (c.resources ??= {});
      const limits = (res.limits ??= {});
      const requests = (res.requests ??= {});
      const setLimits: string[] = [];
      const setRequests: string[] = [];
      for (const [k, v] of Object.entries(item.default ?? {}))
        if (limits[k] === undefined) {
          limits[k] = v;
          setLimits.push(k);
        }
      for (const [k, v] of Object.entries(item.defaultRequest ?? {}))
        if (requests[k] === undefined) {
          requests[k] = v;
          setRequests.push(k);
        }
      if (Object.keys(limits).length === 0) delete res.limits;
      if (Object.keys(requests).length === 0) delete res.requests;
      if (setRequests.length) notes.push(`${setRequests.sort().join(', ')} request for ${what} ${c.name}`);
      if (setLimits.length) notes.push(`${setLimits.sort().join(', ')} limit for ${what} ${c.name}`);
    }
  };
  fill(spec.containers, 'container');
  fill(spec.initContainers, 'init container');
  return notes;
}


/** utilerrors.NewAggregate(...).Error(): one message alone, several as `[a, b]` (duplicates dropped). */
const aggregate = (errs: string[]) => {
  const uniq = [...new Set(errs)];
  return uniq.length === 1 ? uniq[0] : `[${uniq.join(', ')}]`;
};

export function limitRanger(access: RegistryAccess): AdmissionPlugin {
  return {
    name: 'LimitRanger',
    async admit(a: AdmissionAttributes) {
      if (a.operation !== 'CREATE' || a.subresource || !a.namespace || !a.object || a.kind.group !== '' || a.kind.custom) return;
      const isPod = a.kind.plural === 'pods';
      if (!isPod && a.kind.plural !== 'persistentvolumeclaims') return;
      const kind = access.catalog().byPlural('', 'v1', 'limitranges');
      if (!kind) return;
      const ranges = (await access.registry().list(kind, a.namespace)).items.sort((x, y) => (x.metadata.name! < y.metadata.name! ? -1 : 1));
      if (ranges.length === 0) return;
      const obj = a.object;
      const errs: string[] = [];
      if (isPod) {
        const notes: string[] = [];
        for (const lr of ranges) for (const item of itemsOf(lr)) if (item.type === 'Container') notes.push(...applyDefaults(obj, item));
        if (notes.length) obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join('; ')}` };
        const spec = (obj.spec ?? {}) as { containers?: Container[]; initContainers?: Container[] };
        for (const lr of ranges)
          for (const item of itemsOf(lr)) {
            if (item.type === 'Container')
              for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) checkItem(item, 'Container', c.resources?.requests ?? {}, c.resources?.limits ?? {}, errs);
            else if (item.type === 'Pod') checkItem(item, 'Pod', usageToList(podResourceTotals(obj, 'requests')), usageToList(podResourceTotals(obj, 'limits')), errs);
          }
      } else {
        const requests = (((obj.spec ?? {}) as { resources?: { requests?: List } }).resources?.requests ?? {}) as List;
        for (const lr of ranges)
          for (const item of itemsOf(lr)) {
            if (item.type !== 'PersistentVolumeClaim') continue;
            for (const [k, v] of Object.entries(item.min ?? {})) {
              const e = minConstraint('PersistentVolumeClaim', k, v, requests, {});
              if (e) errs.push(e);
            }
            for (const [k, v] of Object.entries(item.max ?? {})) {
              const e = maxRequestConstraint('PersistentVolumeClaim', k, v, requests);
              if (e) errs.push(e);
            }
          }
      }
      if (errs.length) throw ApiError.forbidden({ group: '', resource: a.kind.plural }, a.name, aggregate(errs));
    },
  };
}
