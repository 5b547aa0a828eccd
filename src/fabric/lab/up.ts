// `cairn fabric lab up FILE`: builds a topology on this machine — a namespace per node,
// a cable per link, each node's rendered interfaces file applied, a guest per node and VNI on
// the VXLAN bridge, and FRR (and corosync, when asked) started from the rendered files. A lab
// whose names are already taken (running, or left from a crash) is refused; a lab that fails
// half way is removed again before the error is reported.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ip } from '../../net/ip.js';
import type { Topology } from '../topology.js';
import { assertValid } from '../validate.js';
import { renderNode } from '../render.js';
import { applyInterfaces } from './apply-interfaces.js';
import { checkCorosyncInstalled, generateAuthkey, needsAuthkey } from './corosync.js';
import { labDown } from './down.js';
import { LabExistsError } from './errors.js';
import { checkFrrInstalled, dryRun } from './frr.js';
import { corosyncOf, frrOf } from './instances.js';
import { checkLabId, checkNodeName, labDir, nodeDir, nodeNetns } from './names.js';
import { createGuest, createNodes, labNamespaces, planGuests } from './plumbing.js';
import { writeState, type LabState } from './state.js';

export interface LabUpOptions {
  id: string;
  /** A loaded topology; it is validated here, and nothing is built unless it is valid. */
  topology: Topology;
  /** Where it came from (the file name), for messages and the lab's state. */
  source: string;
  /** Start corosync on every node (default true). */
  corosync?: boolean;
  progress?: (line: string) => void;
}

export async function labUp(o: LabUpOptions): Promise<LabState> {
  const id = checkLabId(o.id);
  const say = o.progress ?? (() => undefined);
  const t = assertValid(o.topology, o.source);
  for (const n of t.nodes) checkNodeName(n.name);
  const guests = planGuests(id, t);
  const rendered = new Map(t.nodes.map((n) => [n.name, renderNode(t, n.name)]));
  await checkFrrInstalled();
  const corosync = o.corosync !== false;
  if (corosync) await checkCorosyncInstalled();

  const dir = labDir(id);
  const leftovers = (await labNamespaces(id)).sort();
  if (await exists(dir)) leftovers.push(dir);
  if (leftovers.length) throw new LabExistsError(id, leftovers);

  // The rendered files go to the lab directory first: FRR's are checked before anything is built.
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const state: LabState = { id, source: o.source, topology: t, createdAt: new Date().toISOString(), guests, corosync, cuts: [] };
  try {
    await writeState(state);
    for (const [node, files] of rendered) {
      await mkdir(nodeDir(id, node), { recursive: true, mode: 0o755 });
      for (const [name, text] of Object.entries(files)) await writeFile(join(nodeDir(id, node), name), text);
      await dryRun(join(nodeDir(id, node), 'frr.conf'));
    }

    say(`creating ${t.nodes.length} node namespaces and ${t.links.length} links`);
    await createNodes(id, t);
    for (const [node, files] of rendered) {
      await applyInterfaces(Ip.ns(nodeNetns(id, node)), files.interfaces, `${node}: ${join(nodeDir(id, node), 'interfaces')}`);
    }
    say(`adding ${guests.length} guests`);
    for (const g of guests) await createGuest(id, g);

    say('starting FRR (zebra, staticd, bgpd) on every node');
    for (const [node, files] of rendered) await frrOf(id, node).start(files['frr.conf']);

    if (corosync) {
      say('starting corosync on every node');
      // One cluster key for every node, made here when the configuration asks for one.
      const key = [...rendered.values()].some((f) => needsAuthkey(f['corosync.conf'])) ? join(dir, 'corosync-authkey') : undefined;
      if (key) await generateAuthkey(key);
      for (const [node, files] of rendered) await corosyncOf(id, node).start(files['corosync.conf'], key);
    }
  } catch (e) {
    say('failed; removing what was built');
    await labDown(id).catch(() => undefined);
    throw e;
  }
  return state;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
