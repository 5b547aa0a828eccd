/**
 * A randomized robustness test of the HTTPS API: at least 10,000 requests, each a valid request
 * (create, get, list, update, patch of every type, delete, watch, scale/status) for one of several
 * kinds (ConfigMaps, Secrets, Pods, Services, Deployments, Namespaces and a CRD's kind), most of
 * them mutated (method, path, query, content type, accept, body bytes and values), sent over
 * keep-alive connections at modest concurrency. Every answer must be a well-formed HTTP response
 * in time, errors a JSON Status whose code matches, and no 500s. Afterwards the server must be
 * healthy and the store consistent: each listed object fetchable with the same resourceVersion,
 * re-PUT unchanged, and watchable from the list's resourceVersion.
 *
 * Reproduce with CAIRN_FUZZ_SEED=<seed> (printed on failure); CAIRN_FUZZ_REQUESTS and
 * CAIRN_FUZZ_CONCURRENCY tune the run. (Under concurrency, which objects exist when a request is
 * made varies between runs, so a seed reproduces the requests' shapes, not always their targets.)
 */
import { parseRequestInfo } from '../../src/api/request-info.js';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { RawClient, type RawRequest, type RawResponse } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A fixed seed keeps CI repeatable; CAIRN_FUZZ_SEED=random explores new inputs.
const SEED = process.env.CAIRN_FUZZ_SEED === 'random' ? randomInt(2 ** 31 - 1) : Number(process.env.CAIRN_FUZZ_SEED ?? 20261120);
// 3 in 4 requests get mutations on top of their random base: 13,500 requests carry at least 10,000 mutated ones.
const TOTAL = Number(process.env.CAIRN_FUZZ_REQUESTS ?? 13_500);
const MIN_MUTATED = TOTAL >= 13_500 ? 10_000 : 0;
const CONCURRENCY = Number(process.env.CAIRN_FUZZ_CONCURRENCY ?? 8);
/** Watches in flight at once, beside the CONCURRENCY workers. */
const MAX_WATCHES = 6;
/** Every answer (watches included: they run with timeoutSeconds=1) must come within this. */
const REQUEST_BOUND_MS = 20_000;
const FUZZ_NAMESPACES = ['fuzz-a', 'fuzz-b', 'fuzz-c'];
const CRD_GROUP = 'fuzz.example.com';

// ---- seeded randomness ----

type Rng = () => number;
function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)];
const chance = (r: Rng, p: number) => r() < p;
function weighted<T>(r: Rng, xs: readonly [T, number][]): T {
  let total = 0;
  for (const [, w] of xs) total += w;
  let x = r() * total;
  for (const [v, w] of xs) if ((x -= w) < 0) return v;
  return xs[xs.length - 1][0];
}

const UNICODE = ['ü', '日本語', '🦄', '\u0000', '\ud800', '\udfff', '\u202e', 'a\u200bb', '\uffff', '\\', '"', '\n', '\t', 'ß', '\u0085', '%00', '../..', '${x}', '{{x}}'];
function randomString(r: Rng): string {
  switch (int(r, 6)) {
    case 0:
      return '';
    case 1:
      return pick(r, UNICODE);
    case 2:
      return Array.from({ length: 1 + int(r, 12) }, () => pick(r, 'abcdefghijklmnopqrstuvwxyz0123456789-._/'.split(''))).join('');
    case 3:
      return 'x'.repeat(pick(r, [63, 64, 253, 254, 255, 256, 4096]));
    case 4:
      return Array.from({ length: 1 + int(r, 6) }, () => pick(r, UNICODE)).join('');
    default:
      return `v${int(r, 1000)}`;
  }
}

function randomValue(r: Rng, depth = 0): unknown {
  switch (int(r, depth > 2 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return chance(r, 0.5);
    case 2:
      return pick(r, [0, -1, 1, 2 ** 31, 2 ** 53 + 1, 1e308, -0, 0.5, 3.14159, 65536, 65535]);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return {};
    case 6:
      return [];
    case 7:
      return Array.from({ length: int(r, 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 4); i > 0; i--) o[randomString(r) || 'k'] = randomValue(r, depth + 1);
      return o;
    }
  }
}

function nest(r: Rng, depth: number, leaf: unknown): unknown {
  let v = leaf;
  const asArray = chance(r, 0.5);
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { n: v };
  return v;
}

// ---- kinds and valid requests ----

interface KindSpec {
  plural: string;
  group: string;
  version: string;
  kind: string;
  namespaced: boolean;
  subresources: string[];
  make(name: string, r: Rng): Record<string, unknown>;
}

const container = (r: Rng) => ({ name: `c${int(r, 3)}`, image: pick(r, ['busybox:1.36', 'nginx', 'registry.local/app@sha256:' + 'a'.repeat(64)]), command: ['sleep', String(int(r, 100))] });

const KINDS: KindSpec[] = [
  {
    plural: 'configmaps', group: '', version: 'v1', kind: 'ConfigMap', namespaced: true, subresources: [],
    make: (name, r) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { fuzz: 'yes', n: String(int(r, 5)) } }, data: { a: randomString(r).replace(/[^\x20-\x7e]/g, ''), [`k${int(r, 9)}`]: String(int(r, 1e6)) } }),
  },
  {
    plural: 'secrets', group: '', version: 'v1', kind: 'Secret', namespaced: true, subresources: [],
    make: (name, r) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, labels: { fuzz: 'yes' } }, type: 'Opaque', data: { pw: Buffer.from(`s${int(r, 1e6)}`).toString('base64') }, ...(chance(r, 0.3) ? { stringData: { plain: 'text' } } : {}) }),
  },
  {
    plural: 'pods', group: '', version: 'v1', kind: 'Pod', namespaced: true, subresources: ['status', 'binding', 'eviction', 'log'],
    make: (name, r) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { fuzz: 'yes', app: `a${int(r, 3)}` } }, spec: { containers: [container(r)], restartPolicy: pick(r, ['Always', 'Never', 'OnFailure']) } }),
  },
  {
    plural: 'services', group: '', version: 'v1', kind: 'Service', namespaced: true, subresources: ['status'],
    make: (name, r) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, labels: { fuzz: 'yes' } }, spec: { selector: { app: `a${int(r, 3)}` }, ports: [{ name: 'http', port: 80 + int(r, 10), targetPort: 8080, protocol: 'TCP' }], type: pick(r, ['ClusterIP', 'ClusterIP', 'NodePort']) } }),
  },
  {
    plural: 'deployments', group: 'apps', version: 'v1', kind: 'Deployment', namespaced: true, subresources: ['status', 'scale'],
    make: (name, r) => ({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels: { fuzz: 'yes' } },
      spec: { replicas: chance(r, 0.2) ? 1 : 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [container(r)] } } },
    }),
  },
  {
    plural: 'namespaces', group: '', version: 'v1', kind: 'Namespace', namespaced: false, subresources: ['status', 'finalize'],
    make: (name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { fuzz: 'yes' } } }),
  },
  {
    plural: 'widgets', group: CRD_GROUP, version: 'v1', kind: 'Widget', namespaced: true, subresources: ['status', 'scale'],
    make: (name, r) => ({
      apiVersion: `${CRD_GROUP}/v1`, kind: 'Widget', metadata: { name, labels: { fuzz: 'yes' } },
      spec: { replicas: int(r, 5), color: pick(r, ['red', 'green', 'blue']), tags: ['a', `t${int(r, 9)}`], free: { anything: randomValue(r) } },
    }),
  },
];

