/**
 * NetworkPolicies + pods + namespaces → the node's policy ruleset (networking.k8s.io/v1
 * semantics), for the pods of one node:
 *
 *   policy-forward (filter, forward, priority 0 — after the Service DNAT, so it sees endpoint
 *   pod addresses and target ports):
 *     ct state established,related accept          replies of allowed connections
 *     ip saddr vmap @policy-egress-pods            goto the source pod's egress chain
 *     goto policy-ingress
 *   policy-ingress:
 *     ip saddr @policy-node-addrs accept           the node's own traffic (kubelet probes)
 *     ip daddr vmap @policy-ingress-pods           goto the destination pod's ingress chain
 *     accept                                       not isolated
 *   per isolated pod and direction (policy-pod-in-… / policy-pod-eg-…):
 *     ct state invalid drop; jump <each policy selecting it>; drop ("default deny …")
 *   per policy and direction (policy-in-… / policy-eg-…), one rule per peer kind × port entry:
 *     ip saddr @<rule's selected pod IPs> meta l4proto tcp th dport 80 accept   (ingress)
 *     ip daddr @<rule's ipBlocks, interval> … goto policy-ingress                (egress)
 *
 * An egress rule that allows continues to ingress isolation (the destination may be a pod of
 * this node) instead of accepting; an ingress rule accepts. A pod selected by any policy of a
 * direction is isolated in it: only what some policy allows passes (the union of policies).
 * Traffic between a pod and its own node never reaches the forward hook (it is input/output),
 * so it is always allowed, as upstream requires; DNS is not special.
 */
import type { Pod } from '../agent/pods/api-types.js';
import type { NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec } from '../kinds/networking/network-policy.js';
import { labelSelectorAsSelector, type Selector } from '../kinds/label-selector.js';
import { nv, rule, withComment, type NftRule } from '../net/nft.js';
import type { KubeObject } from '../util/object.js';
import { ipBlockPrefixes } from './ipv4-blocks.js';
import {
  EGRESS_PODS_MAP,
  FORWARD_CHAIN,
  INGRESS_CHAIN,
  INGRESS_PODS_MAP,
  NODE_ADDRS_SET,
  type Direction,
  podChain,
  policyChain,
  ruleSet,
} from './nft-names.js';
import { type PolicyPod, type Protocol, policyPod } from './policy-pods.js';
import { type Element, type MapEntry, type Ruleset, elementText, emptyRuleset } from './ruleset.js';

export interface NetworkPolicy extends KubeObject {
  spec?: NetworkPolicySpec;
}

export interface CompileInput {
  nodeName: string;
  /** Sources that are this node itself as its pods see it (the agent's address when it drives a node namespace). */
  nodeAddresses: string[];
  policies: NetworkPolicy[];
  /** Every pod of the cluster: peers are named on any node. */
  pods: Pod[];
  namespaces: KubeObject[];
}

const DIRECTIONS: Direction[] = ['ingress', 'egress'];
const TYPE = { ingress: 'Ingress', egress: 'Egress' } as const;
const COMMENT_MAX = 128;

/** policyTypes as upstream defaults them: Ingress always, Egress when there are egress rules. */
export function policyTypes(spec: NetworkPolicySpec): Direction[] {
  const types = spec.policyTypes?.length ? spec.policyTypes : spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress'];
  return DIRECTIONS.filter((d) => types.includes(TYPE[d]));
}

/** Joins rule fragments (each made with `rule`) into one rule. */
function joined(parts: (NftRule | undefined)[], comment: string): NftRule {
  const text = parts
    .filter((p): p is NftRule => p !== undefined)
    .map((p) => p.text)
    .join(' ');
  return withComment({ text }, comment.length > COMMENT_MAX ? comment.slice(0, COMMENT_MAX) : comment);
}

function setOf(elements: Element[]): Map<string, Element> {
  return new Map(elements.map((e) => [elementText(e), e]));
}

