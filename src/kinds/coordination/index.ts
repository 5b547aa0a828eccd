/** The coordination.k8s.io/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { leaseKind } from './lease.js';

export const coordinationKinds: KindDefinition[] = [leaseKind];
