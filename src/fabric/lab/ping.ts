// The lab's wrapper over ping (iputils-ping): one ICMP echo from inside a network namespace,
// optionally of a given size with fragmentation forbidden (-M do), as the guests' reachability
// probe.
import { runTool } from '../../net/exec.js';
import { checkIpv4, checkNetnsName } from '../../net/ip.js';
import { ToolMissingError } from './errors.js';

export interface EchoOptions {
  /** ICMP payload bytes (the IP packet is 28 bytes more). */
  size?: number;
  /** Set DF and never fragment locally. */
  dontFragment?: boolean;
  /** Seconds to wait for the reply. */
  waitS?: number;
}

/** True when `target` answered one echo sent from `netns`. */
export async function echo(netns: string, target: string, o: EchoOptions = {}): Promise<boolean> {
  const args = ['netns', 'exec', checkNetnsName(netns), 'ping', '-n', '-q', '-c', '1', '-W', String(o.waitS ?? 1)];
  if (o.size !== undefined) args.push('-s', String(o.size));
  if (o.dontFragment) args.push('-M', 'do');
  args.push(checkIpv4(target));
  const r = await runTool('ip', args, { timeoutMs: ((o.waitS ?? 1) + 10) * 1000 });
  if (/exec of "ping" failed/.test(r.stderr)) throw new ToolMissingError('ping', 'iputils-ping');
  return r.code === 0;
}
