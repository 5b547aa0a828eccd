/**
 * The httpGet probe (upstream pkg/probe/http DoHTTPProbe): 200–299 is success with the body as
 * the message; 300–399 (a redirect the probe did not follow because it leaves the host) is
 * success with a warning; anything else fails with `HTTP probe failed with statuscode: N` —
 * never the body, which may hold secrets. A request that cannot complete fails with Go's error.
 */
import type { HTTPGetAction } from '../pods/api-types.js';
import { buildHttpGetRequest, httpGet, HttpGetError, type HttpGetRequest } from './http-get.js';
import { PortResolutionError, type ProbeOutcome, type ProbeTarget } from './probe.js';

export async function httpProbe(action: HTTPGetAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  let req: HttpGetRequest;
  try {
    req = buildHttpGetRequest(action, target, 'probe');
  } catch (e) {
    if (e instanceof PortResolutionError) return { result: 'unknown', message: e.message };
    throw e;
  }
  let res;
  try {
    res = await httpGet(req, timeoutMs);
  } catch (e) {
    if (!(e instanceof HttpGetError)) throw e;
    // A body cut short is a probe error upstream; everything else (timeouts included) a failure.
    return { result: e.duringBody ? 'unknown' : 'failure', message: e.message };
  }
  if (res.status >= 200 && res.status < 300) return { result: 'success', message: res.body };
  if (res.status >= 300 && res.status < 400) return { result: 'warning', message: `Probe terminated redirects, Response body: ${res.body}` };
  return { result: 'failure', message: `HTTP probe failed with statuscode: ${res.status}` };
}
