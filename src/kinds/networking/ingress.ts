/**
 * networking.k8s.io/v1 Ingress: HTTP routing rules to Services (or resources). Validation follows
 * upstream's pkg/apis/networking/validation; v1 has no pathType default, so it is required.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isDNS1123Subdomain, isValidIP, isValidPortNum } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { hostErrors, isDNS1035Label, isValidPortName } from './names.js';

interface ServiceBackend {
  name?: string;
  port?: { name?: string; number?: number };
}
interface TypedLocalObjectReference {
  apiGroup?: string;
  kind?: string;
  name?: string;
}
interface Backend {
  service?: ServiceBackend;
  resource?: TypedLocalObjectReference;
}
interface HTTPPath {
  path?: string;
  pathType?: string;
  backend?: Backend;
}
interface Rule {
  host?: string;
  http?: { paths?: HTTPPath[] };
}
interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: Backend;
  tls?: { hosts?: string[]; secretName?: string }[];
  rules?: Rule[];
}
interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];
const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export function validateIngressBackend(b: Backend, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (b.resource && b.service) return [fieldErr.invalid(path, '', 'cannot set both resource and service backends')];
  if (b.resource) return validateTypedLocalObjectReference(b.resource, path.child('resource'));
  if (!b.service) return [fieldErr.invalid(path, '', 'resource or service backend is required')];
  const sp = path.child('service');
  const name = b.service.name ?? '';
  if (!name) errs.push(fieldErr.required(sp.child('name')));
  else for (const m of isDNS1035Label(name)) errs.push(fieldErr.invalid(sp.child('name'), name, m));
  const port = b.service.port ?? {};
  const hasName = !!port.name;
  const hasNumber = !!port.number;
  if (hasName && hasNumber) errs.push(fieldErr.invalid(path, '', 'cannot set both port name & port number'));
  else if (hasName) for (const m of isValidPortName(port.name!)) errs.push(fieldErr.invalid(sp.child('port', 'name'), port.name, m));
  else if (hasNumber) for (const m of isValidPortNum(port.number!)) errs.push(fieldErr.invalid(sp.child('port', 'number'), port.number, m));
  else errs.push(fieldErr.required(path, 'port name or number is required'));
  return errs;
}

/** Upstream's ValidateTypedLocalObjectReference (core validation), as Ingress resource backends use it. */
function validateTypedLocalObjectReference(r: TypedLocalObjectReference, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (r.apiGroup) for (const m of isDNS1123Subdomain(r.apiGroup)) errs.push(fieldErr.invalid(path.child('apiGroup'), r.apiGroup, m));
  if (!r.kind) errs.push(fieldErr.required(path.child('kind')));
  if (!r.name) errs.push(fieldErr.required(path.child('name')));
  return errs;
}

function validateHTTPPath(p: HTTPPath, path: FieldPath): FieldError[] {
  if (!p.pathType) return [fieldErr.required(path.child('pathType'), 'pathType must be specified')];
  const errs: FieldError[] = [];
  const value = p.path ?? '';
  const pp = path.child('path');
  if (p.pathType === 'Exact' || p.pathType === 'Prefix') {
    if (!value.startsWith('/')) errs.push(fieldErr.invalid(pp, value, 'must be an absolute path'));
    for (const s of INVALID_PATH_SEQUENCES) if (value.includes(s)) errs.push(fieldErr.invalid(pp, value, `must not contain '${s}'`));
    for (const s of INVALID_PATH_SUFFIXES) if (value.endsWith(s)) errs.push(fieldErr.invalid(pp, value, `cannot end with '${s}'`));
  } else if (p.pathType === 'ImplementationSpecific') {
    if (value && !value.startsWith('/')) errs.push(fieldErr.invalid(pp, value, 'must be an absolute path'));
  } else {
    errs.push(fieldErr.notSupported(path.child('pathType'), p.pathType, PATH_TYPES));
  }
  errs.push(...validateIngressBackend(p.backend ?? {}, path.child('backend')));
  return errs;
}

function validateRules(rules: Rule[], path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  rules.forEach((r, i) => {
    const rp = path.index(i);
    if (r.host) {
      if (isValidIP(r.host)) errs.push(fieldErr.invalid(rp.child('host'), r.host, 'must be a DNS name, not an IP address'));
      for (const m of hostErrors(r.host)) errs.push(fieldErr.invalid(rp.child('host'), r.host, m));
    }
    if (r.http) {
      const hp = rp.child('http');
      const paths = r.http.paths ?? [];
      if (paths.length === 0) errs.push(fieldErr.required(hp.child('paths')));
      paths.forEach((p, j) => errs.push(...validateHTTPPath(p, hp.child('paths').index(j))));
    }
  });
  return errs;
}

