/**
 * One SPDY stream as a Node Duplex: what the peer sends on it is readable (its FIN ends the
 * readable side), what is written goes out as DATA frames (end() sends an empty DATA with FIN).
 * destroy() before both sides finished resets the stream (RST_STREAM CANCEL), as spdystream's
 * Reset does; a reset from the peer destroys it with a SpdyStreamResetError.
 */
import { Duplex } from 'node:stream';
import { SpdyStreamResetError } from './errors.js';
import { FLAG_FIN, FLAG_UNIDIRECTIONAL, RstStatus, headerValue, type HeaderBlock } from './frames.js';

/** What a stream needs from its session. */
export interface StreamOwner {
  sendReply(stream: SpdyStream): void;
  /** Queues DATA; `done` runs once the transport can take more. */
  sendData(stream: SpdyStream, data: Buffer, fin: boolean, done: (err?: Error | null) => void): void;
  sendReset(stream: SpdyStream, status: number): void;
  /** The stream's reader wants more: the session may read from the transport again. */
  wantsData(stream: SpdyStream): void;
  /** The stream is gone: forget it. */
  forget(stream: SpdyStream): void;
}

/** Per-stream buffering before backpressure reaches the connection (spdystream reads in 32 KiB). */
const STREAM_BUFFER = 64 * 1024;

export class SpdyStream extends Duplex {
  private replied = false;
  /** The peer's half is finished (its FIN arrived). */
  private remoteDone = false;
  /** Our half is finished (our FIN went out, or the peer opened the stream unidirectional). */
  private localDone = false;
  /** A RST_STREAM went out or came in: nothing more is said about this stream. */
  private wasReset = false;

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    readonly headers: HeaderBlock,
    flags: number,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    if (flags & FLAG_UNIDIRECTIONAL) {
      this.localDone = true;
      this.end();
    }
    if (flags & FLAG_FIN) this.receiveData(Buffer.alloc(0), true);
  }

  /** The first value of a header the peer opened the stream with. */
  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  /** Accepts the stream (SYN_REPLY with no headers, as the kubelet's server does). */
  reply(): void {
    if (this.replied || this.wasReset || this.destroyed) return;
    this.replied = true;
    this.owner.sendReply(this);
  }

  /** Refuses or abandons the stream: RST_STREAM to the peer, then destroyed locally. */
  reset(status: number = RstStatus.Cancel): void {
    if (!this.wasReset && !this.destroyed && !(this.localDone && this.remoteDone)) {
      this.wasReset = true;
      this.owner.sendReset(this, status);
    }
    this.destroy();
  }

  /** Session side: DATA from the peer. Returns false when the reader is behind (backpressure). */
  receiveData(data: Buffer, fin: boolean): boolean {
    if (this.remoteDone || this.destroyed) return true;
    let more = true;
    if (data.length) more = this.push(data);
    if (fin) {
      this.remoteDone = true;
      this.push(null);
    }
    return more;
  }

  /** Session side: the peer reset the stream. */
  receiveReset(status: number): void {
    this.wasReset = true;
    this.destroy(new SpdyStreamResetError(this.id, status));
  }

  /** Session side: the connection is gone or going; `notifyPeer` sends a RST first. */
  abort(err: Error, notifyPeer: boolean): void {
    if (this.destroyed) return;
    if (notifyPeer && !this.wasReset && !(this.localDone && this.remoteDone)) this.owner.sendReset(this, RstStatus.Cancel);
    this.wasReset = true;
    this.destroy(err);
  }

  override _read(): void {
    this.owner.wantsData(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.reply();
    this.owner.sendData(this, chunk, false, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.localDone) return done();
    this.reply();
    this.localDone = true;
    this.owner.sendData(this, Buffer.alloc(0), true, done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (!this.wasReset && !(this.localDone && this.remoteDone)) {
      this.wasReset = true;
      this.owner.sendReset(this, RstStatus.Cancel);
    }
    this.owner.forget(this);
    done(err);
  }
}
