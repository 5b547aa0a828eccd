/**
 * Names of everything the enforcer keeps in the node's `ip cairn` table. All start with
 * `policy-` (the part's prefix in the shared table). Per-object names carry a hash of the
 * object's namespace/name, so they are unique and stable, plus the readable namespace and name
 * (cut to nftables' 64 characters) for whoever lists the ruleset.
 */
import { createHash } from 'node:crypto';

/** Base chain on the forward hook: replies, then egress isolation, then ingress. */
export const FORWARD_CHAIN = 'policy-forward';
/** Ingress isolation of this node's pods; also where an egress-allowed packet continues. */
export const INGRESS_CHAIN = 'policy-ingress';
/** podIP → goto the pod's chain, for this node's pods isolated in each direction. */
export const EGRESS_PODS_MAP = 'policy-egress-pods';
export const INGRESS_PODS_MAP = 'policy-ingress-pods';
/** Addresses whose traffic to this node's pods is the node's own (the kubelet's probes). */
export const NODE_ADDRS_SET = 'policy-node-addrs';
export const PREFIX = 'policy-';

export type Direction = 'ingress' | 'egress';
const DIR = { ingress: 'in', egress: 'eg' } as const;

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function hash8(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** `policy-<kind>-<hash8 of key>[-<extra>]-<readable>`, cut to 64 characters. */
function objectName(kind: string, key: string, extra: string | undefined, readable: string): string {
  const parts = [PREFIX + kind, hash8(key), extra, slug(readable)].filter((p): p is string => !!p);
  return parts.join('-').slice(0, 64).replace(/-+$/, '');
}

/** The chain holding one pod's isolation in one direction: jumps to its policies, then drop. */
export function podChain(dir: Direction, namespace: string, name: string): string {
  return objectName(`pod-${DIR[dir]}`, `${namespace}/${name}`, undefined, `${namespace}-${name}`);
}

/** The chain holding one policy's rules of one direction. */
export function policyChain(dir: Direction, namespace: string, name: string): string {
  return objectName(DIR[dir], `${namespace}/${name}`, undefined, `${namespace}-${name}`);
}

export type PeerSetKind = 'pods' | 'cidrs' | 'named';
/** A set of one rule of one policy: its selected peers' pod IPs, its ipBlocks, its named ports. */
export function ruleSet(dir: Direction, namespace: string, name: string, rule: number, kind: PeerSetKind): string {
  return objectName(DIR[dir], `${namespace}/${name}`, `r${rule}-${kind}`, `${namespace}-${name}`);
}
