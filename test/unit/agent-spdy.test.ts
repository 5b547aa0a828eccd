/**
 * The agent's SPDY/3.1 layer: the framer (every frame type, flags, compressed header blocks that
 * share one zlib stream per direction, frames cut anywhere by the transport), the header
 * dictionary peers check by its adler32, and the server session's behaviour towards a client
 * (replies, data both ways with half-close, pings, resets, GOAWAY, idle timeout, backpressure).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { deflateSync, constants as zc } from 'node:zlib';
import { SPDY3_DICTIONARY } from '../../src/agent/server/spdy/dictionary.js';
import { SpdyProtocolError, SpdyStreamResetError } from '../../src/agent/server/spdy/errors.js';
import { FLAG_FIN, FLAG_UNIDIRECTIONAL, GoAwayStatus, RstStatus, type Frame } from '../../src/agent/server/spdy/frames.js';
import { FrameSplitter, SpdyFramer } from '../../src/agent/server/spdy/framer.js';
import { encodeHeaderBlock } from '../../src/agent/server/spdy/header-block.js';
import { HeaderDecompressor } from '../../src/agent/server/spdy/header-compression.js';
import { SpdySession } from '../../src/agent/server/spdy/session.js';
import type { SpdyStream } from '../../src/agent/server/spdy/stream.js';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Encodes with one framer, cuts with a splitter fed `chunks` at a time, decodes with another. */
async function roundTrip(frames: Frame[], chunk = Infinity): Promise<Frame[]> {
  const sender = new SpdyFramer();
  const receiver = new SpdyFramer();
  try {
    const wire = Buffer.concat(await Promise.all(frames.map((f) => sender.encode(f))));
    const splitter = new FrameSplitter();
    const out: Frame[] = [];
    for (let at = 0; at < wire.length; at += chunk === Infinity ? wire.length : chunk) {
      splitter.push(wire.subarray(at, chunk === Infinity ? wire.length : at + chunk));
      for (let raw = splitter.next(); raw; raw = splitter.next()) {
        const f = await receiver.decode(raw);
        if (f) out.push(f);
      }
    }
    assert.equal(splitter.buffered, 0, 'bytes left over after the last frame');
    return out;
  } finally {
    sender.close();
    receiver.close();
  }
}

const SAMPLE: Frame[] = [
  {
    type: 'syn_stream',
    streamId: 1,
    associatedStreamId: 0,
    priority: 3,
    slot: 0,
    flags: FLAG_FIN | FLAG_UNIDIRECTIONAL,
    headers: { streamtype: ['error'], port: ['8080'], requestid: ['0'], multi: ['a', 'b'] },
  },
  { type: 'syn_reply', streamId: 1, flags: 0, headers: {} },
  { type: 'syn_stream', streamId: 3, associatedStreamId: 1, priority: 7, slot: 9, flags: 0, headers: { streamtype: ['data'], port: ['8080'], requestid: ['0'] } },
  { type: 'headers', streamId: 3, flags: FLAG_FIN, headers: { 'x-trailer': ['done'] } },
  { type: 'data', streamId: 3, flags: 0, data: Buffer.from('hello, pod') },
  { type: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) },
  { type: 'rst_stream', streamId: 3, status: RstStatus.Cancel },
  {
    type: 'settings',
    flags: 1,
    entries: [
      { flags: 1, id: 7, value: 65536 },
      { flags: 0, id: 4, value: 100 },
    ],
  },
  { type: 'ping', id: 0xfffffffe },
  { type: 'goaway', lastGoodStreamId: 0x7fffffff, status: GoAwayStatus.ProtocolError },
  { type: 'window_update', streamId: 5, delta: 0x7fffffff },
];

