/** The apps/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { controllerRevisionKind } from './controller-revision.js';
import { daemonSetKind } from './daemon-set.js';
import { deploymentKind } from './deployment.js';
import { replicaSetKind } from './replica-set.js';
import { statefulSetKind } from './stateful-set.js';

export const appsKinds: KindDefinition[] = [deploymentKind, replicaSetKind, daemonSetKind, statefulSetKind, controllerRevisionKind];
