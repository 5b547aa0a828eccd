/**
 * Helpers for tests that drive the API server through `@kubernetes/client-node` (1.x), the way a
 * third-party client sees it: typed API clients, KubernetesObjectApi, Watch, informers, and a raw
 * HTTPS request for what the library hides (response headers, bodies it would re-serialize).
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type ConfigurationOptions,
} from '@kubernetes/client-node';
import type { TestServer } from './server.js';

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
  watch: Watch;
}

export function clientsFor(server: TestServer): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
    watch: new Watch(kc),
  };
}

/** Options that make a generated client's PATCH use the given patch content type. */
export function patchAs(strategy: PatchStrategy): ConfigurationOptions {
  return setHeaderOptions('Content-Type', strategy) as ConfigurationOptions;
}
export { PatchStrategy };

export interface StatusBody {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

/** Awaits a rejected client-node call and returns the Status the server sent; asserts the HTTP code. */
export async function apiError(p: Promise<unknown>, code: number, reason?: string): Promise<StatusBody> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected the call to fail with ${code}`);
  assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
  const body = typeof err.body === 'string' ? (JSON.parse(err.body) as StatusBody) : (err.body as StatusBody);
  assert.equal(err.code, code, `HTTP code (body: ${JSON.stringify(body)})`);
  assert.equal(body.kind, 'Status');
  assert.equal(body.code, code);
  if (reason) assert.equal(body.reason, reason, `reason (body: ${JSON.stringify(body)})`);
  return body;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

const agents = new WeakMap<KubeConfig, https.RequestOptions>();

/** A raw HTTPS request with the kubeconfig's credentials, over one keep-alive agent per KubeConfig. */
export async function raw(kc: KubeConfig, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const server = kc.getCurrentCluster()!.server;
  const url = new URL(server + path);
  let opts = agents.get(kc);
  if (!opts) {
    const tls: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(tls);
    opts = { headers: tls.headers, agent: new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key }) };
    agents.set(kc, opts);
  }
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        ...opts,
        method,
        headers: {
          ...(opts.headers ?? {}),
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** `Warning` header values (299 - "text") as their texts. */
export function warningTexts(h: string | string[] | undefined): string[] {
  if (!h) return [];
  const all = Array.isArray(h) ? h : [h];
  const out: string[] = [];
  for (const v of all) {
    // Several warnings may be folded into one header, comma separated.
    const re = /299 - "((?:[^"\\]|\\.)*)"/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(v))) out.push(JSON.parse(`"${m[1]}"`) as string);
  }
  return out;
}

export async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface WatchEventRecord {
  type: string;
  object: any;
}

/** A client-node Watch collecting its events, with helpers to wait for them. */
export class Recorder {
  events: WatchEventRecord[] = [];
  done = false;
  doneErr: unknown;
  private controller?: AbortController;

  static async start(w: Watch, path: string, query: Record<string, string | number | boolean | undefined>): Promise<Recorder> {
    const r = new Recorder();
    r.controller = await w.watch(
      path,
      query,
      (type, object) => r.events.push({ type, object }),
      (err) => {
        r.done = true;
        r.doneErr = err;
      },
    );
    return r;
  }

  /** Waits until `n` events of the listed types (all types when empty) have arrived. */
  async waitFor(pred: (evs: WatchEventRecord[]) => boolean, what: string, ms = 10_000): Promise<WatchEventRecord[]> {
    await until(() => pred(this.events), `${what}; got ${JSON.stringify(this.events.map((e) => [e.type, e.object?.metadata?.name, e.object?.metadata?.resourceVersion]))}`, ms);
    return this.events;
  }

  of(...types: string[]): WatchEventRecord[] {
    return this.events.filter((e) => types.includes(e.type));
  }

  stop() {
    this.controller?.abort();
  }
}

export const randomSuffix = () => Math.random().toString(36).slice(2, 8);
