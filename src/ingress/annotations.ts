/**
 * The ingress-nginx annotations Cairn honours (same names, same defaults):
 *   nginx.ingress.kubernetes.io/rewrite-target      the URI sent upstream (may use the path's capture groups)
 *   nginx.ingress.kubernetes.io/use-regex           paths are (case-insensitive) regular expressions
 *   nginx.ingress.kubernetes.io/ssl-redirect        "false": no 308 to HTTPS for TLS hosts (default true)
 *   nginx.ingress.kubernetes.io/proxy-read-timeout  seconds (default 60; raise it for websockets)
 *   nginx.ingress.kubernetes.io/proxy-send-timeout  seconds (default 60)
 * A value that cannot be used is reported and ignored, as ingress-nginx falls back to its default.
 */
import type { Ingress } from './ingress-api.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';

export interface IngressAnnotations {
  rewriteTarget?: string;
  useRegex: boolean;
  sslRedirect: boolean;
  proxyReadTimeout?: number;
  proxySendTimeout?: number;
}

export interface AnnotationProblem {
  annotation: string;
  message: string;
}

function bool(v: string | undefined, dflt: boolean): boolean | undefined {
  if (v === undefined) return dflt;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

export function parseAnnotations(ing: Ingress): { annotations: IngressAnnotations; problems: AnnotationProblem[] } {
  const a = ing.metadata.annotations ?? {};
  const problems: AnnotationProblem[] = [];
  const flag = (name: string, dflt: boolean) => {
    const v = bool(a[PREFIX + name], dflt);
    if (v === undefined) problems.push({ annotation: PREFIX + name, message: `must be "true" or "false", not ${JSON.stringify(a[PREFIX + name])}` });
    return v ?? dflt;
  };
  const seconds = (name: string) => {
    const v = a[PREFIX + name];
    if (v === undefined) return undefined;
    if (/^\d{1,6}$/.test(v) && Number(v) > 0) return Number(v);
    problems.push({ annotation: PREFIX + name, message: `must be a whole number of seconds, not ${JSON.stringify(v)}` });
    return undefined;
  };
  let rewriteTarget: string | undefined = a[PREFIX + 'rewrite-target'];
  // It becomes an nginx rewrite replacement: no blanks, quotes, braces or semicolons (which
  // could end the directive), no control characters.
  if (rewriteTarget !== undefined && !/^[^\s"'{};\\\x00-\x1f\x7f]+$/.test(rewriteTarget)) {
    problems.push({ annotation: PREFIX + 'rewrite-target', message: `${JSON.stringify(rewriteTarget)} is not a usable URI` });
    rewriteTarget = undefined;
  }
  return {
    annotations: {
      rewriteTarget,
      useRegex: flag('use-regex', false),
      sslRedirect: flag('ssl-redirect', true),
      proxyReadTimeout: seconds('proxy-read-timeout'),
      proxySendTimeout: seconds('proxy-send-timeout'),
    },
    problems,
  };
}
