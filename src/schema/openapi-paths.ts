/**
 * The `paths` of a group-version's OpenAPI v3 document: one entry per resource URL with the
 * operations its verbs allow, laid out as upstream does. kubectl reads two things here: the
 * operation's `x-kubernetes-group-version-kind` (explain finds the kind of a resource through it)
 * and the PATCH operation's query parameters (apply uses server-side field validation only when
 * a `fieldValidation` parameter is listed).
 */
import { ALL_VERBS, type KindDefinition, type Verb } from '../kinds/types.js';
import { REF_PREFIX } from './builtin-schemas.js';
import { upstreamName } from './builtin/packages.js';

type Obj = Record<string, unknown>;
const ref = (name: string) => ({ $ref: REF_PREFIX + name });
const STATUS = upstreamName('meta.v1.Status');
const DELETE_OPTIONS = upstreamName('meta.v1.DeleteOptions');
const PATCH = upstreamName('meta.v1.Patch');
const WATCH_EVENT = upstreamName('meta.v1.WatchEvent');
const SCALE = upstreamName('autoscaling.v1.Scale');

const query = (name: string, type: 'string' | 'boolean' | 'integer', description: string): Obj => ({
  name,
  in: 'query',
  description,
  schema: { type, uniqueItems: true },
});
const pathParam = (name: string, description: string): Obj => ({ name, in: 'path', description, required: true, schema: { type: 'string', uniqueItems: true } });

const P = {
  pretty: query('pretty', 'string', "If 'true', the output is indented."),
  dryRun: query('dryRun', 'string', "When 'All', the request is validated and defaulted but not persisted."),
  fieldManager: query('fieldManager', 'string', 'The name of the actor making the change, recorded in managedFields.'),
  fieldValidation: query('fieldValidation', 'string', 'What to do with unknown or duplicate fields: Ignore, Warn (default) or Strict.'),
  force: query('force', 'boolean', 'Apply only: take ownership of fields that other managers own.'),
  gracePeriodSeconds: query('gracePeriodSeconds', 'integer', 'Seconds to wait before the object is deleted.'),
  propagationPolicy: query('propagationPolicy', 'string', 'How dependents are garbage collected: Orphan, Background or Foreground.'),
  orphanDependents: query('orphanDependents', 'boolean', 'Deprecated: use propagationPolicy.'),
  list: [
    query('allowWatchBookmarks', 'boolean', 'Watch only: ask for BOOKMARK events.'),
    query('continue', 'string', 'The token of the next page of a paginated list.'),
    query('fieldSelector', 'string', 'Restrict the list by field values.'),
    query('labelSelector', 'string', 'Restrict the list by labels.'),
    query('limit', 'integer', 'The most items to return in one page.'),
    query('resourceVersion', 'string', 'The resource version the list or watch starts from.'),
    query('resourceVersionMatch', 'string', 'How resourceVersion is applied to a list: Exact or NotOlderThan.'),
    query('sendInitialEvents', 'boolean', 'Watch only: start with synthetic ADDED events for current objects.'),
    query('timeoutSeconds', 'integer', 'Time limit of the list or watch call.'),
    query('watch', 'boolean', 'Stream changes instead of returning a list.'),
  ],
};

const MEDIA_OUT = ['application/json', 'application/yaml'];
const content = (name: string, types = MEDIA_OUT) => Object.fromEntries(types.map((t) => [t, { schema: ref(name) }]));
const ok = (name: string, code = '200', types = MEDIA_OUT) => ({ [code]: { description: code === '201' ? 'Created' : code === '202' ? 'Accepted' : 'OK', content: content(name, types) } });
const unauthorized = { '401': { description: 'Unauthorized' } };

/** upstream's operation-id infix: `CoreV1`, `AppsV1`, `RbacAuthorizationV1`, `StableExampleComV1`. */
function gvId(group: string, version: string): string {
  const g = group ? group.replace(/\.k8s\.io$/, '').split('.') : ['core'];
  const cap = (s: string) => s.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
  return g.map(cap).join('') + cap(version);
}

export interface PathsInput {
  kind: KindDefinition;
  /** Component names of the kind and its list. */
  schema: string;
  listSchema: string;
}

