/**
 * The importer pod of a DataVolume, shaped as CDI's (`importer-<name>`): one container running
 * `cairn cdi-import` from `cairn.local/cdi-importer` (http, registry or blank source), the claim as volume `cdi-data-vol` mounted at
 * /data (Filesystem) or handed as /dev/cdi-block-volume (Block), the certConfigMap at /certs, the
 * secretRef's accessKeyId/secretKey as env valueFrom (so no secret is written into the pod),
 * restartPolicy OnFailure, owned by the claim so it goes with it.
 */
import type { KubeObject } from '../../util/object.js';
import { pvcSpec } from '../../storage/api.js';
import { type DataVolume, ANN_CREATED_BY_CONTROLLER, CDI_LABEL, SOURCE_HTTP, SOURCE_NONE, SOURCE_REGISTRY } from './datavolume-api.js';
import { cdiImporterImage } from './importer-image.js';
import { DEFAULT_FILESYSTEM_OVERHEAD } from './importer.js';
import { PROGRESS_PORT } from './importer-protocol.js';
import { isNodePull, withNodePull } from './registry-node-pull.js';

const DATA_VOLUME = 'cdi-data-vol';
const CERT_VOLUME = 'cdi-cert-vol';
const CERT_DIR = '/certs';

export const importerPodName = (dv: DataVolume) => `importer-${dv.metadata.name}`;

export function importerPod(dv: DataVolume, claim: KubeObject): KubeObject {
  const registry = dv.spec.source?.registry;
  // The registry source takes the same endpoint, CA bundle and credentials as the http one (CDI's).
  const http = dv.spec.source?.http ?? (registry?.url ? { url: registry.url, certConfigMap: registry.certConfigMap, secretRef: registry.secretRef } : undefined);
  const block = pvcSpec(claim).volumeMode === 'Block';
  const env: Record<string, unknown>[] = [
    { name: 'IMPORTER_SOURCE', value: registry ? SOURCE_REGISTRY : http ? SOURCE_HTTP : SOURCE_NONE },
    { name: 'IMPORTER_CONTENTTYPE', value: dv.spec.contentType ?? 'kubevirt' },
    { name: 'IMPORTER_IMAGE_SIZE', value: String(pvcSpec(claim).resources?.requests?.storage ?? '') },
    { name: 'OWNER_UID', value: dv.metadata.uid },
    { name: 'FILESYSTEM_OVERHEAD', value: String(DEFAULT_FILESYSTEM_OVERHEAD) },
  ];
  const volumes: Record<string, unknown>[] = [{ name: DATA_VOLUME, persistentVolumeClaim: { claimName: claim.metadata.name, readOnly: false } }];
  const mounts: Record<string, unknown>[] = [];
  if (http) {
    env.push({ name: 'IMPORTER_ENDPOINT', value: http.url });
    if (http.secretRef) {
      const key = (k: string) => ({ valueFrom: { secretKeyRef: { name: http.secretRef, key: k, optional: false } } });
      env.push({ name: 'IMPORTER_ACCESS_KEY_ID', ...key('accessKeyId') }, { name: 'IMPORTER_SECRET_KEY', ...key('secretKey') });
    }
    if (http.certConfigMap) {
      env.push({ name: 'IMPORTER_CERT_DIR', value: CERT_DIR });
      volumes.push({ name: CERT_VOLUME, configMap: { name: http.certConfigMap } });
      mounts.push({ name: CERT_VOLUME, mountPath: CERT_DIR, readOnly: true });
    }
  }
  if (!block) mounts.unshift({ name: DATA_VOLUME, mountPath: '/data' });
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: importerPodName(dv),
      namespace: dv.metadata.namespace,
      labels: { ...CDI_LABEL, 'cdi.kubevirt.io': 'importer' },
      annotations: { [ANN_CREATED_BY_CONTROLLER]: 'yes' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: claim.metadata.name!, uid: claim.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      restartPolicy: 'OnFailure',
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'importer',
          image: cdiImporterImage(),
          imagePullPolicy: 'IfNotPresent',
          ports: [{ name: 'metrics', containerPort: PROGRESS_PORT, protocol: 'TCP' }],
          env,
          volumeMounts: mounts,
          ...(block ? { volumeDevices: [{ name: DATA_VOLUME, devicePath: '/dev/cdi-block-volume' }] } : {}),
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      volumes,
    },
  } as KubeObject;
  return registry && isNodePull(registry) ? withNodePull(pod, registry) : pod;
}
