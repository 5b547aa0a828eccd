/**
 * Records core/v1 Events on the objects controllers act on, deduplicated like client-go's event
 * correlator: an event identical to a recent one (same object, type, reason, message, source)
 * bumps that Event's count and lastTimestamp instead of creating another, so `kubectl describe`
 * shows `Normal  ScalingReplicaSet  3m (x4 over 10m)  deployment-controller  ...`.
 * Recording never blocks or fails a reconcile: errors are logged and dropped.
 */
import { randomBytes } from 'node:crypto';
import { type Client, isNotFound, type ResourceRef } from '../client/index.js';
import type { Logger } from '../client/log.js';
import type { KubeObject } from '../util/object.js';

export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };
const CACHE_LIMIT = 4096;

export type EventType = 'Normal' | 'Warning';

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Client,
    private readonly component: string,
    private readonly logger: Logger,
    private readonly host = '',
  ) {}

  /** Records an event about `obj`; returns at once. */
  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    // One write at a time keeps the count increments in order.
    this.chain = this.chain.then(() => this.write(obj, type, reason, message)).catch((e: unknown) => {
      this.logger({ level: 'warn', msg: 'could not record event', reason, error: (e as Error)?.message });
    });
  }

  /** Resolves when every event recorded so far has been written (tests, shutdown). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace || 'default';
    const involved = {
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      uid: obj.metadata.uid,
      apiVersion: obj.apiVersion,
      resourceVersion: obj.metadata.resourceVersion,
    };
    const key = [this.component, this.host, obj.kind, namespace, obj.metadata.name, obj.metadata.uid, type, reason, message].join('\x00');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const events = this.client.resource(EVENTS);
    const prior = this.seen.get(key);
    if (prior) {
      try {
        await events.patch(prior.name, { count: prior.count + 1, lastTimestamp: now }, 'merge', { namespace: prior.namespace });
        prior.count++;
        this.touch(key, prior);
        return;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        this.seen.delete(key);
      }
    }
    const name = `${obj.metadata.name}.${Date.now().toString(16)}${randomBytes(2).toString('hex')}`;
    await events.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: involved,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
      reportingComponent: this.component,
      reportingInstance: this.host || this.component,
    } as KubeObject);
    this.touch(key, { name, namespace, count: 1, firstTimestamp: now });
  }

  private touch(key: string, v: Seen) {
    this.seen.delete(key);
    this.seen.set(key, v);
    if (this.seen.size > CACHE_LIMIT) this.seen.delete(this.seen.keys().next().value as string);
  }
}
