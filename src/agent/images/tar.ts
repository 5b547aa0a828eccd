/**
 * A streaming tar reader (POSIX ustar, PAX extended headers, GNU long names/links, base-256
 * numbers) and a small writer (ustar with PAX records for long names), enough for image layers.
 */
import { LayerError } from './errors.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'chardev' | 'blockdev' | 'directory' | 'fifo' | 'other';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** seconds since the epoch (fractional with PAX) */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** PAX `SCHILY.xattr.*` records. */
  xattrs: Record<string, string>;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's content; read it or not — unread bytes are skipped before the next entry. */
  body: AsyncIterable<Buffer>;
}

/** Pulls exact byte counts out of an async chunk source. */
class ByteSource {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  constructor(src: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>) {
    if (Symbol.asyncIterator in src) this.it = src[Symbol.asyncIterator]();
    else {
      const sync = src[Symbol.iterator]();
      this.it = { next: async () => sync.next() };
    }
  }
  private async pull(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    if (b.length) {
      this.chunks.push(b);
      this.have += b.length;
    }
    return true;
  }
  /** Exactly n bytes, or fewer only at end of input. */
  async read(n: number): Promise<Buffer> {
    while (this.have < n && (await this.pull()));
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }
  /** Up to n bytes as they come (at most one chunk), empty at end of input. */
  async some(n: number): Promise<Buffer> {
    if (!this.have) await this.pull();
    while (!this.have && !this.done) await this.pull();
    if (!this.have) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length <= n) {
      this.chunks.shift();
      this.have -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.have -= n;
    return first.subarray(0, n);
  }
  async skip(n: number): Promise<void> {
    while (n > 0) {
      const b = await this.some(n);
      if (!b.length) throw new LayerError('unexpected end of tar archive');
      n -= b.length;
    }
  }
  async drain(): Promise<void> {
    this.chunks = [];
    this.have = 0;
    while (await this.pull()) {
      this.chunks = [];
      this.have = 0;
    }
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z >= 0 ? s.subarray(0, z) : s).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (f[0] & 0x80) {
    // base-256: big-endian two's complement with the top bit as marker
    let v = f[0] & 0x7f;
    if (f[0] & 0x40) throw new LayerError('negative base-256 number in tar header');
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i];
    return v;
  }
  const s = cstr(f, 0, len).trim();
  if (!s) return 0;
  if (!/^[0-7]+$/.test(s)) throw new LayerError(`bad octal number "${s}" in tar header`);
  return parseInt(s, 8);
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'chardev', '4': 'blockdev', '5': 'directory', '6': 'fifo',
};

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) throw new LayerError('malformed PAX header record');
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8'); // without trailing \n
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const MAX_META = 1 << 20;

/**
 * Reads tar entries from a byte stream. After the end-of-archive marker the rest of the input is
 * drained (so a caller hashing the stream sees every byte).
 */