const WIDGET_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `widgets.${CRD_GROUP}` },
  spec: {
    group: CRD_GROUP,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1', served: true, storage: true,
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: {
                  replicas: { type: 'integer', minimum: 0, maximum: 100 },
                  color: { type: 'string', enum: ['red', 'green', 'blue'], default: 'red' },
                  tags: { type: 'array', items: { type: 'string', maxLength: 64 }, 'x-kubernetes-list-type': 'set' },
                  free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                },
              },
              status: { type: 'object', properties: { replicas: { type: 'integer' } }, 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

function collectionPath(k: KindSpec, ns: string | undefined): string {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  return k.namespaced && ns ? `${base}/namespaces/${ns}/${k.plural}` : `${base}/${k.plural}`;
}

interface Known {
  kind: KindSpec;
  ns?: string;
  name: string;
  obj?: Record<string, any>;
}

/** Objects the run has seen, by kind/ns/name, with the last body seen for each. */
class Pool {
  private readonly byKind = new Map<string, Map<string, Known>>();
  add(k: KindSpec, obj: Record<string, any>) {
    const name = obj?.metadata?.name;
    if (typeof name !== 'string') return;
    const ns = k.namespaced ? obj.metadata.namespace : undefined;
    if (k.namespaced && typeof ns !== 'string') return;
    this.map(k).set(`${ns ?? ''}/${name}`, { kind: k, ns, name, obj });
  }
  remove(k: KindSpec, ns: string | undefined, name: string) {
    this.map(k).delete(`${ns ?? ''}/${name}`);
  }
  any(k: KindSpec, r: Rng): Known | undefined {
    const m = this.map(k);
    if (!m.size) return undefined;
    const i = int(r, m.size);
    let j = 0;
    for (const v of m.values()) if (j++ === i) return v;
    return undefined;
  }
  private map(k: KindSpec) {
    let m = this.byKind.get(k.plural);
    if (!m) this.byKind.set(k.plural, (m = new Map()));
    return m;
  }
}

interface FuzzRequest {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body?: Buffer;
  kind: KindSpec;
  op: string;
  mutations: string[];
}

let nameCounter = 0;
const freshName = (r: Rng, prefix: string) => `${prefix}-${(nameCounter++).toString(36)}-${int(r, 1e6).toString(36)}`;

function baseRequest(r: Rng, pool: Pool): FuzzRequest {
  const kind = weighted(r, KINDS.map((k) => [k, k.plural === 'namespaces' ? 1 : k.plural === 'deployments' || k.plural === 'pods' ? 2 : 3] as [KindSpec, number]));
  const ns = kind.namespaced ? pick(r, FUZZ_NAMESPACES) : undefined;
  const known = pool.any(kind, r);
  const target = known && chance(r, 0.85) ? known : undefined;
  const tns = target?.ns ?? ns;
  const coll = collectionPath(kind, tns);
  const item = (name: string) => `${coll}/${encodeURIComponent(name)}`;
  const name = target?.name ?? freshName(r, kind.plural.slice(0, 3));
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const op = weighted(r, [
    ['create', 24], ['get', 12], ['list', 10], ['update', 12], ['merge', 8], ['jsonpatch', 6], ['strategic', 5], ['apply', 7],
    ['delete', 6], ['watch', 1.5], ['deletecollection', 0.5], ['status', 3], ['scale', 2],
  ] as [string, number][]);
  const req: FuzzRequest = { method: 'GET', path: coll, query: [], headers: { 'content-type': 'application/json' }, kind, op, mutations: [] };
  switch (op) {
    case 'create': {
      const n = kind.plural === 'namespaces' ? freshName(r, 'fuzz-ns') : freshName(r, kind.plural.slice(0, 3));
      req.method = 'POST';
      req.body = json(kind.make(n, r));
      if (chance(r, 0.2)) {
        req.headers['content-type'] = 'application/yaml';
        req.body = Buffer.from(YAML.stringify(kind.make(n, r)));
      }
      break;
    }
    case 'get':
      req.path = item(name);
      break;
    case 'list':
      if (chance(r, 0.3)) req.query.push(['limit', String(1 + int(r, 5))]);
      if (chance(r, 0.3)) req.query.push(['labelSelector', pick(r, ['fuzz=yes', 'n in (1,2)', '!missing', 'fuzz,n!=3', 'app'])]);
      if (chance(r, 0.2)) req.query.push(['fieldSelector', pick(r, ['metadata.name=x', 'metadata.namespace!=fuzz-a', `metadata.name=${name}`])]);
      if (chance(r, 0.2)) req.query.push(['resourceVersion', pick(r, ['0', '1', known?.obj?.metadata?.resourceVersion ?? '0'])]);
      if (chance(r, 0.3) && kind.namespaced) req.path = collectionPath(kind, undefined);
      break;
    case 'update': {
      req.method = 'PUT';
      req.path = item(name);
      const obj = structuredClone(target?.obj ?? kind.make(name, r)) as Record<string, any>;
      obj.metadata ??= {};
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), touched: String(int(r, 100)) };
      if (chance(r, 0.3)) delete obj.metadata.resourceVersion;
      req.body = json(obj);
      break;
    }
    case 'merge':
      req.method = 'PATCH';
      req.path = item(name);
      req.headers['content-type'] = 'application/merge-patch+json';
      req.body = json(pick(r, [{ metadata: { labels: { m: String(int(r, 10)) } } }, { metadata: { annotations: { note: randomString(r) } } }, { metadata: { labels: null } }, { spec: { replicas: int(r, 3) } }, { data: { z: 'z' } }]));
      break;
    case 'jsonpatch': {
      req.method = 'PATCH';
      req.path = item(name);
      req.headers['content-type'] = 'application/json-patch+json';
      const ops = [
        { op: 'add', path: '/metadata/labels/jp', value: String(int(r, 10)) },
        { op: 'replace', path: '/metadata/labels', value: { a: 'b' } },
        { op: 'remove', path: '/metadata/labels/fuzz' },
        { op: 'test', path: '/metadata/name', value: name },
        { op: 'copy', from: '/metadata/name', path: '/metadata/annotations' },
        { op: 'move', from: '/metadata/labels', path: '/metadata/annotations' },
        { op: 'add', path: '/spec/containers/-', value: container(r) },
        { op: 'replace', path: '/spec/replicas', value: int(r, 4) },
        { op: 'add', path: '/data/new', value: 'v' },
        { op: 'remove', path: '/spec' },
      ];
      req.body = json(Array.from({ length: 1 + int(r, 3) }, () => pick(r, ops)));
      break;
    }
    case 'strategic':
      req.method = 'PATCH';
      req.path = item(name);
      req.headers['content-type'] = 'application/strategic-merge-patch+json';
      req.body = json(
        pick(r, [
          { metadata: { labels: { s: 'x' } } },
          { spec: { containers: [{ name: 'c0', image: 'nginx:2' }] } },
          { spec: { containers: [{ name: 'c1', $patch: 'delete' }] } },
          { spec: { $setElementOrder: { containers: [{ name: 'c0' }] }, containers: [{ name: 'c0', image: 'x' }] } },
          { metadata: { finalizers: ['a/b'], $deleteFromPrimitiveList: { finalizers: ['a/b'] } } },
          { spec: { template: { spec: { containers: [{ name: 'c2', image: 'busybox' }] } } } },
          { $patch: 'replace', metadata: { name } },
          { spec: { ports: [{ port: 81, $patch: 'delete' }] } },
          { spec: { $retainKeys: ['selector'], selector: { app: 'q' } } },
        ]),
      );
      break;
    case 'apply': {
      req.method = 'PATCH';
      req.path = item(name);
      req.headers['content-type'] = 'application/apply-patch+yaml';
      req.query.push(['fieldManager', `fuzz-${int(r, 3)}`]);
      if (chance(r, 0.5)) req.query.push(['force', 'true']);
      const obj = kind.make(name, r);
      if (chance(r, 0.3)) (obj.metadata as any).annotations = { applied: String(int(r, 100)) };
      req.body = Buffer.from(chance(r, 0.5) ? YAML.stringify(obj) : JSON.stringify(obj));
      break;
    }
    case 'delete':
      req.method = 'DELETE';
      req.path = item(name);
      if (chance(r, 0.3)) req.body = json({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: pick(r, ['Background', 'Foreground', 'Orphan']), gracePeriodSeconds: pick(r, [0, 1, 30]) });
      break;
    case 'deletecollection':
      req.method = 'DELETE';
      req.query.push(['labelSelector', `n=${int(r, 5)}`]);
      break;
    case 'watch':
      req.query.push(['watch', '1'], ['timeoutSeconds', '1']);
      if (chance(r, 0.5)) req.query.push(['resourceVersion', pick(r, ['0', known?.obj?.metadata?.resourceVersion ?? '0'])]);
      if (chance(r, 0.3)) req.query.push(['allowWatchBookmarks', 'true']);
      break;
    case 'status': {
      req.method = chance(r, 0.5) ? 'PUT' : 'PATCH';
      req.path = `${item(name)}/status`;
      if (req.method === 'PUT') {
        const obj = structuredClone(target?.obj ?? kind.make(name, r)) as Record<string, any>;
        obj.status = { replicas: int(r, 3), phase: pick(r, ['Running', 'Pending', 'Bogus']), conditions: [{ type: 'Ready', status: pick(r, ['True', 'False', 'Maybe']) }] };
        req.body = json(obj);
      } else {
        req.headers['content-type'] = 'application/merge-patch+json';
        req.body = json({ status: { replicas: int(r, 3), observedGeneration: int(r, 9) } });
      }
      break;
    }
    case 'scale':
      req.path = `${item(name)}/scale`;
      if (chance(r, 0.6)) {
        req.method = chance(r, 0.5) ? 'PUT' : 'PATCH';
        if (req.method === 'PUT') req.body = json({ apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name }, spec: { replicas: int(r, 4) } });
        else {
          req.headers['content-type'] = 'application/merge-patch+json';
          req.body = json({ spec: { replicas: pick(r, [0, 1, 2, -1, 'x']) } });
        }
      }
      break;
  }
  return req;
}

