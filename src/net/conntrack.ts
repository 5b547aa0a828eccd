// Typed wrapper over the `conntrack` tool (conntrack-tools) in a network namespace: list the
// connection tracking table as parsed entries, delete entries matching a filter. Argument
// vectors only; every value is validated before it reaches the command line.
import { runTool, ToolError } from './exec.js';
import { checkIpv4, checkNetnsName, InvalidArgumentError } from './ip.js';

export class ConntrackError extends ToolError {}

export type ConntrackProtocol = 'tcp' | 'udp' | 'sctp' | 'icmp';
const PROTOCOLS: readonly ConntrackProtocol[] = ['tcp', 'udp', 'sctp', 'icmp'];

/** One direction of a connection. Ports for tcp/udp/sctp; type/code/id for icmp. */
export interface ConntrackTuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  type?: number;
  code?: number;
  id?: number;
}

export interface ConntrackEntry {
  /** Protocol name as conntrack prints it (tcp, udp, sctp, icmp, ...). */
  protocol: string;
  protocolNumber: number;
  /** Seconds until the entry expires. */
  timeout: number;
  /** The protocol state (tcp: ESTABLISHED, TIME_WAIT, ...; sctp likewise). */
  state?: string;
  original: ConntrackTuple;
  reply: ConntrackTuple;
  /** Flags such as ASSURED, UNREPLIED. */
  flags: string[];
  mark?: number;
  zone?: number;
}

/** What entries to list or delete; every field given must match. */
export interface ConntrackFilter {
  /** Required with any port field. */
  protocol?: ConntrackProtocol;
  origSrc?: string;
  origDst?: string;
  origSrcPort?: number;
  origDstPort?: number;
  replySrc?: string;
  replyDst?: string;
  replySrcPort?: number;
  replyDstPort?: number;
}

const TUPLE_NUMBERS = ['sport', 'dport', 'type', 'code', 'id'] as const;

/** Parses one line of `conntrack -L` output; undefined for lines that are not entries. */
export function parseConntrackLine(line: string): ConntrackEntry | undefined {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length < 4 || !/^\d+$/.test(tokens[1] ?? '') || !/^\d+$/.test(tokens[2] ?? '')) return undefined;
  const entry: ConntrackEntry = {
    protocol: tokens[0]!,
    protocolNumber: Number(tokens[1]),
    timeout: Number(tokens[2]),
    original: { src: '', dst: '' },
    reply: { src: '', dst: '' },
    flags: [],
  };
  // Each tuple starts at a src= token: the first is the original direction, the second the reply.
  let tuple: ConntrackTuple | undefined;
  let tuples = 0;
  for (const t of tokens.slice(3)) {
    const flag = /^\[([A-Z_]+)\]$/.exec(t);
    if (flag) {
      entry.flags.push(flag[1]!);
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0) {
      if (tuples === 0 && /^[A-Z_]+$/.test(t)) entry.state = t;
      continue;
    }
    const key = t.slice(0, eq);
    const value = t.slice(eq + 1);
    if (key === 'src') {
      tuples++;
      tuple = tuples === 1 ? entry.original : tuples === 2 ? entry.reply : undefined;
    }
    if (key === 'mark') entry.mark = Number(value);
    else if (key === 'zone') entry.zone = Number(value);
    else if (tuple && (key === 'src' || key === 'dst')) tuple[key] = value;
    else if (tuple && (TUPLE_NUMBERS as readonly string[]).includes(key)) tuple[key as (typeof TUPLE_NUMBERS)[number]] = Number(value);
  }
  return tuples >= 2 ? entry : undefined;
}

function portArg(p: number): string {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new InvalidArgumentError(`invalid port ${p}`);
  return String(p);
}

/** The conntrack command-line options of a filter. */
export function filterArgs(f: ConntrackFilter): string[] {
  const args = ['-f', 'ipv4'];
  const hasPort = [f.origSrcPort, f.origDstPort, f.replySrcPort, f.replyDstPort].some((p) => p !== undefined);
  if (f.protocol !== undefined) {
    if (!PROTOCOLS.includes(f.protocol)) throw new InvalidArgumentError(`invalid conntrack protocol ${JSON.stringify(f.protocol)}`);
    args.push('-p', f.protocol);
  } else if (hasPort) throw new InvalidArgumentError('a conntrack port filter needs a protocol');
  const addr: [keyof ConntrackFilter, string][] = [
    ['origSrc', '--orig-src'],
    ['origDst', '--orig-dst'],
    ['replySrc', '--reply-src'],
    ['replyDst', '--reply-dst'],
  ];
  for (const [k, opt] of addr) if (f[k] !== undefined) args.push(opt, checkIpv4(f[k] as string));
  const ports: [keyof ConntrackFilter, string][] = [
    ['origSrcPort', '--orig-port-src'],
    ['origDstPort', '--orig-port-dst'],
    ['replySrcPort', '--reply-port-src'],
    ['replyDstPort', '--reply-port-dst'],
  ];
  for (const [k, opt] of ports) if (f[k] !== undefined) args.push(opt, portArg(f[k] as number));
  return args;
}

const COUNT = /(\d+) flow entries have been (?:shown|deleted)/;

export class Conntrack {
  readonly netns?: string;

  constructor(opts: { netns?: string } = {}) {
    if (opts.netns !== undefined) checkNetnsName(opts.netns);
    this.netns = opts.netns;
  }

  /** Runs `conntrack ARGS...` in the namespace; resolves with output and exit code. */
  private async run(args: string[]): Promise<{ stdout: string; stderr: string; code: number | null; argv: string[] }> {
    const [cmd, full] = this.netns === undefined ? ['conntrack', args] : ['ip', ['netns', 'exec', this.netns, 'conntrack', ...args]];
    const argv = [cmd, ...full];
    let r;
    try {
      r = await runTool(cmd, full);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConntrackError(`${cmd} is not installed`, argv, '', null);
      throw e;
    }
    if (/exec of "conntrack" failed/.test(r.stderr)) throw new ConntrackError('conntrack is not installed (apt-get install conntrack)', argv, r.stderr, r.code);
    return { ...r, argv };
  }

  /** The entries matching the filter (all IPv4 entries without one). */
  async list(filter: ConntrackFilter = {}): Promise<ConntrackEntry[]> {
    const r = await this.run(['-L', ...filterArgs(filter)]);
    if (r.code !== 0) throw new ConntrackError(`${r.argv.join(' ')}: ${r.stderr.trim() || `exit code ${r.code}`}`, r.argv, r.stderr, r.code);
    return r.stdout
      .split('\n')
      .map(parseConntrackLine)
      .filter((e): e is ConntrackEntry => e !== undefined);
  }

  /**
   * Deletes the entries matching the filter; resolves with how many were deleted. Deleting
   * nothing is not an error (conntrack exits 1 saying "0 flow entries have been deleted").
   */
  async delete(filter: ConntrackFilter): Promise<number> {
    const args = filterArgs(filter);
    if (args.length <= 2) throw new InvalidArgumentError('refusing to delete every conntrack entry: give a filter');
    const r = await this.run(['-D', ...args]);
    const count = COUNT.exec(r.stderr);
    if (r.code === 0 || (r.code === 1 && count?.[1] === '0')) return count ? Number(count[1]) : 0;
    throw new ConntrackError(`${r.argv.join(' ')}: ${r.stderr.trim() || `exit code ${r.code}`}`, r.argv, r.stderr, r.code);
  }
}
