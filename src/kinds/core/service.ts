/**
 * core/v1 Service: v1 SetDefaults_Service, the strategy's create/update preparation (IP family
 * fields, carrying allocated values over on update) and the `kubectl get services` printer.
 * Cluster IP and NodePort allocation are not a kind's job; they happen in the service allocator.
 */
import { deepEqual, type KubeObject } from '../../util/object.js';
import { age, ageColumn, formatLabels, nameColumn } from '../printing.js';
import type { KindDefinition, Printer } from '../types.js';
import { asList, asObj, asObjList, asStr, ensureObj, type Obj, setDefault } from './helpers.js';
import { externallyAccessible, needsClusterIP, needsNodePort, validateService, validateServiceStatus, validateServiceUpdate } from './service-validation.js';
import { isIPv6 } from '../../registry/validation.js';

const DEFAULT_AFFINITY_SECONDS = 10800;

function defaults(obj: KubeObject): void {
  const s = ensureObj(obj, 'spec');
  setDefault(s, 'sessionAffinity', 'None');
  if (s.sessionAffinity === 'None') delete s.sessionAffinityConfig;
  if (s.sessionAffinity === 'ClientIP') {
    const cfg = ensureObj(s, 'sessionAffinityConfig');
    const clientIP = ensureObj(cfg, 'clientIP');
    setDefault(clientIP, 'timeoutSeconds', DEFAULT_AFFINITY_SECONDS);
  }
  setDefault(s, 'type', 'ClusterIP');
  for (const p of asObjList(s.ports)) {
    setDefault(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (externallyAccessible(s)) setDefault(s, 'externalTrafficPolicy', 'Cluster');
  if (s.internalTrafficPolicy === undefined && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(asStr(s.type))) s.internalTrafficPolicy = 'Cluster';
  if (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts === undefined) s.allocateLoadBalancerNodePorts = true;
  // clusterIP and clusterIPs[0] are one value seen through two fields; clients may set either.
  const ips = asList(s.clusterIPs);
  if (s.clusterIP && ips.length === 0) s.clusterIPs = [s.clusterIP];
  else if (!s.clusterIP && ips.length > 0) s.clusterIP = ips[0];
  if (s.type === 'LoadBalancer')
    for (const ing of asObjList(asObj(asObj(obj.status)?.loadBalancer)?.ingress)) if (ing.ip && !ing.ipMode) ing.ipMode = 'VIP';
}

/** The IP-family fields the allocator would settle on, for a single-stack IPv4 cluster when nothing says otherwise. */
function defaultIPFamilies(s: Obj): void {
  if (!needsClusterIP(s)) return;
  const ips = asList(s.clusterIPs).map(asStr).filter((ip) => ip && ip !== 'None');
  if (asList(s.ipFamilies).length === 0) s.ipFamilies = ips.length ? ips.map((ip) => (isIPv6(ip) ? 'IPv6' : 'IPv4')) : ['IPv4'];
  if (!s.ipFamilyPolicy) {
    // Selector-less headless services publish whatever endpoints exist, of any family.
    const headlessNoSelector = s.clusterIP === 'None' && Object.keys(asObj(s.selector) ?? {}).length === 0;
    s.ipFamilyPolicy = headlessNoSelector ? 'RequireDualStack' : asList(s.ipFamilies).length > 1 ? 'RequireDualStack' : 'SingleStack';
  }
}

function prepareForCreate(obj: KubeObject): void {
  obj.status = { loadBalancer: {} };
  defaultIPFamilies(ensureObj(obj, 'spec'));
}

/**
 * As upstream's patchAllocatedValues and dropTypeDependentFields: a client that replaces a
 * Service without its allocated cluster IPs or node ports keeps them, and a type change away
 * from a kind drops the values only that kind used (when the client left them unchanged).
 */
function prepareForUpdate(obj: KubeObject, old: KubeObject): void {
  const s = ensureObj(obj, 'spec');
  const o = asObj(old.spec) ?? {};
  const dropIfUnchanged = (fields: string[]) => {
    for (const f of fields) if (deepEqual(s[f], o[f])) delete s[f];
  };
  if (needsClusterIP(o) && !needsClusterIP(s)) dropIfUnchanged(['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']);
  if (needsNodePort(o) && !needsNodePort(s)) {
    const oldPorts = new Set(asObjList(o.ports).map((p) => p.nodePort));
    for (const p of asObjList(s.ports)) if (p.nodePort && oldPorts.has(p.nodePort)) delete p.nodePort;
  }
  if (o.type === 'LoadBalancer' && s.type !== 'LoadBalancer') dropIfUnchanged(['allocateLoadBalancerNodePorts', 'loadBalancerClass', 'healthCheckNodePort']);
  if (externallyAccessible(o) && !externallyAccessible(s)) dropIfUnchanged(['externalTrafficPolicy']);
  if (needsClusterIP(o) && needsClusterIP(s)) {
    if (!s.clusterIP && o.clusterIP) s.clusterIP = o.clusterIP;
    if (asList(s.clusterIPs).length === 0 && asList(o.clusterIPs).length > 0) s.clusterIPs = o.clusterIPs;
    if (asList(s.ipFamilies).length === 0 && asList(o.ipFamilies).length > 0) s.ipFamilies = o.ipFamilies;
    if (!s.ipFamilyPolicy && o.ipFamilyPolicy) s.ipFamilyPolicy = o.ipFamilyPolicy;
  }
  if (needsNodePort(o) && needsNodePort(s)) {
    const newPorts = asObjList(s.ports);
    const used = new Set(newPorts.map((p) => p.nodePort).filter(Boolean));
    const byName = new Map(asObjList(o.ports).map((p) => [asStr(p.name), p.nodePort]));
    for (const p of newPorts) {
      const oldVal = byName.get(asStr(p.name));
      if (!p.nodePort && oldVal && !used.has(oldVal)) p.nodePort = oldVal;
    }
  }
  if (o.type === 'LoadBalancer' && s.type === 'LoadBalancer' && o.externalTrafficPolicy === 'Local' && s.externalTrafficPolicy === 'Local' && !s.healthCheckNodePort)
    s.healthCheckNodePort = o.healthCheckNodePort;
}

/** Load-balancer ingress addresses, shortened in the narrow table as kubectl does. */
function loadBalancerAddresses(svc: Obj, wide: boolean): string {
  const ingress = asObjList(asObj(asObj(svc.status)?.loadBalancer)?.ingress);
  const text = ingress.map((i) => asStr(i.ip) || asStr(i.hostname)).filter(Boolean).join(',');
  return !wide && text.length > 16 ? `${text.slice(0, 13)}...` : text;
}

function externalIP(svc: Obj, s: Obj): string {
  const external = asList(s.externalIPs).map(asStr);
  switch (s.type) {
    case 'ClusterIP':
    case 'NodePort':
      return external.length ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      // One row serves both table widths, so it carries the narrow (shortened) form kubectl shows by default.
      const lb = loadBalancerAddresses(svc, false);
      if (external.length) return [...(lb ? lb.split(',') : []), ...external].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return asStr(s.externalName);
  }
  return '<unknown>';
}

function portsText(s: Obj): string {
  const text = asObjList(s.ports)
    .map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${asStr(p.protocol)}` : `${p.port}/${asStr(p.protocol)}`))
    .join(',');
  return text || '<none>';
}

const printer: Printer = {
  columns: [
    nameColumn,
    { name: 'Type', type: 'string', description: 'How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.', priority: 0 },
    { name: 'Cluster-IP', type: 'string', description: 'The virtual IP that in-cluster clients use to reach the service.', priority: 0 },
    { name: 'External-IP', type: 'string', description: 'Addresses the service is reachable at from outside the cluster.', priority: 0 },
    { name: 'Port(s)', type: 'string', description: 'The ports the service exposes (with node ports).', priority: 0 },
    ageColumn,
    { name: 'Selector', type: 'string', description: 'Labels of the pods that receive the service traffic.', priority: 1 },
  ],
  cells(obj, now) {
    const s = asObj(obj.spec) ?? {};
    const clusterIP = asStr(asList(s.clusterIPs)[0]) || '<none>';
    return [obj.metadata.name, asStr(s.type), clusterIP, externalIP(obj, s), portsText(s), age(obj.metadata.creationTimestamp, now), formatLabels(asObj(s.selector) as Record<string, string> | undefined)];
  },
};

export const service: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Service',
  listKind: 'ServiceList',
  plural: 'services',
  singular: 'service',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  schemaName: 'io.k8s.api.core.v1.Service',
  nameFormat: 'label',
  statusSubresource: true,
  tracksGeneration: false,
  fieldSelectors: {
    'spec.clusterIP': (o) => asStr(asObj(o.spec)?.clusterIP),
    'spec.type': (o) => asStr(asObj(o.spec)?.type),
  },
  printer,
  strategy: {
    defaults,
    prepareForCreate,
    prepareForUpdate,
    validate: validateService,
    validateUpdate: validateServiceUpdate,
    validateStatusUpdate: validateServiceStatus,
  },
};
