/**
 * The grpc probe (upstream pkg/probe/grpc): one call of the standard health service,
 * `grpc.health.v1.Health/Check`, over cleartext HTTP/2 to the pod IP. SERVING is success; any
 * other status, and every error, is a failure whose message is upstream's (`service unhealthy
 * (responded with "NOT_SERVING")`, `timeout: failed to connect service "10.244.1.5:9000" within
 * 1s: context deadline exceeded`, ...).
 *
 * The two messages involved are tiny, so they are encoded here by hand:
 *   message HealthCheckRequest  { string service = 1; }
 *   message HealthCheckResponse { ServingStatus status = 1; }  // UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3
 * each sent in gRPC's length-prefixed framing (1 byte compressed flag, 4 bytes big-endian length).
 */
import http2, { type ClientHttp2Session } from 'node:http2';
import { STATUS_CODES } from 'node:http';
import type { GRPCAction } from '../pods/api-types.js';
import { goDuration, goQuote } from './go-format.js';
import { joinHostPort } from './net-errors.js';
import { KUBE_VERSION, type ProbeOutcome, type ProbeTarget } from './probe.js';

const CHECK_PATH = '/grpc.health.v1.Health/Check';
/** grpc-go's first reconnect delay; a dial is retried until the probe's deadline (upstream dials WithBlock). */
const RECONNECT_MS = 1000;
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
/** grpc codes.Code names as grpc-go prints them. */
const CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];
const UNIMPLEMENTED = 12;
const DEADLINE_EXCEEDED = 4;

export async function grpcProbe(action: GRPCAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  // Upstream always dials the pod IP: a grpc action has no host field.
  const addr = joinHostPort(target.podIP, action.port);
  const timeout = goDuration(timeoutMs);
  const deadline = Date.now() + timeoutMs;
  const session = await connect(addr, deadline);
  if (!session) return { result: 'failure', message: `timeout: failed to connect service ${goQuote(addr)} within ${timeout}: context deadline exceeded` };
  try {
    const r = await check(session, addr, action.service ?? '', deadline);
    if ('timedOut' in r) return { result: 'failure', message: `timeout: health rpc did not complete within ${timeout}` };
    if ('code' in r) {
      if (r.code === UNIMPLEMENTED) return { result: 'failure', message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${r.desc}` };
      if (r.code === DEADLINE_EXCEEDED) return { result: 'failure', message: `timeout: health rpc did not complete within ${timeout}` };
      return { result: 'failure', message: `error: health rpc probe failed: rpc error: code = ${CODE_NAMES[r.code] ?? `Code(${r.code})`} desc = ${r.desc}` };
    }
    if (r.status !== 1) return { result: 'failure', message: `service unhealthy (responded with ${goQuote(SERVING_STATUS[r.status] ?? String(r.status))})` };
    return { result: 'success', message: 'service healthy' };
  } finally {
    session.destroy();
  }
}

/** An HTTP/2 connection, retried until the deadline; null when none opened in time. */
async function connect(addr: string, deadline: number): Promise<ClientHttp2Session | null> {
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return null;
    const s = await new Promise<ClientHttp2Session | null>((resolve) => {
      const session = http2.connect(`http://${addr}`);
      const timer = setTimeout(() => {
        session.destroy();
        resolve(null);
      }, left);
      session.once('connect', () => {
        clearTimeout(timer);
        resolve(session);
      });
      session.on('error', () => {
        clearTimeout(timer);
        session.destroy();
        resolve(null);
      });
    });
    if (s) return s;
    await new Promise((r) => setTimeout(r, Math.min(RECONNECT_MS, Math.max(0, deadline - Date.now()))));
  }
}

type CheckResult = { status: number } | { code: number; desc: string } | { timedOut: true };

function check(session: ClientHttp2Session, addr: string, service: string, deadline: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const left = Math.max(1, deadline - Date.now());
    const stream = session.request({
      ':method': 'POST',
      ':path': CHECK_PATH,
      ':scheme': 'http',
      ':authority': addr,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': `kube-probe/${KUBE_VERSION}`,
      'grpc-timeout': `${left}m`,
    });
    let settled = false;
    const settle = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      settle({ timedOut: true });
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, left);
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    const chunks: Buffer[] = [];
    const noteStatus = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) {
        grpcStatus = String(h['grpc-status']);
        grpcMessage = percentDecode(String(h['grpc-message'] ?? ''));
      }
    };
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      noteStatus(h); // a trailers-only response carries the status here
    });
    stream.on('trailers', noteStatus);
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.on('error', (e) => settle({ code: 14, desc: e.message }));
    stream.on('close', () => {
      if (httpStatus !== 200) {
        return settle({ code: httpStatusCode(httpStatus), desc: `unexpected HTTP status code received from server: ${httpStatus} (${STATUS_CODES[httpStatus] ?? ''})` });
      }
      if (grpcStatus === undefined) return settle({ code: 13, desc: 'server closed the stream without sending trailers' });
      if (grpcStatus !== '0') return settle({ code: Number(grpcStatus), desc: grpcMessage });
      const msg = firstMessage(Buffer.concat(chunks));
      if (!msg) return settle({ code: 13, desc: 'cardinality violation: received no response message from non-streaming RPC' });
      settle({ status: decodeStatus(msg) });
    });
    stream.end(frame(encodeRequest(service)));
  });
}

/** grpc-go's mapping of a non-200 HTTP status to a code. */
function httpStatusCode(status: number): number {
  if (status === 400) return 13;
  if (status === 401) return 16;
  if (status === 403) return 7;
  if (status === 404) return UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return 14;
  return 2;
}

function encodeRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0); // proto3: an empty string is not sent
  const s = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]); // field 1, wire type 2
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The payload of the first length-prefixed message, or null when there is none. */
function firstMessage(data: Buffer): Buffer | null {
  if (data.length < 5) return null;
  const len = data.readUInt32BE(1);
  return data.length < 5 + len ? null : data.subarray(5, 5 + len);
}

/** HealthCheckResponse.status (field 1, varint); other fields are skipped; absent = UNKNOWN (0). */
function decodeStatus(msg: Buffer): number {
  let i = 0;
  let status = 0;
  const readVarint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= msg.length) throw new RangeError('truncated varint');
      const b = msg[i++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  try {
    while (i < msg.length) {
      const tag = readVarint();
      const wire = tag & 7;
      if (wire === 0) {
        const v = readVarint();
        if (tag >>> 3 === 1) status = v;
      } else if (wire === 2) i += readVarint();
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else break;
    }
  } catch {
    /* a malformed tail: keep what was read */
  }
  return status;
}

/** grpc-message is percent-encoded (the gRPC HTTP/2 spec). */
function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
