/**
 * A container's environment, as the kubelet's makeEnvironmentVariables builds it:
 *
 * 1. envFrom, in order: every key of the ConfigMap's `data` / the Secret's (base64-decoded)
 *    `data`, with the prefix; keys that are not valid variable names are skipped (and reported
 *    through invalidEnvFromKeys, for the `InvalidEnvironmentVariableNames` event);
 * 2. env, in order, each replacing an earlier value of its name: `value` with `$(VAR)` references
 *    expanded against the variables so far and then the service variables; or `valueFrom`
 *    (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef);
 * 3. service link variables for names not set above.
 *
 * The result lists each name once: service variables first, then envFrom's, then env's, so a
 * container sees its own declared variables in declaration order at the end. Upstream builds the
 * same set of values (from a Go map, so in no particular order).
 *
 * A missing ConfigMap, Secret or key is a ContainerConfigError (`CreateContainerConfigError`,
 * the kubelet's messages) unless the reference is `optional`.
 */
import { ContainerConfigError } from './errors.js';
import { expand, lookupIn } from './expansion.js';
import { InvalidQuantityError, quantityMilliValue, quantityValue } from './quantity.js';
import type { ConfigMapObject, Container, EnvFromSource, Pod, PodObjectSource, Quantity, ResourceFieldSelector, SecretObject } from './api-types.js';

export interface EnvOptions {
  /**
   * Service link variables of the pod's namespace (`<SVC>_SERVICE_HOST`, `<SVC>_PORT_...`), as
   * upstream's envvars.FromServices; used unless the pod sets enableServiceLinks: false.
   */
  serviceEnv?: Record<string, string>;
  /**
   * Variables of the master service (`default/kubernetes`: KUBERNETES_SERVICE_HOST...), which
   * the kubelet injects even with enableServiceLinks: false. Namespace services of the same
   * name override them.
   */
  masterServiceEnv?: Record<string, string>;
  podIP?: string;
  /** All pod IPs, primary first (status.podIPs); default [podIP]. */
  podIPs?: string[];
  hostIP?: string;
  /** All node IPs (status.hostIPs); default [hostIP]. */
  hostIPs?: string[];
  nodeName: string;
}

/** The kubelet's event reason for skipped envFrom keys. */
export const INVALID_ENV_VAR_NAMES_REASON = 'InvalidEnvironmentVariableNames';

export interface InvalidEnvFromKeys {
  source: 'configMap' | 'secret';
  name: string;
  /** The skipped names (prefix applied), sorted. */
  keys: string[];
  /** The kubelet's Warning event message. */
  message: string;
}

/**
 * Env var names the kubelet accepts: printable ASCII but '=' — upstream's relaxed rule
 * (RelaxedEnvironmentVariableValidation, on by default since 1.32), the same rule the API server
 * applies to env names here (src/kinds/core/container.ts).
 */
const ENV_VAR_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;

const notFound = (kind: 'configmap' | 'secret', name: string) => new ContainerConfigError(`${kind} "${name}" not found`);

