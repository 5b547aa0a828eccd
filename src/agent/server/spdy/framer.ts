/**
 * SPDY/3 frames to and from bytes. `FrameSplitter` cuts a byte stream into whole frames however
 * the transport chunked it (kubectl's tunnel sends a frame's 8-byte head and its payload as
 * separate WebSocket messages); `SpdyFramer` turns whole frames into values and back, running
 * header blocks through the connection's two zlib streams.
 */
import { SpdyProtocolError } from './errors.js';
import { ControlType, MAX_FRAME_PAYLOAD, SPDY_VERSION, type Frame, type HeaderBlock } from './frames.js';
import { HeaderCompressor, HeaderDecompressor } from './header-compression.js';

const HEAD = 8;
const STREAM_ID_MASK = 0x7fffffff;

/** A frame cut from the byte stream, not yet interpreted. */
export interface RawFrame {
  control: boolean;
  /** Control frames: the version and type; data frames: 0. */
  version: number;
  type: number;
  /** Data frames: the stream id; control frames: 0 (theirs is in the payload). */
  streamId: number;
  flags: number;
  payload: Buffer;
}

export class FrameSplitter {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.size;
  }

  /** The next whole frame, or undefined until more bytes arrive. */
  next(): RawFrame | undefined {
    if (this.size < HEAD) return undefined;
    const head = this.peek(HEAD);
    const length = head.readUInt32BE(4) & 0xffffff;
    if (this.size < HEAD + length) return undefined;
    const frame = this.take(HEAD + length);
    const first = frame.readUInt32BE(0);
    const control = (first & 0x80000000) !== 0;
    return {
      control,
      version: control ? (first >>> 16) & 0x7fff : 0,
      type: control ? first & 0xffff : 0,
      streamId: control ? 0 : first & STREAM_ID_MASK,
      flags: frame[4]!,
      payload: frame.subarray(HEAD),
    };
  }

  private peek(n: number): Buffer {
    this.gather(n);
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    this.gather(n);
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.size -= n;
    return out;
  }

  /** Makes the first chunk at least n bytes long, merging only the chunks that takes. */
  private gather(n: number): void {
    if (this.chunks[0]!.length >= n) return;
    let k = 0;
    let len = 0;
    while (len < n) len += this.chunks[k++]!.length;
    this.chunks.splice(0, k, Buffer.concat(this.chunks.slice(0, k), len));
  }
}

/**
 * Encodes and decodes the frames of one connection. Header compression is stateful across the
 * connection, so encode() must be called in the order frames go on the wire and decode() in the
 * order they came off it (each returns a promise; the zlib work is queued in call order).
 */
export class SpdyFramer {
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();

