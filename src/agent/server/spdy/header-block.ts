/**
 * The SPDY/3 name/value header block before compression: a 32-bit pair count, then per pair a
 * 32-bit length and the lower-case name, a 32-bit length and the values joined by NUL.
 */
import { SpdyProtocolError } from './errors.js';
import type { HeaderBlock } from './frames.js';

export function encodeHeaderBlock(headers: HeaderBlock): Buffer {
  const names = Object.keys(headers);
  const parts: Buffer[] = [u32(names.length)];
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(headers[name]!.join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/**
 * Parses a decompressed block. Names are lower-cased and repeated names merged rather than
 * rejected: spdystream treats either as fatal to the whole connection, which helps nobody here.
 */
export function decodeHeaderBlock(block: Buffer): HeaderBlock {
  let at = 0;
  const read32 = (what: string): number => {
    if (at + 4 > block.length) throw new SpdyProtocolError(`header block truncated reading ${what}`);
    const v = block.readUInt32BE(at);
    at += 4;
    return v;
  };
  const readBytes = (len: number, what: string): string => {
    if (at + len > block.length) throw new SpdyProtocolError(`header block truncated reading ${what}`);
    const s = block.toString('utf8', at, at + len);
    at += len;
    return s;
  };
  const count = read32('pair count');
  const headers: HeaderBlock = {};
  for (let i = 0; i < count; i++) {
    const name = readBytes(read32('name length'), 'name').toLowerCase();
    if (name === '') throw new SpdyProtocolError('header block has an empty name');
    const values = readBytes(read32('value length'), 'value').split('\0');
    (headers[name] ??= []).push(...values);
  }
  if (at !== block.length) throw new SpdyProtocolError(`header block has ${block.length - at} trailing bytes`);
  return headers;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
