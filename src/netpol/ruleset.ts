/**
 * The enforcer's part of the node's nftables table as data — chains with their rules, sets and
 * verdict maps with their elements — and the one transaction that turns one such state into
 * another: declarations first, element deletions before additions (an interval set refuses an
 * overlapping element), chain contents, then what is gone. A chain whose rules changed is
 * flushed and refilled; sets and maps change element by element, so a pod coming or going is
 * one `add element` / `delete element`.
 */
import type { ChainSpec, MapSpec, NftRule, NftScript, NftValue, SetSpec } from '../net/nft.js';

export type Element = NftValue | NftValue[];

export interface ChainState {
  spec: ChainSpec;
  rules: NftRule[];
}
export interface SetState {
  spec: SetSpec;
  /** By element text. */
  elements: Map<string, Element>;
}
export interface MapState {
  spec: MapSpec;
  /** By key text: key, value and the element's comment (what the entry is, for listings). */
  entries: Map<string, MapEntry>;
}
export type MapEntry = [Element, NftValue, string];
export interface Ruleset {
  chains: Map<string, ChainState>;
  sets: Map<string, SetState>;
  maps: Map<string, MapState>;
}

export function emptyRuleset(): Ruleset {
  return { chains: new Map(), sets: new Map(), maps: new Map() };
}

export function elementText(e: Element): string {
  return (Array.isArray(e) ? e : [e]).map((v) => v.text).join(' . ');
}

/** Names of what a table already holds of ours (read from the kernel for a full resync). */
export interface ExistingObjects {
  chains: string[];
  sets: string[];
  maps: string[];
}

const sameRules = (a: NftRule[], b: NftRule[]) => a.length === b.length && a.every((r, i) => r.text === b[i]!.text && r.comment === b[i]!.comment);
const sameEntry = (a: MapEntry | undefined, b: MapEntry) => a !== undefined && a[1].text === b[1].text && a[2] === b[2];

/**
 * Adds to `s` the commands taking the table from `from` to `to`; returns false when there is
 * nothing to do. A name always has the same declaration (names say what an object is), so
 * objects in both are changed in content only.
 */
export function planChanges(s: NftScript, from: Ruleset, to: Ruleset): boolean {
  const before = s.lines.length;
  for (const [n, st] of to.sets) if (!from.sets.has(n)) s.addSet(st.spec);
  for (const [n, st] of to.maps) if (!from.maps.has(n)) s.addMap(st.spec);
  for (const [n, c] of to.chains) if (!from.chains.has(n)) s.addChain(c.spec);

  // Deletions first: an interval set refuses an element overlapping one still there.
  for (const [n, old] of from.sets) {
    const cur = to.sets.get(n);
    if (!cur) continue;
    s.deleteElements(n, [...old.elements].filter(([k]) => !cur.elements.has(k)).map(([, e]) => e));
  }
  for (const [n, old] of from.maps) {
    const cur = to.maps.get(n);
    if (!cur) continue;
    s.deleteElements(
      n,
      [...old.entries].filter(([k, e]) => !sameEntry(cur.entries.get(k), e)).map(([, [key]]) => key),
    );
  }
  for (const [n, cur] of to.sets) {
    const old = from.sets.get(n);
    s.addElements(n, [...cur.elements].filter(([k]) => !old?.elements.has(k)).map(([, e]) => e));
  }
  for (const [n, cur] of to.maps) {
    const old = from.maps.get(n);
    s.addMapElements(n, [...cur.entries].filter(([k, e]) => !sameEntry(old?.entries.get(k), e)).map(([, e]) => e));
  }

  for (const [n, c] of to.chains) {
    const old = from.chains.get(n);
    if (old && sameRules(old.rules, c.rules)) continue;
    if (old) s.flushChain(n);
    for (const r of c.rules) s.addRule(n, r);
  }

  removeAll(
    s,
    { chains: [...from.chains.keys()].filter((n) => !to.chains.has(n)), sets: [], maps: [...from.maps.keys()].filter((n) => !to.maps.has(n)) },
    {
      chains: [...from.chains.keys()].filter((n) => !to.chains.has(n)),
      sets: [...from.sets.keys()].filter((n) => !to.sets.has(n)),
      maps: [...from.maps.keys()].filter((n) => !to.maps.has(n)),
    },
  );
  return s.lines.length > before;
}

/**
 * Deletes `gone`, after emptying what may still point at it: `flush.chains` (their jumps and set
 * references) and `flush.maps` (their goto elements).
 */
function removeAll(s: NftScript, flush: ExistingObjects, gone: ExistingObjects): void {
  for (const n of flush.chains) s.flushChain(n);
  for (const n of flush.maps) s.flushSet(n, 'map');
  for (const n of gone.chains) s.deleteChain(n);
  for (const n of gone.maps) s.deleteSet(n, 'map');
  for (const n of gone.sets) s.deleteSet(n, 'set');
}

/**
 * A full resync: everything of ours in the table (`existing`, read from the kernel) goes and `to`
 * is built afresh, in one transaction, so packets see the old ruleset or the new one.
 */
export function planFullResync(s: NftScript, existing: ExistingObjects, to: Ruleset): void {
  s.addTable();
  removeAll(s, { chains: existing.chains, sets: [], maps: existing.maps }, existing);
  planChanges(s, emptyRuleset(), to);
}
