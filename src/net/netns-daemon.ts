/**
 * The command line that runs a long-lived program inside a named network namespace, and only
 * that: `nsenter --net=/run/netns/NS -- PROGRAM ...`. `ip netns exec` also gives the program a
 * mount namespace of its own (to bind /etc/netns files and remount /sys), and on a host whose
 * root mount is private that is a full copy of every mount existing at its start — which the
 * program then pins for as long as it runs (another cluster's volumes, a FUSE mount whose daemon
 * then never exits). Short-lived tools may keep using `ip netns exec`.
 */
import { join } from 'node:path';
import { checkNetnsName } from './ip.js';

export function netnsDaemonCommand(netns: string, argv: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=${join('/run/netns', checkNetnsName(netns))}`, '--', ...argv]];
}
