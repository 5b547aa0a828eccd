/** `cairn controllers`: the controller manager as its own process, a client of a remote API server. */
import { Client, HttpsTransport } from '../../client/index.js';
import { startControllerManager } from '../../controllers/manager.js';
import { Logger } from '../../util/log.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

export const controllersCommand: Command = {
  name: 'controllers',
  summary: 'run the controllers and scheduler against an API server (leader-elected)',
  usage: [
    'usage: cairn controllers --kubeconfig FILE [--no-leader-elect]',
    '',
    '  --kubeconfig FILE   how to reach the API server (for example DATA/admin.kubeconfig)',
    '  --no-leader-elect   run without holding the kube-system/cairn-controller-manager Lease',
  ].join('\n'),
  options: { kubeconfig: { type: 'string' }, 'no-leader-elect': { type: 'boolean' } },
  async run(v) {
    const path = v.kubeconfig as string | undefined;
    if (!path) throw new CliError('--kubeconfig is required');
    let transport: HttpsTransport;
    try {
      transport = HttpsTransport.fromKubeconfig(path);
    } catch (e) {
      throw new CliError(`cannot use kubeconfig ${path}: ${(e as Error).message}`);
    }
    const log = new Logger('controllers');
    const manager = startControllerManager(new Client(transport), ({ level, msg, ...fields }) => log.log(level, msg, fields), {
      leaderElect: !v['no-leader-elect'],
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
