/**
 * Namespaces kept in memory for admission (every namespaced create asks whether its namespace
 * exists and is not terminating), fed by a store watch, as upstream's admission reads a
 * namespace informer. A miss falls through to the store, so a namespace created a moment ago is
 * still found.
 */
import type { KindDefinition } from '../kinds/types.js';
import { decodeObject } from '../registry/codec.js';
import type { GenericRegistry } from '../registry/generic-registry.js';
import { listPrefix } from '../registry/keys.js';
import type { Store, WatchHandle } from '../store/types.js';
import type { KubeObject } from '../util/object.js';
import { ApiError } from './errors.js';

export class NamespaceCache {
  private readonly byName = new Map<string, KubeObject>();
  private handle: WatchHandle | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly registry: GenericRegistry,
    private readonly kind: KindDefinition,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    const list = await this.registry.list(this.kind, undefined);
    this.byName.clear();
    for (const ns of list.items) this.byName.set(ns.metadata.name!, ns);
    this.handle = this.store.watch(listPrefix(this.kind, undefined), {
      afterRevision: Number(list.resourceVersion),
      onEvents: (events) => {
        for (const ev of events) {
          const obj = decodeObject(this.kind, ev.type === 'delete' ? { ...(ev.prevKv ?? ev.kv) } : ev.kv);
          if (ev.type === 'delete') this.byName.delete(obj.metadata.name!);
          else this.byName.set(obj.metadata.name!, obj);
        }
      },
      // Start over on any watch failure; until then misses go to the store.
      onError: () => {
        this.handle = undefined;
        if (!this.stopped) setTimeout(() => void this.start().catch(() => this.retryLater()), 100);
      },
    });
  }

  private retryLater() {
    if (!this.stopped) setTimeout(() => void this.start().catch(() => this.retryLater()), 1000);
  }

  stop(): void {
    this.stopped = true;
    this.handle?.stop();
  }

  async get(name: string): Promise<KubeObject | null> {
    const hit = this.byName.get(name);
    if (hit) return hit;
    try {
      return await this.registry.get(this.kind, undefined, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return null;
      throw e;
    }
  }
}