// ---- mutations ----

const QUERY_VALUES: Record<string, string[]> = {
  limit: ['-1', '0', '1', '5', 'abc', '99999999999999999999', '1.5', ''],
  continue: ['garbage', 'eyJydiI6MSwic3RhcnQiOiIveCJ9', Buffer.from('{"v":"meta.k8s.io/v1","rv":1,"start":"a"}').toString('base64'), '%%%', ''],
  resourceVersion: ['0', '1', 'abc', '-5', '99999999999', '', '1e3', ' 1'],
  resourceVersionMatch: ['Exact', 'NotOlderThan', 'bogus', ''],
  labelSelector: ['a in (', 'a=b=c', '!', 'fuzz=yes', 'x notin (a,b)', 'a,,b', '🦄=1', 'k=' + 'v'.repeat(100), ''],
  fieldSelector: ['metadata.name=x', 'spec.nope=1', 'metadata.name', 'metadata.name==x', 'status.phase=Running', 'metadata.name=a,metadata.name=b', ''],
  watch: ['true', '1', 'false', 'yes'],
  timeoutSeconds: ['1', 'x', '-1', '1.5'],
  dryRun: ['All', 'bogus', ''],
  fieldValidation: ['Strict', 'Warn', 'Ignore', 'x', ''],
  fieldManager: ['m', 'x'.repeat(200), '🦄', ''],
  propagationPolicy: ['Orphan', 'Foreground', 'Background', 'Nope'],
  gracePeriodSeconds: ['0', '-1', 'x', '30'],
  orphanDependents: ['true', 'false', 'x'],
  allowWatchBookmarks: ['true', 'x'],
  sendInitialEvents: ['true', 'false', 'x'],
  force: ['true', 'false', 'x'],
  pretty: ['true', '1'],
  includeObject: ['None', 'Object', 'Metadata', 'x'],
  [`unknown${''}`]: ['1'],
};

