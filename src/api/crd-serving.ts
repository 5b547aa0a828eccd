/**
 * Serves the kinds that CustomResourceDefinitions define, as the apiextensions server does:
 * watches CRDs (so every API server on a shared etcd learns them), adds their versions to the
 * kind catalog, sets NamesAccepted/Established, and on deletion removes every instance before
 * letting the CRD go (the customresourcecleanup finalizer).
 */
import { crdStatusConditions, kindsFromCRD } from '../kinds/apiextensions/customresourcedefinition.js';
import type { KindDefinition } from '../kinds/types.js';
import type { WriteContext } from '../registry/hooks.js';
import { deepEqual, type KubeObject } from '../util/object.js';
import type { Logger } from '../util/log.js';
import type { ApiServer } from './api-server.js';
import { SYSTEM_USER } from './bootstrap.js';
import { ApiError } from './errors.js';

export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';
const RETRY_MS = 500;

interface CrdSpec {
  group: string;
  names: { plural: string };
}

export class CrdServing {
  private readonly abort = new AbortController();
  private readonly crdKind: KindDefinition;
  private readonly served = new Map<string, string>(); // CRD name -> served spec fingerprint
  private readonly pending = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly api: ApiServer,
    private readonly log: Logger,
  ) {
    this.crdKind = api.catalog.byPlural('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  }

  /** Loads every CRD, then follows changes until stop(). */
  async start(): Promise<void> {
    const list = await this.api.registry.list(this.crdKind, undefined);
    for (const crd of list.items) await this.reconcile(crd);
    void this.follow(list.resourceVersion);
  }

  stop(): void {
    this.abort.abort();
    for (const t of this.pending.values()) clearTimeout(t);
  }

  private async follow(fromRv: string): Promise<void> {
    let rv = fromRv;
    while (!this.abort.signal.aborted) {
      try {
        const events = await this.api.watches.watch(this.crdKind, undefined, { resourceVersion: rv, allowWatchBookmarks: true, signal: this.abort.signal });
        for await (const ev of events) {
          if (ev.type === 'ERROR') break;
          const obj = ev.object as KubeObject;
          rv = obj.metadata.resourceVersion ?? rv;
          if (ev.type === 'BOOKMARK') continue;
          if (ev.type === 'DELETED') this.unserve(obj);
          else await this.reconcile(obj);
        }
      } catch (e) {
        if (this.abort.signal.aborted) return;
        this.log.warn('CRD watch failed; re-listing', { error: (e as Error).message });
      }
      if (this.abort.signal.aborted) return;
      // Re-list after the watch ended so nothing is missed.
      await new Promise((r) => setTimeout(r, 200));
      try {
        const list = await this.api.registry.list(this.crdKind, undefined);
        const names = new Set(list.items.map((c) => c.metadata.name!));
        for (const name of [...this.served.keys()]) if (!names.has(name)) this.unserveByName(name);
        for (const crd of list.items) await this.reconcile(crd);
        rv = list.resourceVersion;
      } catch (e) {
        this.log.warn('CRD re-list failed', { error: (e as Error).message });
      }
    }
  }

  private schedule(name: string) {
    if (this.pending.has(name) || this.abort.signal.aborted) return;
    this.pending.set(
      name,
      setTimeout(async () => {
        this.pending.delete(name);
        try {
          await this.reconcile(await this.api.registry.get(this.crdKind, undefined, name));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) this.schedule(name);
        }
      }, RETRY_MS),
    );
  }

  private async reconcile(crd: KubeObject): Promise<void> {
    const name = crd.metadata.name!;
    try {
      if (crd.metadata.deletionTimestamp) await this.finalize(crd);
      else await this.serve(crd);
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 409 || e.code === 404))) this.log.warn('CRD reconcile failed', { crd: name, error: (e as Error).message });
      this.schedule(name);
    }
  }

  private async serve(crd: KubeObject): Promise<void> {
    const spec = crd.spec as CrdSpec;
    const fingerprint = JSON.stringify(crd.spec);
    if (this.served.get(crd.metadata.name!) !== fingerprint) {
      this.api.catalog.setCustom(spec.group, spec.names.plural, kindsFromCRD(crd));
      this.served.set(crd.metadata.name!, fingerprint);
    }
    if (!(crd.metadata.finalizers ?? []).includes(CRD_CLEANUP_FINALIZER)) {
      const next = { ...crd, metadata: { ...crd.metadata, finalizers: [...(crd.metadata.finalizers ?? []), CRD_CLEANUP_FINALIZER] } };
      crd = (await this.api.registry.update(this.crdKind, undefined, crd.metadata.name!, next, this.ctx())).object;
    }
    const others = (await this.api.registry.list(this.crdKind, undefined)).items;
    const status = { ...((crd.status as object | undefined) ?? {}), ...crdStatusConditions(crd, others, new Date()), storedVersions: storedVersions(crd) };
    if (!sameStatus(crd.status, status)) {
      await this.api.registry.update(this.crdKind, undefined, crd.metadata.name!, { ...crd, status }, this.ctx('status'));
    }
  }

  /** Deletes every instance; when none is left, drops the cleanup finalizer so the CRD goes. */
  private async finalize(crd: KubeObject): Promise<void> {
    const spec = crd.spec as CrdSpec;
    const kind = this.api.catalog.anyVersion(spec.group, spec.names.plural);
    if (kind) {
      const left = await this.api.registry.deleteCollection(kind, undefined, {}, {}, this.ctx());
      const remaining = await this.api.registry.list(kind, undefined, { limit: 1 });
      if (left.items.length && remaining.items.length) {
        this.schedule(crd.metadata.name!);
        return;
      }
    }
    const finalizers = (crd.metadata.finalizers ?? []).filter((f) => f !== CRD_CLEANUP_FINALIZER);
    if (finalizers.length !== (crd.metadata.finalizers ?? []).length)
      await this.api.registry.update(this.crdKind, undefined, crd.metadata.name!, { ...crd, metadata: { ...crd.metadata, finalizers } }, this.ctx());
    if (!finalizers.length) this.unserve(crd);
  }

  private unserve(crd: KubeObject) {
    const spec = crd.spec as CrdSpec;
    this.api.catalog.removeCustom(spec.group, spec.names.plural);
    this.served.delete(crd.metadata.name!);
  }

  private unserveByName(name: string) {
    const dot = name.indexOf('.');
    this.api.catalog.removeCustom(name.slice(dot + 1), name.slice(0, dot));
    this.served.delete(name);
  }

  private ctx(subresource?: string): WriteContext {
    return { user: SYSTEM_USER, now: new Date(), dryRun: false, fieldManager: 'cairn-apiextensions', fieldValidation: 'Ignore', warnings: [], subresource };
  }
}

/** The storage version joins status.storedVersions, as upstream records every version ever stored. */
function storedVersions(crd: KubeObject): string[] {
  const prev = ((crd.status as { storedVersions?: string[] } | undefined)?.storedVersions ?? []).slice();
  const storage = (crd.spec as { versions?: { name: string; storage?: boolean }[] }).versions?.find((v) => v.storage)?.name;
  if (storage && !prev.includes(storage)) prev.push(storage);
  return prev;
}

/** Conditions compare without their transition times, so an unchanged status is not rewritten. */
function sameStatus(a: unknown, b: unknown): boolean {
  const strip = (s: unknown) =>
    JSON.parse(JSON.stringify(s ?? {}), (k, v) => (k === 'lastTransitionTime' ? undefined : v)) as unknown;
  return deepEqual(strip(a), strip(b));
}
