/**
 * The exec probe (upstream pkg/probe/exec): run the command in the container; exit code 0 is
 * success, anything else failure with the output as the message. The probe's timeoutSeconds is
 * enforced (ExecProbeTimeout, on since 1.20): a command still running then is killed and the
 * probe fails with `command "…" timed out`.
 */
import type { ExecAction } from '../pods/api-types.js';
import { expand, lookupIn } from '../pods/expansion.js';
import { goQuote } from './go-format.js';
import type { ProbeOutcome, ProbeTarget } from './probe.js';

/** Upstream keeps at most 10 KiB of the command's output. */
const MAX_OUTPUT_BYTES = 10 * 1024;

export async function execProbe(action: ExecAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const argv = expandStatic(action.command ?? [], target);
  let r;
  try {
    r = await target.exec(argv, timeoutMs);
  } catch (e) {
    // The runtime could not run the command at all: not a probe result.
    return { result: 'unknown', message: (e as Error).message };
  }
  if (r.timedOut) return { result: 'failure', message: `command ${goQuote(argv.join(' '))} timed out` };
  const output = capBytes(r.output, MAX_OUTPUT_BYTES);
  return { result: r.exitCode === 0 ? 'success' : 'failure', message: output };
}

/**
 * ExpandContainerCommandOnlyStatic: `$(VAR)` in the probe's command refers to the container's
 * env entries by their literal `value` only — an entry set through valueFrom expands to "" —
 * because the exec probe has no access to the resolved environment.
 */
function expandStatic(command: string[], target: ProbeTarget): string[] {
  const env: Record<string, string> = {};
  for (const e of target.container.env ?? []) env[e.name] = e.value ?? '';
  const lookup = lookupIn(env);
  return command.map((c) => expand(c, lookup));
}

function capBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? s : b.subarray(0, max).toString('utf8');
}