const CONTENT_TYPES = [
  'application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json',
  'application/apply-patch+yaml', 'text/plain', '', 'application/json; charset=utf-16', 'application/vnd.kubernetes.protobuf', 'application/x-www-form-urlencoded', 'APPLICATION/JSON', 'application/json;;;',
];
const ACCEPTS = ['application/json', 'application/yaml', '*/*', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', 'text/html', 'application/json, */*', 'garbage/;;;'];
const SUBRESOURCES = ['status', 'scale', 'finalize', 'binding', 'eviction', 'token', 'log', 'exec', 'attach', 'proxy', 'nonsense', 'status/extra'];

function mutateBodyValue(r: Rng, body: unknown): unknown {
  const v = structuredClone(body);
  // Pick a random node and change it.
  const nodes: [any, string | number][] = [];
  const walk = (x: any, depth: number) => {
    if (depth > 8 || typeof x !== 'object' || x === null) return;
    for (const k of Array.isArray(x) ? x.keys() : Object.keys(x)) {
      nodes.push([x, k as string | number]);
      walk(x[k as any], depth + 1);
    }
  };
  walk(v, 0);
  if (!nodes.length) return randomValue(r);
  const [parent, key] = pick(r, nodes);
  switch (int(r, 7)) {
    case 0:
      parent[key] = null;
      break;
    case 1:
      parent[key] = randomValue(r);
      break;
    case 2:
      parent[key] = nest(r, pick(r, [10, 100, 200, 250, 254, 255, 256, 257, 300, 1000]), parent[key]);
      break;
    case 3:
      parent[key] = 'h'.repeat(pick(r, [10_000, 100_000, 300_000, 1_048_577]));
      break;
    case 4:
      parent[key] = Array.from({ length: 3 }, () => pick(r, UNICODE)).join('');
      break;
    case 5:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    default:
      if (typeof parent === 'object' && !Array.isArray(parent)) parent[randomString(r) || 'extra'] = randomValue(r);
      else parent.push(randomValue(r));
  }
  return v;
}

function mutateBytes(r: Rng, body: Buffer): Buffer {
  const b = Buffer.from(body);
  switch (int(r, 5)) {
    case 0: {
      for (let i = 1 + int(r, 4); i > 0 && b.length; i--) b[int(r, b.length)] ^= 1 << int(r, 8);
      return b;
    }
    case 1:
      return b.subarray(0, int(r, b.length + 1));
    case 2: {
      const at = int(r, b.length + 1);
      return Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, ['{', '}', '[', '"', ',', '\\', '\u0000', '\xff\xfe', '\ud83e', ':', 'null', '\n- ', '&a', '*a', '!!binary'])), b.subarray(at)]);
    }
    case 4:
      if (chance(r, 0.5)) {
        // Pathological nesting as text, beyond what a recursive parser survives.
        const n = pick(r, [1000, 20_000, 100_000]);
        const open = chance(r, 0.5) ? '[' : '{"a":';
        return Buffer.from(`{"metadata":${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}}`);
      }
      return Buffer.from(Array.from({ length: int(r, 64) }, () => int(r, 256)));
    case 3: {
      // Duplicate keys: repeat a top-level member.
      const text = b.toString();
      const m = /"(metadata|data|spec|kind|apiVersion)"\s*:/.exec(text);
      if (!m) return b;
      return Buffer.from(text.replace(/^\s*\{/, `{"${m[1]}":${pick(r, ['{}', '"dup"', 'null', '{"name":"dup"}'])},`));
    }
  }
  return b;
}

function mutate(r: Rng, req: FuzzRequest): FuzzRequest {
  const n = weighted(r, [[0, 25], [1, 45], [2, 20], [3, 10]] as [number, number][]);
  for (let i = 0; i < n; i++) {
    const m = weighted(r, [
      ['method', 8], ['path', 10], ['subresource', 6], ['query', 18], ['contentType', 8], ['accept', 5], ['bodyValue', 25], ['bodyBytes', 14], ['bodyFormat', 6],
    ] as [string, number][]);
    req.mutations.push(m);
    switch (m) {
      case 'method':
        req.method = pick(r, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
        break;
      case 'path': {
        const segs = req.path.split('/');
        const at = 1 + int(r, Math.max(1, segs.length - 1));
        switch (int(r, 5)) {
          case 0:
            segs.splice(at, 1);
            break;
          case 1:
            segs.splice(at, 0, segs[at] ?? 'x');
            break;
          case 2:
            segs[at] = pick(r, ['v2', 'apps', 'watch', 'namespaces', '..', '.', '%2F', '%00', '%ZZ', enc(pick(r, UNICODE)), 'x'.repeat(300), 'UPPER', '']);
            break;
          case 3:
            segs.push(pick(r, ['x', 'status', '']));
            break;
          default:
            if (segs[1] === 'api' || segs[1] === 'apis') segs.splice(2, 0, 'watch');
        }
        req.path = segs.join('/') || '/';
        break;
      }
      case 'subresource':
        req.path = `${req.path.replace(/\/$/, '')}/${pick(r, SUBRESOURCES)}`;
        break;
      case 'query': {
        const key = pick(r, Object.keys(QUERY_VALUES));
        req.query = req.query.filter(([k]) => k !== key || chance(r, 0.2));
        req.query.push([key, pick(r, QUERY_VALUES[key])]);
        break;
      }
      case 'contentType':
        req.headers['content-type'] = pick(r, CONTENT_TYPES);
        if (!req.headers['content-type']) delete req.headers['content-type'];
        break;
      case 'accept':
        req.headers.accept = pick(r, ACCEPTS);
        break;
      case 'bodyValue': {
        let parsed: unknown;
        try {
          parsed = req.body ? parseBody(req.body) : undefined;
        } catch {
          parsed = undefined;
        }
        try {
          req.body = Buffer.from(JSON.stringify(parsed === undefined ? randomValue(r) : mutateBodyValue(r, parsed)) ?? 'null');
        } catch {
          // Too deep for this side's JSON.stringify: send it as text.
          const n = 100_000;
          req.body = Buffer.from(`{"metadata":{"name":"deep"},"data":${'['.repeat(n)}${']'.repeat(n)}}`);
        }
        if ((req.headers['content-type'] ?? '').includes('yaml') && chance(r, 0.5)) {
          try {
            req.body = Buffer.from(YAML.stringify(JSON.parse(req.body.toString())));
          } catch {
            /* keep JSON (YAML is a superset) */
          }
        }
        break;
      }
      case 'bodyBytes':
        req.body = mutateBytes(r, req.body ?? Buffer.from('{}'));
        break;
      case 'bodyFormat': {
        const v = req.body ? safeParse(req.body) : undefined;
        if (v !== undefined) {
          req.body = Buffer.from(YAML.stringify(v, { aliasDuplicateObjects: false }));
          req.headers['content-type'] = pick(r, ['application/yaml', 'application/apply-patch+yaml', 'application/json']);
        }
        break;
      }
    }
  }
  return req;
}

