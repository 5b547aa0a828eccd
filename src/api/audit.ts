/**
 * The audit log: one audit.k8s.io/v1 Event per request as a JSON line, at stage ResponseComplete
 * (for a watch: when it ends). Level Metadata (the default) records who, what and the outcome —
 * user and groups, impersonated user, verb, objectRef, request URI, response status, source IP,
 * user agent, timestamps, latency and the authorization decision — and never a body. Levels
 * Request and RequestResponse add bodies, except for Secrets and token requests, whose bodies
 * are never written at any level.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { parseRequestInfo, type RequestInfo } from './request-info.js';
import { isRaw, isStream, onStreamEnd, type ApiHandler, type ApiRequest, type ApiResponse, type StreamResponse, type UserInfo } from './types.js';

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export const AUDIT_LEVELS: AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];

export interface AuditNotes {
  impersonatedUser?: UserInfo;
  decision?: 'allow' | 'forbid';
  reason?: string;
}

const notes = new WeakMap<object, AuditNotes>();

/** Lets a later stage (authorization, impersonation) add to the audit event of a request. */
export function noteAudit(req: ApiRequest, n: AuditNotes): void {
  notes.set(req, { ...notes.get(req), ...n });
}

/** Resources whose bodies never reach the audit log: `group/resource[/subresource]` ('' group for core). */
const SECRET_BODIES = new Set(['/secrets', '/serviceaccounts/token', 'authentication.k8s.io/tokenreviews']);

export interface AuditOptions {
  /** A file to append to, or '-' for stderr. */
  path: string;
  level?: AuditLevel;
}

const userJson = (u: UserInfo) => ({
  username: u.name,
  ...(u.uid ? { uid: u.uid } : {}),
  groups: u.groups,
  ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}),
});

/** RFC 3339 with microseconds, as upstream's MicroTime. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, f: string) => `.${f}000Z`);

export class AuditLog {
  private readonly out: WriteStream | NodeJS.WriteStream;
  private readonly level: AuditLevel;
  private failed = false;

  constructor(opts: AuditOptions) {
    this.level = opts.level ?? 'Metadata';
    if (opts.path === '-') this.out = process.stderr;
    else {
      const s = createWriteStream(opts.path, { flags: 'a', mode: 0o600 });
      s.on('error', (e) => {
        if (!this.failed) process.stderr.write(`audit log ${opts.path}: ${e.message}\n`);
        this.failed = true;
      });
      this.out = s;
    }
  }

  /** The handler with every request it serves written to the log. */
  wrap(handler: ApiHandler): ApiHandler {
    if (this.level === 'None') return handler;
    return async (req) => {
      const received = Date.now();
      const started = performance.now();
      let res: ApiResponse;
      try {
        res = await handler(req);
      } catch (e) {
        this.write(req, received, started, { status: 500, body: {} });
        throw e;
      }
      if (isStream(res)) return this.trackStream(req, res, received, started);
      this.write(req, received, started, res);
      return res;
    };
  }

  private trackStream(req: ApiRequest, res: StreamResponse, received: number, started: number): StreamResponse {
    return onStreamEnd(res, () => this.write(req, received, started, res));
  }

  private write(req: ApiRequest, received: number, started: number, res: ApiResponse) {
    if (this.failed) return;
    try {
      this.out.write(JSON.stringify(this.event(req, received, started, res)) + '\n');
    } catch {
      /* the log must never fail a request */
    }
  }

  event(req: ApiRequest, received: number, started: number, res: ApiResponse): Record<string, unknown> {
    let info: RequestInfo | undefined;
    try {
      info = parseRequestInfo(req.method, req.path, req.query);
    } catch {
      info = undefined;
    }
    const n = notes.get(req) ?? {};
    const qs = req.query.toString();
    const ev: Record<string, unknown> = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: this.level,
      auditID: req.headers['audit-id'] ?? randomUUID(),
      stage: 'ResponseComplete',
      requestURI: qs ? `${req.path}?${qs}` : req.path,
      verb: info?.kind === 'resource' ? info.verb : req.method === 'HEAD' ? 'get' : req.method.toLowerCase(),
      user: userJson(req.user ?? { name: 'system:anonymous', groups: ['system:unauthenticated'] }),
    };
    if (n.impersonatedUser) ev.impersonatedUser = userJson(n.impersonatedUser);
    ev.sourceIPs = req.remoteAddress ? [req.remoteAddress] : [];
    if (req.headers['user-agent']) ev.userAgent = req.headers['user-agent'];
    let secretBody = false;
    if (info?.kind === 'resource') {
      ev.objectRef = {
        resource: info.resource,
        ...(info.namespace ? { namespace: info.namespace } : {}),
        ...(info.name ? { name: info.name } : {}),
        ...(info.group ? { apiGroup: info.group } : {}),
        apiVersion: info.version,
        ...(info.subresource ? { subresource: info.subresource } : {}),
      };
      secretBody = SECRET_BODIES.has(`${info.group}/${info.resource}`) || SECRET_BODIES.has(`${info.group}/${info.resource}/${info.subresource ?? ''}`);
    }
    ev.responseStatus = responseStatus(res);
    if (!secretBody && (this.level === 'Request' || this.level === 'RequestResponse') && req.body?.length) {
      const body = parseJson(req.body);
      if (body !== undefined) ev.requestObject = body;
    }
    if (!secretBody && this.level === 'RequestResponse' && !isStream(res) && !isRaw(res) && res.body !== undefined) ev.responseObject = res.body;
    ev.requestReceivedTimestamp = microTime(received);
    ev.stageTimestamp = microTime(Date.now());
    const annotations: Record<string, string> = {};
    if (n.decision) annotations['authorization.k8s.io/decision'] = n.decision;
    if (n.reason) annotations['authorization.k8s.io/reason'] = n.reason;
    annotations['cairn.io/latency'] = `${(performance.now() - started).toFixed(3)}ms`;
    ev.annotations = annotations;
    return ev;
  }

  async close(): Promise<void> {
    const out = this.out;
    if (out === process.stderr) return;
    await new Promise<void>((r) => (out as WriteStream).end(() => r()));
  }
}

function responseStatus(res: ApiResponse): Record<string, unknown> {
  const s: Record<string, unknown> = { metadata: {}, code: res.status };
  if (res.status >= 300 && !isStream(res) && !isRaw(res)) {
    const b = res.body as { status?: unknown; message?: unknown; reason?: unknown } | undefined;
    if (b && typeof b === 'object') {
      if (typeof b.status === 'string') s.status = b.status;
      if (typeof b.message === 'string') s.message = b.message;
      if (typeof b.reason === 'string') s.reason = b.reason;
    }
  }
  return s;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
