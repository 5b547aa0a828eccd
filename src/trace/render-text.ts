// A trace as text: one line per hop (where, what, the decision), the rules that matched under
// each netfilter hook (chain, rule, effect, comment), branches drawn as a tree, and how it ends.
import type { Branch, End, Hop, Leg, TraceResult } from './hops.js';
import { describePacket } from './packet.js';

const KIND_WIDTH = 11;

export function renderTrace(t: TraceResult): string {
  const out = [`trace ${t.protocol} from ${t.from.label} (${t.from.ip}) to ${t.to.label} (${t.to.ip}:${t.to.port ?? '-'})`, `packet ${describePacket(t.packet)} (the first packet of a new connection)`, ''];
  const width = Math.max(...allHops(t).map((h) => h.at.name.length), 4);
  renderLeg(t, '  ', width, out);
  if (t.notes.length) out.push('', ...t.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

function allHops(l: Leg): Hop[] {
  return [...l.hops, ...(l.branches ?? []).flatMap(allHops)];
}

function renderLeg(l: Leg, prefix: string, width: number, out: string[]): void {
  for (const h of l.hops) renderHop(h, prefix, width, out);
  if (l.end) out.push(`${prefix}${endLine(l.end)}`);
  const bs = l.branches ?? [];
  if (bs.length) out.push(`${prefix}${branchIntro(bs)}`);
  bs.forEach((b, i) => {
    const last = i === bs.length - 1;
    out.push(`${prefix}${last ? '└─' : '├─'} ${branchLabel(b, i, bs.length)}`);
    renderLeg(b, `${prefix}${last ? '   ' : '│  '}`, width, out);
  });
}

function renderHop(h: Hop, prefix: string, width: number, out: string[]): void {
  const where = h.at.name.padEnd(width);
  if (h.kind === 'nft') {
    out.push(`${prefix}${where}  ${h.hook.padEnd(KIND_WIDTH)} ${h.summary.slice(h.hook.length + 2)}`);
    const pad = `${prefix}${' '.repeat(width + 2 + KIND_WIDTH + 1)}`;
    for (const r of h.rules) {
      // An effect that only repeats the rule's last statement (`... accept`) says nothing new.
      const effect = r.effect && !r.rule.endsWith(r.effect) ? `  => ${r.effect}` : '';
      out.push(`${pad}${r.chain}: ${r.rule}${effect}${r.comment ? `  # ${r.comment}` : ''}`);
    }
    return;
  }
  out.push(`${prefix}${where}  ${h.kind.padEnd(KIND_WIDTH)} ${h.summary}`);
}

function branchIntro(bs: Branch[]): string {
  const c = bs[0]!.choices.at(-1);
  const where = c ? ` (numgen in ${c.chain}${c.comment ? ` "${c.comment}"` : ''})` : '';
  return `one of ${bs.length} paths, drawn at random${where}:`;
}

function branchLabel(b: Branch, i: number, n: number): string {
  const pct = `${Math.round(b.probability * 1000) / 10}%`;
  return `${i + 1} of ${n} (p=${pct})${b.target ? ` -> ${b.target}` : ''}`;
}

function endLine(e: End): string {
  const where = e.at.kind === 'host' ? 'the host' : `${e.at.kind} ${e.at.name}`;
  const word = { delivered: 'DELIVERED to', dropped: 'DROPPED at', rejected: 'REJECTED at', 'left-cluster': 'LEFT THE CLUSTER at' }[e.outcome];
  return `${word} ${where}: ${e.reason}`;
}