/** What the compiler reads of the cluster, indexed once per compile. */
class ClusterView {
  readonly pods: PolicyPod[];
  private readonly byNamespace = new Map<string, PolicyPod[]>();
  private readonly nsLabels = new Map<string, Record<string, string>>();

  constructor(input: CompileInput) {
    this.pods = input.pods.map(policyPod).filter((p): p is PolicyPod => p !== undefined);
    for (const p of this.pods) {
      const list = this.byNamespace.get(p.namespace) ?? [];
      list.push(p);
      this.byNamespace.set(p.namespace, list);
    }
    for (const ns of input.namespaces) this.nsLabels.set(ns.metadata.name ?? '', ns.metadata.labels ?? {});
  }

  inNamespace(ns: string): PolicyPod[] {
    return this.byNamespace.get(ns) ?? [];
  }

  /** A peer's pods: podSelector in the policy's namespace, namespaceSelector's namespaces, or both (AND). */
  peerPods(peer: NetworkPolicyPeer, policyNamespace: string): PolicyPod[] {
    let podSel: Selector | undefined;
    if (peer.podSelector) {
      const s = labelSelectorAsSelector(peer.podSelector);
      if (!s) return [];
      podSel = s;
    }
    const pods = (list: PolicyPod[]) => (podSel ? list.filter((p) => podSel.matches(p.labels)) : list);
    if (!peer.namespaceSelector) return pods(this.inNamespace(policyNamespace));
    const nsSel = labelSelectorAsSelector(peer.namespaceSelector);
    if (!nsSel) return [];
    return [...this.byNamespace.keys()].filter((ns) => nsSel.matches(this.nsLabels.get(ns) ?? {})).flatMap((ns) => pods(this.inNamespace(ns)));
  }
}

interface Matcher {
  frag?: NftRule;
  /** Which entries of the rule it stands for, for the comment ("from[0,2]", "ports[1]"). */
  label?: string;
}

interface PolicyRef {
  namespace: string;
  name: string;
}

interface Isolation {
  pod: PolicyPod;
  /** Policy chain name → its policy. */
  chains: Map<string, PolicyRef>;
}

class Compiler {
  readonly rs = emptyRuleset();
  private readonly view: ClusterView;
  private readonly local: PolicyPod[];
  /**
   * Per direction, the local pods isolated in it (by namespace/name) with the chains of the
   * policies that select them and have rules; a pod here with no chain is denied everything.
   */
  private readonly isolation: Record<Direction, Map<string, Isolation>> = { ingress: new Map(), egress: new Map() };

  constructor(private readonly input: CompileInput) {
    this.view = new ClusterView(input);
    this.local = this.view.pods.filter((p) => p.nodeName === input.nodeName);
  }

  compile(): Ruleset {
    const policies = [...this.input.policies].sort((a, b) => key(a).localeCompare(key(b)));
    for (const np of policies) this.policy(np);
    for (const dir of DIRECTIONS) this.podChains(dir);
    this.skeleton();
    return this.rs;
  }

  private policy(np: NetworkPolicy): void {
    const spec = np.spec ?? {};
    const ref = { namespace: np.metadata.namespace ?? 'default', name: np.metadata.name ?? '' };
    const sel = labelSelectorAsSelector(spec.podSelector ?? {});
    if (!sel) return;
    const targets = this.local.filter((p) => p.namespace === ref.namespace && sel.matches(p.labels));
    if (!targets.length) return;
    for (const dir of policyTypes(spec)) {
      const rules = (dir === 'ingress' ? spec.ingress : spec.egress) ?? [];
      const chain = rules.length ? policyChain(dir, ref.namespace, ref.name) : undefined;
      for (const t of targets) {
        const k = `${t.namespace}/${t.name}`;
        const iso: Isolation = this.isolation[dir].get(k) ?? { pod: t, chains: new Map() };
        if (chain) iso.chains.set(chain, ref);
        this.isolation[dir].set(k, iso);
      }
      if (chain) this.policyRules(dir, ref, chain, rules, targets);
    }
  }