/** Decoded `data` of a Secret (values are base64 in the API). */
function decodeSecretData(s: SecretObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** Reads referenced objects once per container, as the kubelet's per-call caches do. */
class ObjectReader {
  private readonly configMaps = new Map<string, ConfigMapObject | undefined>();
  private readonly secrets = new Map<string, Record<string, string> | undefined>();
  constructor(
    private readonly src: PodObjectSource,
    private readonly namespace: string,
  ) {}

  configMapData(name: string): Record<string, string> | undefined {
    if (!this.configMaps.has(name)) this.configMaps.set(name, this.src.configMap(this.namespace, name));
    const cm = this.configMaps.get(name);
    return cm ? (cm.data ?? {}) : undefined;
  }

  secretData(name: string): Record<string, string> | undefined {
    if (!this.secrets.has(name)) {
      const s = this.src.secret(this.namespace, name);
      this.secrets.set(name, s ? decodeSecretData(s) : undefined);
    }
    return this.secrets.get(name);
  }
}

/** The data one envFrom source contributes, or undefined when an optional source is missing. */
function envFromData(reader: ObjectReader, ef: EnvFromSource): { source: 'configMap' | 'secret'; name: string; data: Record<string, string> } | undefined {
  if (ef.configMapRef) {
    const name = ef.configMapRef.name ?? '';
    const data = reader.configMapData(name);
    if (!data) {
      if (ef.configMapRef.optional) return undefined;
      throw notFound('configmap', name);
    }
    return { source: 'configMap', name, data };
  }
  if (ef.secretRef) {
    const name = ef.secretRef.name ?? '';
    const data = reader.secretData(name);
    if (!data) {
      if (ef.secretRef.optional) return undefined;
      throw notFound('secret', name);
    }
    return { source: 'secret', name, data };
  }
  return undefined;
}

/** The service variables a pod sees: the master service's always, the namespace's unless links are off. */
function serviceVariables(pod: Pod, opts: EnvOptions): Map<string, string> {
  const out = new Map<string, string>(Object.entries(opts.masterServiceEnv ?? {}));
  if (pod.spec.enableServiceLinks !== false) for (const [k, v] of Object.entries(opts.serviceEnv ?? {})) out.set(k, v);
  return out;
}

/** Moves `name` to the end with its new value (a later source replaces an earlier one). */
function put(env: Map<string, string>, name: string, value: string) {
  env.delete(name);
  env.set(name, value);
}

export function resolveEnv(pod: Pod, container: Container, src: PodObjectSource, opts: EnvOptions): string[] {
  const ns = pod.metadata.namespace ?? '';
  const reader = new ObjectReader(src, ns);
  const serviceEnv = serviceVariables(pod, opts);
  // envFrom and env (later wins), kept apart from the service variables as upstream's tmpEnv.
  const own = new Map<string, string>();

  for (const ef of container.envFrom ?? []) {
    const got = envFromData(reader, ef);
    if (!got) continue;
    for (const [key, value] of Object.entries(got.data)) {
      const name = (ef.prefix ?? '') + key;
      if (ENV_VAR_NAME.test(name)) put(own, name, value);
    }
  }

  const lookup = lookupIn(own, serviceEnv);
  for (const ev of container.env ?? []) {
    let value: string | undefined = '';
    if (ev.value) value = expand(ev.value, lookup);
    else if (ev.valueFrom) value = valueFrom(pod, container, ev.valueFrom, reader, src, opts);
    // An optional reference that resolved to nothing sets no variable (upstream `continue`).
    if (value === undefined) continue;
    put(own, ev.name, value);
  }

  const out: string[] = [];
  for (const [k, v] of serviceEnv) if (!own.has(k)) out.push(`${k}=${v}`);
  for (const [k, v] of own) out.push(`${k}=${v}`);
  return out;
}

/** envFrom keys the kubelet skips as invalid names, one entry per source that has any. */
export function invalidEnvFromKeys(pod: Pod, container: Container, src: PodObjectSource): InvalidEnvFromKeys[] {
  const ns = pod.metadata.namespace ?? '';
  const reader = new ObjectReader(src, ns);
  const out: InvalidEnvFromKeys[] = [];
  for (const ef of container.envFrom ?? []) {
    let got: ReturnType<typeof envFromData>;
    try {
      got = envFromData(reader, ef);
    } catch (e) {
      // A missing source is resolveEnv's error to report, not a naming problem.
      if (e instanceof ContainerConfigError) continue;
      throw e;
    }
    if (!got) continue;
    const keys = Object.keys(got.data)
      .map((k) => (ef.prefix ?? '') + k)
      .filter((k) => !ENV_VAR_NAME.test(k))
      .sort();
    if (!keys.length) continue;
    out.push({
      source: got.source,
      name: got.name,
      keys,
      message: `Keys [${keys.join(', ')}] from the EnvFrom ${got.source} ${ns}/${got.name} were skipped since they are considered invalid environment variable names.`,
    });
  }
  return out;
}

type ValueFrom = NonNullable<NonNullable<Container['env']>[number]['valueFrom']>;

/** A valueFrom's value; undefined when an optional reference is missing. */
function valueFrom(pod: Pod, container: Container, vf: ValueFrom, reader: ObjectReader, src: PodObjectSource, opts: EnvOptions): string | undefined {
  const ns = pod.metadata.namespace ?? '';
  if (vf.fieldRef) return podFieldValue(pod, vf.fieldRef.fieldPath, opts);
  if (vf.resourceFieldRef) return containerResourceValue(pod, container, vf.resourceFieldRef, src.nodeAllocatable());
  if (vf.configMapKeyRef) {
    const { name = '', key, optional } = vf.configMapKeyRef;
    const data = reader.configMapData(name);
    if (!data) {
      if (optional) return undefined;
      throw notFound('configmap', name);
    }
    if (!Object.prototype.hasOwnProperty.call(data, key)) {
      if (optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
    }
    return data[key];
  }
  if (vf.secretKeyRef) {
    const { name = '', key, optional } = vf.secretKeyRef;
    const data = reader.secretData(name);
    if (!data) {
      if (optional) return undefined;
      throw notFound('secret', name);
    }
    if (!Object.prototype.hasOwnProperty.call(data, key)) {
      if (optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${key} in Secret ${ns}/${name}`);
    }
    return data[key];
  }
  return '';
}

/** Upstream fieldpath.FormatMap: `key="value"` lines in key order. */
function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join('\n');
}

/** `metadata.labels['key']` → ['metadata.labels', 'key']. */
function splitSubscript(path: string): [string, string] | undefined {
  if (!path.endsWith("']")) return undefined;
  const open = path.indexOf("['");
  if (open < 0) return undefined;
  return [path.slice(0, open), path.slice(open + 2, -2)];
}

/** The kubelet's podFieldSelectorRuntimeValue + fieldpath.ExtractFieldPathAsString. */
export function podFieldValue(pod: Pod, fieldPath: string, opts: Pick<EnvOptions, 'podIP' | 'podIPs' | 'hostIP' | 'hostIPs' | 'nodeName'>): string {
  const podIPs = opts.podIPs ?? (opts.podIP ? [opts.podIP] : []);
  const hostIPs = opts.hostIPs ?? (opts.hostIP ? [opts.hostIP] : []);
  const sub = splitSubscript(fieldPath);
  if (sub) {
    const [path, key] = sub;
    if (path === 'metadata.annotations') return pod.metadata.annotations?.[key] ?? '';
    if (path === 'metadata.labels') return pod.metadata.labels?.[key] ?? '';
    throw new ContainerConfigError(`fieldPath "${fieldPath}" does not support subscript`);
  }
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec.nodeName || opts.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return hostIPs[0] ?? '';
    case 'status.hostIPs':
      return hostIPs.join(',');
    case 'status.podIP':
      return podIPs[0] ?? '';
    case 'status.podIPs':
      return podIPs.join(',');
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
  }
  throw new ContainerConfigError(`unsupported fieldPath: ${fieldPath}`);
}

/** The resources the downward API falls back to node allocatable for (upstream MergeContainerResourceLimits). */
const DEFAULTED_LIMITS = ['cpu', 'memory', 'ephemeral-storage'];

/** limits with missing or zero cpu/memory/ephemeral-storage taken from the node's allocatable. */
function limitsWithAllocatable(c: Container, allocatable: Record<string, Quantity>): Record<string, Quantity> {
  const limits = { ...(c.resources?.limits ?? {}) };
  for (const r of DEFAULTED_LIMITS) {
    const q = limits[r];
    const zero = q !== undefined && quantityMilliValueOr(q, 0) === 0;
    if ((q === undefined || zero) && allocatable[r] !== undefined) limits[r] = allocatable[r];
  }
  return limits;
}

function quantityMilliValueOr(q: Quantity, fallback: number): number {
  try {
    return quantityMilliValue(q);
  } catch (e) {
    if (e instanceof InvalidQuantityError) return fallback;
    throw e;
  }
}

/**
 * A resourceFieldRef's value, as upstream's ExtractContainerResourceValue: cpu in units of the
 * divisor (default 1) from milli-values, everything else from whole values, always rounded up.
 */
export function containerResourceValue(pod: Pod, container: Container, ref: ResourceFieldSelector, allocatable: Record<string, Quantity>): string {
  let target = container;
  if (ref.containerName) {
    const found = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === ref.containerName);
    if (!found) throw new ContainerConfigError(`container ${ref.containerName} not found`);
    target = found;
  }
  const dot = ref.resource.indexOf('.');
  const kind = ref.resource.slice(0, dot);
  const name = ref.resource.slice(dot + 1);
  const supported = dot > 0 && (kind === 'limits' || kind === 'requests') && (DEFAULTED_LIMITS.includes(name) || name.startsWith('hugepages-'));
  if (!supported) throw new ContainerConfigError(`unsupported container resource : ${ref.resource}`);
  const list = kind === 'limits' ? limitsWithAllocatable(target, allocatable) : (target.resources?.requests ?? {});
  const divisor = ref.divisor === undefined || quantityMilliValueOr(ref.divisor, 0) === 0 ? '1' : ref.divisor;
  try {
    const amount = list[name] ?? 0;
    const value = name === 'cpu' ? quantityMilliValue(amount) / quantityMilliValue(divisor) : quantityValue(amount) / quantityValue(divisor);
    return String(Math.ceil(value));
  } catch (e) {
    if (e instanceof InvalidQuantityError) throw new ContainerConfigError(`${ref.resource}: ${e.message}`);
    throw e;
  }
}