export async function* readTar(src: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>): AsyncGenerator<TarEntry> {
  const s = new ByteSource(src);
  let globalPax: Record<string, string> = {};
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await s.read(512);
    if (h.length === 0) return; // tolerate a missing end marker
    if (h.length < 512) throw new LayerError('unexpected end of tar archive (truncated header)');
    if (h.every((x) => x === 0)) {
      await s.drain();
      return;
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    const stored = num(h, 148, 8);
    if (stored !== sum) throw new LayerError('invalid tar header checksum');
    const typeflag = String.fromCharCode(h[156]);
    const size = num(h, 124, 12);
    const padded = Math.ceil(size / 512) * 512;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META) throw new LayerError('tar metadata entry too large');
      const data = await s.read(padded);
      if (data.length < padded) throw new LayerError('unexpected end of tar archive');
      const body = data.subarray(0, size);
      if (typeflag === 'x') pax = { ...pax, ...parsePax(body) };
      else if (typeflag === 'g') globalPax = { ...globalPax, ...parsePax(body) };
      else if (typeflag === 'L') longName = cstr(body, 0, body.length);
      else longLink = cstr(body, 0, body.length);
      continue;
    }
    const magic = h.subarray(257, 263).toString('latin1');
    const ustar = magic === 'ustar\0';
    const prefix = ustar ? cstr(h, 345, 155) : '';
    let name = cstr(h, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    const p = { ...globalPax, ...pax };
    if (longName !== undefined) name = longName;
    if (p.path !== undefined) name = p.path;
    let linkname = longLink ?? cstr(h, 157, 100);
    if (p.linkpath !== undefined) linkname = p.linkpath;
    const xattrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(p)) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = v;
    const header: TarHeader = {
      name,
      typeflag,
      type: TYPES[typeflag] ?? 'other',
      mode: num(h, 100, 8) & 0o7777,
      uid: p.uid !== undefined ? Number(p.uid) : num(h, 108, 8),
      gid: p.gid !== undefined ? Number(p.gid) : num(h, 116, 8),
      size: p.size !== undefined ? Number(p.size) : size,
      mtime: p.mtime !== undefined ? Number(p.mtime) : num(h, 136, 12),
      linkname,
      uname: p.uname ?? cstr(h, 265, 32),
      gname: p.gname ?? cstr(h, 297, 32),
      devmajor: ustar || magic.startsWith('ustar') ? num(h, 329, 8) : 0,
      devminor: ustar || magic.startsWith('ustar') ? num(h, 337, 8) : 0,
      xattrs,
    };
    if (typeflag === '0' || typeflag === '\0') if (name.endsWith('/')) header.type = 'directory';
    pax = {};
    longName = longLink = undefined;
    const dataSize = header.size;
    let remaining = dataSize;
    const body = (async function* () {
      while (remaining > 0) {
        const b = await s.some(remaining);
        if (!b.length) throw new LayerError(`unexpected end of tar archive in "${name}"`);
        remaining -= b.length;
        yield b;
      }
    })();
    yield { header, body };
    if (remaining > 0) await s.skip(remaining);
    const pad = Math.ceil(dataSize / 512) * 512 - dataSize;
    if (pad) await s.skip(pad);
  }
}

// ---- writer ----

export interface TarWriteEntry {
  name: string;
  type?: TarEntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  data?: Buffer | string;
  devmajor?: number;
  devminor?: number;
}

const FLAG: Record<string, string> = { file: '0', link: '1', symlink: '2', chardev: '3', blockdev: '4', directory: '5', fifo: '6' };

function octal(b: Buffer, off: number, len: number, v: number) {
  b.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function rawHeader(name: string, flag: string, size: number, e: TarWriteEntry, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, e.mode ?? (flag === '5' ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(e.mtime ?? 0));
  h.write(flag, 156, 1, 'latin1');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

/** Builds a tar archive in memory (test fixtures, small archives). PAX records carry long names. */
export function writeTar(entries: TarWriteEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? (typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0))) : Buffer.alloc(0);
    let name = type === 'directory' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
    let linkname = e.linkname ?? '';
    const recs: string[] = [];
    const rec = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      let len = Buffer.byteLength(body);
      len += String(len).length;
      if (String(len).length !== String(len - String(len).length).length) len++;
      recs.push(`${len}${body}`);
    };
    if (Buffer.byteLength(name) > 99) {
      rec('path', name);
      name = name.slice(0, 99);
    }
    if (Buffer.byteLength(linkname) > 99) {
      rec('linkpath', linkname);
      linkname = linkname.slice(0, 99);
    }
    if (recs.length) {
      const pax = Buffer.from(recs.join(''));
      parts.push(rawHeader('PaxHeader', 'x', pax.length, {} as TarWriteEntry), pax, pad(pax.length));
    }
    parts.push(rawHeader(name, FLAG[type] ?? '0', data.length, e, linkname), data, pad(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
