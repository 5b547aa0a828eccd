/**
 * cdi.kubevirt.io/v1beta1 DataVolume (CDI's CRD: short names dv/dvs, category all, its printer
 * columns, no status subresource — CDI writes status through the main resource), and the
 * DataVolumeSpec a VirtualMachine's dataVolumeTemplates embed.
 */
import { ageColumn, arr, bool, coreType, crd, dateTime, empty, int32, obj, str, strings } from '../../api/crd-builders.js';

export const CDI_GROUP = 'cdi.kubevirt.io';
const core = (t: string) => coreType(`io.k8s.api.core.v1.${t}`);
const namespacedName = obj({ name: str, namespace: str }, ['namespace', 'name']);

const dataVolumeSource = obj({
  blank: empty,
  gcs: obj({ secretRef: str, url: str }, ['url']),
  http: obj({ certConfigMap: str, extraHeaders: strings, secretExtraHeaders: strings, secretRef: str, url: str }, ['url']),
  imageio: obj({ certConfigMap: str, diskId: str, insecureSkipVerify: bool, secretRef: str, url: str }, ['url', 'diskId']),
  pvc: namespacedName,
  registry: obj({ certConfigMap: str, imageStream: str, platform: obj({ architecture: str }), pullMethod: str, secretRef: str, url: str }),
  s3: obj({ certConfigMap: str, secretRef: str, url: str }, ['url']),
  snapshot: namespacedName,
  upload: empty,
  vddk: obj({ backingFile: str, extraArgs: str, initImageURL: str, secretRef: str, thumbprint: str, url: str, uuid: str }),
});

const storageSpec = obj({
  accessModes: strings,
  dataSource: core('TypedLocalObjectReference'),
  dataSourceRef: core('TypedObjectReference'),
  resources: core('VolumeResourceRequirements'),
  selector: coreType('io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector'),
  storageClassName: str,
  volumeMode: str,
  volumeName: str,
});

export const dataVolumeSpec = obj({
  checkpoints: arr(obj({ current: str, previous: str }, ['previous', 'current'])),
  contentType: str,
  finalCheckpoint: bool,
  preallocation: bool,
  priorityClassName: str,
  pvc: core('PersistentVolumeClaimSpec'),
  source: dataVolumeSource,
  sourceRef: obj({ kind: str, name: str, namespace: str }, ['kind', 'name']),
  storage: storageSpec,
});

const dataVolumeStatus = obj({
  claimName: str,
  conditions: arr(obj({ lastHeartbeatTime: dateTime, lastTransitionTime: dateTime, message: str, reason: str, status: str, type: str }, ['type', 'status'])),
  phase: str,
  progress: str,
  restartCount: int32,
});

export const DATA_VOLUME_CRD = crd({
  group: CDI_GROUP,
  version: 'v1beta1',
  kind: 'DataVolume',
  plural: 'datavolumes',
  scope: 'Namespaced',
  shortNames: ['dv', 'dvs'],
  categories: ['all'],
  columns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'The phase the data volume is in' },
    { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'Transfer progress in percentage if known, N/A otherwise' },
    { name: 'Restarts', type: 'integer', jsonPath: '.status.restartCount', description: 'The number of times the transfer has been restarted.' },
    ageColumn,
  ],
  schema: { spec: dataVolumeSpec, status: dataVolumeStatus },
  required: ['spec'],
  status: false,
});
