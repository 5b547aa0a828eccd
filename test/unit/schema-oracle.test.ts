/**
 * The oracle: every field upstream v1.35 publishes for a kind Cairn serves must exist in Cairn's
 * built-in schemas with the same type and format, the same merge tags and the same required
 * set. Upstream's document is read here only; Cairn never loads it at run time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildBuiltinSchemas, schemaNameForKind, REF_PREFIX } from '../../src/schema/builtin-schemas.js';
import type { JSONSchema } from '../../src/schema/types.js';

const ORACLE = '/work/shared/reference/kubernetes/swagger-v1.35.json';
type Def = Record<string, any>;
const upstream: Record<string, Def> = JSON.parse(readFileSync(ORACLE, 'utf8')).definitions;

interface GVK {
  group: string;
  version: string;
  kind: string;
  schemaName?: string;
}

const FALLBACK_KINDS: GVK[] = [
  ...['Namespace', 'Pod', 'Service', 'Endpoints', 'ConfigMap', 'Secret', 'Node', 'Event', 'ServiceAccount', 'PersistentVolume',
    'PersistentVolumeClaim', 'ResourceQuota', 'LimitRange'].map((kind) => ({ group: '', version: 'v1', kind })),
  ...['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet'].map((kind) => ({ group: 'apps', version: 'v1', kind })),
  ...['Job', 'CronJob'].map((kind) => ({ group: 'batch', version: 'v1', kind })),
  ...['Ingress', 'IngressClass', 'NetworkPolicy'].map((kind) => ({ group: 'networking.k8s.io', version: 'v1', kind })),
  { group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass' },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' },
  { group: 'events.k8s.io', version: 'v1', kind: 'Event' },
  ...['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].map((kind) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', kind })),
  { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' },
];
/** Subresource bodies and meta types Cairn also publishes. */
const EXTRA_KINDS: GVK[] = [
  { group: 'autoscaling', version: 'v1', kind: 'Scale' },
  { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
  { group: '', version: 'v1', kind: 'Status' },
  { group: '', version: 'v1', kind: 'DeleteOptions' },
  { group: '', version: 'v1', kind: 'WatchEvent' },
];

async function servedKinds(): Promise<GVK[]> {
  try {
    const mod = await import('../../src/kinds/index.js' as string);
    const ks = (mod.builtinKinds as () => GVK[])().filter((k) => !(k as { custom?: boolean }).custom);
    if (ks.length) return ks;
  } catch {
    // The kind registry is not there yet: use the list the brief names.
  }
  return FALLBACK_KINDS;
}

const cairn = buildBuiltinSchemas();
const EXT_KEYS = ['x-kubernetes-patch-strategy', 'x-kubernetes-patch-merge-key', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type'];

function upstreamNameOf(k: GVK): string | undefined {
  return Object.keys(upstream).find((n) =>
    (upstream[n]['x-kubernetes-group-version-kind'] as GVK[] | undefined)?.some((g) => g.group === k.group && g.version === k.version && g.kind === k.kind),
  );
}

/** A Cairn property with a single-ref allOf unwrapped to the ref. */
function unwrap(s: JSONSchema): JSONSchema {
  if (s.allOf?.length === 1 && s.allOf[0].$ref) return { ...s, $ref: s.allOf[0].$ref, allOf: undefined };
  return s;
}
const refName = (r: string | undefined) => r?.replace('#/definitions/', '').replace(REF_PREFIX, '');

/** Types a leaf accepts: its `type`, or the types of its `oneOf` members (v3 unions). */
function types(s: JSONSchema): string[] {
  return s.type ? [s.type] : (s.oneOf ?? []).map((o) => o.type!).filter(Boolean);
}

function compareShape(where: string, up: Def, mine: JSONSchema, problems: string[], follow: (name: string) => void): void {
  const m = unwrap(mine);
  if (up.$ref) {
    if (refName(m.$ref) !== refName(up.$ref)) problems.push(`${where}: ref ${refName(m.$ref)} != ${refName(up.$ref)}`);
    else follow(refName(up.$ref)!);
    return;
  }
  if ((up.type ?? undefined) !== (m.type ?? undefined)) problems.push(`${where}: type ${m.type} != ${up.type}`);
  if ((up.format ?? undefined) !== (m.format ?? undefined)) problems.push(`${where}: format ${m.format} != ${up.format}`);
  if (up.items) {
    if (!m.items) problems.push(`${where}: no items`);
    else compareShape(`${where}[]`, up.items, m.items, problems, follow);
  }
  if (up.additionalProperties && typeof up.additionalProperties === 'object') {
    if (!m.additionalProperties || typeof m.additionalProperties !== 'object') problems.push(`${where}: no additionalProperties`);
    else compareShape(`${where}{}`, up.additionalProperties, m.additionalProperties, problems, follow);
  }
}

function compareDefinition(name: string, problems: string[], follow: (n: string) => void): void {
  const up = upstream[name];
  const mine = cairn.get(name);
  if (!mine) return void problems.push(`${name}: missing in Cairn`);
  if (!up.properties) {
    // A leaf: v3 spells scalar unions as oneOf, v2 as the first type.
    if (up.type && !types(mine).includes(up.type)) problems.push(`${name}: leaf type ${types(mine)} lacks ${up.type}`);
    if (up.format && up.format !== mine.format) problems.push(`${name}: leaf format ${mine.format} != ${up.format}`);
    return;
  }
  const upReq = [...((up.required as string[]) ?? [])].sort();
  const myReq = [...(mine.required ?? [])].sort();
  assert.ok(true);
  if (JSON.stringify(upReq) !== JSON.stringify(myReq)) problems.push(`${name}: required ${myReq} != ${upReq}`);
  if (up['x-kubernetes-map-type'] !== mine['x-kubernetes-map-type']) problems.push(`${name}: map-type ${mine['x-kubernetes-map-type']} != ${up['x-kubernetes-map-type']}`);
  for (const [field, p] of Object.entries(up.properties as Record<string, Def>)) {
    const where = `${name}.${field}`;
    const m = mine.properties?.[field];
    if (!m) {
      problems.push(`${where}: missing`);
      continue;
    }
    for (const k of EXT_KEYS) {
      if (JSON.stringify(p[k]) !== JSON.stringify((m as Record<string, unknown>)[k])) problems.push(`${where}: ${k} ${JSON.stringify((m as Record<string, unknown>)[k])} != ${JSON.stringify(p[k])}`);
    }
    compareShape(where, p, m, problems, follow);
  }
}

test('every upstream field of every served kind is in Cairn schemas, same type, format and merge tags', async () => {
  const kinds = [...(await servedKinds()), ...EXTRA_KINDS];
  const seen = new Set<string>();
  const problems: string[] = [];
  const queue: string[] = [];
  const follow = (n: string) => {
    if (!seen.has(n)) {
      seen.add(n);
      queue.push(n);
    }
  };
  for (const k of kinds) {
    const upName = upstreamNameOf(k);
    assert.ok(upName, `upstream has no schema for ${k.group}/${k.version} ${k.kind}`);
    const myName = k.schemaName ?? schemaNameForKind(k.group, k.version, k.kind) ?? upName;
    assert.equal(myName, upName, `schema name of ${k.kind}`);
    const gvks = cairn.get(upName)?.['x-kubernetes-group-version-kind'] ?? [];
    assert.ok(gvks.some((g) => g.group === k.group && g.version === k.version && g.kind === k.kind), `GVK tag on ${upName}`);
    follow(upName);
  }
  for (let n = queue.shift(); n; n = queue.shift()) compareDefinition(n, problems, follow);
  assert.deepEqual(problems, []);
  assert.ok(seen.size > 250, `walked ${seen.size} definitions`);
});

test('list kinds carry their GVK and require items', () => {
  const list = cairn.get('io.k8s.api.core.v1.PodList')!;
  assert.deepEqual(list['x-kubernetes-group-version-kind'], [{ group: '', version: 'v1', kind: 'PodList' }]);
  assert.deepEqual(list.required, ['items']);
  assert.equal(list.properties!.items['x-kubernetes-list-type'], undefined);
});
