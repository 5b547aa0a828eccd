/** ValidateService and ValidateServiceUpdate (upstream pkg/apis/core/validation) for core/v1 Service. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isIPv4, isIPv6, isValidCIDR, isValidIP, isValidPortNum, validateLabels } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { PROTOCOLS, validatePortNumOrName } from './container.js';
import { asList, asObj, asObjList, asStr, invalidEach, IP_MSG, type Obj, validateDNSLabel, validateDNSSubdomain, validateEnum, validateQualifiedName } from './helpers.js';

export const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
/** Cairn's NodePort range (DESIGN.md); allocation itself happens elsewhere. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 };
const MAX_AFFINITY_SECONDS = 86400;
const KUBELET_PORT = 10250;

const specPath = FieldPath.root('spec');
const clusterIPsPath = specPath.child('clusterIPs');
const ipFamiliesPath = specPath.child('ipFamilies');

export const isHeadless = (s: Obj) => s.clusterIP === 'None';
export const needsClusterIP = (s: Obj) => s.type !== 'ExternalName';
export const needsNodePort = (s: Obj) => s.type === 'NodePort' || s.type === 'LoadBalancer';
/** Reachable from outside the cluster: such services get an externalTrafficPolicy. */
export const externallyAccessible = (s: Obj) => needsNodePort(s) || (s.type === 'ClusterIP' && asList(s.externalIPs).length > 0);

/** Upstream ValidateNonSpecialIP: external IPs must be routable unicast addresses. */
function validateNonSpecialIP(ip: string, path: FieldPath): FieldError[] {
  const bad = (detail: string) => [fieldErr.invalid(path, ip, detail)];
  if (ip === '0.0.0.0' || ip === '::') return bad('may not be unspecified (0.0.0.0, ::)');
  if (ip.startsWith('127.') || ip === '::1') return bad('may not be in the loopback range (127.0.0.0/8, ::1/128)');
  if (ip.startsWith('169.254.') || /^fe[89ab]/i.test(ip)) return bad('may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  if (ip.startsWith('224.0.0.') || /^ff02:/i.test(ip)) return bad('may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)');
  return [];
}