function validateTLS(tls: NonNullable<IngressSpec['tls']>, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  tls.forEach((t, i) => {
    (t.hosts ?? []).forEach((h, j) => {
      for (const m of hostErrors(h)) errs.push(fieldErr.invalid(path.index(i).child('hosts').index(j), h, m));
    });
    if (t.secretName) for (const m of isDNS1123Subdomain(t.secretName)) errs.push(fieldErr.invalid(path.index(i).child('secretName'), t.secretName, m));
  });
  return errs;
}

function validateIngress(obj: KubeObject): FieldError[] {
  const spec = (obj.spec ?? {}) as IngressSpec;
  const path = FieldPath.root('spec');
  const errs: FieldError[] = [];
  const rules = spec.rules ?? [];
  if (rules.length === 0 && !spec.defaultBackend) errs.push(fieldErr.invalid(path, spec.rules ?? null, 'either `defaultBackend` or `rules` must be specified'));
  if (spec.defaultBackend) errs.push(...validateIngressBackend(spec.defaultBackend, path.child('defaultBackend')));
  errs.push(...validateRules(rules, path.child('rules')));
  errs.push(...validateTLS(spec.tls ?? [], path.child('tls')));
  if (spec.ingressClassName !== undefined)
    for (const m of isDNS1123Subdomain(spec.ingressClassName)) errs.push(fieldErr.invalid(path.child('ingressClassName'), spec.ingressClassName, m));
  // Upstream checks this on create only; the annotation is the pre-IngressClass way to pick a class.
  const annotated = obj.metadata.annotations?.[CLASS_ANNOTATION];
  if (annotated !== undefined && spec.ingressClassName !== undefined && annotated !== spec.ingressClassName)
    errs.push(fieldErr.invalid(FieldPath.root('annotations').child(CLASS_ANNOTATION), annotated, 'must match `ingressClassName` when both are specified'));
  return errs;
}

function validateStatus(obj: KubeObject): FieldError[] {
  const lb = ((obj.status as { loadBalancer?: { ingress?: LoadBalancerIngress[] } } | undefined)?.loadBalancer?.ingress ?? []) as LoadBalancerIngress[];
  const errs: FieldError[] = [];
  lb.forEach((e, i) => {
    const p = FieldPath.root('status').child('loadBalancer', 'ingress').index(i);
    if (e.ip && !isValidIP(e.ip)) errs.push(fieldErr.invalid(p.child('ip'), e.ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    if (e.hostname) {
      for (const m of isDNS1123Subdomain(e.hostname)) errs.push(fieldErr.invalid(p.child('hostname'), e.hostname, m));
      if (isValidIP(e.hostname)) errs.push(fieldErr.invalid(p.child('hostname'), e.hostname, 'must be a DNS name, not an IP address'));
    }
  });
  return errs;
}

/** Hosts column: up to three rule hosts, "*" when no rule names one. */
function formatHosts(rules: Rule[]): string {
  const hosts = rules.map((r) => r.host).filter((h): h is string => !!h);
  if (hosts.length === 0) return '*';
  const max = 3;
  const more = hosts.length - max;
  return more > 0 ? `${hosts.slice(0, max).join(',')} + ${more} more...` : hosts.join(',');
}

/** Address column: IPs/hostnames of the load balancer, cut to 16 characters as upstream's non-wide output. */
function formatAddress(obj: KubeObject): string {
  const lb = ((obj.status as { loadBalancer?: { ingress?: LoadBalancerIngress[] } } | undefined)?.loadBalancer?.ingress ?? []) as LoadBalancerIngress[];
  const parts: string[] = [];
  for (const e of lb) {
    if (e.ip) parts.push(e.ip);
    if (e.hostname) parts.push(e.hostname);
  }
  const s = parts.join(',');
  return s.length > 16 ? `${s.slice(0, 13)}...` : s;
}

export const ingressKind: KindDefinition = {
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'Ingress',
  listKind: 'IngressList',
  plural: 'ingresses',
  singular: 'ingress',
  namespaced: true,
  shortNames: ['ing'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.networking.v1.Ingress',
  statusSubresource: true,
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      { name: 'Class', type: 'string', description: 'The name of the IngressClass cluster resource.', priority: 0 },
      { name: 'Hosts', type: 'string', description: 'Hosts that incoming requests are matched against.', priority: 0 },
      { name: 'Address', type: 'string', description: 'Address is a list containing ingress points for the load-balancer.', priority: 0 },
      { name: 'Ports', type: 'string', description: 'Ports of TLS configurations that open.', priority: 0 },
      ageColumn,
    ],
    cells(obj, now) {
      const spec = (obj.spec ?? {}) as IngressSpec;
      return [
        obj.metadata.name,
        spec.ingressClassName ?? '<none>',
        formatHosts(spec.rules ?? []),
        formatAddress(obj),
        (spec.tls ?? []).length ? '80, 443' : '80',
        creationAge(obj, now),
      ];
    },
  },
  strategy: {
    validate: validateIngress,
    validateStatusUpdate: validateStatus,
  },
};
