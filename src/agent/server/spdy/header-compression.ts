/**
 * SPDY/3 header compression: each direction of a connection runs ONE zlib stream, primed with the
 * SPDY dictionary, through which every header block passes in frame order; each block ends with a
 * sync flush so the peer can decode it from that frame alone (with the history of earlier ones).
 * Node's zlib streams are asynchronous, so calls are queued and each resolves with exactly the
 * output its own input produced.
 */
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { SpdyProtocolError } from './errors.js';
import { decodeHeaderBlock, encodeHeaderBlock } from './header-block.js';
import type { HeaderBlock } from './frames.js';

/** One long-lived zlib stream driven one sync-flushed chunk at a time. */
class SyncFlushedZlib {
  private tail: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly z: Deflate | Inflate) {
    // A zlib stream that failed once is unusable: every later call fails the same way.
    z.on('error', (e: Error) => {
      this.failure ??= e;
    });
  }

  run(input: Buffer): Promise<Buffer> {
    const next = this.tail.then(() => this.once(input));
    this.tail = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.z.close();
  }

  private once(input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const out: Buffer[] = [];
      const onData = (b: Buffer) => out.push(b);
      const onError = (e: Error) => {
        this.z.off('data', onData);
        reject(e);
      };
      this.z.on('data', onData);
      this.z.once('error', onError);
      this.z.write(input);
      // The flush callback runs after zlib has pushed everything this input produced.
      this.z.flush(constants.Z_SYNC_FLUSH, () => {
        this.z.off('data', onData);
        this.z.off('error', onError);
        if (this.failure) reject(this.failure);
        else resolve(Buffer.concat(out));
      });
    });
  }
}

/** Compresses header blocks for frames this side sends. */
export class HeaderCompressor {
  private readonly zlib = new SyncFlushedZlib(createDeflate({ dictionary: SPDY3_DICTIONARY }));

  compress(headers: HeaderBlock): Promise<Buffer> {
    return this.zlib.run(encodeHeaderBlock(headers));
  }

  close(): void {
    this.zlib.close();
  }
}

/** Decompresses header blocks of frames the peer sent, in the order it sent them. */
export class HeaderDecompressor {
  private readonly zlib = new SyncFlushedZlib(createInflate({ dictionary: SPDY3_DICTIONARY }));

  async decompress(compressed: Buffer): Promise<HeaderBlock> {
    let block: Buffer;
    try {
      block = await this.zlib.run(compressed);
    } catch (e) {
      throw new SpdyProtocolError(`header block does not decompress: ${(e as Error).message}`);
    }
    return decodeHeaderBlock(block);
  }

  close(): void {
    this.zlib.close();
  }
}
