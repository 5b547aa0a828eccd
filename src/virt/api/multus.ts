/**
 * k8s.cni.cncf.io/v1 NetworkAttachmentDefinition, as the Network Plumbing Working Group's CRD
 * (Multus) defines it: plural `network-attachment-definitions`, short name `net-attach-def`,
 * and a spec whose `config` is the CNI configuration as a JSON string.
 */
import { crd, obj, str } from '../../api/crd-builders.js';

export const MULTUS_GROUP = 'k8s.cni.cncf.io';

export const NETWORK_ATTACHMENT_DEFINITION_CRD = crd({
  group: MULTUS_GROUP,
  version: 'v1',
  kind: 'NetworkAttachmentDefinition',
  plural: 'network-attachment-definitions',
  singular: 'network-attachment-definition',
  scope: 'Namespaced',
  shortNames: ['net-attach-def'],
  schema: { spec: obj({ config: str }) },
  status: false,
});
