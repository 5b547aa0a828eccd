/**
 * The upload server pod of a DataVolume with `source.upload`, shaped as CDI's (`cdi-upload-<name>`,
 * label `cdi.kubevirt.io: cdi-upload-server`): the importer pod's volumes and owner (the claim at
 * /data, or as /dev/cdi-block-volume for Block), on the same host-tools image, running
 * `cairn cdi-upload-server` instead of the import, with a readiness probe on /healthz — so the
 * DataVolume turns UploadReady only once the server listens — and the bearer token from the
 * upload Secret as a variable (never in the pod spec). The Secret is owned by the claim too.
 */
import { randomBytes } from 'node:crypto';
import { cairnArgv } from '../../agent/images/host-tools-image.js';
import type { KubeObject } from '../../util/object.js';
import { CDI_LABEL, type DataVolume } from './datavolume-api.js';
import { importerPod } from './importer-pod.js';
import { DEFAULT_FILESYSTEM_OVERHEAD } from './importer.js';
import { HEALTHZ_PATH, UPLOAD_PORT, UPLOAD_SERVER_LABEL, UPLOAD_TOKEN_ENV, UPLOAD_TOKEN_KEY, uploadPodName, uploadTokenSecretName } from './upload-api.js';

const claimOwner = (claim: KubeObject) => [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: claim.metadata.name!, uid: claim.metadata.uid!, controller: true, blockOwnerDeletion: true }];

/** A fresh random token in a Secret the upload pod reads and `cairn vm image-upload` sends. */
export function uploadTokenSecret(dv: DataVolume, claim: KubeObject): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: uploadTokenSecretName(dv), namespace: dv.metadata.namespace, labels: { ...CDI_LABEL }, ownerReferences: claimOwner(claim) },
    type: 'Opaque',
    data: { [UPLOAD_TOKEN_KEY]: Buffer.from(randomBytes(32).toString('base64url')).toString('base64') },
  } as KubeObject;
}

export function uploadPod(dv: DataVolume, claim: KubeObject): KubeObject {
  const pod = importerPod(dv, claim) as KubeObject & { spec: { containers: Record<string, unknown>[] } };
  const [importer] = pod.spec.containers;
  const container: Record<string, unknown> = {
    ...importer,
    name: 'cdi-upload-server',
    // The image's entrypoint is the import; the same host tools serve the upload.
    command: cairnArgv('cdi-upload-server'),
    ports: [{ name: 'upload', containerPort: UPLOAD_PORT, protocol: 'TCP' }],
    env: [
      { name: UPLOAD_TOKEN_ENV, valueFrom: { secretKeyRef: { name: uploadTokenSecretName(dv), key: UPLOAD_TOKEN_KEY, optional: false } } },
      { name: 'FILESYSTEM_OVERHEAD', value: String(DEFAULT_FILESYSTEM_OVERHEAD) },
      { name: 'OWNER_UID', value: dv.metadata.uid },
    ],
    readinessProbe: { httpGet: { path: HEALTHZ_PATH, port: UPLOAD_PORT }, periodSeconds: 2, failureThreshold: 3 },
  };
  return {
    ...pod,
    metadata: { ...pod.metadata, name: uploadPodName(dv), labels: { ...CDI_LABEL, 'cdi.kubevirt.io': UPLOAD_SERVER_LABEL } },
    spec: { ...pod.spec, containers: [container] },
  };
}
