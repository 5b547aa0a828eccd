/**
 * Containers of a pod spec (regular, init and ephemeral): upstream's SetDefaults_Container and
 * friends, and validateContainers/validateInitContainers with their messages and paths.
 */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isValidPortNum } from '../../registry/validation.js';
import {
  asList,
  asObj,
  asObjList,
  asStr,
  ensureObj,
  isConfigMapKey,
  invalidEach,
  type Obj,
  requiredWith,
  setDefault,
  validateDNSLabel,
  validateEnum,
  validateNonnegative,
} from './helpers.js';
import { checkQuantity, isOvercommitAllowed, quantityText, resourceEntries, validateContainerResourceName, validateQuantityValue } from './quantity.js';

export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;

/** The tag of an image reference; 'latest' when neither tag nor digest is given (docker's rule). */
export function imageTag(image: string): string {
  const [name, digest] = image.split('@', 2);
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon >= 0) return lastSegment.slice(colon + 1);
  return digest ? '' : 'latest';
}

/** SetDefaults_HTTPGetAction: path "/" and scheme HTTP wherever an httpGet handler appears. */
function defaultHandler(h: Obj | undefined): void {
  const get = asObj(h?.httpGet);
  if (get) {
    setDefault(get, 'path', '/');
    setDefault(get, 'scheme', 'HTTP');
  }
}

/** SetDefaults_Probe. */
function defaultProbe(p: Obj | undefined): void {
  if (!p) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  defaultHandler(p);
}

/** SetDefaults_Container plus the defaults of its nested types (ports, probes, env field refs). */
export function defaultContainer(c: Obj): void {
  if (!c.imagePullPolicy) c.imagePullPolicy = imageTag(asStr(c.image)) === 'latest' ? 'Always' : 'IfNotPresent';
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  for (const port of asObjList(c.ports)) setDefault(port, 'protocol', 'TCP');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(asObj(c[probe]));
  const lifecycle = asObj(c.lifecycle);
  defaultHandler(asObj(lifecycle?.postStart));
  defaultHandler(asObj(lifecycle?.preStop));
  for (const env of asObjList(c.env)) {
    const fieldRef = asObj(asObj(env.valueFrom)?.fieldRef);
    if (fieldRef) setDefault(fieldRef, 'apiVersion', 'v1');
  }
}

/** Requests default to limits for resources that only have a limit (upstream does this on Pods only, not templates). */
export function defaultRequestsFromLimits(c: Obj): void {
  const resources = asObj(c.resources);
  const limits = asObj(resources?.limits);
  if (!resources || !limits) return;
  const requests = ensureObj(resources, 'requests');
  for (const [k, v] of Object.entries(limits)) if (requests[k] === undefined) requests[k] = v;
}

/** Upstream IsValidPortName. */
export function isValidPortName(name: string): string[] {
  const errs: string[] = [];
  if (name.length > 15) errs.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(name)) errs.push('must contain at least one letter (a-z)');
  if (name.includes('--')) errs.push('must not contain consecutive hyphens');
  if (name.startsWith('-') || name.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** A port given as number or IANA name (Service targetPort, probe ports): upstream ValidatePortNumOrName. */
export function validatePortNumOrName(v: unknown, path: FieldPath): FieldError[] {
  if (typeof v === 'number') return invalidEach(isValidPortNum(v), path, v);
  if (typeof v === 'string') return v === '' ? [fieldErr.required(path)] : invalidEach(isValidPortName(v), path, v);
  return [fieldErr.required(path)];
}

function validatePorts(ports: unknown, path: FieldPath, hostNetwork: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  asObjList(ports).forEach((p, i) => {
    const ip = path.index(i);
    const name = asStr(p.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) errs.push(...invalidEach(msgs, ip.child('name'), name));
      else if (names.has(name)) errs.push(fieldErr.duplicate(ip.child('name'), name));
      else names.add(name);
    }
    if (!p.containerPort) errs.push(fieldErr.required(ip.child('containerPort')));
    else errs.push(...invalidEach(isValidPortNum(p.containerPort as number), ip.child('containerPort'), p.containerPort));
    if (p.hostPort) errs.push(...invalidEach(isValidPortNum(p.hostPort as number), ip.child('hostPort'), p.hostPort));
    // With host networking the container binds the host's port directly, so the two must agree.
    if (hostNetwork && p.hostPort && p.hostPort !== p.containerPort)
      errs.push(fieldErr.invalid(ip.child('containerPort'), p.containerPort, 'must match `hostPort` when `hostNetwork` is true'));
    errs.push(...validateEnum(p.protocol, ip.child('protocol'), PROTOCOLS));
  });
  return errs;
}

