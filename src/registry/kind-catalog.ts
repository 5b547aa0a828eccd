/**
 * The set of kinds the server serves right now: built-ins fixed at start-up plus the versions of
 * established CRDs, which come and go at run time. Lookups by URL (group, version, plural) and by
 * apiVersion+kind; listeners hear about changes (discovery and OpenAPI caches are rebuilt).
 */
import { type KindDefinition, apiVersionOf } from '../kinds/types.js';

export interface GroupVersion {
  group: string;
  version: string;
}

export class KindCatalog {
  private byResource = new Map<string, KindDefinition>();
  private byKind = new Map<string, KindDefinition>();
  private listeners = new Set<() => void>();
  private generationCounter = 0;

  constructor(builtins: KindDefinition[]) {
    for (const k of builtins) this.put(k);
  }

  /** Increases on every change; caches keyed on it know when to rebuild. */
  get generation(): number {
    return this.generationCounter;
  }

  private static rkey(group: string, version: string, plural: string) {
    return `${group}/${version}/${plural}`;
  }

  private put(k: KindDefinition) {
    this.byResource.set(KindCatalog.rkey(k.group, k.version, k.plural), k);
    this.byKind.set(`${apiVersionOf(k)}/${k.kind}`, k);
  }

  /** Replaces every kind of the given group+plural (all versions of one CRD) with `kinds`. */
  setCustom(group: string, plural: string, kinds: KindDefinition[]): void {
    this.removeCustom(group, plural, false);
    for (const k of kinds) this.put(k);
    this.changed();
  }

  removeCustom(group: string, plural: string, notify = true): void {
    for (const [key, k] of this.byResource) {
      if (k.custom && k.group === group && k.plural === plural) {
        this.byResource.delete(key);
        this.byKind.delete(`${apiVersionOf(k)}/${k.kind}`);
      }
    }
    if (notify) this.changed();
  }

  private changed() {
    this.generationCounter++;
    for (const l of this.listeners) l();
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  byPlural(group: string, version: string, plural: string): KindDefinition | undefined {
    return this.byResource.get(KindCatalog.rkey(group, version, plural));
  }

  byApiVersionKind(apiVersion: string, kind: string): KindDefinition | undefined {
    return this.byKind.get(`${apiVersion}/${kind}`);
  }

  /** Any served version of a group+plural (the storage version first), e.g. for the garbage collector. */
  anyVersion(group: string, plural: string): KindDefinition | undefined {
    let found: KindDefinition | undefined;
    for (const k of this.byResource.values()) {
      if (k.group !== group || k.plural !== plural) continue;
      if ((k.storageVersion ?? k.version) === k.version) return k;
      found ??= k;
    }
    return found;
  }

  all(): KindDefinition[] {
    return [...this.byResource.values()];
  }

  /** Group versions in discovery order: core first, then groups in registration order. */
  groupVersions(): GroupVersion[] {
    const seen = new Map<string, GroupVersion>();
    for (const k of this.byResource.values()) {
      const key = `${k.group}/${k.version}`;
      if (!seen.has(key)) seen.set(key, { group: k.group, version: k.version });
    }
    return [...seen.values()];
  }

  kindsIn(group: string, version: string): KindDefinition[] {
    return this.all().filter((k) => k.group === group && k.version === version);
  }

  hasGroup(group: string): boolean {
    return this.all().some((k) => k.group === group);
  }
}