function validatePorts(s: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const ports = asObjList(s.ports);
  const portsPath = specPath.child('ports');
  const names = new Set<string>();
  const seen = new Set<string>();
  const seenNodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const ip = portsPath.index(i);
    const name = asStr(p.name);
    // With several ports, names tell endpoints apart, so each needs one.
    if (ports.length > 1 && !name) errs.push(fieldErr.required(ip.child('name')));
    else if (name) {
      errs.push(...validateDNSLabel(name, ip.child('name')));
      if (names.has(name)) errs.push(fieldErr.duplicate(ip.child('name'), name));
      names.add(name);
    }
    errs.push(...invalidEach(isValidPortNum(p.port as number), ip.child('port'), p.port));
    errs.push(...validateEnum(p.protocol, ip.child('protocol'), PROTOCOLS));
    if (p.targetPort !== undefined) errs.push(...validatePortNumOrName(p.targetPort, ip.child('targetPort')));
    if (p.appProtocol !== undefined) errs.push(...validateQualifiedName(asStr(p.appProtocol), ip.child('appProtocol')));
    const key = `${asStr(p.protocol)}/${String(p.port)}`;
    if (seen.has(key)) errs.push(fieldErr.duplicate(ip, { port: p.port, protocol: p.protocol }));
    seen.add(key);
    if (p.nodePort) {
      if (s.type === 'ClusterIP') errs.push(fieldErr.forbidden(ip.child('nodePort'), "may not be used when `type` is 'ClusterIP'"));
      else if (typeof p.nodePort !== 'number' || p.nodePort < NODE_PORT_RANGE.min || p.nodePort > NODE_PORT_RANGE.max)
        errs.push(fieldErr.invalid(ip.child('nodePort'), p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`));
      const npKey = `${asStr(p.protocol)}/${String(p.nodePort)}`;
      if (seenNodePorts.has(npKey)) errs.push(fieldErr.duplicate(ip.child('nodePort'), p.nodePort));
      seenNodePorts.add(npKey);
    }
    if (s.type === 'LoadBalancer' && p.port === KUBELET_PORT)
      errs.push(fieldErr.invalid(ip, p.port, `may not expose port ${KUBELET_PORT} externally since it is used by kubelet`));
  });
  return errs;
}

/** Upstream validateServiceClusterIPsRelatedFields: clusterIP/clusterIPs in step, families and policy consistent. */
function validateClusterIPs(s: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const ips = asList(s.clusterIPs).map(asStr);
  const families = asList(s.ipFamilies);
  if (asStr(s.clusterIP)) {
    if (ips.length === 0) errs.push(fieldErr.required(clusterIPsPath));
    else if (ips[0] !== s.clusterIP) errs.push(fieldErr.invalid(clusterIPsPath, ips, 'first value must match `clusterIP`'));
  } else if (ips.length) errs.push(fieldErr.invalid(clusterIPsPath, ips, 'must be empty when `clusterIP` is not specified'));
  const seenFamilies = new Set<unknown>();
  families.forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(fieldErr.notSupported(ipFamiliesPath.index(i), f, ['IPv4', 'IPv6']));
    if (seenFamilies.has(f)) errs.push(fieldErr.duplicate(ipFamiliesPath.index(i), f));
    seenFamilies.add(f);
  });
  if (s.ipFamilyPolicy !== undefined && s.ipFamilyPolicy !== null) {
    errs.push(...validateEnum(s.ipFamilyPolicy, specPath.child('ipFamilyPolicy'), ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
    if (s.ipFamilyPolicy === 'SingleStack' && (ips.length > 1 || families.length > 1))
      errs.push(fieldErr.invalid(specPath.child('ipFamilyPolicy'), s.ipFamilyPolicy, `must be RequireDualStack or PreferDualStack when multiple ${ips.length > 1 ? 'cluster IPs' : 'IP families'} are specified`));
  }
  let invalidIPs = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        invalidIPs = true;
        errs.push(fieldErr.invalid(clusterIPsPath, ips, "'None' must be the first and only value"));
      }
      return;
    }
    if (!isValidIP(ip)) {
      invalidIPs = true;
      errs.push(fieldErr.invalid(clusterIPsPath.index(i), ip, IP_MSG));
    }
  });
  if (ips.length > 2) errs.push(fieldErr.invalid(clusterIPsPath, ips, 'may only hold up to 2 values'));
  // Further checks would only repeat the problem with bad addresses in other words.
  if (invalidIPs) return errs;
  if (ips.length > 1 && isIPv6(ips[0]) === isIPv6(ips[1])) errs.push(fieldErr.invalid(clusterIPsPath, ips, 'may specify no more than one IP for each IP family'));
  if (!isHeadless(s))
    ips.slice(0, families.length).forEach((ip, i) => {
      if (families[i] === 'IPv4' && isIPv6(ip)) errs.push(fieldErr.invalid(clusterIPsPath.index(i), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && !isIPv6(ip)) errs.push(fieldErr.invalid(clusterIPsPath.index(i), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  return errs;
}

function validateSessionAffinity(s: Obj): FieldError[] {
  const errs = validateEnum(s.sessionAffinity, specPath.child('sessionAffinity'), ['ClientIP', 'None']);
  const cfgPath = specPath.child('sessionAffinityConfig');
  if (s.sessionAffinity === 'None' && s.sessionAffinityConfig) errs.push(fieldErr.forbidden(cfgPath, 'must not be set when session affinity is None'));
  if (s.sessionAffinity !== 'ClientIP') return errs;
  const detail = 'when session affinity type is ClientIP';
  const clientIP = asObj(asObj(s.sessionAffinityConfig)?.clientIP);
  const timeout = clientIP?.timeoutSeconds;
  if (!s.sessionAffinityConfig) errs.push(fieldErr.required(cfgPath, detail));
  else if (!clientIP) errs.push(fieldErr.required(cfgPath.child('clientIP'), detail));
  else if (timeout === undefined || timeout === null) errs.push(fieldErr.required(cfgPath.child('clientIP', 'timeoutSeconds'), detail));
  else if (typeof timeout !== 'number' || timeout <= 0 || timeout > MAX_AFFINITY_SECONDS)
    errs.push(fieldErr.invalid(cfgPath.child('clientIP', 'timeoutSeconds'), timeout, `must be greater than 0 and less than ${MAX_AFFINITY_SECONDS}`));
  return errs;
}

function validateTrafficPolicies(s: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const etp = specPath.child('externalTrafficPolicy');
  if (!externallyAccessible(s)) {
    if (s.externalTrafficPolicy) errs.push(fieldErr.invalid(etp, s.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  } else errs.push(...validateEnum(s.externalTrafficPolicy, etp, ['Cluster', 'Local']));
  if (s.healthCheckNodePort) {
    if (!(s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local'))
      errs.push(fieldErr.invalid(specPath.child('healthCheckNodePort'), s.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    else errs.push(...invalidEach(isValidPortNum(s.healthCheckNodePort as number), specPath.child('healthCheckNodePort'), s.healthCheckNodePort));
  }
  if (s.type !== 'ExternalName' || s.internalTrafficPolicy !== undefined)
    errs.push(...validateEnum(s.internalTrafficPolicy, specPath.child('internalTrafficPolicy'), ['Cluster', 'Local']));
  return errs;
}

function validateLoadBalancerFields(s: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const lbOnly = "may only be used when `type` is 'LoadBalancer'";
  const isLB = s.type === 'LoadBalancer';
  if (!isLB) {
    for (const f of ['loadBalancerIP', 'loadBalancerSourceRanges', 'allocateLoadBalancerNodePorts', 'loadBalancerClass'])
      if (s[f] !== undefined && s[f] !== null && s[f] !== '' && !(Array.isArray(s[f]) && (s[f] as unknown[]).length === 0))
        errs.push(fieldErr.forbidden(specPath.child(f), lbOnly));
    return errs;
  }
  if (s.allocateLoadBalancerNodePorts === undefined || s.allocateLoadBalancerNodePorts === null) errs.push(fieldErr.required(specPath.child('allocateLoadBalancerNodePorts')));
  if (s.loadBalancerIP && !isValidIP(asStr(s.loadBalancerIP))) errs.push(fieldErr.invalid(specPath.child('loadBalancerIP'), s.loadBalancerIP, IP_MSG));
  asList(s.loadBalancerSourceRanges).forEach((r, i) => {
    if (!isValidCIDR(asStr(r).trim()))
      errs.push(fieldErr.invalid(specPath.child('loadBalancerSourceRanges').index(i), r, 'must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 '));
  });
  if (s.loadBalancerClass) errs.push(...validateQualifiedName(asStr(s.loadBalancerClass), specPath.child('loadBalancerClass')));
  return errs;
}

/** Upstream ValidateService (spec part). */
export function validateService(obj: KubeObject): FieldError[] {
  const s = asObj(obj.spec) ?? {};
  const errs: FieldError[] = [];
  const ports = asObjList(s.ports);
  if (ports.length === 0 && !isHeadless(s) && s.type !== 'ExternalName') errs.push(fieldErr.required(specPath.child('ports')));
  if (s.type === 'ExternalName') {
    if (asList(s.clusterIPs).length > 0) errs.push(fieldErr.forbidden(clusterIPsPath, 'may not be set for ExternalName services'));
    if (asList(s.ipFamilies).length > 0) errs.push(fieldErr.forbidden(ipFamiliesPath, 'may not be set for ExternalName services'));
    if (s.ipFamilyPolicy) errs.push(fieldErr.forbidden(specPath.child('ipFamilyPolicy'), 'may not be set for ExternalName services'));
    // A trailing dot marks the CNAME as fully qualified.
    const cname = asStr(s.externalName).replace(/\.$/, '');
    if (cname) errs.push(...validateDNSSubdomain(cname, specPath.child('externalName')));
    else errs.push(fieldErr.required(specPath.child('externalName')));
  }
  errs.push(...validateEnum(s.type, specPath.child('type'), SERVICE_TYPES));
  if (needsNodePort(s) && isHeadless(s))
    errs.push(fieldErr.invalid(clusterIPsPath.index(0), 'None', `may not be set to 'None' for ${asStr(s.type)} services`));
  errs.push(...validatePorts(s));
  errs.push(...validateLabels(s.selector, specPath.child('selector')));
  errs.push(...validateSessionAffinity(s));
  errs.push(...validateClusterIPs(s));
  asList(s.externalIPs).forEach((ip, i) => {
    const p = specPath.child('externalIPs').index(i);
    const v = asStr(ip);
    if (!isValidIP(v)) errs.push(fieldErr.invalid(p, ip, IP_MSG));
    else errs.push(...validateNonSpecialIP(v, p));
  });
  errs.push(...validateLoadBalancerFields(s));
  errs.push(...validateTrafficPolicies(s));
  return errs;
}

/** Changing a primary cluster IP or family is refused; adding or (with SingleStack) dropping the secondary is fine. */
function validateUpgradeDowngrade(path: FieldPath, newV: string[], oldV: string[], what: string, policy: unknown): FieldError[] {
  const errs: FieldError[] = [];
  if (oldV.length === newV.length) {
    oldV.forEach((v, i) => {
      if (v !== newV[i]) errs.push(fieldErr.invalid(path.index(i), newV, 'may not change once set'));
    });
    return errs;
  }
  if (oldV.length > newV.length) {
    if (newV.length === 0) errs.push(fieldErr.invalid(path.index(0), newV, `primary ${what} can not be unset`));
    if (newV.length === 1 && policy !== 'SingleStack')
      errs.push(fieldErr.invalid(path.index(0), newV, `\`ipFamilyPolicy\` must be set to 'SingleStack' when releasing the secondary ${what}`));
  }
  if (oldV.length > 0 && newV.length > 0 && oldV[0] !== newV[0]) errs.push(fieldErr.invalid(path.index(0), newV, 'may not change once set'));
  return errs;
}

