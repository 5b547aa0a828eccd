/**
 * apiextensions.k8s.io/v1 CustomResourceDefinition: its own rules (names, versions, structural
 * schemas, subresources, printer columns — upstream's most important validations, same
 * messages), the status the server sets (NamesAccepted, Established, acceptedNames), and the
 * translation of an established CRD into the KindDefinitions the generic registry serves.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isDNS1123Label, isDNS1123Subdomain } from '../../registry/validation.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import { defaultColumns } from '../printing.js';
import type { KindDefinition, ScaleSubresource } from '../types.js';
import type { JSONSchema, SchemaResolver } from '../../schema/types.js';
import { validateStructuralSchema } from '../../schema/structural-schema.js';
import { applyDefaults } from '../../schema/defaults.js';
import { pruneUnknownFields } from '../../schema/unknown-fields.js';
import { validateValue } from '../../schema/validate-value.js';
import { validateEmbeddedResources } from '../../schema/embedded-resources.js';
import { builtinResolver } from '../../schema/builtin-resolver.js';
import { customPrinter, type PrinterColumnSpec } from '../../schema/custom-printer.js';
import { parseSimpleJsonPath } from '../../schema/simple-jsonpath.js';

interface Names {
  plural?: string;
  singular?: string;
  kind?: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}
interface Version {
  name?: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: JSONSchema };
  subresources?: { status?: object; scale?: { specReplicasPath?: string; statusReplicasPath?: string; labelSelectorPath?: string } };
  additionalPrinterColumns?: PrinterColumnSpec[];
}
interface Spec {
  group?: string;
  names?: Names;
  scope?: string;
  versions?: Version[];
  conversion?: { strategy?: string; webhook?: { clientConfig?: { service?: { port?: number } }; conversionReviewVersions?: string[] } };
  preserveUnknownFields?: boolean;
}
interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime: string;
  reason: string;
  message: string;
}

const specOf = (crd: KubeObject) => (isPlainObject(crd.spec) ? crd.spec : {}) as Spec;
const SCOPES = ['Cluster', 'Namespaced'];
const COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'];
const COLUMN_FORMATS = ['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'password'];
/** Inline CRD schemas have no $refs to resolve. */
const noRefs: SchemaResolver = { resolve: () => undefined };

/** Upstream SetDefaults_CustomResourceDefinition and friends. */
function defaults(crd: KubeObject): void {
  const spec = specOf(crd);
  if (!isPlainObject(crd.spec)) crd.spec = spec;
  spec.conversion ??= { strategy: 'None' };
  spec.conversion.strategy ??= 'None';
  const svc = spec.conversion.webhook?.clientConfig?.service;
  if (svc) svc.port ??= 443;
  const names = spec.names;
  if (names?.kind) {
    names.singular ||= names.kind.toLowerCase();
    names.listKind ||= `${names.kind}List`;
  }
}

const dnsLabelErrs = (v: string, p: FieldPath) => isDNS1123Label(v).map((m) => fieldErr.invalid(p, v, m));

function validateNames(n: Names | undefined, p: FieldPath): FieldError[] {
  if (!n) return [fieldErr.required(p)];
  const errs: FieldError[] = [];
  if (!n.plural) errs.push(fieldErr.required(p.child('plural')));
  else errs.push(...dnsLabelErrs(n.plural, p.child('plural')));
  if (n.singular) errs.push(...dnsLabelErrs(n.singular, p.child('singular')));
  if (!n.kind) errs.push(fieldErr.required(p.child('kind')));
  else errs.push(...isDNS1123Label(n.kind.toLowerCase()).map((m) => fieldErr.invalid(p.child('kind'), n.kind, m)));
  if (n.listKind !== undefined) {
    if (!n.listKind) errs.push(fieldErr.required(p.child('listKind')));
    else errs.push(...isDNS1123Label(n.listKind.toLowerCase()).map((m) => fieldErr.invalid(p.child('listKind'), n.listKind, m)));
    if (n.kind && n.listKind === n.kind) errs.push(fieldErr.invalid(p.child('listKind'), n.listKind, 'kind and listKind may not be the same'));
  }
  n.shortNames?.forEach((s, i) => errs.push(...dnsLabelErrs(s, p.child('shortNames').index(i))));
  n.categories?.forEach((s, i) => errs.push(...dnsLabelErrs(s, p.child('categories').index(i))));
  return errs;
}

