/**
 * `cairn vm VERB NAME`: virtctl's verbs, through the same subresources.kubevirt.io/v1 API (so RBAC
 * on `virtualmachines/start`, `virtualmachineinstances/console` etc. applies as in KubeVirt):
 * start, stop, restart and migrate a VirtualMachine; pause and unpause a VMI (`pause NAME`, or
 * virtctl's `pause vm|vmi NAME`); the serial console (vm-console.ts) and a local VNC proxy
 * (vm-vnc.ts); image-upload (vm-image-upload.ts).
 */
import { ClientError, HttpsTransport, StatusError } from '../../client/index.js';
import { loadKubeconfig } from '../../client/kubeconfig.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CONSOLE_TIMEOUT_MINUTES, runConsole } from './vm-console.js';
import { kubeconfigPath, runVmImageUpload, vmImageUploadOptions, vmImageUploadUsage } from './vm-image-upload.js';
import { runVmImport, vmImportOptions, vmImportUsage } from './vm-import.js';
import { runVnc } from './vm-vnc.js';
import { vmiSubresourcePath } from './vmi-websocket.js';

type Values = Parameters<Command['run']>[0];

const VM_VERBS = {
  start: 'start a stopped VirtualMachine (runStrategy Halted → Always, or Manual: a VMI now)',
  stop: 'stop a VirtualMachine gracefully (its VMI is deleted; --grace-period overrides the VMI\'s)',
  restart: 'restart a running VirtualMachine (its VMI is replaced)',
  migrate: 'live-migrate the VirtualMachine\'s VMI to another node (a VirtualMachineInstanceMigration)',
} as const;
const VMI_VERBS = {
  pause: 'pause a running VMI (the guest\'s CPUs stop; `pause vm NAME` pauses the VM\'s VMI)',
  unpause: 'resume a paused VMI',
  console: 'the VMI\'s serial console (Ctrl+] quits; --timeout MINUTES to wait for it, default 5)',
  vnc: 'a local port (127.0.0.1, --port N) any VNC viewer can connect to; --proxy-only prints {"port":N}',
} as const;
type VmVerb = keyof typeof VM_VERBS;
const isVmVerb = (v: string | undefined): v is VmVerb => v !== undefined && Object.hasOwn(VM_VERBS, v);
const ALL_VERBS = [...Object.keys(VM_VERBS), ...Object.keys(VMI_VERBS), 'image-upload', 'import'];

/** The API path of a VM subresource, as virtctl calls it. */
export function vmSubresourcePath(namespace: string, name: string, verb: VmVerb): string {
  return `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}/${verb}`;
}

const kubeconfigOf = (v: Values) => kubeconfigPath(v.kubeconfig as string | undefined, v['data-dir'] as string | undefined);

