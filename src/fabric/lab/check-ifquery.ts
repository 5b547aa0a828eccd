// Check: ifupdown2 agrees that each node's kernel state matches its rendered interfaces file
// (`ifquery --check`, run confined to the node's namespace; see ifquery.ts).
//
// The lab's guests are ports of the VXLAN bridges that the file does not list (as VMs' tap
// devices are on a real node), and ifquery would fail every bridge for them. So the file is
// checked with one line added to each bridge, ifupdown2's own `bridge-ports-condone-regex`,
// condoning the guest ports (gst<vni>) and nothing else; every other line is the rendered one.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkResult, type CheckContext, type CheckResult } from './check.js';
import { ifqueryCheck } from './ifquery.js';
import { nodeDir, nodeNetns } from './names.js';

const CONDONE_GUESTS = 'bridge-ports-condone-regex ^gst[0-9]+$';

/** The rendered file with the guest-port condone line after each `bridge-ports` line. */
export function withGuestPortsCondoned(text: string): string {
  return text.replace(/^(\s+)(bridge-ports\s.*)$/gm, `$1$2\n$1${CONDONE_GUESTS}`);
}

export async function checkIfquery(ctx: CheckContext): Promise<CheckResult> {
  const problems: string[] = [];
  for (const node of ctx.t.nodes) {
    const dir = nodeDir(ctx.id, node.name);
    const file = join(dir, 'interfaces.lab-check');
    await writeFile(file, withGuestPortsCondoned(await readFile(join(dir, 'interfaces'), 'utf8')));
    const r = await ifqueryCheck(nodeNetns(ctx.id, node.name), file);
    problems.push(...r.failures.map((f) => `${node.name}: ${f}`));
  }
  return checkResult('ifquery --check', problems, `every node's interfaces match its rendered file`);
}
