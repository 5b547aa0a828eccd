/**
 * Accept-header negotiation for Kubernetes' "as" media types: `application/json;as=Table;v=v1;g=meta.k8s.io`
 * and friends. Returns the version of the first alternative asking for `as` in group `g`.
 */
export function acceptedAs(accept: string | undefined, as: string, group: string): string | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const params = new Map(
      part
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string]),
    );
    if (params.get('as') === as && params.get('g') === group) return params.get('v') ?? '';
  }
  return undefined;
}
