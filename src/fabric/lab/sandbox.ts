// Runs a program inside a lab node's network namespace *and* a private mount namespace
// (bubblewrap, Debian's `bubblewrap`), for tools that keep fixed host paths: corosync locks
// /run/corosync.pid and keeps state in /var/lib/corosync; ifupdown2 creates /run/network and
// /var/tmp/network. In the sandbox the host's file system is seen as it is, except /run and
// /var/tmp (fresh, empty tmpfs) and the directories bound over chosen paths, so several
// instances run side by side and nothing they write lands on the host.
import { runTool, type ToolResult } from '../../net/exec.js';
import { checkNetnsName } from '../../net/ip.js';
import { ToolMissingError } from './errors.js';

export interface SandboxOptions {
  /** Host directory → path it appears at in the sandbox (the path must exist on the host). */
  binds?: [string, string][];
  /** Written to the program's stdin. */
  input?: string;
  timeoutMs?: number;
}

/**
 * The argument vector running argv in netns with the sandbox's mounts. A daemon that must
 * outlive the command starting it is run without `dieWithParent`.
 */
export function sandboxArgv(netns: string, argv: readonly string[], binds: readonly [string, string][] = [], dieWithParent = true): string[] {
  const out = ['ip', 'netns', 'exec', checkNetnsName(netns), 'bwrap', '--bind', '/', '/', '--dev-bind', '/dev', '/dev', '--tmpfs', '/run', '--tmpfs', '/var/tmp'];
  for (const [from, to] of binds) out.push('--bind', from, to);
  if (dieWithParent) out.push('--die-with-parent');
  out.push('--', ...argv);
  return out;
}

/** Runs argv in the sandbox and collects its output (a non-zero exit is returned, not thrown). */
export async function runSandboxed(netns: string, argv: readonly string[], opts: SandboxOptions = {}): Promise<ToolResult> {
  const [cmd, ...args] = sandboxArgv(netns, argv, opts.binds);
  const r = await runTool(cmd!, args, { input: opts.input, timeoutMs: opts.timeoutMs });
  if (r.code !== 0 && /exec of "bwrap" failed|bwrap: No such file/.test(r.stderr)) throw new ToolMissingError('bwrap', 'bubblewrap');
  return r;
}
