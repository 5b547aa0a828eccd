/**
 * networking.k8s.io/v1 NetworkPolicy. Upstream dropped NetworkPolicy status (1.28), so there is no
 * status subresource; the strategy still bumps generation on spec changes.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isValidPortNum } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { type LabelSelector, formatLabelSelector, validateLabelSelector } from '../label-selector.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { cidrContains, parseCIDR } from './cidr.js';
import { isValidPortName } from './names.js';

export interface NetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}
export interface IPBlock {
  cidr?: string;
  except?: string[];
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}
export interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  ingress?: { ports?: NetworkPolicyPort[]; from?: NetworkPolicyPeer[] }[];
  egress?: { ports?: NetworkPolicyPort[]; to?: NetworkPolicyPeer[] }[];
  policyTypes?: string[];
}

const specOf = (obj: KubeObject) => (obj.spec ?? {}) as NetworkPolicySpec;
const CIDR_MSG = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

function validatePort(p: NetworkPolicyPort, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol))
    errs.push(fieldErr.notSupported(path.child('protocol'), p.protocol, ['TCP', 'UDP', 'SCTP']));
  if (p.port === undefined) {
    if (p.endPort !== undefined) errs.push(fieldErr.invalid(path.child('endPort'), p.endPort, 'may not be specified when `port` is not specified'));
  } else if (typeof p.port === 'number') {
    for (const m of isValidPortNum(p.port)) errs.push(fieldErr.invalid(path.child('port'), p.port, m));
    if (p.endPort !== undefined) {
      if (p.endPort < p.port) errs.push(fieldErr.invalid(path.child('endPort'), p.endPort, 'must be greater than or equal to `port`'));
      for (const m of isValidPortNum(p.endPort)) errs.push(fieldErr.invalid(path.child('endPort'), p.endPort, m));
    }
  } else {
    if (p.endPort !== undefined) errs.push(fieldErr.invalid(path.child('endPort'), p.endPort, 'may not be specified when `port` is non-numeric'));
    for (const m of isValidPortName(p.port)) errs.push(fieldErr.invalid(path.child('port'), p.port, m));
  }
  return errs;
}

function validateIPBlock(b: IPBlock, path: FieldPath): FieldError[] {
  const cidrText = b.cidr ?? '';
  if (!cidrText) return [fieldErr.required(path.child('cidr'))];
  const cidr = parseCIDR(cidrText);
  if (!cidr) return [fieldErr.invalid(path.child('cidr'), cidrText, CIDR_MSG)];
  const errs: FieldError[] = [];
  (b.except ?? []).forEach((e, i) => {
    const ep = path.child('except').index(i);
    const ex = parseCIDR(e);
    if (!ex) return void errs.push(fieldErr.invalid(ep, e, CIDR_MSG));
    if (!cidrContains(cidr, ex) || cidr.prefix >= ex.prefix) errs.push(fieldErr.invalid(ep, e, 'must be a strict subset of `cidr`'));
  });
  return errs;
}

function validatePeer(p: NetworkPolicyPeer, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  let peers = 0;
  if (p.podSelector) {
    peers++;
    errs.push(...validateLabelSelector(p.podSelector, path.child('podSelector')));
  }
  if (p.namespaceSelector) {
    peers++;
    errs.push(...validateLabelSelector(p.namespaceSelector, path.child('namespaceSelector')));
  }
  if (p.ipBlock) {
    peers++;
    errs.push(...validateIPBlock(p.ipBlock, path.child('ipBlock')));
  }
  if (peers === 0) errs.push(fieldErr.required(path, 'must specify a peer'));
  else if (p.ipBlock && peers > 1) errs.push(fieldErr.forbidden(path, 'may not specify both ipBlock and another peer'));
  return errs;
}

function validateSpec(spec: NetworkPolicySpec, path: FieldPath): FieldError[] {
  const errs = validateLabelSelector(spec.podSelector, path.child('podSelector'));
  (spec.ingress ?? []).forEach((r, i) => {
    const rp = path.child('ingress').index(i);
    (r.ports ?? []).forEach((p, j) => errs.push(...validatePort(p, rp.child('ports').index(j))));
    (r.from ?? []).forEach((p, j) => errs.push(...validatePeer(p, rp.child('from').index(j))));
  });
  (spec.egress ?? []).forEach((r, i) => {
    const rp = path.child('egress').index(i);
    (r.ports ?? []).forEach((p, j) => errs.push(...validatePort(p, rp.child('ports').index(j))));
    (r.to ?? []).forEach((p, j) => errs.push(...validatePeer(p, rp.child('to').index(j))));
  });
  const types = spec.policyTypes ?? [];
  if (types.length > 2) return [...errs, fieldErr.invalid(path.child('policyTypes'), types, 'may not specify more than two policyTypes')];
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') errs.push(fieldErr.notSupported(path.child('policyTypes').index(i), t, ['Ingress', 'Egress']));
  });
  return errs;
}

export const networkPolicyKind: KindDefinition = {
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'NetworkPolicy',
  listKind: 'NetworkPolicyList',
  plural: 'networkpolicies',
  singular: 'networkpolicy',
  namespaced: true,
  shortNames: ['netpol'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.networking.v1.NetworkPolicy',
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      { name: 'Pod-Selector', type: 'string', description: 'Selects the pods to which this NetworkPolicy object applies.', priority: 0 },
      ageColumn,
    ],
    cells: (obj, now) => [obj.metadata.name, formatLabelSelector(specOf(obj).podSelector), creationAge(obj, now)],
  },
  strategy: {
    defaults(obj) {
      const spec = (obj.spec ??= {}) as NetworkPolicySpec;
      // podSelector is a non-pointer struct upstream, so it always serializes (as {} when empty).
      spec.podSelector ??= {};
      for (const r of spec.ingress ?? []) for (const p of r.ports ?? []) p.protocol ??= 'TCP';
      for (const r of spec.egress ?? []) for (const p of r.ports ?? []) p.protocol ??= 'TCP';
      // A policy without policyTypes always affects ingress, and egress only when it has egress rules.
      if (!spec.policyTypes || spec.policyTypes.length === 0)
        spec.policyTypes = (spec.egress ?? []).length ? ['Ingress', 'Egress'] : ['Ingress'];
    },
    validate: (obj) => validateSpec(specOf(obj), FieldPath.root('spec')),
  },
};
