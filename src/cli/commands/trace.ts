/** `cairn trace FROM TO[:PORT]`: the life of a packet in the local cluster, read from the live kernel. */
import { ClusterError } from '../../cluster/errors.js';
import { ConntrackError } from '../../net/conntrack.js';
import { InvalidArgumentError, IpError } from '../../net/ip.js';
import { NftError } from '../../net/nft.js';
import { conntrackFlows } from '../../trace/conntrack-flows.js';
import { TraceError } from '../../trace/errors.js';
import { renderTrace } from '../../trace/render-text.js';
import { prepareTrace } from '../../trace/resolve.js';
import { Tracer } from '../../trace/tracer.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CLUSTER_DIR } from './up.js';

export const traceCommand: Command = {
  name: 'trace',
  summary: 'follow a packet hop by hop through the live kernel: routes, bridges, nftables, VXLAN',
  usage: [
    'usage: cairn trace FROM TO[:PORT] [-n NAMESPACE] [--protocol tcp|udp] [--output text|json] [--data-dir DIR] [--kubeconfig FILE]',
    '',
    '  FROM, TO   pod/NAME or pod/NAMESPACE/NAME, svc/NAME[:PORT] (TO only; a port, port name or nodePort),',
    '             node/NAME, host (the machine running the cluster), or an IP address',
    '  -n, --namespace NS     namespace of pod/ and svc/ names without one (default "default")',
    '  --protocol tcp|udp     default tcp, or the Service port\'s protocol',
    '  -o, --output text|json json: the hops as data (see docs/trace.md)',
    `  --data-dir DIR         the cluster's data dir (default ${DEFAULT_CLUSTER_DIR})`,
    "  --kubeconfig FILE      default: the cluster's admin kubeconfig in the data dir",
    '',
    'examples:',
    '  cairn trace pod/client svc/web:80',
    '  cairn trace host svc/web:30080',
    '  cairn trace pod/team-a/api pod/team-b/db:5432',
  ].join('\n'),
  options: {
    namespace: { type: 'string', short: 'n' },
    protocol: { type: 'string' },
    output: { type: 'string', short: 'o' },
    'data-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
  },
  async run(v, positionals) {
    if (positionals.length !== 2) throw new CliError("cairn trace needs FROM and TO, e.g. 'cairn trace pod/client svc/web:80'", 2);
    const output = (v.output as string | undefined) ?? 'text';
    if (output !== 'text' && output !== 'json') throw new CliError(`--output is text or json, not "${output}"`, 2);
    const protocol = v.protocol as string | undefined;
    if (protocol !== undefined && protocol !== 'tcp' && protocol !== 'udp') throw new CliError(`--protocol is tcp or udp, not "${protocol}"`, 2);
    try {
      if (process.getuid?.() !== 0) throw new TraceError("cairn trace reads the kernel state of the cluster's namespaces: run it as root");
      const p = await prepareTrace({
        from: positionals[0]!,
        to: positionals[1]!,
        namespace: v.namespace as string | undefined,
        protocol,
        dataDir: (v['data-dir'] as string | undefined) ?? DEFAULT_CLUSTER_DIR,
        kubeconfig: v.kubeconfig as string | undefined,
      });
      const result = await new Tracer(p.topo, conntrackFlows).trace(p.start, p.packet, { from: p.from, to: p.to });
      console.log(output === 'json' ? JSON.stringify(result, null, 2) : renderTrace(result));
    } catch (e) {
      if (e instanceof TraceError || e instanceof ClusterError || e instanceof InvalidArgumentError) throw new CliError(e.message);
      if (e instanceof IpError || e instanceof NftError || e instanceof ConntrackError) throw new CliError(`reading the kernel failed: ${e.message}`);
      throw e;
    }
  },
};
