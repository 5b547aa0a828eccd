/**
 * The NetworkPolicy truth table, in the manner of upstream's test/e2e/network/netpol: the
 * expected reachability of every (from, to) pod pair for each protocol and port, written by
 * hand per case, compared with what the probes saw, and printed as upstream prints it (rows are
 * sources, columns destinations, `.` reaches, `X` does not) when they differ.
 *
 * A pod reaching its own address never leaves its namespace (loopback), so no policy applies
 * to it: the diagonal is always reachable (upstream's AllowLoopback).
 */
export type Proto = 'tcp' | 'udp';
export interface Probe {
  proto: Proto;
  port: number;
}
/** Every pair is probed over each of these (the pods serve all four). */
export const PROBES: Probe[] = [
  { proto: 'tcp', port: 80 },
  { proto: 'tcp', port: 81 },
  { proto: 'udp', port: 80 },
  { proto: 'udp', port: 81 },
];
/** What the prober reported for one probe. */
export type Outcome = 'ok' | 'refused' | 'timeout' | 'error';

/** 'x/a' one pod, 'x/*' a namespace, '*\/a' a pod name in every namespace, '*' everyone. */
export type PodPattern = string;

const cellKey = (from: string, to: string, p: Probe) => `${from}|${to}|${p.proto}/${p.port}`;

function matches(pattern: PodPattern, pod: string): boolean {
  if (pattern === '*') return true;
  const [pn, pp] = pattern.split('/');
  const [n, p] = pod.split('/');
  return (pn === '*' || pn === n) && (pp === '*' || pp === p);
}

export class Reachability {
  private readonly cells = new Map<string, boolean>();

  /** `pods` are 'x/a' style names; every cell starts as `allowed`. */
  constructor(
    readonly pods: string[],
    allowed: boolean,
  ) {
    for (const f of pods) for (const t of pods) for (const p of PROBES) this.cells.set(cellKey(f, t, p), allowed);
  }

  /** Sets the cells from `from` to `to`, for every probe or only those of a protocol and/or port. */
  expect(from: PodPattern, to: PodPattern, allowed: boolean, only: Partial<Probe> = {}): this {
    for (const f of this.pods.filter((x) => matches(from, x))) {
      for (const t of this.pods.filter((x) => matches(to, x))) {
        for (const p of PROBES) {
          if ((only.proto === undefined || only.proto === p.proto) && (only.port === undefined || only.port === p.port)) this.cells.set(cellKey(f, t, p), allowed);
        }
      }
    }
    return this;
  }

  allowed(from: string, to: string, p: Probe): boolean {
    return from === to || this.cells.get(cellKey(from, to, p))!;
  }
}

/** Observed outcomes by (from, to, probe). */
export class Observation {
  private readonly cells = new Map<string, Outcome>();
  set(from: string, to: string, p: Probe, o: Outcome): void {
    this.cells.set(cellKey(from, to, p), o);
  }
  get(from: string, to: string, p: Probe): Outcome | undefined {
    return this.cells.get(cellKey(from, to, p));
  }
}

function table(pods: string[], cell: (from: string, to: string) => string): string {
  const rows = [['-', ...pods].join('\t')];
  for (const f of pods) rows.push([f, ...pods.map((t) => cell(f, t))].join('\t'));
  return rows.join('\n');
}

export interface Comparison {
  /** Cells that differ. */
  wrong: number;
  /** Expected, observed and the comparison, per probe that has a wrong cell. */
  report: string;
}

/** Compares; a cell is right when reaching (ok) is what was expected. */
export function compare(expected: Reachability, observed: Observation): Comparison {
  const pods = expected.pods;
  let wrong = 0;
  const parts: string[] = [];
  for (const p of PROBES) {
    const right = (f: string, t: string) => (observed.get(f, t, p) === 'ok') === expected.allowed(f, t, p);
    const bad = pods.flatMap((f) => pods.filter((t) => !right(f, t))).length;
    if (!bad) continue;
    wrong += bad;
    const mark = (o: Outcome | undefined) => (o === 'ok' ? '.' : o === 'timeout' ? 'X' : o === 'refused' ? 'R' : 'E');
    parts.push(
      `${p.proto.toUpperCase()}/${p.port}: ${bad} wrong\nexpected:\n${table(pods, (f, t) => (expected.allowed(f, t, p) ? '.' : 'X'))}\n` +
        `observed (X timed out, R refused, E error):\n${table(pods, (f, t) => mark(observed.get(f, t, p)))}\n` +
        `comparison (X differs):\n${table(pods, (f, t) => (right(f, t) ? '.' : 'X'))}`,
    );
  }
  return { wrong, report: parts.join('\n\n') };
}
