/**
 * The server end of a SPDY/3.1 connection, behaving as moby/spdystream's does for the kubelet:
 * the peer opens streams (odd ids, increasing), each is handed to `onStream` to accept
 * (`reply()`) or refuse (`reset()`); PINGs the peer starts are echoed; GOAWAY, end of the
 * transport or the idle timeout resets every open stream, says GOAWAY and closes the transport.
 *
 * Flow control is what spdystream actually does, not the SPDY/3.1 window scheme: spdystream never
 * sends WINDOW_UPDATE or SETTINGS and ignores both, so enforcing the 64 KiB send window would stall
 * every transfer after its first 64 KiB. Instead backpressure rides on the transport: when a
 * stream's reader falls behind, the session stops reading the connection (spdystream's frame
 * queue blocks its reader the same way), and a stream's writes complete only when the transport
 * can take more.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../client/log.js';
import { SpdyProtocolError, SpdySessionClosedError } from './errors.js';
import { FLAG_FIN, GoAwayStatus, RstStatus, type Frame, type SynStreamFrame } from './frames.js';
import { FrameSplitter, SpdyFramer } from './framer.js';
import { SpdyStream, type StreamOwner } from './stream.js';

/** How long a closing connection may take to flush its last frames. */
const CLOSE_GRACE_MS = 5000;
/** Largest DATA frame this side sends: the 32 KiB chunks Go's io.Copy hands spdystream. */
const MAX_DATA_FRAME = 32 * 1024;

export interface SpdySessionOptions {
  /** Called for every stream the peer opens; must reply() or reset() it and listen for 'error'. */
  onStream: (stream: SpdyStream) => void;
  /** Close the connection after this long without a frame either way (0 or unset: never). */
  idleTimeoutMs?: number;
  log?: Logger;
}

interface Outgoing {
  frame: Frame;
  done?: (err?: Error | null) => void;
}

/** Emits 'close' once the transport is closed and every stream is gone. */
export class SpdySession extends EventEmitter {
  private readonly framer = new SpdyFramer();
  private readonly splitter = new FrameSplitter();
  private readonly streams = new Map<number, SpdyStream>();
  /** Streams whose reader is behind: the transport stays paused while any are. */
  private readonly behind = new Set<SpdyStream>();
  private readonly outgoing: Outgoing[] = [];
  private readonly drainWaiters: Array<(err?: Error | null) => void> = [];
  private lastPeerStreamId = 0;
  private reading = false;
  /** The peer ended its side of the transport. */
  private peerEnded = false;
  private writing = false;
  /** close() ran: no new streams, GOAWAY queued. */
  private closing = false;
  /** The transport can no longer be written (ended by us, or gone). */
  private writeClosed = false;
  private finished = false;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private readonly owner: StreamOwner;

