/**
 * postStart / preStop handlers, as upstream's lifecycle handlerRunner (pkg/kubelet/lifecycle,
 * handlers.go in 1.32):
 * - exec: the command in the container (not `$(VAR)`-expanded, unlike probes); a non-zero exit fails.
 * - httpGet: the probe's request (`User-Agent: kube-lifecycle/1.32`); only a request that cannot
 *   complete fails — the response's status code is not looked at. An HTTPS hook answered in
 *   plain HTTP is retried over HTTP without the Authorization header.
 * - sleep: waits; it fails when the time allowed ends first.
 * - tcpSocket: accepted by the API only for compatibility; the kubelet has no runner for it, so
 *   the hook fails with "invalid handler" (what the field's documentation warns of).
 * The caller bounds the hook with timeoutMs (preStop: the grace period) and decides what a
 * failure means (postStart: event FailedPostStartHook and the container is killed; preStop:
 * event FailedPreStopHook and the stop goes on).
 */
import type { HTTPGetAction, IntOrString, LifecycleHandler } from '../pods/api-types.js';
import { goQuote } from './go-format.js';
import { buildHttpGetRequest, httpGet, HttpGetError } from './http-get.js';
import type { ProbeTarget } from './probe.js';

export interface HookResult {
  ok: boolean;
  /** Upstream's failure message (empty on success). */
  message: string;
}

export async function runLifecycleHandler(handler: LifecycleHandler, target: ProbeTarget, timeoutMs: number): Promise<HookResult> {
  const where = `for Container ${goQuote(target.container.name)}${target.podDesc ? ` in Pod ${goQuote(target.podDesc)}` : ''}`;
  if (handler.exec) {
    const command = handler.exec.command ?? [];
    const error = await runExec(command, target, timeoutMs);
    if (!error) return { ok: true, message: '' };
    return { ok: false, message: `Exec lifecycle hook ([${command.join(' ')}]) ${where} failed - error: ${error.error}, message: ${goQuote(error.output)}` };
  }
  if (handler.httpGet) {
    const error = await runHttp(handler.httpGet, target, timeoutMs);
    if (!error) return { ok: true, message: '' };
    return { ok: false, message: `HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${where} failed - error: ${error}` };
  }
  if (handler.sleep) {
    const ms = handler.sleep.seconds * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(ms, timeoutMs))));
    if (ms <= timeoutMs) return { ok: true, message: '' };
    return { ok: false, message: `Sleep lifecycle hook (${handler.sleep.seconds}) ${where} failed - error: container terminated before sleep hook finished` };
  }
  return { ok: false, message: `Cannot run handler: invalid handler: ${goHandlerString(handler)}` };
}

async function runExec(command: string[], target: ProbeTarget, timeoutMs: number): Promise<{ error: string; output: string } | null> {
  try {
    const r = await target.exec(command, timeoutMs);
    if (r.timedOut) return { error: `command ${goQuote(command.join(' '))} timed out`, output: r.output };
    if (r.exitCode !== 0) return { error: `command '${command.join(' ')}' exited with ${r.exitCode}: ${r.output}`, output: r.output };
    return null;
  } catch (e) {
    return { error: (e as Error).message, output: '' };
  }
}

/** The request's error text, or null when a response came (whatever its status). */
async function runHttp(action: HTTPGetAction, target: ProbeTarget, timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let req;
  try {
    req = buildHttpGetRequest(action, target, 'lifecycle');
  } catch (e) {
    return (e as Error).message;
  }
  try {
    await httpGet(req, timeoutMs);
    return null;
  } catch (e) {
    if (!(e instanceof HttpGetError)) throw e;
    if (!e.httpResponseToHttps) return e.duringBody ? null : e.message;
    // Upstream's compatibility fallback for hooks declared HTTPS against plain-HTTP servers.
    const plain = new URL(req.url);
    plain.protocol = 'http:';
    const headers = { ...req.headers };
    delete headers.Authorization;
    try {
      await httpGet({ ...req, url: plain, urlText: req.urlText.replace(/^https:/, 'http:'), headers }, Math.max(1, deadline - Date.now()));
      return null;
    } catch {
      return e.message;
    }
  }
}

/** The handler as Go's %v prints it (the generated String() of the API struct). */
function goHandlerString(h: LifecycleHandler): string {
  const intOrString = (v: IntOrString) => (typeof v === 'number' ? `{0 ${v} }` : `{1 0 ${v}}`);
  const tcp = h.tcpSocket ? `&TCPSocketAction{Port:${intOrString(h.tcpSocket.port)},Host:${h.tcpSocket.host ?? ''},}` : 'nil';
  return `&LifecycleHandler{Exec:nil,HTTPGet:nil,TCPSocket:${tcp},Sleep:nil,}`;
}
