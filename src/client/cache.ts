/**
 * The informer's indexed in-memory cache (client-go's thread-safe store + indexer). Objects are
 * frozen on the way in: the cache is shared by every controller using the informer, so a
 * controller that wants to change an object must copy it first (deepClone) — mutating in place
 * throws instead of silently corrupting everyone's view.
 */
import type { KubeObject } from '../util/object.js';
import { objectKey } from './resource.js';

/** Returns the index values an object is filed under (none: not indexed). */
export type IndexFunc<T> = (obj: T) => string[];

export const NAMESPACE_INDEX = 'namespace';

/** Read access to a cache; what controllers get. */
export interface CacheReader<T> {
  get(key: string): T | undefined;
  /** By namespace and name (namespace ignored for cluster-scoped objects). */
  getByName(name: string, namespace?: string): T | undefined;
  list(): T[];
  listKeys(): string[];
  byIndex(indexName: string, value: string): T[];
  /** Objects in one namespace (the built-in namespace index). */
  byNamespace(namespace: string): T[];
  readonly size: number;
}

export class Cache<T extends KubeObject = KubeObject> implements CacheReader<T> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name → index value → keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.addIndexers({ [NAMESPACE_INDEX]: (o) => [o.metadata.namespace ?? ''], ...indexers });
  }

  /** Adds indexers at any time; existing objects are indexed at once. Re-adding a name is an error. */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.indexers.has(name)) throw new Error(`indexer "${name}" already exists`);
      this.indexers.set(name, fn);
      this.indices.set(name, new Map());
      for (const [key, obj] of this.items) this.index(name, fn, key, obj);
    }
  }

  hasIndexer(name: string): boolean {
    return this.indexers.has(name);
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  getByName(name: string, namespace?: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name) ?? (namespace ? this.items.get(name) : undefined);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  byIndex(indexName: string, value: string): T[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`no indexer named "${indexName}"`);
    return [...(index.get(value) ?? [])].map((k) => this.items.get(k)!);
  }

  byNamespace(namespace: string): T[] {
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  /** Inserts or replaces; returns the previous object. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    const frozen = deepFreeze(obj);
    this.items.set(key, frozen);
    for (const [name, fn] of this.indexers) this.index(name, fn, key, frozen);
    return old;
  }

  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  private index(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    const index = this.indices.get(name)!;
    for (const v of new Set(fn(obj))) {
      let keys = index.get(v);
      if (!keys) index.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const v of new Set(fn(obj))) {
        const keys = index.get(v);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(v);
      }
    }
  }
}

function deepFreeze<V>(v: V): V {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
