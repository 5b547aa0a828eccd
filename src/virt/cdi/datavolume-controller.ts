/**
 * The DataVolume controller (CDI's datavolume and import controllers in one loop), for the
 * `http` and `blank` sources: it creates the claim named like the DataVolume (owned by it, so
 * deleting the DataVolume deletes the claim, and through it the importer pod), then the importer
 * pod `importer-<name>` once the claim may be consumed — at once for Immediate classes or with
 * the `cdi.kubevirt.io/storage.bind.immediate.requested` annotation (the importer is then the
 * claim's first consumer), else once a consumer pod was scheduled and the claim bound on its node
 * (as CDI: the importer then follows the volume there; two pods racing for one unbound claim
 * would each trigger provisioning), with phase WaitForFirstConsumer meanwhile. Progress comes from the importer's
 * metric on its pod IP, the result from its termination message (importer-protocol.ts); a finished import is recorded
 * on the claim (CDI's pod.phase annotation) and the importer pod deleted. The `upload` source gets
 * CDI's upload server pod `cdi-upload-<name>` and its token Secret instead (upload-pod.ts), with
 * phases UploadScheduled and UploadReady (the pod is ready) until the server exits 0 after an upload.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound } from '../../client/index.js';
import { defaultClassOf } from '../../api/admission/default-storage-class.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf, simpleController } from '../../controllers/context.js';
import { PODS, rfc3339 } from '../../controllers/util/nodes.js';
import { claimClass, phaseOf, PVCS, STORAGE_CLASSES, type StorageClass } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import { ClaimSpecError, claimSpec } from './claim-spec.js';
import {
  ANN_CERT_CONFIG_MAP,
  ANN_CONTENT_TYPE,
  ANN_ENDPOINT,
  ANN_IMMEDIATE_BINDING,
  ANN_IMPORT_POD,
  ANN_POD_PHASE,
  ANN_POD_RESTARTS,
  ANN_SECRET,
  ANN_SOURCE,
  CDI_LABEL,
  type DataVolume,
  DATAVOLUMES,
  type DataVolumeStatus,
  SOURCE_HTTP,
  SOURCE_NONE,
} from './datavolume-api.js';
import { dataVolumeStatus } from './datavolume-status.js';
import { importerPod, importerPodName } from './importer-pod.js';
import { fetchProgress } from './importer-protocol.js';
import { ANN_UPLOAD_REQUEST, isUploadSource, UPLOAD_POD_PREFIX, UPLOAD_SERVER_LABEL, uploadPodName, uploadTokenSecretName } from './upload-api.js';
import { uploadPod, uploadTokenSecret } from './upload-pod.js';
import { SECRETS } from '../../ingress/ingress-api.js';

/** How often a running import's progress is read. */
const PROGRESS_POLL_MS = 2000;

const isOwnedBy = (o: KubeObject, owner: KubeObject) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.controller);

/** Whether a write is needed (condition timestamps only move with a change, so equal JSON is no change). */
const sameStatus = (a: DataVolumeStatus | undefined, b: DataVolumeStatus) => JSON.stringify(a ?? {}) === JSON.stringify(b);

const PHASE_EVENTS: Partial<Record<string, (claim: string) => string>> = {
  ImportScheduled: (c) => `Import into ${c} scheduled`,
  ImportInProgress: (c) => `Import into ${c} in progress`,
  UploadScheduled: (c) => `Upload into ${c} scheduled`,
  UploadReady: (c) => `Upload into ${c} ready`,
  Succeeded: (c) => `Successfully imported into PVC ${c}`,
  WaitForFirstConsumer: (c) => `PVC ${c} Pending`,
};