/** encodeURIComponent, except that a lone surrogate becomes the escape of its (invalid) UTF-8 bytes. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

function parseBody(b: Buffer): unknown {
  const t = b.toString();
  try {
    return JSON.parse(t);
  } catch {
    return YAML.parse(t);
  }
}
function safeParse(b: Buffer): unknown {
  try {
    return parseBody(b);
  } catch {
    return undefined;
  }
}

/** Keeps the run bounded: every watch ends after a second. */
function boundWatches(req: FuzzRequest): boolean {
  const isGet = req.method === 'GET' || req.method === 'HEAD';
  // What the server treats as a watch, by the same URL rules (a namespace may be named `watch`).
  let watching = false;
  try {
    const info = parseRequestInfo(req.method, req.path, new URLSearchParams(req.query));
    watching = info.kind === 'resource' && info.verb === 'watch';
  } catch {
    // A path the server refuses to parse is answered with an error Status, checked above.
  }
  if (!isGet || !watching) return false;
  const t = req.query.find(([k]) => k === 'timeoutSeconds');
  if (!t) req.query.push(['timeoutSeconds', '1']);
  else if (/^[0-9]+$/.test(t[1])) t[1] = '1';
  return true;
}

function toRaw(req: FuzzRequest): RawRequest {
  const qs = req.query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  const headers: Record<string, string | number> = { ...req.headers, 'user-agent': 'cairn-fuzz/1.0' };
  if (req.body === undefined) delete headers['content-type'];
  return { method: req.method, path: req.path + (qs ? `?${qs}` : ''), headers, body: req.body, timeoutMs: REQUEST_BOUND_MS };
}

