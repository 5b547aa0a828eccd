// Check: every node's corosync sees every node of the topology as a joined member and is
// quorate. The knet links it reports down (a cut cable takes one link between two nodes
// down while the other carries membership) are listed in the summary.
import { checkResult, type CheckContext, type CheckResult } from './check.js';
import { corosyncOf } from './instances.js';

export async function checkCorosync(ctx: CheckContext): Promise<CheckResult> {
  const { t } = ctx;
  const problems: string[] = [];
  const linksDown: string[] = [];
  for (const node of t.nodes) {
    const m = await corosyncOf(ctx.id, node.name).membership();
    if (m.joined.length !== t.nodes.length) problems.push(`${node.name} sees ${m.joined.length} of ${t.nodes.length} members (node ids ${m.joined.join(', ') || 'none'})`);
    if (!m.quorate) problems.push(`${node.name} is not quorate`);
    // knet numbers nodes by nodeid, which the rendering gives in topology order from 1.
    for (const [link, up] of Object.entries(m.links)) {
      const [, id, n] = /^node(\d+)\.link(\d+)$/.exec(link) ?? [];
      const peer = t.nodes[Number(id) - 1]?.name;
      if (!up && peer && peer !== node.name) linksDown.push(`${node.name}→${peer} link${n}`);
    }
  }
  const down = linksDown.length ? `; knet links down: ${linksDown.join(', ')}` : '';
  return checkResult('corosync membership', problems, `${t.nodes.length} members on every node, quorate${down}`);
}
