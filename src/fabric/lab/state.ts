// The record a running lab keeps in its directory (state.json), so `verify`, `fail` and `down`
// — separate commands — know what `up` built: the topology, its guests, whether corosync runs,
// and which links are cut (and since when, for the recovery measurement).
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Topology } from '../topology.js';
import type { Recovered } from './recovery.js';
import { labDir } from './names.js';
import { LabError, LabNotFoundError } from './errors.js';

export interface LabGuest {
  node: string;
  vni: number;
  netns: string;
  /** Its port on the node's VXLAN bridge (in the node namespace). */
  port: string;
  bridge: string;
  mac: string;
  /** Address with prefix length, e.g. 192.168.100.1/24. */
  address: string;
  mtu: number;
}

export interface LinkCut {
  link: string;
  /** Carrier stayed up (frames dropped) rather than lost. */
  silent: boolean;
  /** When the link was cut (ms since the epoch). */
  at: number;
  /** Measured by the first `lab verify` after the cut. */
  recovery?: Recovered;
}

export interface LabState {
  id: string;
  /** The topology file as given to `lab up`. */
  source: string;
  topology: Topology;
  createdAt: string;
  guests: LabGuest[];
  /** corosync runs on every node (Debian's corosync was found and started). */
  corosync: boolean;
  cuts: LinkCut[];
}

function stateFile(id: string): string {
  return join(labDir(id), 'state.json');
}

export async function writeState(s: LabState): Promise<void> {
  const file = stateFile(s.id);
  await writeFile(`${file}.tmp`, JSON.stringify(s, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

/** The lab's state; LabNotFoundError when there is no such lab. */
export async function readState(id: string): Promise<LabState> {
  let text: string;
  try {
    text = await readFile(stateFile(id), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LabNotFoundError(id);
    throw e;
  }
  try {
    return JSON.parse(text) as LabState;
  } catch {
    throw new LabError(`the state of lab "${id}" (${stateFile(id)}) is unreadable; run 'cairn fabric lab down --id ${id}'`);
  }
}