function validateScale(scale: NonNullable<Version['subresources']>['scale'], p: FieldPath): FieldError[] {
  if (!scale) return [];
  const errs: FieldError[] = [];
  const under = (v: string | undefined, prefixes: string[]) => !!v && !!parseSimpleJsonPath(v) && prefixes.some((x) => v.startsWith(x));
  if (!scale.specReplicasPath) errs.push(fieldErr.required(p.child('specReplicasPath')));
  else if (!under(scale.specReplicasPath, ['.spec.'])) errs.push(fieldErr.invalid(p.child('specReplicasPath'), scale.specReplicasPath, 'should be a json path under .spec'));
  if (!scale.statusReplicasPath) errs.push(fieldErr.required(p.child('statusReplicasPath')));
  else if (!under(scale.statusReplicasPath, ['.status.'])) errs.push(fieldErr.invalid(p.child('statusReplicasPath'), scale.statusReplicasPath, 'should be a json path under .status'));
  if (scale.labelSelectorPath && !under(scale.labelSelectorPath, ['.spec.', '.status.']))
    errs.push(fieldErr.invalid(p.child('labelSelectorPath'), scale.labelSelectorPath, 'should be a json path under either .spec or .status'));
  return errs;
}

function validateColumns(cols: PrinterColumnSpec[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  cols?.forEach((c, i) => {
    const cp = p.index(i);
    if (!c.name) errs.push(fieldErr.required(cp.child('name')));
    if (!c.type) errs.push(fieldErr.required(cp.child('type')));
    else if (!COLUMN_TYPES.includes(c.type)) errs.push(fieldErr.notSupported(cp.child('type'), c.type, COLUMN_TYPES));
    if (c.format && !COLUMN_FORMATS.includes(c.format)) errs.push(fieldErr.notSupported(cp.child('format'), c.format, COLUMN_FORMATS));
    if (c.priority !== undefined && c.priority < 0) errs.push(fieldErr.invalid(cp.child('priority'), c.priority, 'must be greater than or equal to 0'));
    if (!c.jsonPath) errs.push(fieldErr.required(cp.child('jsonPath')));
    // Upstream only asks for a leading dot; a path its printer cannot evaluate prints empty cells.
    else if (!c.jsonPath.startsWith('.')) errs.push(fieldErr.invalid(cp.child('jsonPath'), c.jsonPath, 'must be a simple json path starting with .'));
  });
  return errs;
}

function validateVersions(versions: Version[] | undefined, p: FieldPath): FieldError[] {
  if (!versions?.length) return [fieldErr.invalid(p, versions ?? null, 'must have exactly one version marked as storage version')];
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const vp = p.index(i);
    if (!v.name) errs.push(fieldErr.required(vp.child('name')));
    else {
      errs.push(...dnsLabelErrs(v.name, vp.child('name')));
      if (seen.has(v.name)) errs.push(fieldErr.invalid(vp.child('name'), v.name, 'must be unique'));
      seen.add(v.name);
    }
    const sp = vp.child('schema', 'openAPIV3Schema');
    if (!v.schema?.openAPIV3Schema) errs.push(fieldErr.required(sp, 'schemas are required'));
    else errs.push(...validateStructuralSchema(v.schema.openAPIV3Schema, sp));
    errs.push(...validateScale(v.subresources?.scale, vp.child('subresources', 'scale')));
    errs.push(...validateColumns(v.additionalPrinterColumns, vp.child('additionalPrinterColumns')));
  });
  if (versions.filter((v) => v.storage).length !== 1) errs.push(fieldErr.invalid(p, versions, 'must have exactly one version marked as storage version'));
  if (!versions.some((v) => v.served)) errs.push(fieldErr.invalid(p, versions, 'must have at least one served version'));
  return errs;
}

