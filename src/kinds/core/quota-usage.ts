/**
 * How much of a quota an object uses (upstream pkg/quota/v1/evaluator/core): the usage
 * functions the ResourceQuota admission plugin and the resourcequota controller share, quota
 * scopes, and quantity arithmetic in milli-units with canonical formatting (Quantity.String()).
 */
import { isValidQuantity, parseQuantity } from '../../registry/validation.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';

/** Usage in milli-units per resource name. */
export type Usage = Map<string, number>;

// ---- quantities ----

const BINARY = /[KMGTPE]i$/;

/** Milli-units of a quantity (NaN when it does not parse). */
export const milli = (q: unknown): number => (isValidQuantity(q) ? Math.round(parseQuantity(q) * 1000) : NaN);

/**
 * Formats milli-units as Kubernetes prints a Quantity: binary suffixes when `binary` and the
 * value is a whole multiple of 1024, otherwise decimal SI (`500m`, `2`, `1k`, `3M`).
 */
export function formatMilli(m: number, binary = false): string {
  if (m === 0) return '0';
  const sign = m < 0 ? '-' : '';
  const v = Math.abs(m);
  if (v % 1000 !== 0) return `${sign}${v}m`;
  const n = v / 1000;
  if (binary) {
    const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
    let i = 0;
    let x = n;
    while (i < suffixes.length - 1 && x % 1024 === 0 && x >= 1024) {
      x /= 1024;
      i++;
    }
    if (i > 0) return `${sign}${x}${suffixes[i]}`;
  }
  const suffixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  let x = n;
  while (i < suffixes.length - 1 && x % 1000 === 0 && x >= 1000) {
    x /= 1000;
    i++;
  }
  return `${sign}${x}${suffixes[i]}`;
}

/** A quantity as Kubernetes prints it back (`1000m` → `1`, `1024Mi` → `1Gi`). */
export const canonicalQuantity = (q: unknown): string => (typeof q === 'string' || typeof q === 'number' ? formatMilli(milli(q), typeof q === 'string' && BINARY.test(q)) : String(q));

/** Resources usually written with binary suffixes print that way. */
export const isBinaryResource = (name: string) => /memory|storage/.test(name);

export function usageToList(u: Usage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of [...u].sort(([a], [b]) => (a < b ? -1 : 1))) out[k] = formatMilli(v, isBinaryResource(k));
  return out;
}

export function listToUsage(list: unknown): Usage {
  const u: Usage = new Map();
  if (!isPlainObject(list)) return u;
  for (const [k, v] of Object.entries(list)) {
    const m = milli(v);
    if (!Number.isNaN(m)) u.set(k, m);
  }
  return u;
}

