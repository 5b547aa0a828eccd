/**
 * One informer per (resource, scope) shared by every controller that asks for it, so N
 * controllers watching pods cost one list+watch and one cache, as client-go's
 * SharedInformerFactory.
 */
import type { KubeObject } from '../util/object.js';
import type { BackoffOptions } from './backoff.js';
import type { Client } from './client.js';
import { Informer, type InformerScope } from './informer.js';
import type { Logger } from './log.js';
import type { ResourceRef } from './resource.js';

export interface SharedInformerFactoryOptions {
  /** Default resync period for informers it creates (0: none). */
  resyncPeriodMs?: number;
  /** Restrict every informer to one namespace (unless a scope says otherwise). */
  namespace?: string;
  logger?: Logger;
  backoff?: BackoffOptions;
  watchTimeoutSeconds?: number | (() => number);
  pageSize?: number;
}

export class SharedInformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(
    private readonly client: Client,
    private readonly opts: SharedInformerFactoryOptions = {},
  ) {}

  /** The shared informer for a resource and scope; created on first request. */
  forResource<T extends KubeObject = KubeObject>(ref: ResourceRef, scope: InformerScope = {}): Informer<T> {
    const namespace = scope.namespace ?? this.opts.namespace;
    const key = [ref.group, ref.version, ref.plural, namespace ?? '', scope.labelSelector ?? '', scope.fieldSelector ?? ''].join('|');
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<KubeObject>(this.client.resource(ref), {
        ...scope,
        namespace: ref.namespaced ? namespace : undefined,
        name: ref.group ? `${ref.plural}.${ref.group}` : ref.plural,
        resyncPeriodMs: this.opts.resyncPeriodMs,
        logger: this.opts.logger,
        backoff: this.opts.backoff,
        watchTimeoutSeconds: this.opts.watchTimeoutSeconds,
        pageSize: this.opts.pageSize,
      });
      this.informers.set(key, inf);
      // Informers requested after start() (a controller set up late) start at once.
      if (this.started) inf.start();
    }
    return inf as unknown as Informer<T>;
  }

  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