  constructor(
    private readonly transport: Duplex,
    private readonly opts: SpdySessionOptions,
  ) {
    super();
    this.owner = {
      sendReply: (s) => this.send({ frame: { type: 'syn_reply', streamId: s.id, flags: 0, headers: {} } }),
      sendData: (s, data, fin, done) => this.sendData(s, data, fin, done),
      sendReset: (s, status) => this.send({ frame: { type: 'rst_stream', streamId: s.id, status } }),
      wantsData: (s) => this.caughtUp(s),
      forget: (s) => this.forget(s),
    };
    if (opts.idleTimeoutMs && opts.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => {
        this.opts.log?.({ level: 'info', msg: 'spdy connection idle, closing', idleTimeoutMs: opts.idleTimeoutMs });
        this.close();
      }, opts.idleTimeoutMs);
      this.idleTimer.unref();
    }
    transport.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk);
      void this.readFrames();
    });
    transport.on('end', () => {
      // Frames that arrived before the end are still handled; readFrames closes after them.
      this.peerEnded = true;
      void this.readFrames();
    });
    transport.on('drain', () => this.wakeWriters());
    transport.on('error', (err: Error) => {
      this.opts.log?.({ level: 'debug', msg: 'spdy transport error', err: err.message });
    });
    transport.on('close', () => this.transportGone());
    // A socket handed over by an HTTP server's 'upgrade' event may have been left paused.
    transport.resume();
  }

  /**
   * Ends the connection as spdystream's Close after a reset of every stream: RST_STREAM for each
   * open stream, GOAWAY naming the last stream accepted, then the transport is closed.
   */
  close(status: number = GoAwayStatus.Ok): void {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const err = new SpdySessionClosedError('spdy connection closed');
    for (const s of [...this.streams.values()]) s.abort(err, true);
    this.send({ frame: { type: 'goaway', lastGoodStreamId: this.lastPeerStreamId, status }, done: () => this.endTransport() });
    // A peer that stopped reading never lets the GOAWAY out; it does not keep the connection.
    setTimeout(() => this.transport.destroy(), CLOSE_GRACE_MS).unref();
  }

  // ---- reading -------------------------------------------------------------------------------

  private async readFrames(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (!this.closing && this.behind.size === 0) {
        const raw = this.splitter.next();
        if (!raw) break;
        this.touch();
        const frame = await this.framer.decode(raw);
        if (frame && !this.closing) this.dispatch(frame);
      }
      if (this.peerEnded && this.behind.size === 0) this.close();
    } catch (e) {
      const protocol = e instanceof SpdyProtocolError;
      this.opts.log?.({ level: 'warn', msg: 'spdy connection failed', err: (e as Error).message });
      this.close(protocol ? GoAwayStatus.ProtocolError : GoAwayStatus.InternalError);
    } finally {
      this.reading = false;
    }
  }

  private dispatch(frame: Frame): void {
    switch (frame.type) {
      case 'syn_stream':
        return this.openStream(frame);
      case 'data': {
        // Like spdystream, DATA for a stream that is gone (reset, finished) is dropped silently.
        const s = this.streams.get(frame.streamId);
        if (s && !s.receiveData(frame.data, (frame.flags & FLAG_FIN) !== 0)) this.fallBehind(s);
        return;
      }
      case 'headers':
        if (frame.flags & FLAG_FIN) this.streams.get(frame.streamId)?.receiveData(Buffer.alloc(0), true);
        return;
      case 'rst_stream':
        this.streams.get(frame.streamId)?.receiveReset(frame.status);
        return;
      case 'ping':
        // Ids of pings the client starts are odd; a server's own (which this one never sends) even.
        if (frame.id % 2 === 1) this.send({ frame });
        return;
      case 'goaway':
        return this.close();
      case 'syn_reply':
      case 'settings':
      case 'window_update':
        // This side opens no streams; spdystream neither sends nor honours SETTINGS or windows.
        return;
    }
  }

  private openStream(frame: SynStreamFrame): void {
    if (frame.streamId <= this.lastPeerStreamId) {
      // spdystream's validateStreamId: ids must increase; the offender is reset, the rest goes on.
      this.send({ frame: { type: 'rst_stream', streamId: frame.streamId, status: RstStatus.ProtocolError } });
      return;
    }
    this.lastPeerStreamId = frame.streamId;
    const stream = new SpdyStream(this.owner, frame.streamId, frame.headers, frame.flags);
    this.streams.set(stream.id, stream);
    this.opts.onStream(stream);
  }

  private fallBehind(s: SpdyStream): void {
    this.behind.add(s);
    this.transport.pause();
  }

  private caughtUp(s: SpdyStream): void {
    if (!this.behind.delete(s) || this.behind.size > 0) return;
    this.transport.resume();
    void this.readFrames();
  }

  private forget(s: SpdyStream): void {
    this.streams.delete(s.id);
    this.caughtUp(s);
    this.maybeFinished();
  }

  // ---- writing -------------------------------------------------------------------------------

  private sendData(s: SpdyStream, data: Buffer, fin: boolean, done: (err?: Error | null) => void): void {
    let at = 0;
    do {
      const piece = data.subarray(at, at + MAX_DATA_FRAME);
      at += piece.length;
      const last = at >= data.length;
      this.send({ frame: { type: 'data', streamId: s.id, flags: last && fin ? FLAG_FIN : 0, data: piece }, done: last ? done : undefined });
    } while (at < data.length);
  }

  private send(item: Outgoing): void {
    if (this.writeClosed) {
      item.done?.(new SpdySessionClosedError('spdy connection closed'));
      return;
    }
    this.outgoing.push(item);
    void this.writeFrames();
  }

  /** Encodes and writes queued frames strictly in order (header compression depends on it). */
  private async writeFrames(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      let item: Outgoing | undefined;
      while ((item = this.outgoing.shift())) {
        if (this.writeClosed) {
          item.done?.(new SpdySessionClosedError('spdy connection closed'));
          continue;
        }
        const bytes = await this.framer.encode(item.frame);
        this.touch();
        const more = this.transport.write(bytes);
        if (!item.done) continue;
        if (more) item.done();
        else this.drainWaiters.push(item.done);
      }
    } catch (e) {
      this.opts.log?.({ level: 'warn', msg: 'spdy write failed', err: (e as Error).message });
      this.transport.destroy();
    } finally {
      this.writing = false;
    }
  }

  private wakeWriters(err?: Error): void {
    for (const w of this.drainWaiters.splice(0)) w(err);
  }

  private endTransport(): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    // Like closing a net.Conn: flush what was written, then let go of the connection entirely.
    this.transport.end(() => this.transport.destroy());
  }

  private transportGone(): void {
    this.writeClosed = true;
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const err = new SpdySessionClosedError('spdy connection closed');
    for (const s of [...this.streams.values()]) s.abort(err, false);
    for (const item of this.outgoing.splice(0)) item.done?.(err);
    this.wakeWriters(err);
    this.maybeFinished();
  }

  private maybeFinished(): void {
    if (this.finished || !this.writeClosed || this.streams.size > 0 || !this.transport.destroyed) return;
    this.finished = true;
    this.framer.close();
    this.emit('close');
  }

  private touch(): void {
    this.idleTimer?.refresh();
  }
}
