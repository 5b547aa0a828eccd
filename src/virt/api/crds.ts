/**
 * Every CustomResourceDefinition of the KubeVirt-compatible virtualization API Cairn serves:
 * kubevirt.io (with the KubeVirt CR), migrations.kubevirt.io, instancetype.kubevirt.io, snapshot.kubevirt.io, clone.kubevirt.io, CDI's
 * DataVolume and Multus's NetworkAttachmentDefinition.
 */
import { VM_CLONE_CRD } from './clone.js';
import { DATA_VOLUME_CRD } from './cdi.js';
import { INSTANCETYPE_CRDS } from './instancetype.js';
import { VIRTUAL_MACHINE_CRD, VIRTUAL_MACHINE_INSTANCE_CRD, VIRTUAL_MACHINE_INSTANCE_MIGRATION_CRD } from './kubevirt.js';
import { KUBEVIRT_CR_CRD } from './kubevirt-cr.js';
import { MIGRATION_POLICY_CRD } from './migration-policy.js';
import { NETWORK_ATTACHMENT_DEFINITION_CRD } from './multus.js';
import { VM_SNAPSHOT_CRDS } from './snapshot.js';

export const VIRT_CRDS = [
  VIRTUAL_MACHINE_CRD,
  VIRTUAL_MACHINE_INSTANCE_CRD,
  VIRTUAL_MACHINE_INSTANCE_MIGRATION_CRD,
  MIGRATION_POLICY_CRD,
  KUBEVIRT_CR_CRD,
  ...INSTANCETYPE_CRDS,
  ...VM_SNAPSHOT_CRDS,
  VM_CLONE_CRD,
  DATA_VOLUME_CRD,
  NETWORK_ATTACHMENT_DEFINITION_CRD,
];