export function addUsage(a: Usage, b: Usage): Usage {
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** prettyPrint: `name=quantity` sorted by name, comma-separated. */
export function prettyUsage(u: Usage): string {
  return [...u]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${formatMilli(v, isBinaryResource(k))}`)
    .join(',');
}

// ---- objects ----

export interface ResourceId {
  group: string;
  plural: string;
}

/** The object-count name for a resource: `count/pods`, `count/deployments.apps`. */
export const countName = (r: ResourceId) => `count/${r.plural}${r.group ? '.' + r.group : ''}`;

/** Legacy count names of core resources. */
const LEGACY_COUNTS: Record<string, string> = {
  pods: 'pods',
  services: 'services',
  configmaps: 'configmaps',
  secrets: 'secrets',
  persistentvolumeclaims: 'persistentvolumeclaims',
  replicationcontrollers: 'replicationcontrollers',
  resourcequotas: 'resourcequotas',
};

interface Resources {
  requests?: Record<string, unknown>;
  limits?: Record<string, unknown>;
}
interface Container {
  name?: string;
  resources?: Resources;
  restartPolicy?: string;
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  activeDeadlineSeconds?: number;
  priorityClassName?: string;
  overhead?: Record<string, unknown>;
}
const podSpecOf = (p: KubeObject): PodSpec => (isPlainObject(p.spec) ? (p.spec as PodSpec) : {});

/** Pod requests or limits: sum over containers (and sidecars), at least the largest init container (resourcehelper.PodRequests). */
export function podResourceTotals(pod: KubeObject, which: 'requests' | 'limits'): Usage {
  const s = podSpecOf(pod);
  let sum: Usage = new Map();
  for (const c of s.containers ?? []) sum = addUsage(sum, listToUsage(c.resources?.[which]));
  let sidecars: Usage = new Map();
  let initMax: Usage = new Map();
  for (const c of s.initContainers ?? []) {
    const u = listToUsage(c.resources?.[which]);
    if (c.restartPolicy === 'Always') {
      sidecars = addUsage(sidecars, u);
      sum = addUsage(sum, u);
    } else {
      // A regular init container runs alongside the sidecars started before it.
      const running = addUsage(u, sidecars);
      for (const [k, v] of running) if (v > (initMax.get(k) ?? 0)) initMax.set(k, v);
    }
  }
  for (const [k, v] of initMax) if (v > (sum.get(k) ?? 0)) sum.set(k, v);
  if (s.overhead) sum = addUsage(sum, listToUsage(s.overhead));
  return sum;
}

/** QuotaV1Pod: a pod counts until it is terminal or past its deletion grace period. */
export function podCountsForQuota(pod: KubeObject, now = Date.now()): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const del = pod.metadata.deletionTimestamp;
  if (del && pod.metadata.deletionGracePeriodSeconds !== undefined) {
    if (now > Date.parse(del) + pod.metadata.deletionGracePeriodSeconds * 1000) return false;
  }
  return true;
}

const COMPUTE: [string, 'requests' | 'limits', string[]][] = [
  ['cpu', 'requests', ['cpu', 'requests.cpu']],
  ['memory', 'requests', ['memory', 'requests.memory']],
  ['ephemeral-storage', 'requests', ['ephemeral-storage', 'requests.ephemeral-storage']],
  ['cpu', 'limits', ['limits.cpu']],
  ['memory', 'limits', ['limits.memory']],
  ['ephemeral-storage', 'limits', ['limits.ephemeral-storage']],
];

/** What one object of a resource uses (undefined usage for nothing). */
export function usageOf(r: ResourceId, obj: KubeObject): Usage {
  const u: Usage = new Map();
  u.set(countName(r), 1000);
  const legacy = r.group === '' ? LEGACY_COUNTS[r.plural] : undefined;
  if (legacy) u.set(legacy, 1000);
  if (r.group !== '') return u;
  switch (r.plural) {
    case 'pods': {
      if (!podCountsForQuota(obj)) return new Map();
      const req = podResourceTotals(obj, 'requests');
      const lim = podResourceTotals(obj, 'limits');
      for (const [res, which, names] of COMPUTE) {
        const v = (which === 'requests' ? req : lim).get(res);
        if (v !== undefined) for (const n of names) u.set(n, v);
      }
      for (const [k, v] of req) if (k.startsWith('hugepages-') || k.includes('/')) u.set(`requests.${k}`, v);
      break;
    }
    case 'services': {
      const spec = (isPlainObject(obj.spec) ? obj.spec : {}) as { type?: string; ports?: unknown[] };
      if (spec.type === 'LoadBalancer') u.set('services.loadbalancers', 1000);
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') u.set('services.nodeports', (spec.ports?.length ?? 0) * 1000);
      break;
    }
    case 'persistentvolumeclaims': {
      const spec = (isPlainObject(obj.spec) ? obj.spec : {}) as { storageClassName?: string; resources?: Resources };
      const storage = milli(spec.resources?.requests?.storage);
      const cls = obj.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? spec.storageClassName;
      if (!Number.isNaN(storage)) u.set('requests.storage', storage);
      if (cls) {
        u.set(`${cls}.storageclass.storage.k8s.io/persistentvolumeclaims`, 1000);
        if (!Number.isNaN(storage)) u.set(`${cls}.storageclass.storage.k8s.io/requests.storage`, storage);
      }
      break;
    }
  }
  return u;
}

/** The resource a quota name counts, when it names one outside the evaluators (`count/widgets.example.com`). */
export function resourceOfCountName(name: string): ResourceId | undefined {
  const m = /^count\/([^.]+)(?:\.(.+))?$/.exec(name);
  if (m) return { plural: m[1], group: m[2] ?? '' };
  if (LEGACY_COUNTS[name]) return { plural: name, group: '' };
  return undefined;
}

/** Which resource's objects a quota resource name is computed from. */
export function resourceForQuotaName(name: string): ResourceId | undefined {
  const counted = resourceOfCountName(name);
  if (counted) return counted;
  if (/^(requests\.|limits\.)?(cpu|memory|ephemeral-storage)$/.test(name) || name.startsWith('requests.hugepages-') || name.startsWith('hugepages-')) return { plural: 'pods', group: '' };
  if (name === 'services.loadbalancers' || name === 'services.nodeports') return { plural: 'services', group: '' };
  if (name === 'requests.storage' || name.includes('.storageclass.storage.k8s.io/')) return { plural: 'persistentvolumeclaims', group: '' };
  return undefined;
}

// ---- scopes ----

interface ScopeSelector {
  matchExpressions?: { scopeName: string; operator: string; values?: string[] }[];
}
interface QuotaSpec {
  hard?: Record<string, unknown>;
  scopes?: string[];
  scopeSelector?: ScopeSelector;
}
export const quotaSpec = (q: KubeObject): QuotaSpec => (isPlainObject(q.spec) ? (q.spec as QuotaSpec) : {});

const isBestEffort = (pod: KubeObject) =>
  [...(podSpecOf(pod).containers ?? []), ...(podSpecOf(pod).initContainers ?? [])].every(
    (c) => Object.keys(c.resources?.requests ?? {}).length === 0 && Object.keys(c.resources?.limits ?? {}).length === 0,
  );

function podMatchesScope(pod: KubeObject, scope: string, op: string, values: string[]): boolean {
  let v: boolean;
  switch (scope) {
    case 'Terminating':
      v = podSpecOf(pod).activeDeadlineSeconds !== undefined;
      break;
    case 'NotTerminating':
      v = podSpecOf(pod).activeDeadlineSeconds === undefined;
      break;
    case 'BestEffort':
      v = isBestEffort(pod);
      break;
    case 'NotBestEffort':
      v = !isBestEffort(pod);
      break;
    case 'PriorityClass': {
      const pc = podSpecOf(pod).priorityClassName ?? '';
      switch (op) {
        case 'In':
          return values.includes(pc);
        case 'NotIn':
          return !values.includes(pc);
        case 'Exists':
          return pc !== '';
        case 'DoesNotExist':
          return pc === '';
      }
      return false;
    }
    case 'CrossNamespacePodAffinity':
      v = false;
      break;
    default:
      return false;
  }
  return op === 'DoesNotExist' || op === 'NotIn' ? !v : v;
}

/** Whether a quota applies to the object: unscoped quotas to everything, scoped ones to matching pods only. */
export function quotaMatches(quota: KubeObject, r: ResourceId, obj: KubeObject): boolean {
  const spec = quotaSpec(quota);
  const reqs = [...(spec.scopes ?? []).map((s) => ({ scopeName: s, operator: 'Exists', values: [] as string[] })), ...(spec.scopeSelector?.matchExpressions ?? [])];
  if (reqs.length === 0) return true;
  if (r.group !== '' || r.plural !== 'pods') return false;
  return reqs.every((q) => podMatchesScope(obj, q.scopeName, q.operator, q.values ?? []));
}

/** Quota resource names a scoped quota may track (pods' compute resources and counts). */
export const isScoped = (quota: KubeObject) => (quotaSpec(quota).scopes ?? []).length > 0 || (quotaSpec(quota).scopeSelector?.matchExpressions ?? []).length > 0;

/** The resource names of usage `u` an evaluator for `r` covers among `names` (MatchingResources). */
export function trackedBy(r: ResourceId, names: Iterable<string>): string[] {
  const out: string[] = [];
  for (const n of names) {
    const res = resourceForQuotaName(n);
    if (res && res.plural === r.plural && res.group === r.group) out.push(n);
  }
  return out;
}

/** Resources for which a pod container must state a request/limit when a quota tracks them (the pod evaluator's Constraints). */
const CONSTRAINED = ['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'];

/** `must specify ...` when containers leave out a resource the quota tracks, else undefined. */
export function podConstraintError(pod: KubeObject, tracked: string[]): string | undefined {
  const required = new Set(tracked.filter((t) => CONSTRAINED.includes(t)));
  if (required.size === 0) return undefined;
  const missing = new Set<string>();
  const s = podSpecOf(pod);
  for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) {
    const have = new Set<string>();
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (req.cpu !== undefined) have.add('cpu').add('requests.cpu');
    if (req.memory !== undefined) have.add('memory').add('requests.memory');
    if (lim.cpu !== undefined) have.add('limits.cpu');
    if (lim.memory !== undefined) have.add('limits.memory');
    for (const r of required) if (!have.has(r)) missing.add(r);
  }
  return missing.size ? `must specify ${[...missing].sort().join(',')}` : undefined;
}