function describeRequest(i: number, req: FuzzRequest): string {
  const body = req.body ? req.body.subarray(0, 300).toString().replace(/[^\x20-\x7e]/g, '?') : '';
  return `#${i} ${req.op}/${req.kind.plural} [${req.mutations.join(',')}] ${req.method} ${toRaw(req).path.slice(0, 300)} ct=${req.headers['content-type'] ?? ''} accept=${req.headers.accept ?? ''} body(${req.body?.length ?? 0})=${body}`;
}

/**
 * The few 500s kube-apiserver itself answers: a plain Go error (not an API status) from the
 * strategic-merge-patch or server-side-apply machinery reaches the client as a 500 with reason ""
 * (StatusReasonUnknown) and the error text. Cairn's patch engines reproduce these on purpose; any
 * other 500 (InternalError from an unexpected exception) is a failure.
 */
const UPSTREAM_PLAIN_ERRORS = [/^expected a .+, but received a /, /^failed to create typed patch object/, /^unable to find api field/, /^unexpected patch strategy/, /^unknown patch type: /, /^invalid value for (\$setElementOrder|\$retainKeys)/, /^list element types are not identical/];
let upstreamPlain500s = 0;
function parseYaml(text: string): RawResponse['json'] {
  try {
    return YAML.parse(text) as RawResponse['json'];
  } catch {
    return undefined;
  }
}
function upstreamPlainError(res: RawResponse): boolean {
  // The Status comes in the format the request accepted: YAML too.
  const s = res.json ?? (/yaml/.test(String(res.headers['content-type'] ?? '')) ? parseYaml(res.text) : undefined);
  const ok = res.status === 500 && s?.kind === 'Status' && s.reason === '' && typeof s.message === 'string' && UPSTREAM_PLAIN_ERRORS.some((re) => re.test(s.message));
  if (ok) upstreamPlain500s++;
  return ok;
}

/** What is wrong with a response, or undefined when it is well-formed. */
function checkResponse(req: FuzzRequest, res: RawResponse): string | undefined {
  if (!Number.isInteger(res.status) || res.status < 200 || res.status > 599) return `bad status ${res.status}`;
  const isTimeout = res.status === 504 && res.json?.reason === 'Timeout';
  if (res.status >= 500 && !isTimeout && !upstreamPlainError(res)) return `server error ${res.status}: ${res.text.slice(0, 500)}`;
  if (req.method === 'HEAD') return undefined;
  const ct = String(res.headers['content-type'] ?? '');
  if (res.status >= 400) {
    let s = res.json;
    if (s === undefined && ct.startsWith('application/yaml')) s = safeParse(res.body);
    if (!s || typeof s !== 'object') return `error ${res.status} without a JSON Status (content-type ${ct}): ${res.text.slice(0, 300)}`;
    if (s.kind !== 'Status' || s.apiVersion !== 'v1' || s.status !== 'Failure') return `error ${res.status} body is not a failure Status: ${res.text.slice(0, 300)}`;
    if (s.code !== res.status) return `Status code ${s.code} != HTTP ${res.status}`;
    if (typeof s.reason !== 'string' || (!s.reason && res.status !== 500)) return `Status without reason: ${res.text.slice(0, 300)}`;
    if (typeof s.message !== 'string') return `Status without message: ${res.text.slice(0, 300)}`;
    return undefined;
  }
  // What the server treats as a watch, by the same URL rules (a namespace may be named `watch`).
  let watching = false;
  try {
    const info = parseRequestInfo(req.method, req.path, new URLSearchParams(req.query));
    watching = info.kind === 'resource' && info.verb === 'watch';
  } catch {
    // A path the server refuses to parse is answered with an error Status, checked above.
  }
  if (watching && res.status === 200 && req.method === 'GET') {
    for (const line of res.text.split('\n')) {
      if (!line.trim()) continue;
      let ev: any;
      try {
        ev = JSON.parse(line);
      } catch {
        return `watch line is not JSON: ${line.slice(0, 200)}`;
      }
      if (!['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'].includes(ev.type) || typeof ev.object !== 'object') return `bad watch event: ${line.slice(0, 200)}`;
      if (ev.type === 'ERROR' && (ev.object.kind !== 'Status' || ev.object.code >= 500)) return `watch ERROR event: ${line.slice(0, 300)}`;
    }
    return undefined;
  }
  if (ct.startsWith('application/json')) {
    if (res.json === undefined) return `2xx body is not JSON: ${res.text.slice(0, 200)}`;
    return undefined;
  }
  if (ct.startsWith('application/yaml')) return safeParse(res.body) === undefined ? 'yaml body does not parse' : undefined;
  if (ct.startsWith('application/vnd.kubernetes.protobuf')) return res.body.subarray(0, 4).toString('latin1') === 'k8s\u0000' ? undefined : 'protobuf body without envelope';
  return undefined;
}

// ---- the test ----

let server: TestServer;
let client: RawClient;
/** Stored objects that a PUT of themselves, unchanged, did not accept. */
const revalidation: string[] = [];