/** Downward-API field paths an env var may reference. */
const ENV_FIELD_PATHS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];

function validateKeySelector(sel: Obj, path: FieldPath): FieldError[] {
  return [...requiredWith(sel.name, path.child('name'), () => []), ...requiredWith(sel.key, path.child('key'), (k, p) => invalidEach(isConfigMapKey(k), p, k))];
}

/** Env var names: any printable ASCII but '=' (upstream's relaxed rule, on by default since 1.32). */
export function validateEnvVarName(name: string, path: FieldPath): FieldError[] {
  return /^[\x20-\x3c\x3e-\x7e]+$/.test(name) ? [] : [fieldErr.invalid(path, name, "a valid environment variable name must consist only of printable ASCII characters other than '='")];
}

function validateEnv(env: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  asObjList(env).forEach((e, i) => {
    const ip = path.index(i);
    errs.push(...requiredWith(e.name, ip.child('name'), validateEnvVarName));
    const from = asObj(e.valueFrom);
    if (!from) return;
    const fp = ip.child('valueFrom');
    let sources = 0;
    const fieldRef = asObj(from.fieldRef);
    if (fieldRef) {
      sources++;
      const p = fp.child('fieldRef');
      if (!fieldRef.apiVersion) errs.push(fieldErr.required(p.child('apiVersion')));
      const fieldPath = asStr(fieldRef.fieldPath);
      if (!fieldPath) errs.push(fieldErr.required(p.child('fieldPath')));
      else if (!ENV_FIELD_PATHS.includes(fieldPath.replace(/\[.*\]$/, '')))
        errs.push(fieldErr.notSupported(p.child('fieldPath'), fieldPath, ENV_FIELD_PATHS));
    }
    const resourceRef = asObj(from.resourceFieldRef);
    if (resourceRef) {
      sources++;
      errs.push(...requiredWith(resourceRef.resource, fp.child('resourceFieldRef', 'resource'), () => []));
    }
    for (const kind of ['configMapKeyRef', 'secretKeyRef']) {
      const sel = asObj(from[kind]);
      if (sel) {
        sources++;
        errs.push(...validateKeySelector(sel, fp.child(kind)));
      }
    }
    if (sources === 0) errs.push(fieldErr.invalid(fp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (asStr(e.value) !== '') errs.push(fieldErr.invalid(fp, '', 'may not be specified when `value` is not empty'));
    else if (sources > 1) errs.push(fieldErr.invalid(fp, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateEnvFrom(envFrom: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  asObjList(envFrom).forEach((e, i) => {
    const ip = path.index(i);
    if (e.prefix) errs.push(...validateEnvVarName(asStr(e.prefix), ip.child('prefix')));
    const refs = ['configMapRef', 'secretRef'].filter((k) => asObj(e[k]));
    for (const k of refs) errs.push(...requiredWith(asObj(e[k])!.name, ip.child(k, 'name'), () => []));
    if (refs.length === 0) errs.push(fieldErr.invalid(ip, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (refs.length > 1) errs.push(fieldErr.invalid(ip, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

/** Upstream ValidateResourceRequirements for containers: names, values, requests <= limits. */
export function validateResources(resources: unknown, path: FieldPath): FieldError[] {
  const r = asObj(resources);
  if (!r) return [];
  const errs: FieldError[] = [];
  const limPath = path.child('limits');
  const reqPath = path.child('requests');
  const limits = new Map(resourceEntries(r.limits).map(([k, raw, v]) => [k, { raw, v }]));
  for (const [k, raw] of limits) {
    errs.push(...validateContainerResourceName(k, limPath.key(k)));
    errs.push(...validateQuantityValue(k, raw.raw, limPath.key(k)));
  }
  for (const [k, raw, v] of resourceEntries(r.requests)) {
    errs.push(...validateContainerResourceName(k, reqPath.key(k)));
    errs.push(...validateQuantityValue(k, raw, reqPath.key(k)));
    const lim = limits.get(k);
    if (lim && !Number.isNaN(v) && !Number.isNaN(lim.v)) {
      // Hugepages and extended resources cannot be overcommitted, so requests must equal limits.
      if (v !== lim.v && !isOvercommitAllowed(k))
        errs.push(fieldErr.invalid(reqPath, quantityText(raw), `must be equal to ${k} limit of ${quantityText(lim.raw)}`));
      else if (v > lim.v) errs.push(fieldErr.invalid(reqPath, quantityText(raw), `must be less than or equal to ${k} limit of ${quantityText(lim.raw)}`));
    } else if (!lim && !isOvercommitAllowed(k)) {
      errs.push(fieldErr.required(limPath, 'Limit must be set for non overcommitable resources'));
    }
  }
  return errs;
}

const HANDLER_TYPES = ['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep'] as const;

/** Exactly one handler type (probes: exec/httpGet/tcpSocket/grpc; lifecycle hooks: exec/httpGet/tcpSocket/sleep). */
function validateHandler(h: Obj, path: FieldPath, allowed: readonly string[]): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  for (const t of HANDLER_TYPES) {
    const v = asObj(h[t]);
    if (!v || !allowed.includes(t)) continue;
    if (n++ > 0) {
      errs.push(fieldErr.forbidden(path.child(t), 'may not specify more than 1 handler type'));
      continue;
    }
    if (t === 'exec' && asList(v.command).length === 0) errs.push(fieldErr.required(path.child('exec', 'command')));
    if (t === 'httpGet' || t === 'tcpSocket') errs.push(...validatePortNumOrName(v.port, path.child(t, 'port')));
    if (t === 'grpc') errs.push(...invalidEach(isValidPortNum(v.port as number), path.child('grpc', 'port'), v.port));
    if (t === 'sleep') errs.push(...validateNonnegative(v.seconds, path.child('sleep', 'seconds')));
  }
  if (n === 0) errs.push(fieldErr.required(path, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: unknown, path: FieldPath, mustSucceedOnce: boolean): FieldError[] {
  const p = asObj(probe);
  if (!p) return [];
  const errs = validateHandler(p, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'])
    errs.push(...validateNonnegative(p[f], path.child(f)));
  // Liveness and startup probes act on the first success, so a higher threshold is meaningless.
  if (mustSucceedOnce && p.successThreshold !== undefined && p.successThreshold !== 1)
    errs.push(fieldErr.invalid(path.child('successThreshold'), p.successThreshold, 'must be 1'));
  if (typeof p.terminationGracePeriodSeconds === 'number' && p.terminationGracePeriodSeconds <= 0)
    errs.push(fieldErr.invalid(path.child('terminationGracePeriodSeconds'), p.terminationGracePeriodSeconds, 'must be greater than 0'));
  return errs;
}

function validateVolumeMounts(mounts: unknown, path: FieldPath, volumes: ReadonlySet<string>): FieldError[] {
  const errs: FieldError[] = [];
  const paths = new Set<string>();
  asObjList(mounts).forEach((m, i) => {
    const ip = path.index(i);
    const name = asStr(m.name);
    const mountPath = asStr(m.mountPath);
    if (!name) errs.push(fieldErr.required(ip.child('name')));
    if (!volumes.has(name)) errs.push(fieldErr.notFound(ip.child('name'), name));
    if (!mountPath) errs.push(fieldErr.required(ip.child('mountPath')));
    if (paths.has(mountPath)) errs.push(fieldErr.invalid(ip.child('mountPath'), mountPath, 'must be unique'));
    paths.add(mountPath);
    const sub = asStr(m.subPath);
    if (sub) {
      if (sub.startsWith('/')) errs.push(fieldErr.invalid(ip.child('subPath'), sub, 'must be a relative path'));
      if (sub.split('/').includes('..')) errs.push(fieldErr.invalid(ip.child('subPath'), sub, "must not contain '..'"));
    }
  });
  return errs;
}

/** What validating one container needs from its pod spec. */
export interface ContainerContext {
  /** Names of the pod's valid volumes (mounts must reference one). */
  volumes: ReadonlySet<string>;
  /** Container names across containers, initContainers and ephemeralContainers must be unique. */
  names: Set<string>;
  hostNetwork: boolean;
}

export type ContainerKind = 'containers' | 'initContainers' | 'ephemeralContainers';

/** Upstream validateContainerCommon plus the per-kind rules (init containers' restartPolicy, probes). */
export function validateContainer(c: Obj, path: FieldPath, kind: ContainerKind, ctx: ContainerContext): FieldError[] {
  const errs: FieldError[] = [];
  const name = asStr(c.name);
  if (!name) errs.push(fieldErr.required(path.child('name')));
  else {
    errs.push(...validateDNSLabel(name, path.child('name')));
    if (ctx.names.has(name)) errs.push(fieldErr.duplicate(path.child('name'), name));
    ctx.names.add(name);
  }
  const image = asStr(c.image);
  if (!image) errs.push(fieldErr.required(path.child('image')));
  else if (image.trim() !== image) errs.push(fieldErr.invalid(path.child('image'), image, 'must not have leading or trailing whitespace'));
  errs.push(...validateEnum(c.imagePullPolicy, path.child('imagePullPolicy'), ['Always', 'IfNotPresent', 'Never']));
  errs.push(...validateEnum(c.terminationMessagePolicy, path.child('terminationMessagePolicy'), ['File', 'FallbackToLogsOnError']));
  errs.push(...validatePorts(c.ports, path.child('ports'), ctx.hostNetwork));
  errs.push(...validateEnv(c.env, path.child('env')));
  errs.push(...validateEnvFrom(c.envFrom, path.child('envFrom')));
  errs.push(...validateVolumeMounts(c.volumeMounts, path.child('volumeMounts'), ctx.volumes));
  errs.push(...validateResources(c.resources, path.child('resources')));
  const lifecycle = asObj(c.lifecycle);
  for (const hook of ['postStart', 'preStop']) {
    const h = asObj(lifecycle?.[hook]);
    if (h) errs.push(...validateHandler(h, path.child('lifecycle', hook), ['exec', 'httpGet', 'tcpSocket', 'sleep']));
  }
  // Sidecars are init containers with restartPolicy Always; they alone may carry probes among init containers.
  const sidecar = kind === 'initContainers' && c.restartPolicy === 'Always';
  if (kind === 'initContainers') {
    if (c.restartPolicy !== undefined && c.restartPolicy !== 'Always') errs.push(fieldErr.notSupported(path.child('restartPolicy'), c.restartPolicy, ['Always']));
  } else if (kind === 'containers' && c.restartPolicy !== undefined) {
    errs.push(fieldErr.forbidden(path.child('restartPolicy'), 'may not be set for non-init containers'));
  }
  for (const [probe, once] of [['livenessProbe', true], ['readinessProbe', false], ['startupProbe', true]] as const) {
    if (c[probe] === undefined || c[probe] === null || kind === 'ephemeralContainers') continue;
    if (kind === 'initContainers' && !sidecar) errs.push(fieldErr.forbidden(path.child(probe), 'may not be set for init containers without restartPolicy=Always'));
    else errs.push(...validateProbe(c[probe], path.child(probe), once));
  }
  // Ephemeral (debug) containers join a running pod: they get no ports, resources, hooks or probes.
  if (kind === 'ephemeralContainers') {
    for (const f of ['ports', 'resources', 'lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'])
      if (!isEmpty(c[f])) errs.push(fieldErr.forbidden(path.child(f), 'cannot be set for an Ephemeral Container'));
  }
  return errs;
}

const isEmpty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (asObj(v) !== undefined && Object.keys(asObj(v)!).length === 0);

/** Checks a quantity map without a container context (used by pod overhead). */
export function validateResourceList(list: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, raw] of resourceEntries(list)) {
    errs.push(...validateContainerResourceName(k, path.key(k)));
    const v = checkQuantity(raw, path.key(k), errs);
    if (v < 0) errs.push(fieldErr.invalid(path.key(k), raw, 'must be greater than or equal to 0'));
  }
  return errs;
}