describe('spdy framer', () => {
  test('the header dictionary is the SPDY/3 one peers check (1423 bytes, adler32 e3c6a7c2)', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY3_DICTIONARY).toString(16), 'e3c6a7c2');
  });

  test('every frame type round-trips with its flags and fields', async () => {
    assert.deepEqual(await roundTrip(SAMPLE), SAMPLE);
  });

  test('frames cut at every byte, and in odd chunks spanning frames, decode the same', async () => {
    assert.deepEqual(await roundTrip(SAMPLE, 1), SAMPLE);
    assert.deepEqual(await roundTrip(SAMPLE, 13), SAMPLE);
  });

  test('control frames have the SPDY/3 layout on the wire', async () => {
    const f = new SpdyFramer();
    try {
      assert.equal((await f.encode({ type: 'ping', id: 1 })).toString('hex'), '80030006000000040000000' + '1');
      assert.equal((await f.encode({ type: 'rst_stream', streamId: 5, status: RstStatus.Cancel })).toString('hex'), '800300030000000800000005' + '00000005');
      assert.equal((await f.encode({ type: 'window_update', streamId: 1, delta: 0x10000 })).toString('hex'), '80030009000000080000000100010000');
      assert.equal((await f.encode({ type: 'goaway', lastGoodStreamId: 3, status: 0 })).toString('hex'), '800300070000000800000003' + '00000000');
      // A data frame: stream id, FIN flag in the length word's top byte, then the payload.
      assert.equal((await f.encode({ type: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.from('hi') })).toString('hex'), '00000003' + '01000002' + '6869');
      // The first header block starts a zlib stream that names the SPDY dictionary by its adler32.
      const reply = await f.encode({ type: 'syn_reply', streamId: 1, flags: 0, headers: {} });
      assert.equal(reply.subarray(0, 4).toString('hex'), '80030002');
      assert.equal(reply.readUInt32BE(4) & 0xffffff, reply.length - 8);
      assert.equal(reply.subarray(14, 18).toString('hex'), 'e3c6a7c2');
      assert.equal(reply.subarray(-4).toString('hex'), '0000ffff', 'each header block ends with a sync flush');
    } finally {
      f.close();
    }
  });

  test('later header blocks reuse the same zlib stream (smaller, and only decodable in order)', async () => {
    const f = new SpdyFramer();
    try {
      const headers = { streamtype: ['data'], port: ['8080'], requestid: ['7'] };
      const first = await f.encode({ type: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers });
      const second = await f.encode({ type: 'syn_stream', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers });
      assert.ok(second.length < first.length, `second block (${second.length} bytes) should be smaller than the first (${first.length})`);
      const fresh = new SpdyFramer();
      const splitter = new FrameSplitter();
      splitter.push(second);
      await assert.rejects(fresh.decode(splitter.next()!), SpdyProtocolError);
      fresh.close();
    } finally {
      f.close();
    }
  });

  test('many header blocks issued at once keep their order and boundaries through both zlib streams', async () => {
    const frames: Frame[] = Array.from({ length: 400 }, (_, i) => ({
      type: 'syn_stream',
      streamId: 2 * i + 1,
      associatedStreamId: 0,
      priority: 0,
      slot: 0,
      flags: 0,
      headers: { streamtype: [i % 2 ? 'data' : 'error'], port: [String(1000 + i)], requestid: [String(i >> 1)], pad: ['x'.repeat(i % 97)] },
    }));
    assert.deepEqual(await roundTrip(frames, 4096), frames);
  });

  test('header blocks another zlib (Python, level 9, as Go writes them) compressed decode', async () => {
    // Two consecutive SYN_STREAM header blocks from one zlib stream, sync-flushed after each.
    const d = new HeaderDecompressor();
    try {
      const first = Buffer.from('78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c0600000000ffff', 'hex');
      const second = Buffer.from('c2aa19540e2512d60b000000ffff', 'hex');
      assert.deepEqual(await d.decompress(first), { streamtype: ['error'], port: ['8080'], requestid: ['0'] });
      assert.deepEqual(await d.decompress(second), { streamtype: ['data'], port: ['8080'], requestid: ['0'] });
    } finally {
      d.close();
    }
  });

  test('header names are lower-cased and repeated names merged', async () => {
    const d = new HeaderDecompressor();
    try {
      assert.ok(encodeHeaderBlock({ Port: ['1'] }).includes(Buffer.from('port')), 'names go out lower-case');
      // A block built by hand with an upper-case, repeated name.
      const raw = Buffer.concat([u32(2), u32(4), Buffer.from('Port'), u32(1), Buffer.from('1'), u32(4), Buffer.from('port'), u32(1), Buffer.from('2')]);
      const z = deflateSync(raw, { dictionary: SPDY3_DICTIONARY, finishFlush: zc.Z_SYNC_FLUSH });
      assert.deepEqual(await d.decompress(z), { port: ['1', '2'] });
    } finally {
      d.close();
    }
  });

  test('malformed frames are protocol errors; unknown control types are ignored', async () => {
    const f = new SpdyFramer();
    try {
      const raw = (hex: string) => {
        const s = new FrameSplitter();
        s.push(Buffer.from(hex, 'hex'));
        return s.next()!;
      };
      await assert.rejects(f.decode(raw('80020006000000040000000' + '1')), /unsupported SPDY version 2/);
      await assert.rejects(f.decode(raw('800300030000000400000005')), SpdyProtocolError);
      await assert.rejects(f.decode(raw('00000000' + '00000000')), /stream 0/);
      await assert.rejects(f.decode(raw('80030002000000060000000178f9')), SpdyProtocolError);
      assert.equal(await f.decode(raw('8003000a00000000')), undefined);
    } finally {
      f.close();
    }
  });
});

