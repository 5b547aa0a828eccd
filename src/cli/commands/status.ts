/** `cairn status`: the local cluster's components and nodes. */
import { ClusterError } from '../../cluster/errors.js';
import { clusterStatus, type ClusterStatus } from '../../cluster/status.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CLUSTER_DIR } from './up.js';

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('   ').trimEnd()).join('\n');
}

export function renderStatus(s: ClusterStatus): string {
  const out = [`cluster "${s.name}" in ${s.dataDir}`, ''];
  out.push(
    table([
      ['COMPONENT', 'PID', 'PROCESS', 'HEALTH'],
      ...s.components.map((c) => [c.name, c.pid ? String(c.pid) : '-', c.running ? 'running' : 'stopped', `${c.health.ok ? 'ok' : `failing: ${c.health.detail}`} (${c.endpoint})`]),
    ]),
    '',
  );
  if (s.nodes?.length === 0) out.push('no nodes registered');
  else if (s.nodes)
    out.push(
      table([
        ['NODE', 'STATUS', 'PODS', 'INTERNAL-IP', 'POD-CIDR'],
        ...s.nodes.map((n) => [n.name, n.ready, `${n.pods}/${n.maxPods ?? '?'}`, n.internalIP ?? '-', n.podCIDR ?? '-']),
      ]),
    );
  else out.push(`nodes: cannot read the API (${s.apiError})`);
  out.push('', `export KUBECONFIG=${s.kubeconfig}`);
  return out.join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: "show the local cluster's components and nodes",
  usage: [
    'usage: cairn status [--data-dir DIR] [--output json]',
    '',
    `  --data-dir DIR    the cluster's data dir (default ${DEFAULT_CLUSTER_DIR})`,
    '  -o, --output json print the status as JSON',
  ].join('\n'),
  options: { 'data-dir': { type: 'string' }, output: { type: 'string', short: 'o' } },
  async run(v) {
    const output = v.output as string | undefined;
    if (output !== undefined && output !== 'json') throw new CliError(`--output supports json only, got "${output}"`);
    let s;
    try {
      s = await clusterStatus((v['data-dir'] as string | undefined) ?? DEFAULT_CLUSTER_DIR);
    } catch (e) {
      if (e instanceof ClusterError) throw new CliError(e.message);
      throw e;
    }
    console.log(output === 'json' ? JSON.stringify(s, null, 2) : renderStatus(s));
    const healthy = s.components.every((c) => c.running && c.health.ok) && !!s.nodes?.every((n) => n.ready === 'Ready');
    return healthy ? 0 : 1;
  },
};
