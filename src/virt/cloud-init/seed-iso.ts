// The seed disks KubeVirt attaches for cloud-init, with the same layout and metadata fields:
// NoCloud — an ISO labelled `cidata` with user-data, meta-data (instance-id, local-hostname) and
// network-config; ConfigDrive — an ISO labelled `config-2` with openstack/latest/{user_data,
// meta_data.json, network_data.json}. Metadata is JSON (valid YAML for NoCloud readers).
import type { CloudInitData } from './cloud-init-data.js';
import { makeIso } from './genisoimage.js';

export interface SeedIdentity {
  /** The instance id cloud-init keys its once-per-instance work on (KubeVirt: the VMI's UID-derived id). */
  instanceId: string;
  hostname?: string;
  /** ConfigDrive's uuid (default: the instance id). */
  uuid?: string;
  /** SSH public keys by name (KubeVirt's accessCredentials with propagation noCloud/configDrive). */
  publicKeys?: Record<string, string>;
}

export const NOCLOUD_VOLUME_ID = 'cidata';
export const CONFIG_DRIVE_VOLUME_ID = 'config-2';

/** Writes a NoCloud seed ISO. */
export async function writeNoCloudIso(output: string, id: SeedIdentity, data: CloudInitData): Promise<void> {
  const meta: Record<string, unknown> = { 'instance-id': id.instanceId };
  if (id.hostname !== undefined) meta['local-hostname'] = id.hostname;
  if (id.publicKeys !== undefined) meta['public-keys'] = id.publicKeys;
  const files: Record<string, string> = { 'user-data': data.userData, 'meta-data': JSON.stringify(meta) + '\n' };
  if (data.networkData !== undefined) files['network-config'] = data.networkData;
  await makeIso(output, NOCLOUD_VOLUME_ID, files);
}

/** Writes a ConfigDrive seed ISO (OpenStack layout, the `latest` version). */
export async function writeConfigDriveIso(output: string, id: SeedIdentity, data: CloudInitData): Promise<void> {
  const meta: Record<string, unknown> = { instance_id: id.instanceId };
  if (id.hostname !== undefined) {
    meta['local_hostname'] = id.hostname;
    meta['hostname'] = id.hostname;
  }
  // cloud-init's ConfigDrive reader takes the instance id from `uuid`.
  meta['uuid'] = id.uuid ?? id.instanceId;
  if (id.publicKeys !== undefined) meta['public_keys'] = id.publicKeys;
  const files: Record<string, string> = {
    'openstack/latest/meta_data.json': JSON.stringify(meta) + '\n',
    'openstack/latest/user_data': data.userData,
  };
  if (data.networkData !== undefined) files['openstack/latest/network_data.json'] = data.networkData;
  await makeIso(output, CONFIG_DRIVE_VOLUME_ID, files);
}
