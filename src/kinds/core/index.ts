/** The core/v1 kinds, in the order discovery lists them. */
import type { KindDefinition } from '../types.js';
import { configMap } from './configmap.js';
import { endpoints } from './endpoints.js';
import { event } from './event.js';
import { limitRange } from './limitrange.js';
import { namespace } from './namespace.js';
import { node } from './node.js';
import { persistentVolume } from './persistentvolume.js';
import { persistentVolumeClaim } from './persistentvolumeclaim.js';
import { pod } from './pod.js';
import { resourceQuota } from './resourcequota.js';
import { secret } from './secret.js';
import { service } from './service.js';
import { serviceAccount } from './serviceaccount.js';

export const coreKinds: KindDefinition[] = [
  configMap,
  endpoints,
  event,
  limitRange,
  namespace,
  node,
  persistentVolumeClaim,
  persistentVolume,
  pod,
  resourceQuota,
  secret,
  serviceAccount,
  service,
];

export { defaultPodSpec, podSpecImmutableUpdate, validatePodSpec, validatePodTemplateSpec } from './pod-spec.js';
