// `cairn fabric lab fail LINK [--silent]`: cuts a cable. Both NICs lose carrier and stay
// administratively up, as when a real cable is pulled; or, silently, carrier stays and frames
// are lost (see cutLink). The time of the cut is kept, so the next `lab verify` measures how
// long the fabric took to reach every guest again.
import { LabError } from './errors.js';
import { wireNetns } from './names.js';
import { cutLink } from './plumbing.js';
import { readState, writeState, type LinkCut } from './state.js';

export async function labFail(id: string, link: string, silent = false): Promise<LinkCut> {
  const state = await readState(id);
  if (state.cuts.some((c) => c.link === link)) throw new LabError(`link ${link} of lab "${id}" is already cut`);
  await cutLink(wireNetns(id), state.topology, link, silent);
  const cut: LinkCut = { link, silent, at: Date.now() };
  state.cuts.push(cut);
  await writeState(state);
  return cut;
}
