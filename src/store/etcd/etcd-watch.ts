import type { IEvent, IWatchResponse, WatchClient } from 'etcd3';
import { CompactedError, StoreError, StoreUnavailableError } from '../errors.js';
import type { KeyValue, WatchEvent } from '../types.js';
import type { WatchSink } from '../watch-sink.js';
import { translateEtcdError } from './etcd-errors.js';
import type { KeyCodec } from './key-codec.js';

export interface EtcdWatchParams {
  watchClient: WatchClient;
  codec: KeyCodec;
  /** Normalized Store prefix. */
  prefix: string;
  afterRevision: number;
  sink: WatchSink;
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