// ---- the session, driven by a scripted client over an in-memory connection ------------------

/** Two connected in-memory byte streams (Node 20 has no stream.duplexPair). */
function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        peer().push(chunk);
        done();
      },
      final(done) {
        peer().push(null);
        done();
      },
      destroy(err, done) {
        if (!peer().readableEnded) peer().push(null);
        done(err);
      },
    });
  sides.push(
    make(() => sides[1]!),
    make(() => sides[0]!),
  );
  return [sides[0]!, sides[1]!];
}

/** A SPDY client speaking raw frames, recording what the server sends. */
class Client {
  readonly framer = new SpdyFramer();
  readonly frames: Frame[] = [];
  ended = false;
  private readonly splitter = new FrameSplitter();
  private decoding: Promise<void> = Promise.resolve();
  private writing: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  constructor(readonly conn: Duplex) {
    conn.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk);
      this.decoding = this.decoding.then(async () => {
        for (let raw = this.splitter.next(); raw; raw = this.splitter.next()) {
          const f = await this.framer.decode(raw);
          if (f) this.frames.push(f);
        }
        this.notify();
      });
    });
    conn.on('end', () => {
      this.decoding = this.decoding.then(() => {
        this.ended = true;
        this.notify();
      });
    });
  }

  send(frame: Frame): Promise<void> {
    const bytes = this.framer.encode(frame);
    this.writing = this.writing.then(async () => {
      this.conn.write(await bytes);
    });
    return this.writing;
  }

  open(id: number, headers: Record<string, string>, flags = 0): Promise<void> {
    const block = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
    return this.send({ type: 'syn_stream', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags, headers: block });
  }

  /** Resolves once `check` holds for what was received, failing after `ms`. */
  waitFor<T>(what: string, check: () => T | undefined | false, ms = 3000): Promise<T> {
    return new Promise((resolve, reject) => {
      // Checked on every frame received, and every 20 ms for state outside the connection.
      const poll = setInterval(() => tryIt(), 20);
      const tryIt = () => {
        const v = check();
        if (v) {
          clearTimeout(timer);
          clearInterval(poll);
          this.listeners.delete(tryIt);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        clearInterval(poll);
        this.listeners.delete(tryIt);
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.frames.map(brief))}`));
      }, ms);
      this.listeners.add(tryIt);
      tryIt();
    });
  }

  frame<T extends Frame['type']>(type: T, match: (f: Extract<Frame, { type: T }>) => boolean = () => true): Promise<Extract<Frame, { type: T }>> {
    return this.waitFor(type, () => this.frames.find((f): f is Extract<Frame, { type: T }> => f.type === type && match(f as Extract<Frame, { type: T }>)));
  }

  dataOf(streamId: number): { bytes: Buffer; fin: boolean } {
    const mine = this.frames.filter((f): f is Extract<Frame, { type: 'data' }> => f.type === 'data' && f.streamId === streamId);
    return { bytes: Buffer.concat(mine.map((f) => f.data)), fin: mine.some((f) => (f.flags & FLAG_FIN) !== 0) };
  }

  close(): void {
    this.framer.close();
    this.conn.destroy();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

const brief = (f: Frame) => ({ ...f, ...('data' in f ? { data: f.data.length } : {}) });

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function readAll(s: SpdyStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** A session on one end of a pair and a client on the other; `accept` decides per stream. */
function setup(opts: { idleTimeoutMs?: number; accept?: (s: SpdyStream) => void } = {}) {
  const [serverEnd, clientEnd] = duplexPair();
  const streams: SpdyStream[] = [];
  const errors: Error[] = [];
  const session = new SpdySession(serverEnd, {
    idleTimeoutMs: opts.idleTimeoutMs,
    onStream: (s) => {
      s.on('error', (e: Error) => errors.push(e));
      streams.push(s);
      (opts.accept ?? ((x) => x.reply()))(s);
    },
  });
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  const client = new Client(clientEnd);
  return { session, client, streams, errors, closed, serverEnd };
}

describe('spdy session', () => {
  test('accepts a stream, moves data both ways and half-closes each direction on its own', async () => {
    const { client, streams, closed } = setup();
    try {
      await client.open(1, { streamType: 'data', port: '80', requestID: '0' });
      await client.frame('syn_reply', (f) => f.streamId === 1);
      const s = streams[0]!;
      assert.equal(s.header('streamType'), 'data');
      assert.equal(s.header('requestid'), '0');
      const received = readAll(s);
      await client.send({ type: 'data', streamId: 1, flags: 0, data: Buffer.from('ping ') });
      await client.send({ type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.from('pong') });
      assert.equal((await received).toString(), 'ping pong');
      // The client's half is closed; ours is still open and its data still goes out.
      s.write(Buffer.alloc(100_000, 7));
      s.end();
      await client.waitFor('our FIN', () => client.dataOf(1).fin);
      assert.deepEqual(client.dataOf(1).bytes, Buffer.alloc(100_000, 7));
      const frames = client.frames.filter((f) => f.type === 'data' && f.streamId === 1);
      assert.ok(frames.every((f) => f.type === 'data' && f.data.length <= 32 * 1024), 'DATA frames are at most 32 KiB');
      assert.ok(!client.frames.some((f) => f.type === 'rst_stream'), 'a stream closed from both sides is not reset');
      await client.send({ type: 'goaway', lastGoodStreamId: 0, status: GoAwayStatus.Ok });
      await closed;
    } finally {
      client.close();
    }
  });

  test('echoes the client pings (odd ids) and not even ones', async () => {
    const { client } = setup();
    try {
      await client.send({ type: 'ping', id: 2 });
      await client.send({ type: 'ping', id: 1 });
      await client.frame('ping', (f) => f.id === 1);
      await client.send({ type: 'ping', id: 3 });
      await client.frame('ping', (f) => f.id === 3);
      assert.ok(!client.frames.some((f) => f.type === 'ping' && f.id === 2));
    } finally {
      client.close();
    }
  });

  test('a reset from the client fails the stream; reset() on our side sends RST_STREAM CANCEL', async () => {
    const { client, streams, errors } = setup();
    try {
      await client.open(1, { streamType: 'data', port: '80' });
      await client.open(3, { streamType: 'data', port: '81' });
      await client.frame('syn_reply', (f) => f.streamId === 3);
      await client.send({ type: 'rst_stream', streamId: 1, status: RstStatus.Cancel });
      await client.waitFor('stream 1 error', () => errors.length > 0);
      assert.ok(errors[0] instanceof SpdyStreamResetError);
      assert.equal((errors[0] as SpdyStreamResetError).status, RstStatus.Cancel);
      streams[1]!.reset();
      const rst = await client.frame('rst_stream', (f) => f.streamId === 3);
      assert.equal(rst.status, RstStatus.Cancel);
    } finally {
      client.close();
    }
  });

  test('a refused stream gets RST_STREAM and no SYN_REPLY; stream ids must increase', async () => {
    const { client } = setup({ accept: (s) => (s.header('port') === 'bad' ? s.reset() : s.reply()) });
    try {
      await client.open(1, { port: 'bad' });
      assert.equal((await client.frame('rst_stream', (f) => f.streamId === 1)).status, RstStatus.Cancel);
      await client.open(5, { port: '1' });
      await client.frame('syn_reply', (f) => f.streamId === 5);
      await client.open(3, { port: '1' });
      assert.equal((await client.frame('rst_stream', (f) => f.streamId === 3)).status, RstStatus.ProtocolError);
      assert.ok(!client.frames.some((f) => f.type === 'syn_reply' && f.streamId !== 5));
    } finally {
      client.close();
    }
  });

  test('GOAWAY from the client resets open streams, answers GOAWAY and closes the connection', async () => {
    const { client, errors, closed } = setup();
    try {
      await client.open(1, { port: '1' });
      await client.open(3, { port: '1' });
      await client.frame('syn_reply', (f) => f.streamId === 3);
      await client.send({ type: 'goaway', lastGoodStreamId: 0, status: GoAwayStatus.Ok });
      const away = await client.frame('goaway');
      assert.equal(away.lastGoodStreamId, 3);
      assert.equal(away.status, GoAwayStatus.Ok);
      assert.deepEqual(
        client.frames.filter((f) => f.type === 'rst_stream').map((f) => f.type === 'rst_stream' && f.streamId),
        [1, 3],
      );
      await client.waitFor('end of connection', () => client.ended);
      await closed;
      assert.equal(errors.length, 2);
    } finally {
      client.close();
    }
  });

  test('an idle connection is closed after the idle timeout; frames keep it open', async () => {
    const { client, closed } = setup({ idleTimeoutMs: 300 });
    try {
      const started = Date.now();
      for (let i = 1; i <= 5; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await client.send({ type: 'ping', id: 2 * i - 1 });
      }
      assert.ok(!client.frames.some((f) => f.type === 'goaway'), 'pings every 100 ms keep a 300 ms idle timeout away');
      await client.frame('goaway');
      await client.waitFor('end of connection', () => client.ended);
      await closed;
      assert.ok(Date.now() - started >= 800);
    } finally {
      client.close();
    }
  });

  test('a stream nobody reads stops the connection being read until it is read again', async () => {
    const { client, streams, serverEnd } = setup();
    try {
      await client.open(1, { port: '1' });
      await client.frame('syn_reply');
      for (let i = 0; i < 8; i++) await client.send({ type: 'data', streamId: 1, flags: 0, data: Buffer.alloc(32 * 1024, i) });
      await client.send({ type: 'ping', id: 1 });
      await client.waitFor('connection paused', () => serverEnd.isPaused());
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(!client.frames.some((f) => f.type === 'ping'), 'frames behind the blocked stream wait');
      const got: Buffer[] = [];
      streams[0]!.on('data', (b: Buffer) => got.push(b));
      await client.frame('ping', (f) => f.id === 1);
      assert.equal(Buffer.concat(got).length, 8 * 32 * 1024);
    } finally {
      client.close();
    }
  });

  test('the connection ending closes the session and fails the open streams', async () => {
    const { client, errors, closed } = setup();
    await client.open(1, { port: '1' });
    await client.frame('syn_reply');
    client.close();
    await closed;
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /closed/);
  });
});