/** Upstream ValidateServiceUpdate's extra rules; cluster IPs and families are fixed unless ExternalName is involved. */
export function validateServiceUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const s = asObj(obj.spec) ?? {};
  const o = asObj(old.spec) ?? {};
  if (s.type === 'ExternalName' || o.type === 'ExternalName') return [];
  const list = (v: unknown) => asList(v).map(asStr);
  const errs = [
    ...validateUpgradeDowngrade(clusterIPsPath, list(s.clusterIPs), list(o.clusterIPs), 'clusterIP', s.ipFamilyPolicy),
    ...validateUpgradeDowngrade(ipFamiliesPath, list(s.ipFamilies), list(o.ipFamilies), 'ipFamily', s.ipFamilyPolicy),
  ];
  if (o.type === 'LoadBalancer' && s.type === 'LoadBalancer' && !deepEqual(s.loadBalancerClass, o.loadBalancerClass))
    errs.push(fieldErr.invalid(specPath.child('loadBalancerClass'), s.loadBalancerClass ?? null, 'may not change once set'));
  return errs;
}

/** Status writes: load-balancer ingress addresses must be IPs (ingress hostnames are free-form DNS names). */
export function validateServiceStatus(obj: KubeObject): FieldError[] {
  const ingress = asObjList(asObj(asObj(obj.status)?.loadBalancer)?.ingress);
  const path = FieldPath.root('status').child('loadBalancer', 'ingress');
  return ingress.flatMap((ing, i) => {
    const errs: FieldError[] = [];
    if (ing.ip && !isValidIP(asStr(ing.ip))) errs.push(fieldErr.invalid(path.index(i).child('ip'), ing.ip, IP_MSG));
    if (ing.hostname) {
      errs.push(...validateDNSSubdomain(asStr(ing.hostname), path.index(i).child('hostname')));
      if (isIPv4(asStr(ing.hostname))) errs.push(fieldErr.invalid(path.index(i).child('hostname'), ing.hostname, 'must be a DNS name, not an IP address'));
    }
    if (ing.ipMode !== undefined) errs.push(...validateEnum(ing.ipMode, path.index(i).child('ipMode'), ['Proxy', 'VIP']));
    return errs;
  });
}
