import { EtcdStore } from './etcd/etcd-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export type StoreConfig =
  | { backend: 'sqlite'; path: string; progressIntervalMs?: number }
  | { backend: 'etcd'; endpoints: string[]; prefix?: string; progressIntervalMs?: number };

/**
 * Opens the configured backend. SQLite opens (and locks) its file right away; etcd only sets up
 * the client, so an unreachable etcd shows in ping()/readyz rather than failing startup.
 */
export async function openStore(cfg: StoreConfig): Promise<Store> {
  switch (cfg.backend) {
    case 'sqlite':
      return SqliteStore.open(cfg.path, { progressIntervalMs: cfg.progressIntervalMs });
    case 'etcd':
      return EtcdStore.connect({ endpoints: cfg.endpoints, prefix: cfg.prefix, progressIntervalMs: cfg.progressIntervalMs });
  }
}
