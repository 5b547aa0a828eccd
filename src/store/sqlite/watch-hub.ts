import type { WatchEvent } from '../types.js';
import type { WatchSink } from '../watch-sink.js';

/**
 * In-process fan-out of committed writes to the watchers, grouped by (normalized) prefix: the
 * API server watches a handful of distinct prefixes (one per resource) with many watchers each,
 * so a write costs one startsWith per distinct prefix, not per watcher.
 */
export class WatchHub {
  private readonly byPrefix = new Map<string, Set<WatchSink>>();

  add(prefix: string, sink: WatchSink): void {
    let sinks = this.byPrefix.get(prefix);
    if (!sinks) this.byPrefix.set(prefix, (sinks = new Set()));
    sinks.add(sink);
  }

  remove(prefix: string, sink: WatchSink): void {
    const sinks = this.byPrefix.get(prefix);
    if (!sinks) return;
    sinks.delete(sink);
    if (sinks.size === 0) this.byPrefix.delete(prefix);
  }

  /** Called from the write path right after commit; sinks buffer and deliver later. */
  publish(event: WatchEvent): void {
    const batch = [event];
    for (const [prefix, sinks] of this.byPrefix) {
      if (!event.kv.key.startsWith(prefix)) continue;
      for (const sink of sinks) sink.push(batch);
    }
  }

  forEach(fn: (sink: WatchSink) => void): void {
    for (const sinks of this.byPrefix.values()) for (const sink of [...sinks]) fn(sink);
  }
}
