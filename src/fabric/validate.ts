// `cairn fabric validate`: every design problem in a loaded topology at once, each with the
// path of the field it concerns. Each concern lives in its own module under validate/.
import type { Topology } from './topology.js';
import { Problems, type Problem } from './validate/problems.js';
import { checkNames } from './validate/names.js';
import { checkAddresses } from './validate/addresses.js';
import { checkLinks, checkMesh } from './validate/mesh.js';
import { checkBgp } from './validate/bgp.js';
import { checkEvpn } from './validate/evpn.js';
import { checkMtu } from './validate/mtu.js';
import { checkCeph, checkCorosync } from './validate/services.js';

export type { Problem, ProblemCode } from './validate/problems.js';

export function validateTopology(t: Topology): Problem[] {
  const p = new Problems();
  checkNames(t, p);
  checkAddresses(t, p);
  checkLinks(t, p);
  checkMesh(t, p);
  checkBgp(t, p);
  checkEvpn(t, p);
  checkMtu(t, p);
  checkCorosync(t, p);
  checkCeph(t, p);
  return p.list;
}

/** Thrown where a topology must be valid before anything is rendered or built. */
export class InvalidTopologyError extends Error {
  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(`${source}: ${problems.length} problem(s): ${problems.map((x) => `${x.path}: ${x.message}`).join('; ')}`);
    this.name = 'InvalidTopologyError';
  }
}

/** Returns the topology, or throws InvalidTopologyError listing every problem. */
export function assertValid(t: Topology, source: string): Topology {
  const problems = validateTopology(t);
  if (problems.length) throw new InvalidTopologyError(source, problems);
  return t;
}
