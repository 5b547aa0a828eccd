// The Network Plumbing Working Group's pod annotations, as Multus reads and writes them:
// `k8s.v1.cni.cncf.io/networks` asks for extra interfaces — a comma list of `name`,
// `namespace/name`, `name@ifname` (Multus' parsePodNetworkObjectName) or a JSON list of
// NetworkSelectionElements — and `k8s.v1.cni.cncf.io/network-status` reports every interface
// the pod got (the cluster network first). Pure, so the parsing is unit-tested.
import { checkIfName, checkMac, InvalidArgumentError } from './ip.js';

export const ANN_NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const ANN_NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
/** The name network-status gives the cluster (pod) network, as Multus names its default delegate. */
export const CLUSTER_NETWORK_NAME = 'cairn';

export class NetworksAnnotationError extends Error {
  override name = 'NetworksAnnotationError';
}

/** One requested attachment (the NetworkSelectionElement fields Cairn honours). */
export interface NetworkSelection {
  name: string;
  namespace: string;
  /** The interface in the pod: `interface` / `@ifname`, else net1, net2, … by position. */
  interface: string;
  mac?: string;
  /** Addresses for a static IPAM with the `ips` capability (CIDR form). */
  ips?: string[];
}

/** One network-status entry. */
export interface NetworkStatus {
  name: string;
  interface: string;
  ips?: string[];
  mac?: string;
  default?: boolean;
  dns: Record<string, never>;
}

/** Multus' check on each part of `namespace/name@ifname`: a DNS-1123 subdomain. */
const ITEM = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkItem(item: string): void {
  if (item && !ITEM.test(item))
    throw new NetworksAnnotationError(
      `failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ '${item}'`,
    );
}

function parseObjectName(text: string): { namespace?: string; name: string; ifname?: string } {
  const slash = text.split('/');
  if (slash.length > 2) throw new NetworksAnnotationError(`invalid network object (failed at '/'): ${JSON.stringify(text)}`);
  const namespace = slash.length === 2 ? slash[0]!.trim() : undefined;
  const at = slash[slash.length - 1]!.split('@');
  if (at.length > 2) throw new NetworksAnnotationError(`invalid network object (failed at '@'): ${JSON.stringify(text)}`);
  const name = at[0]!.trim();
  const ifname = at.length === 2 ? at[1]!.trim() : undefined;
  checkItem(namespace ?? '');
  checkItem(name);
  if (!name) throw new NetworksAnnotationError(`invalid network object: no network name in ${JSON.stringify(text)}`);
  return { ...(namespace ? { namespace } : {}), name, ...(ifname ? { ifname } : {}) };
}

function str(v: unknown, field: string, i: number): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new NetworksAnnotationError(`element ${i}: ${field} must be a string`);
  return v;
}

function checked<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new NetworksAnnotationError(`${what}: ${e.message}`);
    throw e;
  }
}

/** The attachments a networks annotation asks for, in order; namespace defaults to the pod's. */
export function parseNetworksAnnotation(value: string, podNamespace: string): NetworkSelection[] {
  const text = value.trim();
  if (!text) return [];
  let raw: { name: string; namespace?: string; ifname?: string; mac?: string; ips?: string[] }[];
  if (text.startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (e) {
      throw new NetworksAnnotationError(`parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: ${(e as Error).message}`);
    }
    if (!Array.isArray(list)) throw new NetworksAnnotationError('the networks annotation must be a JSON list');
    raw = list.map((el: unknown, i) => {
      if (typeof el !== 'object' || el === null) throw new NetworksAnnotationError(`element ${i} is not an object`);
      const o = el as Record<string, unknown>;
      const name = str(o['name'], 'name', i);
      if (!name) throw new NetworksAnnotationError(`element ${i} has no name`);
      const namespace = str(o['namespace'], 'namespace', i);
      checkItem(name);
      checkItem(namespace ?? '');
      const ips = o['ips'];
      if (ips !== undefined && !(Array.isArray(ips) && ips.every((x) => typeof x === 'string'))) throw new NetworksAnnotationError(`element ${i}: ips must be a list of strings`);
      return { name, namespace, ifname: str(o['interface'], 'interface', i), mac: str(o['mac'], 'mac', i), ips: ips as string[] | undefined };
    });
  } else {
    raw = text.split(',').map((item) => parseObjectName(item.trim()));
  }
  const out = raw.map((r, i) => {
    const ifname = r.ifname ?? `net${i + 1}`;
    checked(`interface of ${r.name}`, () => checkIfName(ifname));
    return {
      name: r.name,
      namespace: r.namespace || podNamespace,
      interface: ifname,
      ...(r.mac ? { mac: checked(`mac of ${r.name}`, () => checkMac(r.mac!)) } : {}),
      ...(r.ips?.length ? { ips: r.ips } : {}),
    };
  });
  const seen = new Set<string>(['eth0', 'lo']);
  for (const s of out) {
    if (seen.has(s.interface)) throw new NetworksAnnotationError(`interface name ${s.interface} is used twice in the pod`);
    seen.add(s.interface);
  }
  return out;
}
