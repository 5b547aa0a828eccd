/** networking.k8s.io/v1 IngressClass: which controller implements a class of Ingresses. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { immutableField, isDNS1123Subdomain } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

interface ParametersReference {
  apiGroup?: string;
  kind?: string;
  name?: string;
  scope?: string;
  namespace?: string;
}
interface IngressClassSpec {
  controller?: string;
  parameters?: ParametersReference;
}

const MAX_CONTROLLER_LEN = 250;
const httpPathFmt = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
const httpPathRe = new RegExp(`^${httpPathFmt}$`);

const specOf = (obj: KubeObject) => (obj.spec ?? {}) as IngressClassSpec;

/** apimachinery's IsDomainPrefixedPath: `example.com/name`. */
function validateDomainPrefixedPath(v: string, path: FieldPath): FieldError[] {
  if (!v) return [fieldErr.required(path)];
  const slash = v.indexOf('/');
  const host = slash < 0 ? v : v.slice(0, slash);
  const rest = slash < 0 ? '' : v.slice(slash + 1);
  if (slash < 0 || !host || !rest) return [fieldErr.invalid(path, v, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  const errs = isDNS1123Subdomain(host).map((m) => fieldErr.invalid(path, host, m));
  if (!httpPathRe.test(rest)) errs.push(fieldErr.invalid(path, rest, `must be a valid path (regex used for validation is '${httpPathFmt}')`));
  return errs;
}

function validateParameters(p: ParametersReference, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!p.kind) errs.push(fieldErr.required(path.child('kind'), 'kind is required'));
  if (!p.name) errs.push(fieldErr.required(path.child('name'), 'name is required'));
  if (p.apiGroup) for (const m of isDNS1123Subdomain(p.apiGroup)) errs.push(fieldErr.invalid(path.child('apiGroup'), p.apiGroup, m));
  if (!p.scope) errs.push(fieldErr.required(path.child('scope')));
  else if (p.scope === 'Cluster') {
    if (p.namespace) errs.push(fieldErr.forbidden(path.child('namespace'), "`parameters.scope` is set to 'Cluster'"));
  } else if (p.scope === 'Namespace') {
    if (!p.namespace) errs.push(fieldErr.required(path.child('namespace'), "`parameters.scope` is set to 'Namespace'"));
    else for (const m of isDNS1123Subdomain(p.namespace)) errs.push(fieldErr.invalid(path.child('namespace'), p.namespace, m));
  } else errs.push(fieldErr.notSupported(path.child('scope'), p.scope, ['Cluster', 'Namespace']));
  return errs;
}

export const ingressClassKind: KindDefinition = {
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'IngressClass',
  listKind: 'IngressClassList',
  plural: 'ingressclasses',
  singular: 'ingressclass',
  namespaced: false,
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.networking.v1.IngressClass',
  // Upstream's strategy sets generation 1 on create and bumps it when spec changes.
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      { name: 'Controller', type: 'string', description: 'The name of the controller that should handle this class.', priority: 0 },
      { name: 'Parameters', type: 'string', description: 'A link to a resource holding configuration for the controller.', priority: 0 },
      ageColumn,
    ],
    cells(obj, now) {
      const spec = specOf(obj);
      const p = spec.parameters;
      const params = !p ? '<none>' : p.apiGroup ? `${p.kind}.${p.apiGroup}/${p.name}` : `${p.kind}/${p.name}`;
      return [obj.metadata.name, spec.controller ?? '', params, creationAge(obj, now)];
    },
  },
  strategy: {
    defaults(obj) {
      const p = specOf(obj).parameters;
      if (p && !p.scope) p.scope = 'Cluster';
    },
    validate(obj) {
      const spec = specOf(obj);
      const path = FieldPath.root('spec');
      const controller = spec.controller ?? '';
      const errs: FieldError[] = [];
      if (controller.length > MAX_CONTROLLER_LEN) errs.push(fieldErr.tooLong(path.child('controller'), controller, MAX_CONTROLLER_LEN));
      errs.push(...validateDomainPrefixedPath(controller, path.child('controller')));
      if (spec.parameters) errs.push(...validateParameters(spec.parameters, path.child('parameters')));
      return errs;
    },
    validateUpdate(obj, old) {
      return immutableField(specOf(obj).controller, specOf(old).controller, FieldPath.root('spec').child('controller'), deepEqual);
    },
  },
};