  private policyRules(
    dir: Direction,
    ref: PolicyRef,
    chain: string,
    rules: { ports?: NetworkPolicyPort[]; from?: NetworkPolicyPeer[]; to?: NetworkPolicyPeer[] }[],
    targets: PolicyPod[],
  ): void {
    const out: NftRule[] = [];
    const verdict = dir === 'ingress' ? rule`accept` : rule`goto ${nv.chain(INGRESS_CHAIN)}`;
    rules.forEach((r, i) => {
      const peers = this.peerMatchers(dir, ref, i, (dir === 'ingress' ? r.from : r.to) ?? []);
      const ports = this.portMatchers(dir, ref, i, r.ports ?? [], targets);
      for (const pe of peers) {
        for (const po of ports) {
          const what = [`policy ${ref.namespace}/${ref.name} ${dir}[${i}]`, pe.label, po.label].filter((x) => x).join(' ');
          out.push(joined([pe.frag, po.frag, verdict], what));
        }
      }
    });
    this.rs.chains.set(chain, { spec: { name: chain }, rules: out });
  }

  /** Empty peers: every source/destination. Otherwise a set of selected pod IPs and/or an interval set of ipBlocks. */
  private peerMatchers(dir: Direction, ref: PolicyRef, i: number, peers: NetworkPolicyPeer[]): Matcher[] {
    if (!peers.length) return [{}];
    const word = dir === 'ingress' ? 'from' : 'to';
    const out: Matcher[] = [];
    const selectors = peers.map((p, j) => [p, j] as const).filter(([p]) => !p.ipBlock);
    const blocks = peers.map((p, j) => [p, j] as const).filter(([p]) => p.ipBlock);
    if (selectors.length) {
      const name = ruleSet(dir, ref.namespace, ref.name, i, 'pods');
      const ips = new Set(selectors.flatMap(([p]) => this.view.peerPods(p, ref.namespace).map((x) => x.ip)));
      this.rs.sets.set(name, { spec: { name, type: 'ipv4_addr' }, elements: setOf([...ips].sort().map((ip) => nv.ip(ip))) });
      out.push({ frag: this.addrMatch(dir, name), label: `${word}[${selectors.map(([, j]) => j).join(',')}]` });
    }
    if (blocks.length) {
      const name = ruleSet(dir, ref.namespace, ref.name, i, 'cidrs');
      const prefixes = ipBlockPrefixes(blocks.map(([p]) => p.ipBlock!));
      this.rs.sets.set(name, { spec: { name, type: 'ipv4_addr', flags: ['interval'] }, elements: setOf(prefixes.map((c) => nv.cidr(c))) });
      out.push({ frag: this.addrMatch(dir, name), label: `${word}[${blocks.map(([, j]) => j).join(',')}] ipBlock` });
    }
    return out;
  }

  private addrMatch(dir: Direction, set: string): NftRule {
    return dir === 'ingress' ? rule`ip saddr ${nv.set(set)}` : rule`ip daddr ${nv.set(set)}`;
  }