before(async () => {
  // The API server alone: controllers would change and delete objects under the consistency check.
  server = await startTestServer({ server: { controllers: false } });
  client = RawClient.admin(server.url, server.dataDir, { maxSockets: CONCURRENCY + MAX_WATCHES + 2, maxFreeSockets: CONCURRENCY + MAX_WATCHES + 2 });
  for (const ns of FUZZ_NAMESPACES) {
    const res = await client.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
    assert.equal(res.status, 201, res.text);
  }
  const crd = await client.request({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: WIDGET_CRD });
  assert.equal(crd.status, 201, crd.text);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await client.request({ path: `/apis/${CRD_GROUP}/v1/namespaces/fuzz-a/widgets` });
    if (res.status === 200) break;
    if (Date.now() > deadline) assert.fail(`the CRD was not served: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  client?.close();
  await server?.stop();
});

const kindByPath = (path: string) => KINDS.find((k) => path.includes(`/${k.plural}`));

describe(`API fuzz (seed ${SEED})`, { timeout: 240_000 }, () => {
  it(`answers ${TOTAL} randomized requests (at least ${MIN_MUTATED} mutated) well`, async (t) => {
    let mutated = 0;
    t.diagnostic(`seed ${SEED}, ${TOTAL} requests, concurrency ${CONCURRENCY}`);
    const pool = new Pool();
    const failures: string[] = [];
    const statusCounts = new Map<number, number>();
    let clientSide = 0;
    const opTimes = new Map<string, [number, number]>();
    let next = 0;
    let maxMs = 0;
    let slowest = '';
    const started = performance.now();

    // Keeps the fuzz namespaces around: mutated requests do delete them now and then.
    let stopJanitor = false;
    const janitor = (async () => {
      while (!stopJanitor) {
        await new Promise((r) => setTimeout(r, 1000));
        for (const ns of FUZZ_NAMESPACES) await client.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } }).catch(() => {});
      }
    })();

    // Watches last their timeoutSeconds (1 s): they run beside the workers, a few at a time.
    const watches = new Set<Promise<void>>();
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        const r = mulberry32((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
        const req = baseRequest(r, pool);
        if (chance(r, 0.75)) {
          try {
            mutate(r, req);
            mutated++;
          } catch (e) {
            // Serializing a pathologically deep body can overflow the fuzzer's own stack: send it unmutated.
            if (!(e instanceof RangeError)) {
              failures.push(`#${i}: the fuzzer itself failed to mutate: ${(e as Error).stack}`);
              continue;
            }
          }
        }
        if (boundWatches(req)) {
          while (watches.size >= MAX_WATCHES) await Promise.race(watches);
          const p = send(i, req).finally(() => watches.delete(p));
          watches.add(p);
          continue;
        }
        await send(i, req);
      }
    };
    const send = async (i: number, req: FuzzRequest) => {
      {
        const raw = toRaw(req);
        const t0 = performance.now();
        let res: RawResponse;
        try {
          res = await client.request(raw);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          // Requests Node's client refuses to send (bad characters in the path or a header).
          if (err.code === 'ERR_UNESCAPED_CHARACTERS' || err.code === 'ERR_INVALID_CHAR' || err.code === 'ERR_INVALID_HTTP_TOKEN') {
            clientSide++;
            return;
          }
          failures.push(`${describeRequest(i, req)} -> transport error ${err.code ?? ''} ${err.message}`);
          return;
        }
        const ms = performance.now() - t0;
        if (process.env.CAIRN_FUZZ_TRACE) console.error(`${(t0 - started).toFixed(0)} ${ms.toFixed(0)}ms ${res?.status} ${describeRequest(i, req).slice(0, 200)}`);
        if (ms > maxMs) {
          maxMs = ms;
          slowest = describeRequest(i, req).slice(0, 300);
        }
        statusCounts.set(res.status, (statusCounts.get(res.status) ?? 0) + 1);
        const opKey = `${req.op}${req.mutations.length ? '*' : ''}`;
        const acc = opTimes.get(opKey) ?? [0, 0];
        opTimes.set(opKey, [acc[0] + 1, acc[1] + ms]);
        const problem = checkResponse(req, res);
        if (problem) failures.push(`${describeRequest(i, req)} -> ${problem}`);
        // Remember objects for later requests.
        if (res.status < 300 && res.json && typeof res.json === 'object' && res.json.metadata && req.method !== 'HEAD') {
          const k = kindByPath(req.path);
          if (k && res.json.kind === k.kind) {
            if (req.method === 'DELETE' && res.status === 200) pool.remove(k, res.json.metadata.namespace, res.json.metadata.name);
            else pool.add(k, res.json);
          } else if (k && req.method === 'DELETE' && res.json.kind === 'Status' && res.json.details?.name) {
            pool.remove(k, req.path.split('/namespaces/')[1]?.split('/')[0], res.json.details.name);
          }
        }
      }
    };
    const cpu0 = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await Promise.all(watches);
    } finally {
      stopJanitor = true;
      await janitor;
    }
    const secs = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    t.diagnostic(`event loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms`);
    t.diagnostic(`process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s over ${secs.toFixed(1)} s`);
    t.diagnostic(`${TOTAL} requests in ${secs.toFixed(1)} s (${(TOTAL / secs).toFixed(0)}/s); refused by the client: ${clientSide}; slowest ${maxMs.toFixed(0)} ms: ${slowest}`);
    t.diagnostic(`upstream-style plain-error 500s (allowed): ${upstreamPlain500s}`);
    t.diagnostic(`statuses: ${[...statusCounts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ')}`);
    t.diagnostic(`time by operation (count, total s): ${[...opTimes].sort((a, b) => b[1][1] - a[1][1]).map(([k, [n, ms]]) => `${k}:${n}/${(ms / 1000).toFixed(1)}`).join(' ')}`);
    assert.ok(clientSide < TOTAL / 10, `too many requests refused client-side: ${clientSide}`);
    assert.ok(mutated >= MIN_MUTATED, `only ${mutated} mutated requests were sent`);
    t.diagnostic(`${mutated} of them mutated`);
    assert.deepEqual(failures.slice(0, 15), [], `seed ${SEED}: ${failures.length} bad responses (first 15 shown)`);
    assert.ok(TOTAL - clientSide >= 10_000 || TOTAL < 10_000, `only ${TOTAL - clientSide} requests reached the server`);
  });

  it('is healthy afterwards', async () => {
    for (const p of ['/healthz', '/livez', '/readyz']) {
      const res = await client.request({ path: p });
      assert.equal(res.status, 200, `${p}: ${res.text}`);
      assert.equal(res.text, 'ok');
    }
  });

  it('keeps a consistent store', async () => {
    await quiesce();
    const problems: string[] = [];
    let objects = 0;
    for (const k of KINDS) {
      const listPath = collectionPath(k, undefined);
      let attempt = 0;
      for (;;) {
        const kindProblems: string[] = [];
        const list = await client.request({ path: listPath });
        assert.equal(list.status, 200, `${listPath}: ${list.text.slice(0, 300)}`);
        const listRv = Number(list.json.metadata.resourceVersion);
        assert.ok(Number.isInteger(listRv) && listRv > 0, `list resourceVersion ${list.json.metadata.resourceVersion}`);
        let changedSince = false;
        await eachLimited(list.json.items as any[], CONCURRENCY, async (item) => {
          const rv = Number(item.metadata?.resourceVersion);
          if (!(rv <= listRv)) kindProblems.push(`${k.plural} ${item.metadata?.name}: item rv ${rv} > list rv ${listRv}`);
          const path = `${collectionPath(k, item.metadata.namespace)}/${encodeURIComponent(item.metadata.name)}`;
          const got = await client.request({ path });
          if (got.status !== 200) {
            changedSince = true;
            kindProblems.push(`${path}: listed but GET is ${got.status} ${got.text.slice(0, 200)}`);
            return;
          }
          if (got.json.kind !== k.kind || got.json.apiVersion !== (k.group ? `${k.group}/${k.version}` : k.version)) kindProblems.push(`${path}: GET kind ${got.json.apiVersion}/${got.json.kind}`);
          if (got.json.metadata.resourceVersion !== item.metadata.resourceVersion) {
            if (Number(got.json.metadata.resourceVersion) > listRv) changedSince = true;
            kindProblems.push(`${path}: list rv ${item.metadata.resourceVersion}, GET rv ${got.json.metadata.resourceVersion}`);
            return;
          }
          // The stored object passes validation again: a PUT of it unchanged is accepted.
          const put = await client.request({ method: 'PUT', path, body: got.json });
          if (put.status === 409) changedSince = true;
          if (put.status >= 500) kindProblems.push(`${path}: re-PUT unchanged is ${put.status} ${put.text.slice(0, 300)}`);
          else if (put.status !== 200 && put.status !== 409) revalidation.push(`${path}: re-PUT unchanged is ${put.status} ${put.text.slice(0, 300)}`);
        });
        if (!kindProblems.length || !changedSince || ++attempt >= 3) {
          problems.push(...kindProblems);
          objects += list.json.items.length;
          break;
        }
        // A controller changed something in between: look again once things are still.
        await quiesce();
      }
    }
    assert.deepEqual(problems.slice(0, 20), [], `seed ${SEED}: ${problems.length} consistency problems over ${objects} objects`);
  });

  // Upstream decodes built-in kinds into typed structs, so a value of the wrong JSON type (a Secret
  // whose `type` is an array, a ConfigMap whose `data` is a string) never reaches storage. Cairn
  // checks types only for custom resources today, so the fuzz stores such objects, which then
  // fail validation on their next update (and trip controllers). Reported, not yet fixed.
  it('stored objects pass re-validation (a PUT of them unchanged is 200)', () => {
    assert.deepEqual(revalidation.slice(0, 10), [], `seed ${SEED}: ${revalidation.length} stored objects fail re-validation`);
  });

  it('watches from a list resourceVersion work', async () => {
    for (const k of KINDS) {
      const list = await client.request({ path: collectionPath(k, undefined) });
      const rv = list.json.metadata.resourceVersion;
      const w = await client.stream(`${collectionPath(k, undefined)}?watch=1&resourceVersion=${rv}&timeoutSeconds=3&allowWatchBookmarks=true`);
      try {
        assert.equal(w.status, 200, `${k.plural} watch from ${rv}`);
        if (k.plural === 'configmaps') {
          const created = await client.request({ method: 'POST', path: collectionPath(k, 'fuzz-a'), body: k.make(`after-${rv}`, mulberry32(1)) });
          assert.equal(created.status, 201, created.text.slice(0, 300));
          const ev = await w.waitFor((e) => e.type === 'ADDED' && e.object?.metadata?.name === `after-${rv}`, 5000);
          assert.equal(ev.object.metadata.resourceVersion, created.json.metadata.resourceVersion);
        }
        await Promise.race([w.ended, new Promise((_, rej) => setTimeout(() => rej(new Error(`${k.plural} watch did not end at its timeout`)), 8000))]);
        assert.equal(w.error, undefined, `${k.plural} watch ended with ${w.error?.message}`);
        const errs = w.events.filter((e) => e.type === 'ERROR');
        assert.deepEqual(errs, [], `${k.plural} watch from ${rv}`);
        for (const e of w.events) if (e.type !== 'BOOKMARK') assert.ok(Number(e.object.metadata.resourceVersion) > Number(rv), `${k.plural}: event at or before the list: ${JSON.stringify(e).slice(0, 300)}`);
      } finally {
        w.close();
      }
    }
  });
});

/** Waits until the store's revision has not moved for a second (controllers settled). */
async function quiesce() {
  let last = '';
  let stableSince = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const res = await client.request({ path: '/api/v1/namespaces?limit=1' });
    const rv = res.json?.metadata?.resourceVersion ?? '';
    if (rv !== last) {
      last = rv;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1000) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function eachLimited<T>(items: T[], limit: number, fn: (x: T) => Promise<void>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}
