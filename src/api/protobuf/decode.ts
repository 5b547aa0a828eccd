/**
 * Decodes `application/vnd.kubernetes.protobuf` request bodies of built-in types to the same
 * value a JSON client would have sent: client-go's typed clients (so `kubectl create namespace`,
 * `create configmap`, `create secret`, ...) send protobuf by default. The body is upstream's
 * envelope (`k8s\0` + runtime.Unknown{typeMeta, raw}); the message shapes come from the table
 * generated from upstream's Go struct tags (k8s-messages.generated.ts).
 *
 * The result mirrors Go: decode into the struct, then encode it as JSON. So non-pointer scalars
 * that are zero and `omitempty` are dropped (gogo-protobuf always writes them), pointers are
 * kept even when zero, non-pointer structs are always present, inline structs are flattened,
 * zero times are absent. Unknown fields are skipped, as upstream's protobuf decoder does.
 */
import { K8S_MESSAGES } from './k8s-messages.generated.js';

/** [JSON name, type code, flags: p pointer, o omitempty, i inline]. */
export type FieldSpec = [string, string, string];
export type MessageTable = Record<string, Record<string, FieldSpec>>;

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = [0x6b, 0x38, 0x73, 0x00];
const MAX_DEPTH = 100;

export class ProtobufDecodeError extends Error {}

interface Raw {
  wire: number;
  /** varint / fixed values */
  num?: bigint;
  bytes?: Buffer;
}

