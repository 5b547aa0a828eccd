/** Every built-in kind the API server serves, in discovery order. */
import type { KindDefinition } from './types.js';
import { coreKinds } from './core/index.js';
import { appsKinds } from './apps/index.js';
import { batchKinds } from './batch/index.js';
import { networkingKinds } from './networking/index.js';
import { storageKinds } from './storage/index.js';
import { discoveryKinds } from './discovery/index.js';
import { coordinationKinds } from './coordination/index.js';
import { eventsKinds } from './events/index.js';
import { rbacKinds } from './rbac/index.js';
import { apiextensionsKinds } from './apiextensions/index.js';

export function builtinKinds(): KindDefinition[] {
  return [
    ...coreKinds,
    ...appsKinds,
    ...batchKinds,
    ...networkingKinds,
    ...storageKinds,
    ...discoveryKinds,
    ...coordinationKinds,
    ...eventsKinds,
    ...rbacKinds,
    ...apiextensionsKinds,
  ];
}