export function resourcePaths({ kind: k, schema, listSchema }: PathsInput): Record<string, Obj> {
  const verbs = new Set<Verb>(k.verbs ?? ALL_VERBS);
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  const scoped = k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}` : `${base}/${k.plural}`;
  const ns = k.namespaced ? 'Namespaced' : '';
  const id = gvId(k.group, k.version);
  const gvk = { group: k.group, version: k.version, kind: k.kind };
  const tags = [`${k.group ? k.group.replace(/\.k8s\.io$/, '').replace(/\./g, '_') : 'core'}_${k.version}`];
  const op = (action: string, opId: string, description: string, extra: Obj, theGvk: Obj = gvk): Obj => ({
    tags,
    description,
    operationId: opId,
    ...extra,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': theGvk,
  });
  const nsParam = k.namespaced ? [pathParam('namespace', 'The namespace of the objects.')] : [];
  const nameParams = [pathParam('name', `The name of the ${k.kind}.`), ...nsParam, P.pretty];
  const writeParams = [P.dryRun, P.fieldManager, P.fieldValidation];
  const patchBody = (strategic: boolean) => ({
    content: Object.fromEntries(
      ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', ...(strategic ? ['application/strategic-merge-patch+json'] : [])].map((t) => [t, { schema: ref(PATCH) }]),
    ),
    required: true,
  });
  const body = (name: string) => ({ content: { '*/*': { schema: ref(name) } }, required: true });
  const strategic = !k.custom;

  const paths: Record<string, Obj> = {};
  const collection: Obj = { parameters: [...nsParam, P.pretty] };
  if (verbs.has('list'))
    collection.get = op('list', `list${id}${ns}${k.kind}`, `list or watch objects of kind ${k.kind}`, {
      parameters: P.list,
      responses: { ...ok(listSchema, '200', [...MEDIA_OUT, 'application/json;stream=watch']), ...unauthorized },
    });
  if (verbs.has('create'))
    collection.post = op('post', `create${id}${ns}${k.kind}`, `create a ${k.kind}`, {
      parameters: writeParams,
      requestBody: body(schema),
      responses: { ...ok(schema), ...ok(schema, '201'), ...ok(schema, '202'), ...unauthorized },
    });
  if (verbs.has('deletecollection'))
    collection.delete = op('deletecollection', `deleteCollection${id}${ns}${k.kind}`, `delete collection of ${k.kind}`, {
      parameters: [P.dryRun, P.gracePeriodSeconds, P.orphanDependents, P.propagationPolicy, ...P.list],
      requestBody: { content: { '*/*': { schema: ref(DELETE_OPTIONS) } } },
      responses: { ...ok(STATUS), ...unauthorized },
    });
  if (Object.keys(collection).length > 1) paths[scoped] = collection;

  const item: Obj = { parameters: nameParams };
  if (verbs.has('get'))
    item.get = op('get', `read${id}${ns}${k.kind}`, `read the specified ${k.kind}`, { responses: { ...ok(schema), ...unauthorized } });
  if (verbs.has('update'))
    item.put = op('put', `replace${id}${ns}${k.kind}`, `replace the specified ${k.kind}`, {
      parameters: writeParams,
      requestBody: body(schema),
      responses: { ...ok(schema), ...ok(schema, '201'), ...unauthorized },
    });
  if (verbs.has('delete'))
    item.delete = op('delete', `delete${id}${ns}${k.kind}`, `delete a ${k.kind}`, {
      parameters: [P.dryRun, P.gracePeriodSeconds, P.orphanDependents, P.propagationPolicy],
      requestBody: { content: { '*/*': { schema: ref(DELETE_OPTIONS) } } },
      responses: { ...ok(schema), ...ok(schema, '202'), ...unauthorized },
    });
  if (verbs.has('patch'))
    item.patch = op('patch', `patch${id}${ns}${k.kind}`, `partially update the specified ${k.kind}`, {
      parameters: [...writeParams, P.force],
      requestBody: patchBody(strategic),
      responses: { ...ok(schema), ...ok(schema, '201'), ...unauthorized },
    });
  if (Object.keys(item).length > 1) paths[`${scoped}/{name}`] = item;

  const sub = (name: string, target: string, targetGvk: Obj, suffix: string) => {
    const s: Obj = { parameters: nameParams };
    s.get = op('get', `read${id}${ns}${k.kind}${suffix}`, `read ${name} of the specified ${k.kind}`, { responses: { ...ok(target), ...unauthorized } }, targetGvk);
    if (verbs.has('update'))
      s.put = op('put', `replace${id}${ns}${k.kind}${suffix}`, `replace ${name} of the specified ${k.kind}`, {
        parameters: writeParams,
        requestBody: body(target),
        responses: { ...ok(target), ...ok(target, '201'), ...unauthorized },
      }, targetGvk);
    if (verbs.has('patch'))
      s.patch = op('patch', `patch${id}${ns}${k.kind}${suffix}`, `partially update ${name} of the specified ${k.kind}`, {
        parameters: [...writeParams, P.force],
        requestBody: patchBody(strategic),
        responses: { ...ok(target), ...ok(target, '201'), ...unauthorized },
      }, targetGvk);
    paths[`${scoped}/{name}/${name}`] = s;
  };
  if (k.statusSubresource) sub('status', schema, gvk, 'Status');
  if (k.scale) sub('scale', SCALE, { group: 'autoscaling', version: 'v1', kind: 'Scale' }, 'Scale');

  if (k.namespaced && verbs.has('list'))
    paths[`${base}/${k.plural}`] = {
      parameters: [P.pretty],
      get: op('list', `list${id}${k.kind}ForAllNamespaces`, `list or watch objects of kind ${k.kind} in all namespaces`, {
        parameters: P.list,
        responses: { ...ok(listSchema, '200', [...MEDIA_OUT, 'application/json;stream=watch']), ...unauthorized },
      }),
    };
  return paths;
}

/** Components every group-version document carries besides its kinds'. */
export const COMMON_COMPONENTS = [STATUS, DELETE_OPTIONS, PATCH, WATCH_EVENT];
export { SCALE as SCALE_COMPONENT };