  /**
   * Empty ports: every port. A numeric port or range matches the (post-DNAT) destination port; a
   * named port is resolved against the destination pod — the selected pod for ingress, the peer
   * for egress — through a set of podIP . protocol . port.
   */
  private portMatchers(dir: Direction, ref: PolicyRef, i: number, ports: NetworkPolicyPort[], targets: PolicyPod[]): Matcher[] {
    if (!ports.length) return [{}];
    const out: Matcher[] = [];
    const named: { name: string; protocol: Protocol; j: number }[] = [];
    ports.forEach((p, j) => {
      const protocol = (p.protocol ?? 'TCP') as Protocol;
      const proto = nv.proto(protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp');
      const label = `ports[${j}]`;
      if (p.port === undefined) out.push({ frag: rule`meta l4proto ${proto}`, label });
      else if (typeof p.port === 'string') named.push({ name: p.port, protocol, j });
      else if (p.endPort !== undefined) out.push({ frag: rule`meta l4proto ${proto} th dport ${nv.port(p.port)}-${nv.port(p.endPort)}`, label });
      else out.push({ frag: rule`meta l4proto ${proto} th dport ${nv.port(p.port)}`, label });
    });
    if (named.length) {
      const name = ruleSet(dir, ref.namespace, ref.name, i, 'named');
      const destinations = dir === 'ingress' ? targets : this.view.pods;
      const elements: Element[] = [];
      for (const pod of destinations) {
        for (const np of pod.namedPorts) {
          if (named.some((n) => n.name === np.name && n.protocol === np.protocol)) {
            elements.push([nv.ip(pod.ip), nv.proto(np.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp'), nv.port(np.port)]);
          }
        }
      }
      this.rs.sets.set(name, { spec: { name, type: 'ipv4_addr . inet_proto . inet_service' }, elements: setOf(elements) });
      out.push({ frag: rule`ip daddr . meta l4proto . th dport ${nv.set(name)}`, label: `ports[${named.map((n) => n.j).join(',')}]` });
    }
    return out;
  }

  private podChains(dir: Direction): void {
    const map = dir === 'ingress' ? INGRESS_PODS_MAP : EGRESS_PODS_MAP;
    const entries = new Map<string, MapEntry>();
    for (const { pod, chains } of this.isolation[dir].values()) {
      const chain = podChain(dir, pod.namespace, pod.name);
      const who = `${pod.namespace}/${pod.name}`;
      const rules: NftRule[] = [withComment(rule`ct state invalid drop`, `invalid conntrack state ${dir} ${who}`)];
      const sorted = [...chains].sort(([, a], [, b]) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
      for (const [c, ref] of sorted) rules.push(joined([rule`jump ${nv.chain(c)}`], `policy ${ref.namespace}/${ref.name}`));
      rules.push(joined([rule`drop`], `default deny ${dir} ${who}`));
      this.rs.chains.set(chain, { spec: { name: chain }, rules });
      const k = nv.ip(pod.ip);
      entries.set(elementText(k), [k, nv.verdict({ goto: chain }), who]);
    }
    this.rs.maps.set(map, { spec: { name: map, type: 'ipv4_addr', valueType: 'verdict' }, entries });
  }

  private skeleton(): void {
    this.rs.chains.set(FORWARD_CHAIN, {
      spec: { name: FORWARD_CHAIN, base: { type: 'filter', hook: 'forward', priority: 0 } },
      rules: [
        withComment(rule`ct state established,related accept`, 'replies of allowed connections'),
        withComment(rule`ip saddr vmap ${nv.set(EGRESS_PODS_MAP)}`, 'pods of this node isolated for egress'),
        withComment(rule`goto ${nv.chain(INGRESS_CHAIN)}`, 'ingress isolation'),
      ],
    });
    this.rs.chains.set(INGRESS_CHAIN, {
      spec: { name: INGRESS_CHAIN },
      rules: [
        withComment(rule`ip saddr ${nv.set(NODE_ADDRS_SET)} accept`, 'from this node (kubelet probes)'),
        withComment(rule`ip daddr vmap ${nv.set(INGRESS_PODS_MAP)}`, 'pods of this node isolated for ingress'),
        withComment(rule`accept`, 'not isolated for ingress'),
      ],
    });
    this.rs.sets.set(NODE_ADDRS_SET, { spec: { name: NODE_ADDRS_SET, type: 'ipv4_addr' }, elements: setOf(this.input.nodeAddresses.map((a) => nv.ip(a))) });
  }
}

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/** The policy ruleset of `input.nodeName`'s pods. */
export function compilePolicies(input: CompileInput): Ruleset {
  return new Compiler(input).compile();
}
