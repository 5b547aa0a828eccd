/** The storage.k8s.io/v1 kinds written in this folder. */
import type { KindDefinition } from '../types.js';
import { storageClassKind } from './storage-class.js';

export const storageKinds: KindDefinition[] = [storageClassKind];