export const dataVolumeController: ControllerSpec = {
  name: 'datavolume',
  start(ctx) {
    const dvInf = ctx.informers.forResource<DataVolume>(DATAVOLUMES);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const podInf = ctx.informers.forResource<KubeObject>(PODS);
    const scInf = ctx.informers.forResource<KubeObject>(STORAGE_CLASSES);
    const recorder = ctx.recorder('datavolume-controller');
    const { controller, queue } = simpleController(ctx, { name: 'datavolume', primary: dvInf as never, secondary: [pvcInf, podInf, scInf], reconcile: (key) => reconcile(key) });
    // The claim is named like its DataVolume; the importer pod is `importer-<name>`, the upload server `cdi-upload-<name>`.
    const fromClaim = (c: KubeObject) => c.metadata.ownerReferences?.some((r) => r.kind === 'DataVolume') && queue.add(objectKeyOf(c));
    const fromPod = (p: KubeObject) => {
      const role = p.metadata.labels?.['cdi.kubevirt.io'];
      if (role === 'importer') queue.add(`${p.metadata.namespace}/${p.metadata.name!.replace(/^importer-/, '')}`);
      else if (role === UPLOAD_SERVER_LABEL) queue.add(`${p.metadata.namespace}/${p.metadata.name!.slice(UPLOAD_POD_PREFIX.length)}`);
    };
    pvcInf.addEventHandler({ onAdd: fromClaim, onUpdate: (_o, c) => fromClaim(c), onDelete: (c) => fromClaim(finalStateOf(c)) });
    podInf.addEventHandler({ onAdd: fromPod, onUpdate: (_o, p) => fromPod(p), onDelete: (p) => fromPod(finalStateOf(p)) });

    const storageClassOf = (name: string | undefined): StorageClass | undefined =>
      (name ? scInf.store.get(name) : defaultClassOf(scInf.store.list())) as StorageClass | undefined;

    async function createClaim(dv: DataVolume): Promise<KubeObject | undefined> {
      let spec: Record<string, unknown>;
      try {
        spec = claimSpec(dv, storageClassOf((dv.spec.pvc?.storageClassName ?? dv.spec.storage?.storageClassName) as string | undefined));
      } catch (e) {
        if (!(e instanceof ClaimSpecError)) throw e;
        recorder.event(dv, 'Warning', 'ErrClaimNotValid', e.message);
        return undefined;
      }
      const http = dv.spec.source?.http;
      const upload = isUploadSource(dv);
      const annotations: Record<string, string> = {
        // CDI marks an upload target instead of naming an import source.
        ...(upload ? { [ANN_UPLOAD_REQUEST]: '' } : { [ANN_SOURCE]: http ? SOURCE_HTTP : SOURCE_NONE, [ANN_IMPORT_POD]: importerPodName(dv) }),
        [ANN_CONTENT_TYPE]: dv.spec.contentType ?? 'kubevirt',
        ...(http ? { [ANN_ENDPOINT]: http.url } : {}),
        ...(http?.certConfigMap ? { [ANN_CERT_CONFIG_MAP]: http.certConfigMap } : {}),
        ...(http?.secretRef ? { [ANN_SECRET]: http.secretRef } : {}),
        ...(dv.metadata.annotations?.[ANN_IMMEDIATE_BINDING] !== undefined ? { [ANN_IMMEDIATE_BINDING]: dv.metadata.annotations[ANN_IMMEDIATE_BINDING] } : {}),
      };
      const claim: KubeObject = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: dv.metadata.name,
          namespace: dv.metadata.namespace,
          labels: { ...CDI_LABEL },
          annotations,
          ownerReferences: [{ apiVersion: `${DATAVOLUMES.group}/${DATAVOLUMES.version}`, kind: 'DataVolume', name: dv.metadata.name!, uid: dv.metadata.uid!, controller: true, blockOwnerDeletion: true }],
        },
        spec,
      };
      try {
        return await ctx.client.resource(PVCS).create(claim, { namespace: dv.metadata.namespace });
      } catch (e) {
        if (isAlreadyExists(e)) return undefined; // the informer brings it
        throw e;
      }
    }

    async function recordSuccess(claim: KubeObject, pod: KubeObject): Promise<void> {
      const restarts = String((pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)?.containerStatuses?.[0]?.restartCount ?? 0);
      await ctx.client.resource(PVCS).patch(claim.metadata.name!, { metadata: { annotations: { [ANN_POD_PHASE]: 'Succeeded', [ANN_POD_RESTARTS]: restarts } } }, 'merge', { namespace: claim.metadata.namespace });
    }

    async function deletePod(pod: KubeObject): Promise<void> {
      await ctx.client
        .resource(PODS)
        .delete(pod.metadata.name!, { namespace: pod.metadata.namespace })
        .catch((e) => {
          if (!isNotFound(e)) throw e;
        });
    }

    /** The upload pod's token; an existing one is kept (a client may hold it while the pod restarts). */
    async function createUploadToken(dv: DataVolume, claim: KubeObject): Promise<void> {
      await ctx.client
        .resource(SECRETS)
        .create(uploadTokenSecret(dv, claim), { namespace: dv.metadata.namespace })
        .catch((e) => {
          if (!isAlreadyExists(e)) throw e;
        });
    }

    async function deleteUploadToken(dv: DataVolume): Promise<void> {
      await ctx.client
        .resource(SECRETS)
        .delete(uploadTokenSecretName(dv), { namespace: dv.metadata.namespace })
        .catch((e) => {
          if (!isNotFound(e)) throw e;
        });
    }

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      const dv = dvInf.store.get(key);
      const claimGoing = pvcInf.store.get(key)?.metadata.deletionTimestamp;
      if (!dv || dv.metadata.deletionTimestamp || claimGoing) {
        // A claim being deleted keeps its protection finalizer while the importer uses it (CDI's import controller deletes the pod).
        const claim = pvcInf.store.get(key);
        for (const prefix of ['importer-', UPLOAD_POD_PREFIX]) {
          const pod = podInf.store.get(`${key.split('/')[0]}/${prefix}${key.split('/')[1]}`);
          if (claimGoing && pod && claim && isOwnedBy(pod, claim)) await deletePod(pod);
        }
        return;
      }
      const http = dv.spec.source?.http;
      const upload = isUploadSource(dv);
      if (!http && !dv.spec.source?.blank && !upload) return; // other sources are not imported by this controller
      const ns = dv.metadata.namespace!;
      let claim = pvcInf.store.get(key);
      if (claim && !isOwnedBy(claim, dv)) {
        recorder.event(dv, 'Warning', 'ErrResourceExists', `Resource "${claim.metadata.name}" already exists and is not managed by DataVolume`);
        return;
      }
      if (!claim) claim = await createClaim(dv);
      let pod = podInf.store.get(`${ns}/${upload ? uploadPodName(dv) : importerPodName(dv)}`);
      if (pod && claim && !isOwnedBy(pod, claim)) pod = undefined; // a stranger's pod of that name is not ours to judge or delete

      let succeeded = claim?.metadata.annotations?.[ANN_POD_PHASE] === 'Succeeded';
      if (!succeeded && claim && pod && phaseOf(pod) === 'Succeeded') {
        await recordSuccess(claim, pod);
        succeeded = true;
      }
      const sc = claim ? storageClassOf(claimClass(claim) || undefined) : undefined;
      const waitingForConsumer =
        !!claim &&
        sc?.volumeBindingMode === 'WaitForFirstConsumer' &&
        dv.metadata.annotations?.[ANN_IMMEDIATE_BINDING] === undefined &&
        phaseOf(claim) !== 'Bound';

      let progress: string | undefined;
      if (succeeded) {
        if (pod) {
          await deletePod(pod);
          if (upload) await deleteUploadToken(dv);
        }
      } else if (claim && !waitingForConsumer && !pod) {
        try {
          if (upload) await createUploadToken(dv, claim);
          await ctx.client.resource(PODS).create(upload ? uploadPod(dv, claim) : importerPod(dv, claim), { namespace: ns });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
      } else if (pod && !upload && phaseOf(pod) === 'Running') {
        const podIP = (pod.status as { podIP?: string } | undefined)?.podIP;
        if (podIP) progress = await fetchProgress(podIP, dv.metadata.uid!);
      }

      const status = dataVolumeStatus(dv, { claim, pod: succeeded ? undefined : pod, succeeded, waitingForConsumer, progress, upload }, rfc3339());
      if (!sameStatus(dv.status, status)) {
        try {
          await ctx.client.resource(DATAVOLUMES).patch(dv.metadata.name!, { status }, 'merge', { namespace: ns });
        } catch (e) {
          if (isNotFound(e)) return;
          if (isConflict(e)) return { requeueAfterMs: 100 };
          throw e;
        }
        if (status.phase !== dv.status?.phase) {
          const claimName = claim?.metadata.name ?? dv.metadata.name!;
          // CDI's upload controller names its success differently from the import's.
          if (upload && status.phase === 'Succeeded') recorder.event(dv, 'Normal', 'UploadSucceeded', `Successfully uploaded into ${claimName}`);
          else {
            const message = PHASE_EVENTS[status.phase!]?.(claimName);
            if (message) recorder.event(dv, 'Normal', status.phase!, message);
          }
        }
      }
      if (!succeeded && pod) return { requeueAfterMs: PROGRESS_POLL_MS };
    }

    return controller;
  },
};