/** The raw fields of one message, by field number, in order. */
function readFields(buf: Buffer): Map<number, Raw[]> {
  const out = new Map<number, Raw[]>();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new ProtobufDecodeError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtobufDecodeError('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const num = key >>> 3;
    const wire = key & 7;
    let raw: Raw;
    if (wire === 0) raw = { wire, num: varint() };
    else if (wire === 1) {
      if (pos + 8 > buf.length) throw new ProtobufDecodeError('truncated fixed64');
      raw = { wire, bytes: buf.subarray(pos, pos + 8) };
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new ProtobufDecodeError('truncated length-delimited field');
      raw = { wire, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) {
      if (pos + 4 > buf.length) throw new ProtobufDecodeError('truncated fixed32');
      raw = { wire, bytes: buf.subarray(pos, pos + 4) };
      pos += 4;
    } else throw new ProtobufDecodeError(`unsupported wire type ${wire}`);
    if (num === 0) throw new ProtobufDecodeError('field number 0');
    const list = out.get(num);
    if (list) list.push(raw);
    else out.set(num, [raw]);
  }
  return out;
}

const str = (r: Raw | undefined) => (r?.bytes ? r.bytes.toString('utf8') : '');
const int = (r: Raw | undefined): bigint => (r?.num !== undefined ? BigInt.asIntN(64, r.num) : 0n);

function goDuration(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const neg = nanos < 0n;
  let n = neg ? -nanos : nanos;
  let out: string;
  if (n < 1_000_000_000n) {
    const units: [bigint, string][] = [[1_000_000n, 'ms'], [1_000n, 'µs'], [1n, 'ns']];
    const [size, name] = units.find(([s]) => n >= s)!;
    const whole = n / size;
    const frac = (n % size).toString().padStart(size.toString().length - 1, '0').replace(/0+$/, '');
    out = `${whole}${frac ? '.' + frac : ''}${name}`;
  } else {
    const h = n / 3_600_000_000_000n;
    n %= 3_600_000_000_000n;
    const m = n / 60_000_000_000n;
    n %= 60_000_000_000n;
    const s = n / 1_000_000_000n;
    const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
    const secs = `${s}${frac ? '.' + frac : ''}s`;
    out = h ? `${h}h${m}m${secs}` : m ? `${m}m${secs}` : secs;
  }
  return neg ? '-' + out : out;
}

function timestamp(bytes: Buffer | undefined, micro: boolean): string | null {
  const f = readFields(bytes ?? Buffer.alloc(0));
  const seconds = int(f.get(1)?.at(-1));
  const nanos = int(f.get(2)?.at(-1));
  if ((seconds === 0n && nanos === 0n) || seconds === -62135596800n) return null; // Go's zero time
  const iso = new Date(Number(seconds) * 1000).toISOString();
  if (!micro) return iso.replace(/\.\d{3}Z$/, 'Z');
  return iso.replace(/\.\d{3}Z$/, `.${(nanos / 1000n).toString().padStart(6, '0')}Z`);
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false;
}

class Decoder {
  constructor(private readonly table: MessageTable) {}

  message(name: string, bytes: Buffer, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw new ProtobufDecodeError('message nesting too deep');
    const spec = this.table[name];
    if (!spec) throw new ProtobufDecodeError(`no protobuf shape for ${name}`);
    const fields = readFields(bytes);
    const out: Record<string, unknown> = {};
    for (const [num, raws] of fields) {
      const f = spec[num];
      if (!f) continue;
      const [json, code, flags] = f;
      let value: unknown;
      if (code.startsWith('l:')) {
        const elem = code.slice(2);
        value = raws.flatMap((r) => this.repeated(elem, r, depth));
        if ((value as unknown[]).length === 0) continue;
      } else if (code.startsWith('map:')) {
        const [, keyCode, ...rest] = code.split(':');
        const valueCode = rest.join(':');
        const obj: Record<string, unknown> = {};
        for (const r of raws) {
          const entry = readFields(r.bytes ?? Buffer.alloc(0));
          const k = this.scalar(keyCode!, entry.get(1)?.at(-1));
          const vr = entry.get(2)?.at(-1);
          obj[String(k)] = vr ? this.single(valueCode, vr, depth) : this.zeroOf(valueCode);
        }
        value = obj;
      } else {
        value = this.single(code, raws.at(-1)!, depth);
      }
      if (value === null || value === undefined) continue;
      if (flags.includes('i') && typeof value === 'object' && !Array.isArray(value)) {
        Object.assign(out, value);
        continue;
      }
      if (!flags.includes('p') && flags.includes('o') && isZero(value)) continue;
      out[json] = value;
    }
    return out;
  }

  /** One element of a repeated field: packed scalars hold several. */
  private repeated(code: string, r: Raw, depth: number): unknown[] {
    if (r.wire === 2 && ['b', 'i32', 'i64', 'f64', 'f32'].includes(code)) {
      const vals: unknown[] = [];
      const buf = r.bytes!;
      if (code === 'f64') for (let i = 0; i + 8 <= buf.length; i += 8) vals.push(buf.readDoubleLE(i));
      else if (code === 'f32') for (let i = 0; i + 4 <= buf.length; i += 4) vals.push(buf.readFloatLE(i));
      else {
        // A packed run of varints: reuse the field reader on synthetic keys.
        let pos = 0;
        while (pos < buf.length) {
          let v = 0n;
          let shift = 0n;
          for (;;) {
            const b = buf[pos++];
            if (b === undefined) throw new ProtobufDecodeError('truncated packed varint');
            v |= BigInt(b & 0x7f) << shift;
            if (!(b & 0x80)) break;
            shift += 7n;
          }
          vals.push(this.scalar(code, { wire: 0, num: v }));
        }
      }
      return vals;
    }
    return [this.single(code, r, depth)];
  }

  private zeroOf(code: string): unknown {
    if (code === 's' || code === 'y' || code === 'qty') return code === 'qty' ? '0' : '';
    if (code === 'b') return false;
    if (code === 'i32' || code === 'i64' || code === 'f64' || code === 'f32') return 0;
    if (code.startsWith('wl:')) return [];
    return code.startsWith('m:') ? {} : null;
  }

  private scalar(code: string, r: Raw | undefined): unknown {
    switch (code) {
      case 's':
        return str(r);
      case 'y':
        return r?.bytes ? r.bytes.toString('base64') : '';
      case 'b':
        return int(r) !== 0n;
      case 'i32':
        return Number(BigInt.asIntN(32, r?.num ?? 0n));
      case 'i64':
        return Number(int(r));
      case 'f64':
        return r?.bytes ? r.bytes.readDoubleLE(0) : 0;
      case 'f32':
        return r?.bytes ? r.bytes.readFloatLE(0) : 0;
      default:
        throw new ProtobufDecodeError(`not a scalar type: ${code}`);
    }
  }

  private single(code: string, r: Raw, depth: number): unknown {
    if (code.startsWith('m:')) return this.message(code.slice(2), r.bytes ?? Buffer.alloc(0), depth + 1);
    if (code.startsWith('wl:')) {
      const f = readFields(r.bytes ?? Buffer.alloc(0));
      return (f.get(1) ?? []).flatMap((x) => this.repeated(code.slice(3), x, depth));
    }
    switch (code) {
      case 'time':
        return timestamp(r.bytes, false);
      case 'mtime':
        return timestamp(r.bytes, true);
      case 'dur':
        return goDuration(int(readFields(r.bytes ?? Buffer.alloc(0)).get(1)?.at(-1)));
      case 'qty':
        return str(readFields(r.bytes ?? Buffer.alloc(0)).get(1)?.at(-1)) || '0';
      case 'ios': {
        const f = readFields(r.bytes ?? Buffer.alloc(0));
        return int(f.get(1)?.at(-1)) === 1n ? str(f.get(3)?.at(-1)) : Number(BigInt.asIntN(32, f.get(2)?.at(-1)?.num ?? 0n));
      }
      case 'raw': {
        const bytes = readFields(r.bytes ?? Buffer.alloc(0)).get(1)?.at(-1)?.bytes;
        if (!bytes || bytes.length === 0) return null;
        try {
          return JSON.parse(bytes.toString('utf8'));
        } catch {
          throw new ProtobufDecodeError('embedded raw object is not JSON');
        }
      }
      default:
        return this.scalar(code, r);
    }
  }
}

/** Upstream's Go package of an API group: `networking.k8s.io` -> networking, `rbac.authorization.k8s.io` -> rbac. */
function packageOf(group: string): string {
  if (group === '') return 'core';
  return group.replace(/\.k8s\.io$/, '').split('.')[0]!;
}

export interface DecodedProtobuf {
  apiVersion: string;
  kind: string;
  /** The object as JSON would carry it, with apiVersion and kind. */
  object: Record<string, unknown>;
}

/** Decodes an enveloped protobuf body; throws ProtobufDecodeError when it is not one Cairn can read. */
export function decodeProtobufBody(body: Buffer, table: MessageTable = K8S_MESSAGES): DecodedProtobuf {
  if (body.length < 4 || MAGIC.some((b, i) => body[i] !== b)) throw new ProtobufDecodeError('missing the k8s protobuf envelope prefix');
  const unknown = readFields(body.subarray(4));
  const typeMeta = readFields(unknown.get(1)?.at(-1)?.bytes ?? Buffer.alloc(0));
  const apiVersion = str(typeMeta.get(1)?.at(-1));
  const kind = str(typeMeta.get(2)?.at(-1));
  const encoding = str(unknown.get(3)?.at(-1));
  if (encoding) throw new ProtobufDecodeError(`unsupported content encoding ${JSON.stringify(encoding)}`);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const candidates = [`${packageOf(group!)}/${version}.${kind}`, `meta/v1.${kind}`];
  const name = candidates.find((c) => table[c]);
  if (!kind || !name) throw new ProtobufDecodeError(`no protobuf shape for ${apiVersion || '<none>'} ${kind || '<none>'}`);
  const object = new Decoder(table).message(name, unknown.get(2)?.at(-1)?.bytes ?? Buffer.alloc(0), 0);
  return { apiVersion, kind, object: { apiVersion, kind, ...object } };
}