function validate(crd: KubeObject): FieldError[] {
  const spec = specOf(crd);
  const p = FieldPath.root('spec');
  const errs: FieldError[] = [];
  if (!spec.group) errs.push(fieldErr.required(p.child('group')));
  else {
    errs.push(...isDNS1123Subdomain(spec.group).map((m) => fieldErr.invalid(p.child('group'), spec.group, m)));
    if (spec.group.split('.').length < 2) errs.push(fieldErr.invalid(p.child('group'), spec.group, 'should be a domain with at least one dot'));
  }
  if (spec.names?.plural && spec.group && crd.metadata.name !== `${spec.names.plural}.${spec.group}`)
    errs.push(fieldErr.invalid(FieldPath.root('metadata').child('name'), crd.metadata.name, 'must be spec.names.plural+"."+spec.group'));
  if (!spec.scope) errs.push(fieldErr.required(p.child('scope')));
  else if (!SCOPES.includes(spec.scope)) errs.push(fieldErr.notSupported(p.child('scope'), spec.scope, SCOPES));
  errs.push(...validateNames(spec.names, p.child('names')));
  errs.push(...validateVersions(spec.versions, p.child('versions')));
  const strategy = spec.conversion?.strategy;
  if (strategy && !['None', 'Webhook'].includes(strategy)) errs.push(fieldErr.notSupported(p.child('conversion', 'strategy'), strategy, ['None', 'Webhook']));
  if (strategy === 'Webhook' && !spec.conversion?.webhook) errs.push(fieldErr.required(p.child('conversion', 'webhook'), 'required when strategy is set to Webhook'));
  if (spec.preserveUnknownFields === true)
    errs.push(fieldErr.invalid(p.child('preserveUnknownFields'), true, 'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead'));
  return errs;
}

function validateUpdate(crd: KubeObject, old: KubeObject): FieldError[] {
  const [n, o] = [specOf(crd), specOf(old)];
  const errs: FieldError[] = [];
  if (n.scope !== o.scope) errs.push(fieldErr.invalid(FieldPath.root('spec').child('scope'), n.scope ?? '', 'field is immutable'));
  if (n.group !== o.group) errs.push(fieldErr.invalid(FieldPath.root('spec').child('group'), n.group ?? '', 'field is immutable'));
  return errs;
}

export const customResourceDefinitionKind: KindDefinition = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  listKind: 'CustomResourceDefinitionList',
  plural: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  namespaced: false,
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  schemaName: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition',
  statusSubresource: true,
  printer: {
    columns: defaultColumns,
    cells: (obj) => [obj.metadata.name, obj.metadata.creationTimestamp ?? null],
  },
  strategy: { defaults, validate, validateUpdate },
};

/** The names of a CRD after defaulting (singular and listKind filled in). */
function namesOf(spec: Spec): Required<Pick<Names, 'plural' | 'singular' | 'kind' | 'listKind'>> & Names {
  const n = spec.names ?? {};
  const kind = n.kind ?? '';
  return { ...n, plural: n.plural ?? '', kind, singular: n.singular || kind.toLowerCase(), listKind: n.listKind || `${kind}List` };
}

/**
 * Custom resources decode as upstream's CRD handler: unknown fields are pruned (unless the schema
 * preserves them), then structural defaults apply, then the schema validates.
 */
function customStrategy(schema: JSONSchema | undefined): KindDefinition['strategy'] {
  if (!schema) return {};
  return {
    ...(hasDefaults(schema) ? { defaultsOnRead: (obj: KubeObject) => applyDefaults(obj, schema, noRefs) } : {}),
    defaults(obj) {
      // Resolves ObjectMeta, which the metadata of embedded resources is pruned to.
      pruneUnknownFields(obj, schema, builtinResolver);
      applyDefaults(obj, schema, noRefs);
    },
    validate(obj) {
      // metadata is validated generically; the schema may only constrain name and generateName.
      const { metadata, ...rest } = obj;
      const { metadata: metaSchema, ...props } = schema.properties ?? {};
      const errs = validateValue(rest, { ...schema, properties: props }, noRefs);
      if (metaSchema) errs.push(...validateValue(metadata, metaSchema, noRefs, 'metadata'));
      errs.push(...validateEmbeddedResources(rest, { ...schema, properties: props }));
      return errs;
    },
  };
}

/** Whether any node of a schema sets a default (only then do reads need parsing and defaulting). */
function hasDefaults(s: JSONSchema): boolean {
  if (s.default !== undefined) return true;
  const children = [...Object.values(s.properties ?? {}), ...(s.items ? [s.items] : []), ...(isPlainObject(s.additionalProperties) ? [s.additionalProperties as JSONSchema] : [])];
  return children.some(hasDefaults);
}

