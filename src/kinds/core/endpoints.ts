/** core/v1 Endpoints: ValidateEndpoints (subset addresses and ports) and printEndpoints. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isIPv6, isValidPortNum } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { PROTOCOLS } from './container.js';
import { asObjList, asStr, invalidEach, validateDNSLabel, validateDNSSubdomain, validateEnum, validateIP } from './helpers.js';

function validateAddresses(list: unknown, path: FieldPath): FieldError[] {
  return asObjList(list).flatMap((a, i) => {
    const ap = path.index(i);
    const errs = validateIP(a.ip, ap.child('ip'));
    if (a.hostname) errs.push(...validateDNSLabel(asStr(a.hostname), ap.child('hostname')));
    if (a.nodeName) errs.push(...validateDNSSubdomain(asStr(a.nodeName), ap.child('nodeName')));
    return errs;
  });
}

function validate(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  asObjList(obj.subsets).forEach((ss, i) => {
    const sp = FieldPath.root('subsets').index(i);
    const ports = asObjList(ss.ports);
    errs.push(...validateAddresses(ss.addresses, sp.child('addresses')));
    errs.push(...validateAddresses(ss.notReadyAddresses, sp.child('notReadyAddresses')));
    ports.forEach((p, j) => {
      const pp = sp.child('ports').index(j);
      // As for services, a name is what tells several ports apart.
      if (ports.length > 1 && !p.name) errs.push(fieldErr.required(pp.child('name')));
      else if (p.name) errs.push(...validateDNSLabel(asStr(p.name), pp.child('name')));
      errs.push(...invalidEach(isValidPortNum(p.port as number), pp.child('port'), p.port));
      errs.push(...validateEnum(p.protocol, pp.child('protocol'), PROTOCOLS));
    });
  });
  return errs;
}

/** "ip:port,..." for the first three endpoints, then "+ N more...", as kubectl shows them. */
export function formatEndpoints(obj: KubeObject): string {
  const subsets = asObjList(obj.subsets);
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses = asObjList(ss.addresses).map((a) => asStr(a.ip));
    const ports = asObjList(ss.ports);
    // Headless services may have no ports: list bare addresses then.
    const entries = ports.length === 0 ? [addresses] : ports.map((p) => addresses.map((ip) => (isIPv6(ip) ? `[${ip}]:${p.port}` : `${ip}:${p.port}`)));
    for (const group of entries) {
      count += group.length;
      for (const e of group) if (list.length < max) list.push(e);
    }
  }
  const text = list.join(',');
  if (count > max) return `${text} + ${count - max} more...`;
  return text || '<none>';
}

export const endpoints: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Endpoints',
  listKind: 'EndpointsList',
  plural: 'endpoints',
  singular: 'endpoints',
  namespaced: true,
  shortNames: ['ep'],
  schemaName: 'io.k8s.api.core.v1.Endpoints',
  nameFormat: 'subdomain',
  printer: {
    columns: [nameColumn, { name: 'Endpoints', type: 'string', description: 'The ready addresses with ports, abbreviated after three.', priority: 0 }, ageColumn],
    cells: (obj, now) => [obj.metadata.name, formatEndpoints(obj), age(obj.metadata.creationTimestamp, now)],
  },
  strategy: {
    defaults: (obj) => {
      for (const ss of asObjList(obj.subsets)) for (const p of asObjList(ss.ports)) if (!p.protocol) p.protocol = 'TCP';
    },
    validate,
  },
};
