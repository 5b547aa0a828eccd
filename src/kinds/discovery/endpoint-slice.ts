/**
 * discovery.k8s.io/v1 EndpointSlice: a slice of a Service's endpoints of one address type.
 * Upstream bumps generation on any non-metadata change, and addressType is immutable.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { immutableField, isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isQualifiedName, validateLabels } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

interface Endpoint {
  addresses?: string[];
  hostname?: string;
  nodeName?: string;
  zone?: string;
  deprecatedTopology?: Record<string, string>;
  hints?: { forZones?: { name: string }[] };
}
interface EndpointPort {
  name?: string;
  protocol?: string;
  port?: number;
  appProtocol?: string;
}
interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: Endpoint[];
  ports?: EndpointPort[];
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;
const MAX_TOPOLOGY_LABELS = 16;
const MAX_ZONE_HINTS = 8;
const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** Upstream's ValidateNonSpecialIP: endpoints may not point at unspecified, loopback or link-local addresses. */
function specialIPErrors(ip: string): string[] {
  if (ip === '0.0.0.0' || /^(0*:)*:?0*$/.test(ip)) return ['may not be unspecified (0.0.0.0, ::)'];
  const lower = ip.toLowerCase();
  if (ip.startsWith('127.') || lower === '::1') return ['may not be in the loopback range (127.0.0.0/8, ::1/128)'];
  if (ip.startsWith('169.254.') || /^fe[89ab][0-9a-f]:/.test(lower)) return ['may not be in the link-local range (169.254.0.0/16, fe80::/10)'];
  if (ip.startsWith('224.0.0.') || lower.startsWith('ff02:')) return ['may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'];
  return [];
}

/** validation.IsFullyQualifiedDomainName (a trailing dot is allowed). */
function fqdnErrors(name: string, path: FieldPath): FieldError[] {
  if (!name) return [fieldErr.required(path)];
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const sub = isDNS1123Subdomain(n);
  if (sub.length) return [fieldErr.invalid(path, n, sub.join(','))];
  const labels = n.split('.');
  if (labels.length < 2) return [fieldErr.invalid(path, n, 'should be a domain with at least two segments separated by dots')];
  for (const l of labels) {
    const e = isDNS1123Label(l);
    if (e.length) return [fieldErr.invalid(path, l, e.join(','))];
  }
  return [];
}

function validateAddress(addr: string, type: string, path: FieldPath): FieldError[] {
  switch (type) {
    case 'IPv4':
      if (!isIPv4(addr)) return [fieldErr.invalid(path, addr, 'must be a valid IPv4 address')];
      return specialIPErrors(addr).map((m) => fieldErr.invalid(path, addr, m));
    case 'IPv6':
      if (!isIPv6(addr)) return [fieldErr.invalid(path, addr, 'must be a valid IPv6 address')];
      return specialIPErrors(addr).map((m) => fieldErr.invalid(path, addr, m));
    case 'FQDN':
      return fqdnErrors(addr, path);
    default:
      return []; // unknown types were already reported on addressType
  }
}

function validateEndpoints(eps: Endpoint[], type: string, path: FieldPath): FieldError[] {
  if (eps.length > MAX_ENDPOINTS) return [fieldErr.tooMany(path, eps.length, MAX_ENDPOINTS)];
  const errs: FieldError[] = [];
  eps.forEach((ep, i) => {
    const ip = path.index(i);
    const ap = ip.child('addresses');
    const addrs = ep.addresses ?? [];
    if (addrs.length === 0) errs.push(fieldErr.required(ap, 'must contain at least 1 address'));
    else if (addrs.length > MAX_ADDRESSES) errs.push(fieldErr.tooMany(ap, addrs.length, MAX_ADDRESSES));
    addrs.forEach((a, j) => errs.push(...validateAddress(a, type, ap.index(j))));
    if (ep.nodeName !== undefined) for (const m of isDNS1123Subdomain(ep.nodeName)) errs.push(fieldErr.invalid(ip.child('nodeName'), ep.nodeName, m));
    const topo = ep.deprecatedTopology ?? {};
    if (Object.keys(topo).length > MAX_TOPOLOGY_LABELS) errs.push(fieldErr.tooMany(ip.child('deprecatedTopology'), Object.keys(topo).length, MAX_TOPOLOGY_LABELS));
    errs.push(...validateLabels(topo, ip.child('deprecatedTopology')));
    if (ep.zone !== undefined) errs.push(...validateLabels({ [ZONE_LABEL]: ep.zone }, ip.child('zone')));
    if (ep.hostname !== undefined) for (const m of isDNS1123Label(ep.hostname)) errs.push(fieldErr.invalid(ip.child('hostname'), ep.hostname, m));
    const zones = ep.hints?.forZones ?? [];
    const zp = ip.child('hints', 'forZones');
    if (zones.length > MAX_ZONE_HINTS) errs.push(fieldErr.tooMany(zp, zones.length, MAX_ZONE_HINTS));
    zones.forEach((z, k) => {
      if (zones.findIndex((o) => o.name === z.name) < k) errs.push(fieldErr.duplicate(zp.index(k).child('name'), z.name));
      errs.push(...validateLabels({ [ZONE_LABEL]: z.name }, zp.index(k).child('name')));
    });
  });
  return errs;
}