function scaleOf(v: Version): ScaleSubresource | undefined {
  const s = v.subresources?.scale;
  if (!s?.specReplicasPath || !s.statusReplicasPath) return undefined;
  return { specReplicasPath: s.specReplicasPath, statusReplicasPath: s.statusReplicasPath, ...(s.labelSelectorPath ? { labelSelectorPath: s.labelSelectorPath } : {}) };
}

/** One KindDefinition per served version of an established CRD. */
export function kindsFromCRD(crd: KubeObject): KindDefinition[] {
  const spec = specOf(crd);
  const names = namesOf(spec);
  const storage = spec.versions?.find((v) => v.storage)?.name;
  return (spec.versions ?? [])
    .filter((v) => v.served && v.name)
    .map((v) => {
      const schema = v.schema?.openAPIV3Schema;
      const scale = scaleOf(v);
      return {
        group: spec.group ?? '',
        version: v.name!,
        kind: names.kind,
        listKind: names.listKind,
        plural: names.plural,
        singular: names.singular,
        namespaced: spec.scope === 'Namespaced',
        ...(names.shortNames?.length ? { shortNames: [...names.shortNames] } : {}),
        ...(names.categories?.length ? { categories: [...names.categories] } : {}),
        ...(schema ? { schema } : {}),
        ...(storage ? { storageVersion: storage } : {}),
        statusSubresource: !!v.subresources?.status,
        ...(scale ? { scale } : {}),
        printer: customPrinter(v.additionalPrinterColumns),
        strategy: customStrategy(schema),
        custom: true,
      } satisfies KindDefinition;
    });
}

export interface CRDStatusUpdate {
  conditions: Condition[];
  acceptedNames: Names;
}

/**
 * The NamesAccepted and Established conditions and acceptedNames the server sets, as upstream's
 * naming controller: names conflict when another CRD of the same group already uses the plural,
 * a short name, the kind or the list kind. Transition times are kept while a status is unchanged.
 */
export function crdStatusConditions(crd: KubeObject, others: KubeObject[] = [], now: Date = new Date()): CRDStatusUpdate {
  const spec = specOf(crd);
  const names = namesOf(spec);
  const taken = others.filter((o) => o.metadata.name !== crd.metadata.name && specOf(o).group === spec.group).map((o) => namesOf(specOf(o)));
  let conflict: [string, string] | undefined;
  for (const t of taken) {
    if (t.plural === names.plural || t.singular === names.plural) conflict = ['PluralConflict', `"${names.plural}" is already in use`];
    else if (t.kind === names.kind || t.listKind === names.kind) conflict = ['KindConflict', `"${names.kind}" is already in use`];
    else if (t.kind === names.listKind || t.listKind === names.listKind) conflict = ['ListKindConflict', `"${names.listKind}" is already in use`];
    else {
      const used = new Set([...(t.shortNames ?? []), t.plural, t.singular]);
      const s = names.shortNames?.find((x) => used.has(x));
      if (s) conflict = ['ShortNamesConflict', `"${s}" is already in use`];
    }
    if (conflict) break;
  }
  const previous = (isPlainObject(crd.status) && Array.isArray(crd.status.conditions) ? crd.status.conditions : []) as Condition[];
  const condition = (type: string, ok: boolean, reason: string, message: string): Condition => {
    const status = ok ? 'True' : 'False';
    const prev = previous.find((c) => c.type === type);
    const lastTransitionTime = prev?.status === status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { type, status, lastTransitionTime, reason, message };
  };
  const accepted = !conflict;
  const prevAccepted = (isPlainObject(crd.status) ? crd.status.acceptedNames : undefined) as Names | undefined;
  return {
    conditions: [
      condition('NamesAccepted', accepted, conflict?.[0] ?? 'NoConflicts', conflict?.[1] ?? 'no conflicts found'),
      condition('Established', accepted, accepted ? 'InitialNamesAccepted' : 'NotAccepted', accepted ? 'the initial names have been accepted' : 'not all names are accepted'),
    ],
    acceptedNames: accepted ? { ...names } : (prevAccepted ?? {}),
  };
}
