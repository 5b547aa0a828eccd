/** The storage.k8s.io/v1 kinds written in this folder. */
import type { KindDefinition } from '../types.js';
import { csiDriverKind } from './csi-driver.js';
import { csiStorageCapacityKind } from './csi-storage-capacity.js';
import { storageClassKind } from './storage-class.js';

export const storageKinds: KindDefinition[] = [storageClassKind, csiDriverKind, csiStorageCapacityKind];
