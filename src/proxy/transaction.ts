/**
 * The proxy's nftables transactions. An incremental one turns what the kernel holds for some
 * Services into what they need now, touching nothing else; a full resync flushes and refills
 * everything of the proxy and deletes per-Service objects the kernel has that nothing needs —
 * both as one `nft -f` script, so the kernel moves from one consistent state to the next.
 *
 * Within a script the order matters: elements and rules that point at a chain or set go before
 * the chain or set is deleted, and chains and sets exist before anything points at them.
 */
import type { NftRule, NftScript, NftValue } from '../net/nft.js';
import { AFFINITY_SET, PER_SERVICE_CHAIN, SERVICE_CHAIN } from './names.js';
import { CONTAINER_KIND, elementPayload, type ElementSpec, type RulesetConfig, type ServiceRules, writeFixedRuleset } from './ruleset.js';

export interface ServiceChange {
  /** What the kernel holds for the Service (none: nothing). */
  before?: ServiceRules;
  /** What it needs now (none: nothing). */
  after?: ServiceRules;
}

const EMPTY: ServiceRules = { chains: new Map(), affinitySets: new Map(), elements: new Map() };
const rulesText = (rules: readonly { text: string; comment?: string }[]) => rules.map((r) => `${r.text}|${r.comment ?? ''}`).join('\n');
const affinitySpec = (name: string, timeout: number) => ({ name, type: 'ipv4_addr', flags: ['dynamic' as const, 'timeout' as const], timeout });

/** The commands of a script, gathered by phase so they can be emitted in a safe order. */
class Plan {
  readonly deleteElements: ElementSpec[] = [];
  readonly flushChains = new Set<string>();
  readonly deleteSets = new Set<string>();
  readonly deleteChains = new Set<string>();
  readonly addSets = new Map<string, number>();
  readonly addChains = new Set<string>();
  readonly fillChains = new Map<string, NftRule[]>();
  readonly addElements: ElementSpec[] = [];

  get size(): number {
    return this.deleteElements.length + this.flushChains.size + this.deleteSets.size + this.deleteChains.size + this.addSets.size + this.addChains.size + this.fillChains.size + this.addElements.length;
  }

  write(s: NftScript): void {
    for (const [container, elems] of byContainer(this.deleteElements)) s.deleteElements(container, elems.map((e) => e.key));
    for (const c of this.flushChains) s.flushChain(c);
    for (const set of this.deleteSets) s.deleteSet(set);
    for (const c of this.deleteChains) s.deleteChain(c);
    for (const [set, timeout] of this.addSets) s.addSet(affinitySpec(set, timeout));
    for (const c of this.addChains) s.addChain({ name: c });
    // The kernel walks the whole transaction each time a rule binds an anonymous map (the
    // Service chains' numgen vmaps): those rules go first, while the transaction is short.
    const fill = [...this.fillChains].sort(([a], [b]) => Number(!SERVICE_CHAIN.test(a)) - Number(!SERVICE_CHAIN.test(b)));
    for (const [c, rules] of fill) for (const r of rules) s.addRule(c, r);
    for (const [container, elems] of byContainer(this.addElements)) {
      if (CONTAINER_KIND[container] === 'map') s.addMapElements(container, elems.map((e): [NftValue[], NftValue, string?] => [e.key, e.value!, e.comment]));
      else s.addElements(container, elems.map((e) => e.key));
    }
  }
}

function byContainer(elems: ElementSpec[]): Map<string, ElementSpec[]> {
  const out = new Map<string, ElementSpec[]>();
  for (const e of elems) {
    const list = out.get(e.container);
    if (list) list.push(e);
    else out.set(e.container, [e]);
  }
  return out;
}

function planChange(plan: Plan, change: ServiceChange): void {
  const before = change.before ?? EMPTY;
  const after = change.after ?? EMPTY;
  for (const [id, e] of before.elements) {
    const now = after.elements.get(id);
    if (!now || elementPayload(now) !== elementPayload(e)) plan.deleteElements.push(e);
  }
  for (const [id, e] of after.elements) {
    const was = before.elements.get(id);
    if (!was || elementPayload(was) !== elementPayload(e)) plan.addElements.push(e);
  }
  // A set whose timeout changes is made again, so every rule of the Service that uses it is too.
  const setChanged = [...after.affinitySets].some(([name, t]) => before.affinitySets.has(name) && before.affinitySets.get(name) !== t);
  for (const [name, rules] of before.chains) {
    const now = after.chains.get(name);
    if (!now) {
      plan.flushChains.add(name);
      plan.deleteChains.add(name);
    } else if (setChanged || rulesText(now) !== rulesText(rules)) {
      plan.flushChains.add(name);
      plan.fillChains.set(name, now);
    }
  }
  for (const [name, rules] of after.chains) {
    if (before.chains.has(name)) continue;
    plan.addChains.add(name);
    plan.fillChains.set(name, rules);
  }
  for (const [name, t] of before.affinitySets) if (after.affinitySets.get(name) !== t) plan.deleteSets.add(name);
  for (const [name, t] of after.affinitySets) if (before.affinitySets.get(name) !== t) plan.addSets.set(name, t);
}

/** Adds the commands that move each Service from `before` to `after`; returns how many changes there are. */
export function writeServiceChanges(s: NftScript, changes: Iterable<ServiceChange>): number {
  const plan = new Plan();
  for (const c of changes) planChange(plan, c);
  plan.write(s);
  return plan.size;
}

/** The proxy's per-Service objects the kernel holds (from `list chains` and `list sets`). */
export interface KernelObjects {
  chains: string[];
  /** Affinity sets and their timeouts (undefined: the kernel shows none). */
  affinitySets: Map<string, number | undefined>;
}

/**
 * Adds a full resync: the fixed ruleset made and emptied, every per-Service chain of the kernel
 * flushed, then everything of `services` filled in; kernel chains and affinity sets no Service
 * needs are deleted. Affinity sets that stay keep their entries (clients stay where they were).
 */
export function writeFullResync(s: NftScript, cfg: RulesetConfig, kernel: KernelObjects, services: Iterable<ServiceRules>): void {
  writeFixedRuleset(s, cfg);
  const plan = new Plan();
  for (const svc of services) {
    for (const [name, rules] of svc.chains) {
      plan.addChains.add(name);
      plan.fillChains.set(name, rules);
    }
    for (const [name, t] of svc.affinitySets) plan.addSets.set(name, t);
    plan.addElements.push(...svc.elements.values());
  }
  const ownChains = kernel.chains.filter((c) => PER_SERVICE_CHAIN.test(c));
  for (const c of ownChains) {
    plan.flushChains.add(c);
    // A chain that stays is flushed and refilled, not added again (a shorter transaction).
    if (!plan.addChains.delete(c)) plan.deleteChains.add(c);
  }
  for (const [set, timeout] of kernel.affinitySets) {
    if (!AFFINITY_SET.test(set)) continue;
    if (plan.addSets.get(set) !== timeout) plan.deleteSets.add(set);
  }
  plan.write(s);
}