  async encode(frame: Frame): Promise<Buffer> {
    switch (frame.type) {
      case 'data': {
        checkStreamId(frame.streamId);
        if (frame.data.length > MAX_FRAME_PAYLOAD) throw new RangeError(`DATA payload of ${frame.data.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
        const head = Buffer.alloc(HEAD);
        head.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
        head.writeUInt32BE(frame.data.length, 4);
        head[4] = frame.flags & 0xff;
        return Buffer.concat([head, frame.data]);
      }
      case 'syn_stream': {
        checkStreamId(frame.streamId);
        const fixed = Buffer.alloc(10);
        fixed.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
        fixed.writeUInt32BE(frame.associatedStreamId & STREAM_ID_MASK, 4);
        fixed[8] = (frame.priority & 0x7) << 5;
        fixed[9] = frame.slot & 0xff;
        return control(ControlType.SynStream, frame.flags, fixed, await this.compressor.compress(frame.headers));
      }
      case 'syn_reply':
        checkStreamId(frame.streamId);
        return control(ControlType.SynReply, frame.flags, u32(frame.streamId & STREAM_ID_MASK), await this.compressor.compress(frame.headers));
      case 'headers':
        checkStreamId(frame.streamId);
        return control(ControlType.Headers, frame.flags, u32(frame.streamId & STREAM_ID_MASK), await this.compressor.compress(frame.headers));
      case 'rst_stream':
        checkStreamId(frame.streamId);
        return control(ControlType.RstStream, 0, u32(frame.streamId & STREAM_ID_MASK), u32(frame.status));
      case 'settings': {
        const body = Buffer.alloc(4 + frame.entries.length * 8);
        body.writeUInt32BE(frame.entries.length, 0);
        frame.entries.forEach((e, i) => {
          body.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + i * 8);
          body.writeUInt32BE(e.value >>> 0, 8 + i * 8);
        });
        return control(ControlType.Settings, frame.flags, body);
      }
      case 'ping':
        return control(ControlType.Ping, 0, u32(frame.id));
      case 'goaway':
        return control(ControlType.GoAway, 0, u32(frame.lastGoodStreamId & STREAM_ID_MASK), u32(frame.status));
      case 'window_update':
        checkStreamId(frame.streamId, true);
        return control(ControlType.WindowUpdate, 0, u32(frame.streamId & STREAM_ID_MASK), u32(frame.delta & STREAM_ID_MASK));
    }
  }

  /** The frame's value; undefined for control types SPDY/3 says to ignore (unknown ones). */
  async decode(raw: RawFrame): Promise<Frame | undefined> {
    const p = raw.payload;
    if (!raw.control) {
      if (raw.streamId === 0) throw new SpdyProtocolError('DATA frame on stream 0');
      return { type: 'data', streamId: raw.streamId, flags: raw.flags, data: p };
    }
    if (raw.version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${raw.version}`);
    const need = (n: number, exact = false) => {
      if (exact ? p.length !== n : p.length < n) throw new SpdyProtocolError(`control frame type ${raw.type} has a ${p.length}-byte payload`);
    };
    const streamAt = (at: number) => {
      const id = p.readUInt32BE(at) & STREAM_ID_MASK;
      if (id === 0) throw new SpdyProtocolError(`control frame type ${raw.type} on stream 0`);
      return id;
    };
    switch (raw.type) {
      case ControlType.SynStream:
        need(10);
        return {
          type: 'syn_stream',
          streamId: streamAt(0),
          associatedStreamId: p.readUInt32BE(4) & STREAM_ID_MASK,
          priority: p[8]! >> 5,
          slot: p[9]!,
          flags: raw.flags,
          headers: await this.headers(p.subarray(10)),
        };
      case ControlType.SynReply:
        need(4);
        return { type: 'syn_reply', streamId: streamAt(0), flags: raw.flags, headers: await this.headers(p.subarray(4)) };
      case ControlType.Headers:
        need(4);
        return { type: 'headers', streamId: streamAt(0), flags: raw.flags, headers: await this.headers(p.subarray(4)) };
      case ControlType.RstStream:
        need(8, true);
        return { type: 'rst_stream', streamId: streamAt(0), status: p.readUInt32BE(4) };
      case ControlType.Settings: {
        need(4);
        const count = p.readUInt32BE(0);
        need(4 + count * 8, true);
        const entries = [];
        for (let i = 0; i < count; i++) {
          const flagId = p.readUInt32BE(4 + i * 8);
          entries.push({ flags: flagId >>> 24, id: flagId & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
        }
        return { type: 'settings', flags: raw.flags, entries };
      }
      case ControlType.Ping:
        need(4, true);
        return { type: 'ping', id: p.readUInt32BE(0) };
      case ControlType.GoAway:
        need(8, true);
        return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.readUInt32BE(4) };
      case ControlType.WindowUpdate:
        need(8, true);
        return { type: 'window_update', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, delta: p.readUInt32BE(4) & STREAM_ID_MASK };
      default:
        return undefined;
    }
  }

  close(): void {
    this.compressor.close();
    this.decompressor.close();
  }

  private headers(compressed: Buffer): Promise<HeaderBlock> {
    return this.decompressor.decompress(compressed);
  }
}

function control(type: number, flags: number, ...body: Buffer[]): Buffer {
  const length = body.reduce((n, b) => n + b.length, 0);
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`control frame of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const head = Buffer.alloc(HEAD);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(length, 4);
  head[4] = flags & 0xff;
  return Buffer.concat([head, ...body]);
}

function checkStreamId(id: number, zeroAllowed = false): void {
  if (!Number.isInteger(id) || id < 0 || id > STREAM_ID_MASK || (id === 0 && !zeroAllowed)) throw new RangeError(`invalid stream id ${id}`);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
