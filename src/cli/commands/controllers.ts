/** `cairn controllers`: the controller manager as its own process, a client of a remote API server. */
import { readFileSync } from 'node:fs';
import { Client, HttpsTransport, loadKubeconfig } from '../../client/index.js';
import { startControllerManager } from '../../controllers/manager.js';
import { Logger } from '../../util/log.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

export const controllersCommand: Command = {
  name: 'controllers',
  summary: 'run the controllers and scheduler against an API server (leader-elected)',
  usage: [
    'usage: cairn controllers --kubeconfig FILE [--root-ca-file FILE] [--no-leader-elect]',
    '',
    '  --kubeconfig FILE     how to reach the API server (for example DATA/admin.kubeconfig)',
    "  --root-ca-file FILE   the cluster CA (PEM) published as kube-root-ca.crt (default: the kubeconfig's CA)",
    '  --no-leader-elect     run without holding the kube-system/cairn-controller-manager Lease',
  ].join('\n'),
  options: { kubeconfig: { type: 'string' }, 'root-ca-file': { type: 'string' }, 'no-leader-elect': { type: 'boolean' } },
  async run(v) {
    const path = v.kubeconfig as string | undefined;
    if (!path) throw new CliError('--kubeconfig is required');
    let transport: HttpsTransport;
    try {
      transport = HttpsTransport.fromKubeconfig(path);
    } catch (e) {
      throw new CliError(`cannot use kubeconfig ${path}: ${(e as Error).message}`);
    }
    // As kube-controller-manager: --root-ca-file, else the CA the client trusts the API server by.
    const caFile = v['root-ca-file'] as string | undefined;
    let rootCaPem: string | undefined;
    try {
      rootCaPem = caFile ? readFileSync(caFile, 'utf8') : loadKubeconfig(path).ca?.toString('utf8');
    } catch (e) {
      throw new CliError(`cannot read root CA ${caFile ?? path}: ${(e as Error).message}`);
    }
    const log = new Logger('controllers');
    const manager = startControllerManager(new Client(transport), ({ level, msg, ...fields }) => log.log(level, msg, fields), {
      leaderElect: !v['no-leader-elect'],
      settings: rootCaPem ? { rootCaPem } : {},
    });
    process.stderr.write(`cairn controllers running against ${path}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void manager.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
