import type { IEvent, IWatchResponse, WatchClient } from 'etcd3';
import { CompactedError, StoreError, StoreUnavailableError } from '../errors.js';
import type { KeyValue, WatchEvent } from '../types.js';
import type { WatchSink } from '../watch-sink.js';

/** Where an etcd watch stream delivers: one WatchSink, or a SharedEtcdWatch fanning out to many. */
export type WatchTarget = Pick<WatchSink, 'push' | 'progress' | 'fail'>;
import { translateEtcdError } from './etcd-errors.js';
import type { KeyCodec } from './key-codec.js';

export interface EtcdWatchParams {
  watchClient: WatchClient;
  codec: KeyCodec;
  /** Normalized Store prefix. */
  prefix: string;
  afterRevision: number;
  sink: WatchTarget;
  /** When set, etcd is asked this often to confirm the watch is caught up (onProgress). */
  progressIntervalMs?: number;
  /** Reports the compaction revision etcd disclosed when it cancelled the watch. */
  onCompacted(revision: number): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * One Store watch = one gRPC Watch stream carrying one etcd watcher. The etcd3 package's own
 * Watcher is not used: it reconnects silently and resumes from the revision in the response
 * *header*, which can skip events that were still being replayed. Here a broken stream ends the
 * watch with onError, and the client resumes from the last revision it actually received, which
 * is the contract of Store.watch.
 *
 * Returns the function that tears the stream down; the sink calls it when the watch ends.
 */
export function openEtcdWatch(p: EtcdWatchParams): () => void {
  let stream: Awaited<ReturnType<WatchClient['watch']>> | null = null;
  let progressTimer: NodeJS.Timeout | undefined;
  let ended = false;

  const teardown = () => {
    if (ended) return;
    ended = true;
    clearInterval(progressTimer);
    // Cancelling the call ends the server-side watcher with the stream.
    stream?.cancel();
  };

  const onResponse = (res: IWatchResponse) => {
    if (res.canceled) {
      const compactRev = Number(res.compact_revision);
      if (compactRev > 0) {
        p.onCompacted(compactRev);
        p.sink.fail(new CompactedError(p.afterRevision, compactRev));
      } else {
        p.sink.fail(new StoreUnavailableError(`etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`));
      }
      return;
    }
    if (res.created) return;
    if (res.events.length > 0) {
      p.sink.push(res.events.map((ev) => toWatchEvent(ev, p.codec)));
    } else {
      // Neither created, cancelled nor events: a progress notification. etcd only sends it when
      // the watcher is synced, i.e. every event up to header.revision was already sent.
      p.sink.progress(Number(res.header.revision));
    }
  };

  p.watchClient
    .watch()
    .then((s) => {
      stream = s;
      if (ended) return s.cancel();
      s.on('data', onResponse);
      s.on('error', (err) => {
        if (!ended) p.sink.fail(translateEtcdError(err, 'watch'));
      });
      s.on('end', () => {
        if (!ended) p.sink.fail(new StoreUnavailableError('etcd watch stream ended'));
      });
      s.write({
        create_request: {
          key: p.codec.rangeStart(p.prefix),
          range_end: p.codec.rangeEnd(p.prefix),
          start_revision: p.afterRevision + 1,
          prev_kv: true,
          progress_notify: true,
        },
      });
      if (p.progressIntervalMs) {
        progressTimer = setInterval(() => s.write({ progress_request: {} }), p.progressIntervalMs);
        progressTimer.unref();
      }
    })
    .catch((err) => p.sink.fail(err instanceof StoreError ? err : translateEtcdError(err, 'watch')));

  return teardown;
}

function toWatchEvent(ev: IEvent, codec: KeyCodec): WatchEvent {
  const prevKv = ev.prev_kv ? codec.decode(ev.prev_kv) : undefined;
  if (String(ev.type).toLowerCase() === 'delete') {
    // etcd's delete event carries only key and revision; the Store contract gives the deleted
    // value too, taken from prevKv (absent only if compaction raced the event's replay).
    const kv: KeyValue = {
      key: codec.decodeKey(ev.kv.key),
      value: prevKv?.value ?? EMPTY,
      createRevision: prevKv?.createRevision ?? 0,
      modRevision: Number(ev.kv.mod_revision),
    };
    return { type: 'delete', kv, prevKv };
  }
  return { type: 'put', kv: codec.decode(ev.kv), prevKv };
}

/**
 * One etcd watch stream per key prefix, shared by every Store watch on that prefix that starts
 * at or after the revision the stream has reached — the common case: an informer or a client
 * watching from a fresh list's resourceVersion. kube-apiserver gets the same effect from its
 * watch cache (one etcd watch per resource). Without it, N watchers are N gRPC streams: etcd
 * sends, and this process decodes, every event N times, which falls behind (seconds of delay)
 * at a hundred watchers. A watch from an older revision still gets its own stream (it needs
 * the history in between).
 *
 * Every event with revision <= `position` has been handed to the attached sinks (or precedes
 * the stream's start), so a watch from revision R >= position can attach: the events it needs
 * (> R) are all still to come on the stream, and the sink drops the ones at or below R.
 */
export class SharedEtcdWatch implements WatchTarget {
  private readonly sinks = new Set<WatchSink>();
  private position: number;
  private ended = false;
  private readonly teardown: () => void;

  constructor(
    params: Omit<EtcdWatchParams, 'sink'>,
    /** Called once when the stream is gone (failed, or its last sink left). */
    private readonly onEnd: () => void,
  ) {
    this.position = params.afterRevision;
    this.teardown = openEtcdWatch({ ...params, sink: this });
  }

  canServe(afterRevision: number): boolean {
    return !this.ended && afterRevision >= this.position;
  }

  add(sink: WatchSink): void {
    this.sinks.add(sink);
  }

  /** Detaches a sink; the stream is cancelled with the last one. */
  remove(sink: WatchSink): void {
    this.sinks.delete(sink);
    if (this.sinks.size === 0) this.end();
  }

  push(events: WatchEvent[]): void {
    if (this.ended || events.length === 0) return;
    this.position = events[events.length - 1].kv.modRevision;
    // The same array and event objects for every sink: sinks never mutate them.
    for (const sink of [...this.sinks]) sink.push(events);
  }

  progress(revision: number): void {
    if (this.ended) return;
    if (revision > this.position) this.position = revision;
    for (const sink of [...this.sinks]) sink.progress(revision);
  }

  fail(err: Error): void {
    if (this.ended) return;
    const sinks = [...this.sinks];
    this.end();
    for (const sink of sinks) {
      // A compaction cancels the stream only for its start revision; a sink that joined later
      // from a newer revision is told to re-watch instead of being told its revision is gone.
      if (err instanceof CompactedError) {
        sink.fail(
          sink.afterRevision < err.compacted
            ? new CompactedError(sink.afterRevision, err.compacted)
            : new StoreUnavailableError('the shared etcd watch was cancelled by a compaction; re-watch'),
        );
      } else sink.fail(err);
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sinks.clear();
    this.teardown();
    this.onEnd();
  }
}