function validatePorts(ports: EndpointPort[], path: FieldPath): FieldError[] {
  if (ports.length > MAX_PORTS) return [fieldErr.tooMany(path, ports.length, MAX_PORTS)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const ip = path.index(i);
    const name = p.name ?? '';
    if (name) for (const m of isDNS1123Label(name)) errs.push(fieldErr.invalid(ip.child('name'), name, m));
    if (names.has(name)) errs.push(fieldErr.duplicate(ip.child('name'), name));
    names.add(name);
    if (p.protocol === undefined) errs.push(fieldErr.required(ip.child('protocol')));
    else if (!PROTOCOLS.includes(p.protocol)) errs.push(fieldErr.notSupported(ip.child('protocol'), p.protocol, PROTOCOLS));
    if (p.appProtocol !== undefined) for (const m of isQualifiedName(p.appProtocol)) errs.push(fieldErr.invalid(ip.child('appProtocol'), p.appProtocol, m));
  });
  return errs;
}

/** Upstream's listWithMoreString: first three items, "+ N more..." after, "<unset>" when none. */
function listWithMore(items: string[], max = 3): string {
  if (items.length === 0) return '<unset>';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

export const endpointSliceKind: KindDefinition = {
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  listKind: 'EndpointSliceList',
  plural: 'endpointslices',
  singular: 'endpointslice',
  namespaced: true,
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.discovery.v1.EndpointSlice',
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      { name: 'AddressType', type: 'string', description: 'The type of addresses carried by this EndpointSlice.', priority: 0 },
      { name: 'Ports', type: 'string', description: 'The network ports exposed by the endpoints.', priority: 0 },
      { name: 'Endpoints', type: 'string', description: 'The addresses of the endpoints in this slice.', priority: 0 },
      ageColumn,
    ],
    cells(obj, now) {
      const s = obj as EndpointSlice;
      const ports = (s.ports ?? []).map((p) => (p.port !== undefined && p.port !== null ? String(p.port) : p.name !== undefined ? p.name : '*'));
      const addrs = (s.endpoints ?? []).flatMap((e) => e.addresses ?? []);
      return [obj.metadata.name, s.addressType ?? '', listWithMore(ports), listWithMore(addrs), creationAge(obj, now)];
    },
  },
  strategy: {
    defaults(obj) {
      for (const p of (obj as EndpointSlice).ports ?? []) {
        p.name ??= '';
        p.protocol ??= 'TCP';
      }
    },
    validate(obj) {
      const s = obj as EndpointSlice;
      const errs: FieldError[] = [];
      const type = s.addressType ?? '';
      if (!type) errs.push(fieldErr.required('addressType'));
      else if (!ADDRESS_TYPES.includes(type)) errs.push(fieldErr.notSupported('addressType', type, ADDRESS_TYPES));
      errs.push(...validateEndpoints(s.endpoints ?? [], type, FieldPath.root('endpoints')));
      errs.push(...validatePorts(s.ports ?? [], FieldPath.root('ports')));
      return errs;
    },
    validateUpdate(obj, old) {
      return immutableField((obj as EndpointSlice).addressType, (old as EndpointSlice).addressType, 'addressType', deepEqual);
    },
  },
};
