/**
 * The options of `GET /containerLogs/...`, as the kubelet reads them: v1 PodLogOptions from the
 * query (follow, previous, timestamps, tailLines, sinceSeconds, sinceTime, limitBytes), checked
 * as ValidatePodLogOptions, then turned into the CRI reader's options as kuberuntime's
 * NewLogOptions does (tail and bytes -1 for "all"; the later of the two since-limits wins).
 */

export interface LogOptions {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  /** Last N lines (a line split into P pieces counts once); -1 = all. */
  tailLines: number;
  /** Stop after this many bytes of output; -1 = no limit. */
  limitBytes: number;
  /** Skip entries older than this (nanoseconds since the epoch). */
  sinceNanos?: bigint;
}

/** The options could not be read (HTTP 400) or are invalid (422, as the kubelet answers). */
export class LogOptionsError extends Error {
  constructor(
    readonly httpStatus: 400 | 422,
    message: string,
  ) {
    super(message);
    this.name = 'LogOptionsError';
  }
}

/** Go's strconv.ParseBool, which the API's query decoding uses. */
export function parseBool(name: string, v: string | null): boolean {
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new LogOptionsError(400, `invalid value for ${name}: ${JSON.stringify(v)}`);
}

export function parseInteger(name: string, v: string | null): number | undefined {
  if (v === null || v === '') return undefined;
  if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new LogOptionsError(400, `invalid value for ${name}: ${JSON.stringify(v)}`);
  return Number(v);
}

/** RFC 3339 (with or without a fraction) to nanoseconds since the epoch; undefined when it is not one. */
export function rfc3339Nanos(ts: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(ts);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

export function parseLogOptions(q: URLSearchParams, nowMs = Date.now()): LogOptions {
  const tailLines = parseInteger('tailLines', q.get('tailLines'));
  const limitBytes = parseInteger('limitBytes', q.get('limitBytes'));
  const sinceSeconds = parseInteger('sinceSeconds', q.get('sinceSeconds'));
  const sinceTimeText = q.get('sinceTime');
  const sinceTime = sinceTimeText ? rfc3339Nanos(sinceTimeText) : undefined;
  if (sinceTimeText && sinceTime === undefined) throw new LogOptionsError(400, `invalid value for sinceTime: ${JSON.stringify(sinceTimeText)}`);
  const invalid =
    (tailLines !== undefined && tailLines < 0) ||
    (limitBytes !== undefined && limitBytes < 1) ||
    (sinceSeconds !== undefined && (sinceSeconds < 1 || sinceTime !== undefined));
  // The kubelet's own answer to options that fail ValidatePodLogOptions.
  if (invalid) throw new LogOptionsError(422, '{"message": "Invalid request."}');
  let sinceNanos: bigint | undefined;
  if (sinceSeconds !== undefined) sinceNanos = (BigInt(nowMs) - BigInt(sinceSeconds) * 1000n) * 1_000_000n;
  if (sinceTime !== undefined && (sinceNanos === undefined || sinceTime > sinceNanos)) sinceNanos = sinceTime;
  const opts: LogOptions = {
    follow: parseBool('follow', q.get('follow')),
    previous: parseBool('previous', q.get('previous')),
    timestamps: parseBool('timestamps', q.get('timestamps')),
    tailLines: tailLines ?? -1,
    limitBytes: limitBytes ?? -1,
  };
  if (sinceNanos !== undefined) opts.sinceNanos = sinceNanos;
  return opts;
}