function vmBody(verb: VmVerb, v: Values, dryRun: object): Record<string, unknown> {
  const grace = v['grace-period'] as string | undefined;
  if (grace !== undefined && !/^\d+$/.test(grace)) throw new CliError(`--grace-period wants whole seconds, got "${grace}"`, 2);
  if (verb === 'start') return { kind: 'StartOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(v.paused ? { paused: true } : {}), ...dryRun };
  if (verb === 'stop') return { kind: 'StopOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(grace !== undefined ? { gracePeriod: Number(grace) } : {}), ...dryRun };
  if (verb === 'restart') return { kind: 'RestartOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(grace !== undefined ? { gracePeriodSeconds: Number(grace) } : {}), ...dryRun };
  return { kind: 'MigrateOptions', apiVersion: 'subresources.kubevirt.io/v1', ...dryRun };
}

const DONE: Record<VmVerb, string> = { start: 'was scheduled to start', stop: 'was scheduled to stop', restart: 'was scheduled to restart', migrate: 'was scheduled to migrate' };

/**
 * One request, its failure as one line (`what: message`); `onStatus` may word an API error
 * itself.
 */
async function request(v: Values, req: { method: 'GET' | 'PUT'; path: string; body?: Record<string, unknown> }, what: string, onStatus?: (e: StatusError) => string | undefined): Promise<unknown> {
  const transport = HttpsTransport.fromKubeconfig(kubeconfigOf(v), { timeoutMs: 30_000 });
  try {
    return (await transport.request(req)).body;
  } catch (e) {
    if (e instanceof StatusError) throw new CliError(`${what}: ${onStatus?.(e) ?? e.status.message ?? e.message}`);
    if (e instanceof ClientError) throw new CliError(`${what}: ${e.message}`);
    throw e;
  } finally {
    transport.close();
  }
}

async function runVmVerb(verb: VmVerb, v: Values, args: string[], namespace: string): Promise<void> {
  const [name, ...extra] = args;
  if (!name || extra.length) throw new CliError(`cairn vm ${verb} takes one VirtualMachine name`, 2);
  await request(v, { method: 'PUT', path: vmSubresourcePath(namespace, name, verb), body: vmBody(verb, v, v['dry-run'] ? { dryRun: ['All'] } : {}) }, `cairn vm ${verb} ${name}`);
  console.log(`VM ${name} ${DONE[verb]}${v['dry-run'] ? ' (dry run)' : ''}`);
}

/**
 * pause/unpause NAME (a VMI), or virtctl's pause/unpause vm|vmi NAME. The vm form reads the VM
 * first and, as virtctl's pause, says why a VM has no VMI to pause.
 */
async function runPause(verb: 'pause' | 'unpause', v: Values, args: string[], namespace: string): Promise<void> {
  const kindGiven = args.length === 2 && /^(vm|vmi|virtualmachine|virtualmachineinstance)$/i.test(args[0]);
  const [name, ...extra] = kindGiven ? args.slice(1) : args;
  if (!name || extra.length) throw new CliError(`cairn vm ${verb} takes one VirtualMachineInstance name (or vm|vmi NAME)`, 2);
  const what = `cairn vm ${verb} ${name}`;
  let vm: { spec?: { runStrategy?: string; running?: boolean } } | undefined;
  if (kindGiven && /^(vm|virtualmachine)$/i.test(args[0])) {
    const path = `/apis/kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}`;
    vm = (await request(v, { method: 'GET', path }, what, (e) => `Error getting VirtualMachine ${name}: ${e.status.message ?? e.message}`)) as typeof vm;
  }
  const halted = vm?.spec?.runStrategy === 'Halted' || (vm?.spec?.runStrategy === undefined && vm?.spec?.running === false);
  const vmNotFound = (e: StatusError) =>
    vm && verb === 'pause' && e.status.code === 404 ? (halted ? `VirtualMachine ${name} is not set to run` : `VirtualMachineInstance ${name} was not found`) : undefined;
  if (v['dry-run']) console.log('Dry Run execution');
  const body = { kind: verb === 'pause' ? 'PauseOptions' : 'UnpauseOptions', apiVersion: 'subresources.kubevirt.io/v1', ...(v['dry-run'] ? { dryRun: ['All'] } : {}) };
  await request(v, { method: 'PUT', path: vmiSubresourcePath(namespace, name, verb), body }, what, vmNotFound);
  console.log(`VMI ${name} was scheduled to ${verb}`);
}

function wholeNumber(v: Values, flag: string, fallback: number): number {
  const text = v[flag] as string | undefined;
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new CliError(`--${flag} wants a whole number, got "${text}"`, 2);
  return Number(text);
}

async function runStream(verb: 'console' | 'vnc', v: Values, args: string[], namespace: string): Promise<number> {
  const [name, ...extra] = args;
  if (!name || extra.length) throw new CliError(`cairn vm ${verb} takes one VirtualMachineInstance name`, 2);
  const conn = loadKubeconfig(kubeconfigOf(v));
  if (verb === 'console') return runConsole(conn, namespace, name, wholeNumber(v, 'timeout', DEFAULT_CONSOLE_TIMEOUT_MINUTES));
  return runVnc(conn, namespace, name, { proxyOnly: v['proxy-only'] === true, port: wholeNumber(v, 'port', 0) });
}

export const vmCommand: Command = {
  name: 'vm',
  summary: 'start, stop, pause, console, vnc and more for KubeVirt VirtualMachines',
  usage: [
    'usage: cairn vm VERB NAME [-n NAMESPACE] [--kubeconfig FILE] [options]',
    '',
    ...Object.entries({ ...VM_VERBS, ...VMI_VERBS }).map(([verb, what]) => `  ${verb.padEnd(9)} ${what}`),
    `  ${'image-upload'.padEnd(9)} upload a disk image into a DataVolume (below)`,
    `  ${'import'.padEnd(9)} make a VirtualMachine and its DataVolumes from an OVA, OVF or disk image (below)`,
    '',
    '  -n, --namespace NS      default "default"',
    '  --grace-period SECONDS  stop, restart: the guest\'s shutdown grace period',
    '  --paused                start: start the guest paused',
    '  --dry-run               ask the server to check the request without acting',
    '  --timeout MINUTES       console: how long to wait for the VMI to run (default 5; 0: try once)',
    '  --port N                vnc: the local port (default: any free one)',
    '  --proxy-only            vnc: print {"port":N} only',
    "  --kubeconfig FILE       default: $KUBECONFIG, else the local cluster's (--data-dir, default /var/lib/cairn)",
    '',
    vmImageUploadUsage,
    '',
    vmImportUsage,
  ].join('\n'),
  options: {
    ...vmImageUploadOptions,
    ...vmImportOptions,
    namespace: { type: 'string', short: 'n' },
    'grace-period': { type: 'string' },
    paused: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    timeout: { type: 'string' },
    port: { type: 'string' },
    'proxy-only': { type: 'boolean' },
    kubeconfig: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run(v, positionals) {
    const [verb, ...args] = positionals;
    if (verb === 'image-upload') return runVmImageUpload(v, args);
    if (verb === 'import') return runVmImport(v, args);
    const namespace = (v.namespace as string | undefined) ?? 'default';
    if (isVmVerb(verb)) return runVmVerb(verb, v, args, namespace);
    if (verb === 'pause' || verb === 'unpause') return runPause(verb, v, args, namespace);
    if (verb === 'console' || verb === 'vnc') return runStream(verb, v, args, namespace);
    throw new CliError(`cairn vm wants one of ${ALL_VERBS.join(', ')}${verb ? `, not "${verb}"` : ''}`, 2);
  },
};
