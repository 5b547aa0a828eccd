// The user data and network data of a cloudInitNoCloud / cloudInitConfigDrive volume, checked
// and resolved as KubeVirt does: at most one source each (inline, base64, or a Secret), inline
// and base64 data at most 2048 bytes (larger data belongs in a Secret), base64 strict (standard
// alphabet with padding; line breaks ignored, as Go's decoder), and at least one of the two set.
// Secret data is read through a callback under the keys KubeVirt reads (userdata/userData,
// networkdata/networkData).

/** KubeVirt's cloudInitUserMaxLen and cloudInitNetworkMaxLen. */
export const CLOUD_INIT_INLINE_MAX_BYTES = 2048;

export interface CloudInitSource {
  userData?: string;
  userDataBase64?: string;
  /** KubeVirt's JSON name for the user data's Secret (UserDataSecretRef in Go). */
  secretRef?: { name?: string };
  networkData?: string;
  networkDataBase64?: string;
  networkDataSecretRef?: { name?: string };
}

export interface CloudInitData {
  userData: string;
  /** Absent when the volume names none (the guest then uses DHCP on every NIC). */
  networkData?: string;
}

/** Invalid cloud-init data; `field` is the offending field's path. */
export class CloudInitDataError extends Error {
  override name = 'CloudInitDataError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a Secret's data (decoded) by name; undefined when the Secret does not exist. */
export type SecretReader = (name: string) => Promise<Record<string, string> | undefined>;

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard base64 strictly; throws CloudInitDataError naming the field. */
export function decodeBase64Strict(value: string, field: string): string {
  const compact = value.replace(/[\r\n]/g, '');
  if (!B64.test(compact)) throw new CloudInitDataError(field, `${field} is not a valid base64 value`);
  return Buffer.from(compact, 'base64').toString('utf8');
}

async function one(
  field: string,
  kind: 'user' | 'network',
  inline: string | undefined,
  b64: string | undefined,
  ref: { name?: string } | undefined,
  secrets: SecretReader | undefined,
): Promise<string | undefined> {
  const names = kind === 'user' ? ['userData', 'userDataBase64', 'secretRef'] : ['networkData', 'networkDataBase64', 'networkDataSecretRef'];
  const set = [inline !== undefined && inline !== '', b64 !== undefined && b64 !== '', ref?.name !== undefined && ref.name !== ''];
  if (set.filter(Boolean).length > 1) {
    throw new CloudInitDataError(field, `${field} must have only one ${kind === 'user' ? 'userdata' : 'networkdata'} source set (${names.filter((_, i) => set[i]).join(', ')})`);
  }
  let data: string | undefined;
  if (set[0]) data = inline;
  else if (set[1]) data = decodeBase64Strict(b64!, `${field}.${names[1]}`);
  else if (set[2]) {
    if (!secrets) throw new CloudInitDataError(`${field}.${names[2]}`, `${field}.${names[2]}: no Secret reader given`);
    const secret = await secrets(ref!.name!);
    if (!secret) throw new CloudInitDataError(`${field}.${names[2]}`, `${field}.${names[2]}: Secret ${ref!.name} not found`);
    data = kind === 'user' ? (secret['userdata'] ?? secret['userData']) : (secret['networkdata'] ?? secret['networkData']);
    if (data === undefined) {
      const keys = kind === 'user' ? 'userdata or userData' : 'networkdata or networkData';
      throw new CloudInitDataError(`${field}.${names[2]}`, `${field}.${names[2]}: Secret ${ref!.name} has no ${keys} key`);
    }
    return data; // Secret data is not size-limited (it does not travel in the VMI object).
  }
  if (data !== undefined && Buffer.byteLength(data) > CLOUD_INIT_INLINE_MAX_BYTES) {
    const ref = kind === 'user' ? 'UserDataSecretRef' : 'NetworkDataSecretRef';
    throw new CloudInitDataError(field, `${field} ${kind === 'user' ? 'userdata' : 'networkdata'} exceeds ${CLOUD_INIT_INLINE_MAX_BYTES} byte limit. Should use ${ref} for larger data.`);
  }
  return data;
}

/**
 * Checks a cloud-init volume source and returns its data. `field` is the volume's path, e.g.
 * `spec.volumes[1].cloudInitNoCloud`.
 */
export async function resolveCloudInitData(source: CloudInitSource, field: string, secrets?: SecretReader): Promise<CloudInitData> {
  const userData = await one(field, 'user', source.userData, source.userDataBase64, source.secretRef, secrets);
  const networkData = await one(field, 'network', source.networkData, source.networkDataBase64, source.networkDataSecretRef, secrets);
  if (userData === undefined && networkData === undefined) {
    throw new CloudInitDataError(field, `${field} must have at least one userdatasource or one networkdatasource set.`);
  }
  return { userData: userData ?? '', ...(networkData !== undefined ? { networkData } : {}) };
}
