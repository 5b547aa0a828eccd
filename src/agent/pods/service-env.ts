/**
 * Docker-links-style environment variables for Services, as the kubelet's
 * `getServiceEnvVarMap` + `envvars.FromServices`: for every Service with a cluster IP,
 * `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT` (the first port), `<NAME>_SERVICE_PORT_<PORT NAME>`
 * for named ports, and `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>` (+ `_PROTO`, `_PORT`, `_ADDR`).
 * The `kubernetes` Service of the default namespace is always given (the "master service"); the
 * pod's own namespace's Services only with enableServiceLinks (see env.ts).
 */
import type { KubeObject } from '../../util/object.js';

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}
interface ServiceLike extends KubeObject {
  spec?: { clusterIP?: string; ports?: ServicePort[] };
}

const MASTER_NAMESPACE = 'default';
const MASTER_SERVICE = 'kubernetes';

const envName = (s: string) => s.toUpperCase().replace(/-/g, '_');

/** The variables of one Service (none for headless or IP-less Services). */
export function serviceVariables(svc: ServiceLike): Record<string, string> {
  const ip = svc.spec?.clusterIP;
  const ports = svc.spec?.ports ?? [];
  if (!ip || ip === 'None' || !ports.length) return {};
  const name = envName(svc.metadata.name ?? '');
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const out: Record<string, string> = {
    [`${name}_SERVICE_HOST`]: ip,
    [`${name}_SERVICE_PORT`]: String(ports[0]!.port),
  };
  for (const p of ports) if (p.name) out[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
  const first = ports[0]!;
  out[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${host}:${first.port}`;
  for (const p of ports) {
    const proto = (p.protocol ?? 'TCP').toUpperCase();
    const prefix = `${name}_PORT_${p.port}_${proto}`;
    out[prefix] = `${proto.toLowerCase()}://${host}:${p.port}`;
    out[`${prefix}_PROTO`] = proto.toLowerCase();
    out[`${prefix}_PORT`] = String(p.port);
    out[`${prefix}_ADDR`] = ip;
  }
  return out;
}

/** The pod namespace's Services' variables (for enableServiceLinks). */
export function namespaceServiceEnv(services: ServiceLike[], namespace: string): Record<string, string> {
  const out: Record<string, string> = {};
  // Upstream orders by name so that a later Service never silently wins over an earlier one.
  for (const s of [...services].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
    if (s.metadata.namespace !== namespace) continue;
    Object.assign(out, serviceVariables(s));
  }
  return out;
}

/** The master service's variables (KUBERNETES_SERVICE_HOST, ...), given to every container. */
export function masterServiceEnv(services: ServiceLike[]): Record<string, string> {
  const master = services.find((s) => s.metadata.namespace === MASTER_NAMESPACE && s.metadata.name === MASTER_SERVICE);
  return master ? serviceVariables(master) : {};
}
