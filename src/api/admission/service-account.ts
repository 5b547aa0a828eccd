/**
 * ServiceAccount admission, as upstream's plugin (plugin/pkg/admission/serviceaccount), on pod
 * create:
 * - `spec.serviceAccountName` defaults to `default`;
 * - unless automountServiceAccountToken is false (the pod's setting, else the ServiceAccount's),
 *   the pod gets the projected volume `kube-api-access-<5 random>` (a bound token, the cluster CA
 *   from the `kube-root-ca.crt` ConfigMap, the namespace) mounted read-only at
 *   /var/run/secrets/kubernetes.io/serviceaccount in every init and regular container that does
 *   not already mount something there; a pod that already has a `kube-api-access-` volume keeps
 *   it;
 * - a pod without imagePullSecrets gets the ServiceAccount's.
 * Mirror pods (annotation kubernetes.io/config.mirror) are not changed, and may not refer to a
 * service account, secrets, or token projections (403, upstream's messages).
 *
 * One deviation: upstream refuses a pod whose ServiceAccount does not exist (403 "error looking
 * up service account ..."), retrying for a while for `default`, which the serviceaccount
 * controller creates. Cairn admits the pod as if the account existed with no settings, so pods can
 * be created in a server running without controllers; the kubelet-side token request then fails
 * until the account exists, which is where the user sees the problem.
 */
import { randomInt } from 'node:crypto';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import { ApiError } from '../errors.js';
import type { RegistryAccess } from './resource-quota.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const TOKEN_VOLUME_PREFIX = 'kube-api-access-';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
/** upstream serviceaccount.WarnOnlyBoundTokenExpirationSeconds: one hour and seven seconds. */
export const TOKEN_EXPIRATION_SECONDS = 3607;

/** upstream names.SimpleNameGenerator's alphabet (no vowels, no look-alike digits). */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

type Obj = Record<string, unknown>;
interface Container {
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { valueFrom?: { secretKeyRef?: unknown } }[];
  envFrom?: { secretRef?: unknown }[];
}
interface PodSpec {
  serviceAccountName?: string;
  /** Deprecated v1 alias of serviceAccountName, kept equal to it (upstream's conversion). */
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  volumes?: Obj[];
  initContainers?: Container[];
  containers?: Container[];
  ephemeralContainers?: Container[];
  imagePullSecrets?: { name?: string }[];
}

const randomSuffix = () => Array.from({ length: 5 }, () => SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)]).join('');

/** The projected volume source upstream's TokenVolumeSource builds. */
export function tokenVolumeSource(): Obj {
  return {
    defaultMode: 420,
    sources: [
      { serviceAccountToken: { expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' }] } },
    ],
  };
}

function shouldAutomount(spec: PodSpec, sa: KubeObject | undefined): boolean {
  if (typeof spec.automountServiceAccountToken === 'boolean') return spec.automountServiceAccountToken;
  const fromAccount = sa?.automountServiceAccountToken;
  return typeof fromAccount === 'boolean' ? fromAccount : true;
}

function mountToken(spec: PodSpec) {
  const volumes = spec.volumes ?? [];
  const existing = volumes.find((v) => typeof v.name === 'string' && v.name.startsWith(TOKEN_VOLUME_PREFIX));
  const volumeName = existing ? (existing.name as string) : TOKEN_VOLUME_PREFIX + randomSuffix();
  let needed = false;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if (!c || typeof c !== 'object') continue;
    // Something already mounted at the token path wins.
    if ((c.volumeMounts ?? []).some((m) => m.mountPath === TOKEN_MOUNT_PATH)) continue;
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: volumeName, readOnly: true, mountPath: TOKEN_MOUNT_PATH }];
    needed = true;
  }
  if (!existing && needed) spec.volumes = [...volumes, { name: volumeName, projected: tokenVolumeSource() }];
}

/** upstream's Validate for mirror pods: no service account, no secrets, no token projections. */
function checkMirrorPod(a: AdmissionAttributes, spec: PodSpec) {
  const forbid = (why: string) => ApiError.forbidden({ group: '', resource: 'pods' }, a.name, why);
  if (spec.serviceAccountName) throw forbid('a mirror pod may not reference service accounts');
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  const volumes = spec.volumes ?? [];
  const projections = volumes.flatMap((v) => (isPlainObject(v.projected) ? ((v.projected.sources as Obj[] | undefined) ?? []) : []));
  const hasSecrets =
    (spec.imagePullSecrets ?? []).length > 0 ||
    volumes.some((v) => isPlainObject(v.secret)) ||
    projections.some((p) => isPlainObject(p.secret)) ||
    containers.some((c) => (c.env ?? []).some((e) => e.valueFrom?.secretKeyRef) || (c.envFrom ?? []).some((e) => e.secretRef));
  if (hasSecrets) throw forbid('a mirror pod may not reference secrets');
  if (projections.some((p) => isPlainObject(p.serviceAccountToken))) throw forbid('a mirror pod may not use ServiceAccountToken volume projections');
}

export function serviceAccountAdmission(access: RegistryAccess): AdmissionPlugin {
  const getAccount = async (namespace: string, name: string): Promise<KubeObject | undefined> => {
    const kind = access.catalog().byPlural('', 'v1', 'serviceaccounts');
    if (!kind) return undefined;
    try {
      return await access.registry().get(kind, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  };

  return {
    name: 'ServiceAccount',
    async admit(a) {
      if (a.operation !== 'CREATE' || a.subresource || a.kind.group !== '' || a.kind.plural !== 'pods' || a.kind.custom || !a.object || !a.namespace) return;
      const pod = a.object;
      const spec = (isPlainObject(pod.spec) ? pod.spec : (pod.spec = {})) as PodSpec;
      if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return checkMirrorPod(a, spec);
      if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount = DEFAULT_SERVICE_ACCOUNT;
      const sa = await getAccount(a.namespace, spec.serviceAccountName);
      if (shouldAutomount(spec, sa)) mountToken(spec);
      const pullSecrets = (sa?.imagePullSecrets as { name?: string }[] | undefined) ?? [];
      if (!spec.imagePullSecrets?.length && pullSecrets.length) spec.imagePullSecrets = pullSecrets.map((s) => ({ name: s.name }));
    },
  };
}
