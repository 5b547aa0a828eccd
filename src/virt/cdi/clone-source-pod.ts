/**
 * The source pod of a host-assisted clone, shaped as CDI's (`<target claim uid>-source-pod`, label
 * `cdi.kubevirt.io: cdi-clone-source`, in the SOURCE claim's namespace): the importer's
 * host-tools image running `cairn cdi-clone-source`, the source claim read-only at
 * /var/run/cdi/clone/source (or its device at /dev/cdi-block-volume), sending the disk to the
 * target's upload server pod. A pod cannot be owned across namespaces, so, as CDI, it carries
 * the DataVolume as an annotation and the controller deletes it; the upload token is handed in
 * its env as CDI hands its source pod the client certificate (a Secret of the target namespace
 * cannot be referenced from the source namespace).
 */
import { cairnArgv } from '../../agent/images/host-tools-image.js';
import { pvcSpec } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import { ANN_CREATED_BY_CONTROLLER, ANN_OWNER_REF, CDI_LABEL, type DataVolume } from './datavolume-api.js';
import { cdiImporterImage } from './importer-image.js';
import { PROGRESS_PORT } from './importer-protocol.js';
import { UPLOAD_PATHS, UPLOAD_PORT, UPLOAD_TOKEN_ENV } from './upload-api.js';

export const CLONE_SOURCE_LABEL = 'cdi-clone-source';
export const CLONE_SOURCE_DIR = '/var/run/cdi/clone/source';
export const CLONE_SOURCE_DEVICE = '/dev/cdi-block-volume';
/** The upload server's URL in the source pod's env. */
export const CLONE_UPLOAD_URL_ENV = 'UPLOAD_URL';

export const cloneSourcePodName = (targetClaim: KubeObject): string => `${targetClaim.metadata.uid}-source-pod`;
export const ownerRefValue = (dv: DataVolume): string => `${dv.metadata.namespace}/${dv.metadata.name}`;

export function cloneSourcePod(dv: DataVolume, target: KubeObject, source: KubeObject, uploadPodIP: string, token: string): KubeObject {
  const block = pvcSpec(source).volumeMode === 'Block';
  const host = uploadPodIP.includes(':') ? `[${uploadPodIP}]` : uploadPodIP;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: cloneSourcePodName(target),
      namespace: source.metadata.namespace,
      labels: { ...CDI_LABEL, 'cdi.kubevirt.io': CLONE_SOURCE_LABEL },
      annotations: { [ANN_CREATED_BY_CONTROLLER]: 'yes', [ANN_OWNER_REF]: ownerRefValue(dv) },
    },
    spec: {
      restartPolicy: 'OnFailure',
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'cdi-clone-source',
          image: cdiImporterImage(),
          imagePullPolicy: 'IfNotPresent',
          command: cairnArgv('cdi-clone-source'),
          ports: [{ name: 'metrics', containerPort: PROGRESS_PORT, protocol: 'TCP' }],
          env: [
            { name: CLONE_UPLOAD_URL_ENV, value: `http://${host}:${UPLOAD_PORT}${UPLOAD_PATHS[0]}` },
            { name: UPLOAD_TOKEN_ENV, value: token },
            { name: 'OWNER_UID', value: dv.metadata.uid },
          ],
          ...(block ? { volumeDevices: [{ name: 'cdi-clone-source', devicePath: CLONE_SOURCE_DEVICE }] } : { volumeMounts: [{ name: 'cdi-clone-source', mountPath: CLONE_SOURCE_DIR, readOnly: true }] }),
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      volumes: [{ name: 'cdi-clone-source', persistentVolumeClaim: { claimName: source.metadata.name, readOnly: !block } }],
    },
  } as KubeObject;
}
