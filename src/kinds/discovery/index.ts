/** The discovery.k8s.io/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { endpointSliceKind } from './endpoint-slice.js';

export const discoveryKinds: KindDefinition[] = [endpointSliceKind];
