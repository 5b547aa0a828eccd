/**
 * Label and field selectors in their string forms, as k8s.io/apimachinery/pkg/labels and
 * pkg/fields parse them: `a=b,c!=d,e in (x,y),f notin (z),g,!h` and `metadata.name=x,spec.nodeName!=`.
 */
import { isQualifiedName, isValidLabelValue } from './validation.js';

export type Requirement =
  | { key: string; op: 'in'; values: string[] }
  | { key: string; op: 'notin'; values: string[] }
  | { key: string; op: 'exists' }
  | { key: string; op: '!' }
  | { key: string; op: 'gt' | 'lt'; values: [string] };

export class SelectorParseError extends Error {}

/** Parses a label selector; throws SelectorParseError with upstream-like text. */
export function parseLabelSelector(text: string): Requirement[] {
  const reqs: Requirement[] = [];
  const s = text.trim();
  if (s === '') return reqs;
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const ident = (): string => {
    ws();
    const start = i;
    while (i < s.length && !/[\s,=!()<>]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  const fail = (msg: string): never => {
    throw new SelectorParseError(`unable to parse requirement: ${msg}`);
  };
  while (i <= s.length) {
    ws();
    let req: Requirement;
    if (s[i] === '!') {
      i++;
      const key = ident();
      if (!key) fail(`found '${s[i] ?? 'EOS'}', expected: identifier`);
      req = { key, op: '!' };
    } else {
      const key = ident();
      if (!key) fail(`found '${s[i] ?? 'EOS'}', expected: !, identifier, or 'end of string'`);
      ws();
      if (i >= s.length || s[i] === ',') {
        req = { key, op: 'exists' };
      } else if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
        const op = s.startsWith('!=', i) ? 'notin' : 'in';
        i += s.startsWith('==', i) || s.startsWith('!=', i) ? 2 : 1;
        const v = ident();
        req = { key, op, values: [v] };
      } else if (s[i] === '>' || s[i] === '<') {
        const op = s[i] === '>' ? 'gt' : 'lt';
        i++;
        const v = ident();
        if (!/^-?[0-9]+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        req = { key, op, values: [v] };
      } else {
        const word = ident();
        if (word !== 'in' && word !== 'notin') fail(`found '${word}', expected: in, notin, =, ==, !=, gt, lt`);
        ws();
        if (s[i] !== '(') fail(`found '${s[i] ?? 'EOS'}', expected: '('`);
        i++;
        const values: string[] = [];
        for (;;) {
          ws();
          if (s[i] === ')') {
            i++;
            break;
          }
          const v = ident();
          values.push(v);
          ws();
          if (s[i] === ',') i++;
          else if (s[i] === ')') {
            i++;
            break;
          } else fail(`found '${s[i] ?? 'EOS'}', expected: ',' or ')'`);
        }
        req = { key, op: word as 'in' | 'notin', values };
      }
    }
    for (const m of isQualifiedName(req.key)) fail(`invalid label key "${req.key}": ${m}`);
    if ('values' in req) for (const v of req.values) for (const m of isValidLabelValue(v)) fail(`invalid label value: "${v}": at key: "${req.key}": ${m}`);
    reqs.push(req);
    ws();
    if (i >= s.length) break;
    if (s[i] !== ',') fail(`found '${s[i]}', expected: ',' or 'end of string'`);
    i++;
  }
  return reqs;
}

export function matchesLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v)) return false;
        break;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?[0-9]+$/.test(v)) return false;
        const n = Number(v);
        const w = Number(r.values[0]);
        if (r.op === 'gt' ? !(n > w) : !(n < w)) return false;
      }
    }
  }
  return true;
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** Field selectors: `a=b`, `a==b`, `a!=b`, comma separated, with `\` escapes as upstream. */
export function parseFieldSelector(text: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  if (text.trim() === '') return out;
  for (const part of splitUnescaped(text, ',')) {
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(part);
    if (!m || !m[1]) throw new SelectorParseError(`invalid selector: '${text}'; can't understand '${part}'`);
    out.push({ field: m[1].trim(), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]) });
  }
  return out;
}

function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i] + s[i + 1];
      i++;
    } else if (s[i] === sep) {
      parts.push(cur);
      cur = '';
    } else cur += s[i];
  }
  parts.push(cur);
  return parts;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

export function matchesFields(reqs: FieldRequirement[], fields: (name: string) => string | undefined): boolean {
  for (const r of reqs) {
    const v = fields(r.field) ?? '';
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}

/** metav1.LabelSelector object (matchLabels/matchExpressions) to requirements. */
export function labelSelectorRequirements(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}): Requirement[] {
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key: k, op: 'in', values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
        reqs.push({ key: e.key, op: 'in', values: e.values ?? [] });
        break;
      case 'NotIn':
        reqs.push({ key: e.key, op: 'notin', values: e.values ?? [] });
        break;
      case 'Exists':
        reqs.push({ key: e.key, op: 'exists' });
        break;
      case 'DoesNotExist':
        reqs.push({ key: e.key, op: '!' });
        break;
    }
  }
  return reqs;
}
