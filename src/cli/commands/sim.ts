/**
 * `cairn sim`: simulated nodes (labelled cairn.io/simulated=true) for control-plane tests and
 * benchmarks.
 *   cairn sim add-nodes N [--kubeconfig F] [--cpu 4] [--memory 16Gi] [--pods 110] [--name-prefix sim-]
 *       registers N nodes and runs them (heartbeats, simulated kubelet) in the foreground
 *       until interrupted; a restarted `add-nodes` takes over the simulated nodes that exist.
 *   cairn sim stop-node NAME / start-node NAME [--kubeconfig F]
 *       marks a node stopped (annotation sim.cairn.io/stopped=true): whichever process runs it
 *       stops heartbeating and acting on its pods, as a failed node would; start-node resumes.
 */
import { Client, HttpsTransport, isNotFound } from '../../client/index.js';
import { NODES } from '../../controllers/util/nodes.js';
import { SIM_STOPPED_ANNOTATION, SIMULATED_LABEL, Simulator } from '../../sim/simulator.js';
import { Logger } from '../../util/log.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

const DEFAULT_KUBECONFIG = '/var/lib/cairn/admin.kubeconfig';

function clientFor(path: string | undefined): Client {
  const p = path ?? process.env.KUBECONFIG ?? DEFAULT_KUBECONFIG;
  try {
    return new Client(HttpsTransport.fromKubeconfig(p));
  } catch (e) {
    throw new CliError(`cannot use kubeconfig ${p}: ${(e as Error).message}`);
  }
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

export const simCommand: Command = {
  name: 'sim',
  summary: 'simulated nodes for tests and benchmarks (add-nodes, stop-node, start-node)',
  usage: [
    'usage: cairn sim add-nodes N [--kubeconfig FILE] [--cpu 4] [--memory 16Gi] [--pods 110] [--name-prefix sim-]',
    '                             [--start-delay MS]',
    '       cairn sim stop-node NAME [--kubeconfig FILE]',
    '       cairn sim start-node NAME [--kubeconfig FILE]',
    '',
    '  Simulated nodes carry the label cairn.io/simulated=true and the container runtime',
    '  simulated://1.0 (kubectl get nodes -o wide). They heartbeat through Leases and move pods',
    '  bound to them to Running after --start-delay ms (default 1000). Pod annotations:',
    '    sim.cairn.io/exit-after: 2s   containers exit after this long (Jobs complete)',
    '    sim.cairn.io/exit-code: "0"   with this exit code',
    '  add-nodes runs in the foreground until interrupted (the nodes then stop heartbeating).',
  ].join('\n'),
  options: {
    kubeconfig: { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    pods: { type: 'string' },
    'name-prefix': { type: 'string' },
    'start-delay': { type: 'string' },
  },
  async run(v, positionals) {
    const [sub, arg, ...extra] = positionals;
    if (extra.length) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, 2);
    switch (sub) {
      case 'add-nodes': {
        const n = Number(arg);
        if (!arg || !Number.isInteger(n) || n < 0) throw new CliError('add-nodes wants a node count, for example `cairn sim add-nodes 10`', 2);
        for (const k of ['cpu', 'memory', 'pods'] as const) {
          const q = v[k] as string | undefined;
          if (q !== undefined && !QUANTITY.test(q)) throw new CliError(`--${k} wants a quantity (for example 4, 500m, 16Gi), got "${q}"`, 2);
        }
        const delay = v['start-delay'] === undefined ? undefined : Number(v['start-delay']);
        if (delay !== undefined && (!Number.isFinite(delay) || delay < 0)) throw new CliError('--start-delay wants milliseconds', 2);
        const log = new Logger('sim');
        const sim = new Simulator(clientFor(v.kubeconfig as string | undefined), { podStartDelayMs: delay, logger: ({ level, msg, ...f }) => log.log(level, msg, f) });
        await sim.start();
        const adopted = await sim.adoptExisting();
        const added = await sim.addNodes(n, {
          cpu: v.cpu as string | undefined,
          memory: v.memory as string | undefined,
          pods: v.pods as string | undefined,
          namePrefix: v['name-prefix'] as string | undefined,
        });
        process.stderr.write(`simulating ${added.length + adopted.length} nodes (${added.length} added${adopted.length ? `, ${adopted.length} taken over` : ''}); Ctrl-C stops them\n`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGTERM', stop);
            process.off('SIGINT', stop);
            void sim.stop().then(resolve, resolve);
          };
          process.on('SIGTERM', stop);
          process.on('SIGINT', stop);
        });
        return;
      }
      case 'stop-node':
      case 'start-node': {
        if (!arg) throw new CliError(`${sub} wants a node name`, 2);
        const nodes = clientFor(v.kubeconfig as string | undefined).resource(NODES);
        let node;
        try {
          node = await nodes.get(arg);
        } catch (e) {
          if (isNotFound(e)) throw new CliError(`node "${arg}" not found`);
          throw e;
        }
        if (node.metadata.labels?.[SIMULATED_LABEL] !== 'true') throw new CliError(`node "${arg}" is not a simulated node`);
        await nodes.patch(arg, { metadata: { annotations: { [SIM_STOPPED_ANNOTATION]: sub === 'stop-node' ? 'true' : 'false' } } }, 'merge');
        console.log(`node/${arg} ${sub === 'stop-node' ? 'stopped' : 'started'}`);
        return;
      }
      default:
        throw new CliError(`unknown sim command "${sub ?? ''}"; run 'cairn sim --help'`, 2);
    }
  },
};
