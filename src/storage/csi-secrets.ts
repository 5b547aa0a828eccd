/**
 * CSI's per-call secrets, as upstream's sidecars and the kubelet find them: a StorageClass (or
 * VolumeSnapshotClass) names a Secret per call kind in its `csi.storage.k8s.io/*-secret-name` and
 * `*-secret-namespace` parameters; the provisioner reads the provisioner secret for CreateVolume,
 * records it on the PV for DeleteVolume (`volume.kubernetes.io/provisioner-deletion-secret-*`,
 * so a deleted class does not strand the volume) and copies the node-stage and controller-expand
 * ones into the PV's `spec.csi.*SecretRef`, where the node and the resizer read them.
 *
 * Names may use external-provisioner's templates `${pv.name}`, `${pvc.namespace}`, `${pvc.name}`.
 */
import type { Client } from '../client/index.js';
import { isNotFound } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { CSI_PARAMETER_PREFIX, type Secrets } from './driver.js';
import { StorageError } from './errors.js';

export type SecretKind = 'provisioner' | 'node-stage' | 'controller-expand' | 'snapshotter';

export interface SecretRef {
  name: string;
  namespace: string;
}

const SECRETS_REF = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' } as const;

export const ANN_DELETION_SECRET_NAME = 'volume.kubernetes.io/provisioner-deletion-secret-name';
export const ANN_DELETION_SECRET_NAMESPACE = 'volume.kubernetes.io/provisioner-deletion-secret-namespace';

/** What a template in a secret name may refer to. */
export interface SecretTemplateVars {
  pvName?: string;
  pvcNamespace?: string;
  pvcName?: string;
}

function expand(template: string, param: string, vars: SecretTemplateVars): string {
  const values: Record<string, string | undefined> = { 'pv.name': vars.pvName, 'pvc.namespace': vars.pvcNamespace, 'pvc.name': vars.pvcName };
  return template.replace(/\$\{([^}]*)\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new StorageError('InvalidArgument', `${param}: template "\${${key}}" is not supported (supported: \${pv.name}, \${pvc.namespace}, \${pvc.name})`);
    return v;
  });
}

/**
 * The Secret a class names for `kind`, or undefined when it names none. Naming only one of the
 * name and namespace is an error, as upstream says.
 */
export function classSecretRef(parameters: Record<string, string> | undefined, kind: SecretKind, vars: SecretTemplateVars = {}): SecretRef | undefined {
  const nameKey = `${CSI_PARAMETER_PREFIX}${kind}-secret-name`;
  const nsKey = `${CSI_PARAMETER_PREFIX}${kind}-secret-namespace`;
  const name = parameters?.[nameKey];
  const namespace = parameters?.[nsKey];
  if (name === undefined && namespace === undefined) return undefined;
  if (!name || !namespace) throw new StorageError('InvalidArgument', `either name and namespace for ${kind} secrets specified, Both must be specified (${nameKey}, ${nsKey})`);
  return { name: expand(name, nameKey, vars), namespace: expand(namespace, nsKey, vars) };
}

/** The Secret's data, decoded. A missing Secret is Unavailable (it may still be created: retried). */
export async function readSecret(client: Client, ref: SecretRef): Promise<Secrets> {
  let secret: KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
  try {
    secret = await client.resource<KubeObject & { data?: Record<string, string> }>(SECRETS_REF).get(ref.name, ref.namespace);
  } catch (e) {
    if (isNotFound(e)) throw new StorageError('Unavailable', `error getting secret ${ref.name} in namespace ${ref.namespace}: secrets "${ref.name}" not found`);
    throw e;
  }
  const out: Secrets = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** readSecret of an optional reference (no reference: no secrets). */
export async function readSecretRef(client: Client, ref: { name?: string; namespace?: string } | undefined): Promise<Secrets | undefined> {
  if (!ref?.name) return undefined;
  return readSecret(client, { name: ref.name, namespace: ref.namespace ?? 'default' });
}

/** The secrets a class names for a claim's volume (validated before anything is made). */
export interface ProvisioningSecrets {
  provisioner?: SecretRef;
  nodeStage?: SecretRef;
  controllerExpand?: SecretRef;
}

export function provisioningSecrets(parameters: Record<string, string> | undefined, claim: KubeObject, pvName: string): ProvisioningSecrets {
  const vars = { pvName, pvcNamespace: claim.metadata.namespace, pvcName: claim.metadata.name };
  return {
    provisioner: classSecretRef(parameters, 'provisioner', vars),
    nodeStage: classSecretRef(parameters, 'node-stage', vars),
    controllerExpand: classSecretRef(parameters, 'controller-expand', vars),
  };
}

/** What the provisioned PV records of them: deletion annotations and the csi source's secret refs. */
export function pvSecretFields(s: ProvisioningSecrets): { annotations: Record<string, string>; csi: Record<string, SecretRef> } {
  return {
    annotations: s.provisioner ? { [ANN_DELETION_SECRET_NAME]: s.provisioner.name, [ANN_DELETION_SECRET_NAMESPACE]: s.provisioner.namespace } : {},
    csi: { ...(s.nodeStage ? { nodeStageSecretRef: s.nodeStage } : {}), ...(s.controllerExpand ? { controllerExpandSecretRef: s.controllerExpand } : {}) },
  };
}

/** The provisioner secret a PV was made with (for DeleteVolume). */
export function deletionSecretRef(pv: KubeObject): SecretRef | undefined {
  const a = pv.metadata.annotations ?? {};
  const name = a[ANN_DELETION_SECRET_NAME];
  return name ? { name, namespace: a[ANN_DELETION_SECRET_NAMESPACE] ?? 'default' } : undefined;
}
