/**
 * `cairn vm start|stop|restart|migrate NAME`: virtctl's verbs, through the same
 * subresources.kubevirt.io/v1 API (so RBAC on `virtualmachines/start` etc. applies as in
 * KubeVirt). The verbs that reach a running guest (pause, console, vnc, ssh) come with the launcher.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClientError, HttpsTransport, StatusError } from '../../client/index.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CLUSTER_DIR } from './up.js';

const VERBS = {
  start: 'start a stopped VirtualMachine (runStrategy Halted → Always, or Manual: a VMI now)',
  stop: 'stop a VirtualMachine gracefully (its VMI is deleted; --grace-period overrides the VMI\'s)',
  restart: 'restart a running VirtualMachine (its VMI is replaced)',
  migrate: 'live-migrate the VirtualMachine\'s VMI to another node (a VirtualMachineInstanceMigration)',
} as const;
type Verb = keyof typeof VERBS;
const isVerb = (v: string | undefined): v is Verb => v !== undefined && Object.hasOwn(VERBS, v);

/** The API path of a VM subresource, as virtctl calls it. */
export function vmSubresourcePath(namespace: string, name: string, verb: Verb): string {
  return `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}/${verb}`;
}

/** kubectl's order: --kubeconfig, $KUBECONFIG, then the local `cairn up` cluster's admin kubeconfig. */
function kubeconfigPath(flag: string | undefined, dataDir: string | undefined): string {
  const path = flag ?? (dataDir ? undefined : process.env.KUBECONFIG?.split(':')[0]) ?? join(dataDir ?? DEFAULT_CLUSTER_DIR, 'kubeconfig');
  if (!existsSync(path)) throw new CliError(`no kubeconfig at ${path}: pass --kubeconfig FILE (or start a cluster with cairn up)`);
  return path;
}

function body(verb: Verb, v: Record<string, unknown>): Record<string, unknown> {
  const dryRun = v['dry-run'] ? { dryRun: ['All'] } : {};
  const grace = v['grace-period'] as string | undefined;
  if (grace !== undefined && !/^\d+$/.test(grace)) throw new CliError(`--grace-period wants whole seconds, got "${grace}"`, 2);
  if (verb === 'start') return { kind: 'StartOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(v.paused ? { paused: true } : {}), ...dryRun };
  if (verb === 'stop') return { kind: 'StopOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(grace !== undefined ? { gracePeriod: Number(grace) } : {}), ...dryRun };
  if (verb === 'restart') return { kind: 'RestartOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(grace !== undefined ? { gracePeriodSeconds: Number(grace) } : {}), ...dryRun };
  return { kind: 'MigrateOptions', apiVersion: 'subresources.kubevirt.io/v1', ...dryRun };
}

const DONE: Record<Verb, string> = { start: 'was scheduled to start', stop: 'was scheduled to stop', restart: 'was scheduled to restart', migrate: 'was scheduled to migrate' };

export const vmCommand: Command = {
  name: 'vm',
  summary: 'start, stop, restart and migrate KubeVirt VirtualMachines',
  usage: [
    'usage: cairn vm start|stop|restart|migrate NAME [-n NAMESPACE] [--kubeconfig FILE] [options]',
    '',
    ...Object.entries(VERBS).map(([verb, what]) => `  ${verb.padEnd(9)} ${what}`),
    '',
    '  -n, --namespace NS      default "default"',
    '  --grace-period SECONDS  stop, restart: the guest\'s shutdown grace period',
    '  --paused                start: start the guest paused',
    '  --dry-run               ask the server to check the request without acting',
    "  --kubeconfig FILE       default: $KUBECONFIG, else the local cluster's (--data-dir, default /var/lib/cairn)",
  ].join('\n'),
  options: {
    namespace: { type: 'string', short: 'n' },
    'grace-period': { type: 'string' },
    paused: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    kubeconfig: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run(v, positionals) {
    const [verb, name, ...extra] = positionals;
    if (!isVerb(verb)) throw new CliError(`cairn vm wants one of ${Object.keys(VERBS).join(', ')}${verb ? `, not "${verb}"` : ''}`, 2);
    if (!name || extra.length) throw new CliError(`cairn vm ${verb} takes one VirtualMachine name`, 2);
    const namespace = (v.namespace as string | undefined) ?? 'default';
    const transport = HttpsTransport.fromKubeconfig(kubeconfigPath(v.kubeconfig as string | undefined, v['data-dir'] as string | undefined), { timeoutMs: 30_000 });
    try {
      await transport.request({ method: 'PUT', path: vmSubresourcePath(namespace, name, verb), body: body(verb, v) });
    } catch (e) {
      if (e instanceof StatusError) throw new CliError(`cairn vm ${verb} ${name}: ${e.status.message ?? e.message}`);
      if (e instanceof ClientError) throw new CliError(`cairn vm ${verb} ${name}: ${e.message}`);
      throw e;
    } finally {
      transport.close();
    }
    console.log(`VM ${name} ${DONE[verb]}${v['dry-run'] ? ' (dry run)' : ''}`);
  },
};
