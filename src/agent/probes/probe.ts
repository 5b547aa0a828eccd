/**
 * One probe run, as the kubelet's prober.runProbe: dispatch on the handler (exec, httpGet,
 * tcpSocket, grpc) and return the result with the message the kubelet would put into the event.
 */
import type { Container, IntOrString, ProbeHandler } from '../pods/api-types.js';
import { execProbe } from './exec-probe.js';
import { grpcProbe } from './grpc-probe.js';
import { httpProbe } from './http-probe.js';
import { tcpProbe } from './tcp-probe.js';

/** What a probe needs of the container it checks. */
export interface ProbeTarget {
  podIP: string;
  container: Container;
  /** Runs argv in the container; output is stdout and stderr together. */
  exec(argv: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }>;
  /** The pod as the kubelet names it in messages (`name_namespace(uid)`), where known. */
  podDesc?: string;
}

/**
 * Upstream's probe.Result. `warning` counts as success but is reported (an HTTP redirect the
 * probe did not follow); `unknown` means the probe could not run at all (a port name the
 * container does not declare, the runtime failing to exec): the kubelet reports it and throws
 * the result away instead of counting it as a failure.
 */
export type ProbeResult = 'success' | 'warning' | 'failure' | 'unknown';

export interface ProbeOutcome {
  result: ProbeResult;
  /**
   * The kubelet's message: the command's output, the response body, or the error, e.g.
   * `Get "http://10.244.1.5:8080/healthz": dial tcp 10.244.1.5:8080: connect: connection refused`,
   * `HTTP probe failed with statuscode: 500`, `command "sleep 10" timed out`.
   */
  message: string;
}

/** The Kubernetes minor the probes announce themselves as (User-Agent `kube-probe/1.32`). */
export const KUBE_VERSION = '1.32';

export async function runProbe(handler: ProbeHandler, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  if (handler.exec) return execProbe(handler.exec, target, timeoutMs);
  if (handler.httpGet) return httpProbe(handler.httpGet, target, timeoutMs);
  if (handler.tcpSocket) return tcpProbe(handler.tcpSocket, target, timeoutMs);
  if (handler.grpc) return grpcProbe(handler.grpc, target, timeoutMs);
  const who = target.podDesc ? `${target.podDesc}:${target.container.name}` : target.container.name;
  return { result: 'unknown', message: `missing probe handler for ${who}` };
}

/** A port that cannot be resolved; the probe's result is `unknown`. */
export class PortResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortResolutionError';
  }
}

/**
 * probe.ResolveContainerPort: a number, or the name of one of the container's ports, or (last
 * resort) a number written as a string; 1–65535.
 */
export function resolvePort(port: IntOrString, container: Container): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else {
    const named = container.ports?.find((p) => p.name === port);
    if (named) n = named.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number(port);
    else throw new PortResolutionError(`strconv.Atoi: parsing ${JSON.stringify(port)}: invalid syntax`);
  }
  if (!(Number.isInteger(n) && n > 0 && n < 65536)) throw new PortResolutionError(`invalid port number: ${n}`);
  return n;
}
