/**
 * The real `dig` (bind9-dnsutils), its output read the way a person reads it: the status, the
 * header flags and the record lines of each section. A test that needs it fails when it is
 * missing (scripts/setup.sh installs it).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';

export interface DigResult {
  status: string;
  flags: string[];
  /** Record lines per section, whitespace collapsed: `name. TTL IN TYPE data`. */
  answer: string[];
  authority: string[];
  additional: string[];
  /** dig retried over TCP after a truncated UDP answer. */
  retriedTcp: boolean;
  raw: string;
}

export function requireDig(): void {
  const r = spawnSync('dig', ['-v'], { encoding: 'utf8' });
  assert.equal(r.error, undefined, 'dig is missing: install bind9-dnsutils (scripts/setup.sh)');
}

/** `dig @server -p port ARGS...` with one try and a 3 s wait; fails the test when dig gets no answer at all. */
export async function dig(server: string, port: number, args: string[]): Promise<DigResult> {
  const { stdout: raw, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
    execFile('dig', [`@${server}`, '-p', String(port), '+tries=1', '+time=3', ...args], { timeout: 20_000 }, (_err, stdout, stderr) => resolve({ stdout, stderr })),
  );
  const status = /status: ([A-Z]+)/.exec(raw)?.[1];
  assert.ok(status, `dig ${args.join(' ')} got no answer:\n${raw}${stderr}`);
  const section = (name: string) => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
    return m ? m[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.replace(/\s+/g, ' ').trim()) : [];
  };
  return {
    status,
    flags: (/;; flags: ([a-z ]*);/.exec(raw)?.[1] ?? '').split(' ').filter(Boolean),
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
    additional: section('ADDITIONAL'),
    retriedTcp: raw.includes('Truncated, retrying in TCP mode'),
    raw,
  };
}

/** The data of answer lines (`... IN A 10.0.0.1` → `10.0.0.1`), sorted. */
export const rdata = (lines: string[]) => lines.map((l) => l.split(' ').slice(4).join(' ')).sort();
