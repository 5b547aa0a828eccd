// Names of everything a fabric lab puts on the host. All of it carries the prefix
// `cairn-fab-<id>-`: a namespace per node (`cairn-fab-<id>-<node>`), a namespace per guest
// (`cairn-fab-<id>-<node>-g<vni>`), the "wire" namespace holding the cables
// (`cairn-fab-<id>--wire`: node names start with a letter or digit, so it is no node's), and
// the lab's directory under /run. Links are created inside the namespaces (never in the
// host's), the NIC ends under the names the topology gives them, so the host's own interface
// list never changes. The id has no dashes, so one lab's prefix is never a prefix of another's.
import { join } from 'node:path';
import { LabError } from './errors.js';

const ID = /^[a-z0-9]{1,8}$/;

/** The id `cairn fabric lab` commands use when none is given. */
export const DEFAULT_LAB_ID = 'lab';

/** Where labs keep their state, rendered files and daemon runtime directories (tmpfs, like /run/netns). */
export const LABS_DIR = '/run/cairn/fabric-lab';

export function checkLabId(id: string): string {
  if (!ID.test(id)) throw new LabError(`invalid lab id ${JSON.stringify(id)} (1–8 of a-z 0-9)`);
  return id;
}

export function labPrefix(id: string): string {
  return `cairn-fab-${checkLabId(id)}-`;
}

export function labDir(id: string): string {
  return join(LABS_DIR, checkLabId(id));
}

export function nodeNetns(id: string, node: string): string {
  return `${labPrefix(id)}${node}`;
}

/** Node names become namespace names, so they must be valid ones. */
const NODE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export function checkNodeName(node: string): string {
  if (!NODE.test(node)) throw new LabError(`node name ${JSON.stringify(node)} cannot be used in the lab (letters, digits, '_', '.', '-'; at most 64)`);
  return node;
}

/** The namespace where each link's two NIC ends meet on a bridge of their own (cutting it drops carrier on both). */
export function wireNetns(id: string): string {
  return `${labPrefix(id)}-wire`;
}

/** The bridge standing for link number `index`, and its ports toward the two ends. */
export function wireNames(index: number): { bridge: string; a: string; b: string } {
  return { bridge: `l${index}`, a: `l${index}a`, b: `l${index}b` };
}

export function guestNetns(id: string, node: string, vni: number): string {
  return `${labPrefix(id)}${node}-g${vni}`;
}

/** The guest's port on the node's VXLAN bridge (inside the node namespace). */
export function guestPort(vni: number): string {
  return `gst${vni}`;
}

/** Per-node directory: the rendered files and the daemons' runtime directories. */
export function nodeDir(id: string, node: string): string {
  return join(labDir(id), node);
}
