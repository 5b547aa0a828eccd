/**
 * Newline-delimited JSON from a byte stream (the HTTP form of a watch). Chunks may split a line —
 * or a multi-byte UTF-8 character — anywhere, so lines are cut on the 0x0A byte (which never occurs
 * inside a UTF-8 sequence) and decoded only once whole.
 */
import { ClientError } from './errors.js';

export async function* ndjson(chunks: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<unknown> {
  let pending: Buffer[] = [];
  for await (const chunk of chunks) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    let nl = buf.indexOf(0x0a);
    while (nl !== -1) {
      pending.push(buf.subarray(0, nl));
      const line = Buffer.concat(pending);
      pending = [];
      const value = parseLine(line);
      if (value !== undefined) yield value;
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    if (buf.length) pending.push(buf);
  }
  // A final line without a trailing newline still counts.
  const value = parseLine(Buffer.concat(pending));
  if (value !== undefined) yield value;
}

function parseLine(line: Buffer): unknown {
  const text = line.toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ClientError(`invalid JSON in stream: ${text.slice(0, 200)}`, { cause: err });
  }
}
