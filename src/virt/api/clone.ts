/** clone.kubevirt.io/v1beta1 VirtualMachineClone, with KubeVirt's names, columns and status subresource. */
import { arr, crd, dateTime, obj, str, stringMap, strings } from '../../api/crd-builders.js';
import { KUBEVIRT_CRD_LABELS } from './kubevirt.js';
import { kubevirtCondition } from './snapshot.js';
import { typedLocalObjectReference } from './vmi-spec.js';

export const CLONE_GROUP = 'clone.kubevirt.io';

export const VM_CLONE_CRD = crd({
  group: CLONE_GROUP,
  version: 'v1beta1',
  kind: 'VirtualMachineClone',
  plural: 'virtualmachineclones',
  scope: 'Namespaced',
  shortNames: ['vmclone', 'vmclones'],
  categories: ['all'],
  columns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'SourceVirtualMachine', type: 'string', jsonPath: '.spec.source.name' },
    { name: 'TargetVirtualMachine', type: 'string', jsonPath: '.spec.target.name' },
  ],
  schema: {
    spec: obj(
      {
        annotationFilters: strings,
        labelFilters: strings,
        newMacAddresses: stringMap,
        newSMBiosSerial: str,
        patches: strings,
        source: typedLocalObjectReference,
        target: typedLocalObjectReference,
        template: obj({ annotationFilters: strings, labelFilters: strings }),
        volumeNamePolicy: str,
      },
      ['source'],
    ),
    status: obj({ conditions: arr(kubevirtCondition), creationTime: dateTime, phase: str, restoreName: str, snapshotName: str, targetName: str }),
  },
  required: ['spec'],
  status: true,
  labels: KUBEVIRT_CRD_LABELS,
});
