/** core/v1 Node: v1 defaults, ValidateNode / ValidateNodeUpdate and printNode. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isIPv6, isValidCIDR } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition, Printer } from '../types.js';
import { asList, asObj, asObjList, asStr, CIDR_MSG, ensureObj, type Obj } from './helpers.js';
import { validateTaints } from './tolerations.js';

const specPath = FieldPath.root('spec');
const spec = (o: KubeObject) => asObj(o.spec) ?? {};
const status = (o: KubeObject) => asObj(o.status) ?? {};

function defaults(obj: KubeObject): void {
  const s = ensureObj(obj, 'spec');
  // podCIDR is the first of podCIDRs; clients may set either.
  const cidrs = asList(s.podCIDRs);
  if (s.podCIDR && cidrs.length === 0) s.podCIDRs = [s.podCIDR];
  else if (!s.podCIDR && cidrs.length > 0) s.podCIDR = cidrs[0];
  // SetDefaults_NodeStatus: allocatable defaults to capacity.
  const st = asObj(obj.status);
  if (st && st.allocatable === undefined && asObj(st.capacity)) st.allocatable = { ...asObj(st.capacity) };
}

function validate(obj: KubeObject): FieldError[] {
  const s = spec(obj);
  const errs = validateTaints(s.taints, specPath.child('taints'));
  const cidrs = asList(s.podCIDRs).map(asStr);
  const cidrPath = specPath.child('podCIDRs');
  cidrs.forEach((c, i) => {
    if (!isValidCIDR(c)) errs.push(fieldErr.invalid(cidrPath.index(i), c, CIDR_MSG));
  });
  if (cidrs.length > 2) errs.push(fieldErr.invalid(cidrPath, cidrs, 'may specify no more than two CIDRs'));
  else if (cidrs.length === 2 && cidrs.every(isValidCIDR) && isIPv6(cidrs[0].split('/')[0]) === isIPv6(cidrs[1].split('/')[0]))
    errs.push(fieldErr.invalid(cidrPath, cidrs, 'may specify no more than one CIDR for each IP family'));
  return errs;
}

const onceSet = (what: string) => `node updates may not change ${what} except from "" to valid`;

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const oldCidrs = asList(spec(old).podCIDRs);
  const newCidrs = asList(spec(obj).podCIDRs);
  // The node IPAM controller may assign CIDRs once; after that they stay.
  if (oldCidrs.length > 0 && (oldCidrs.length !== newCidrs.length || oldCidrs.some((c, i) => c !== newCidrs[i])))
    errs.push(fieldErr.forbidden(specPath.child('podCIDRs'), onceSet('podCIDR')));
  const oldProvider = asStr(spec(old).providerID);
  if (oldProvider && oldProvider !== spec(obj).providerID) errs.push(fieldErr.forbidden(specPath.child('providerID'), onceSet('providerID')));
  return errs;
}

/** Roles from `node-role.kubernetes.io/<role>` labels and the legacy `kubernetes.io/role` label. */
function nodeRoles(labels: Record<string, string> | undefined): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return [...roles].sort();
}

function nodeStatus(obj: KubeObject): string {
  const ready = asObjList(status(obj).conditions).find((c) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (spec(obj).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

const address = (st: Obj, type: string) => asStr(asObjList(st.addresses).find((a) => a.type === type)?.address) || '<none>';
const orUnknown = (v: unknown) => asStr(v) || '<unknown>';

const printer: Printer = {
  columns: [
    nameColumn,
    { name: 'Status', type: 'string', description: 'Readiness of the node, and whether scheduling on it is disabled.', priority: 0 },
    { name: 'Roles', type: 'string', description: 'Roles from the node-role.kubernetes.io labels.', priority: 0 },
    ageColumn,
    { name: 'Version', type: 'string', description: 'Version of the node agent reported by the node.', priority: 0 },
    { name: 'Internal-IP', type: 'string', description: 'The first internal address of the node.', priority: 1 },
    { name: 'External-IP', type: 'string', description: 'The first external address of the node.', priority: 1 },
    { name: 'OS-Image', type: 'string', description: 'The operating system image reported by the node.', priority: 1 },
    { name: 'Kernel-Version', type: 'string', description: 'The kernel version reported by the node.', priority: 1 },
    { name: 'Container-Runtime', type: 'string', description: 'The container runtime and its version reported by the node.', priority: 1 },
  ],
  cells(obj, now) {
    const st = status(obj);
    const info = asObj(st.nodeInfo) ?? {};
    return [
      obj.metadata.name,
      nodeStatus(obj),
      nodeRoles(obj.metadata.labels).join(',') || '<none>',
      age(obj.metadata.creationTimestamp, now),
      asStr(info.kubeletVersion),
      address(st, 'InternalIP'),
      address(st, 'ExternalIP'),
      orUnknown(info.osImage),
      orUnknown(info.kernelVersion),
      orUnknown(info.containerRuntimeVersion),
    ];
  },
};

export const node: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Node',
  listKind: 'NodeList',
  plural: 'nodes',
  singular: 'node',
  namespaced: false,
  shortNames: ['no'],
  schemaName: 'io.k8s.api.core.v1.Node',
  nameFormat: 'subdomain',
  statusSubresource: true,
  tracksGeneration: false,
  fieldSelectors: { 'spec.unschedulable': (o) => String(spec(o).unschedulable === true) },
  printer,
  strategy: { defaults, validate, validateUpdate },
};
