/**
 * The names the upload parts agree on — the DataVolume controller (which makes the upload server
 * pod and its token Secret), the upload server inside that pod, and `cairn vm image-upload` —
 * with CDI's where CDI has one: the pod `cdi-upload-<claim>`, its label, the claim's
 * `storage.upload.target` annotation, the port and the sync upload paths.
 *
 * CDI's client reaches the pod through its upload proxy with a short-lived token from an
 * UploadTokenRequest. Cairn has no proxy: the client reaches the pod through the API server's
 * pods/portforward (so the user's RBAC on that namespace decides), and the server in the pod
 * still wants a per-DataVolume bearer token, kept in a Secret the controller generates, so other
 * pods on the pod network cannot write into the volume.
 */
import type { DataVolume } from './datavolume-api.js';

/** CDI's upload server pod name prefix (common.UploadPodName) and label value (UploadServerCDILabel). */
export const UPLOAD_POD_PREFIX = 'cdi-upload-';
export const UPLOAD_SERVER_LABEL = 'cdi-upload-server';
/** CDI's claim annotation marking a claim as an upload target (AnnUploadRequest). */
export const ANN_UPLOAD_REQUEST = 'cdi.kubevirt.io/storage.upload.target';
/** The port the upload server listens on (CDI's uploadserver port). */
export const UPLOAD_PORT = 8443;
/** CDI's sync upload paths (common.SyncUploadPaths). */
export const UPLOAD_PATHS: readonly string[] = ['/v1beta1/upload', '/v1alpha1/upload'];
export const HEALTHZ_PATH = '/healthz';
/** The key of the token in the upload Secret, and the variable the server reads it from. */
export const UPLOAD_TOKEN_KEY = 'token';
export const UPLOAD_TOKEN_ENV = 'UPLOAD_TOKEN';
/** The upload server's termination message on success (CDI's). */
export const UPLOAD_COMPLETE = 'Upload Complete';

export const uploadPodName = (dv: DataVolume): string => `${UPLOAD_POD_PREFIX}${dv.metadata.name}`;
export const uploadTokenSecretName = (dv: DataVolume): string => `${UPLOAD_POD_PREFIX}${dv.metadata.name}-token`;
export const isUploadSource = (dv: DataVolume): boolean => dv.spec.source?.upload !== undefined;
