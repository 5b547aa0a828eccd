/**
 * `cairn vm image-upload dv|pvc NAME --image-path FILE --size 1Gi [...]`: virtctl image-upload
 * against Cairn. It creates the DataVolume with an upload source (unless it exists as one, or
 * --no-create), waits for its upload server to be ready (UploadReady), streams the file to it
 * with a progress line, and waits for Succeeded. The pvc form does the same with a bare claim
 * annotated as CDI's upload target, following CDI's pod.ready / pod.phase annotations on it. The server is reached through the API server's
 * pods/portforward with the DataVolume's upload token (src/virt/cdi/upload-client.ts) instead of
 * CDI's upload proxy; virtctl's flags and messages otherwise.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, ClientError, HttpsTransport, isNotFound, StatusError } from '../../client/index.js';
import { parseQuantity } from '../../registry/validation.js';
import { ANN_CONTENT_TYPE, ANN_IMMEDIATE_BINDING, ANN_POD_PHASE, ANN_POD_READY, type DataVolume, DATAVOLUMES } from '../../virt/cdi/datavolume-api.js';
import { ANN_UPLOAD_REQUEST, isUploadSource } from '../../virt/cdi/upload-api.js';
import { PVCS } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import { sendImage, UploadError, waitForPhase } from '../../virt/cdi/upload-client.js';
import { PortForwardError } from '../../virt/cdi/upload-port-forward.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CLUSTER_DIR } from './up.js';

type Values = Parameters<Command['run']>[0];

/** virtctl's default --wait-secs. */
const DEFAULT_WAIT_SECS = 300;
/** How long the upload server may take to convert the image once it has it all. */
const PROCESSING_TIMEOUT_MS = 30 * 60_000;

export const vmImageUploadOptions: Command['options'] = {
  'image-path': { type: 'string' },
  size: { type: 'string' },
  'storage-class': { type: 'string' },
  'access-mode': { type: 'string' },
  'volume-mode': { type: 'string' },
  'no-create': { type: 'boolean' },
  'force-bind': { type: 'boolean' },
  block: { type: 'boolean' },
  'wait-secs': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  'data-dir': { type: 'string' },
};

export const vmImageUploadUsage = [
  'usage: cairn vm image-upload dv|pvc NAME --image-path FILE --size SIZE [options]',
  '',
  '  --image-path FILE       the disk image (raw, qcow2, vmdk, vhd, vhdx, vdi; gzip or xz compressed)',
  '  --size SIZE             the DataVolume to create, e.g. 10Gi',
  '  --storage-class SC      default: the default StorageClass',
  '  --access-mode MODE      ReadWriteOnce, ReadWriteMany, ... (default: the class\'s)',
  '  --volume-mode MODE      block or filesystem (default: the class\'s; a pvc: filesystem)',
  '  --block                 pvc: a Block claim (virtctl\'s older spelling of --volume-mode block)',
  '  --no-create             upload into an existing upload DataVolume (or claim) only',
  '  --force-bind            bind the claim now, even on a WaitForFirstConsumer class',
  '  --wait-secs N           how long to wait for the upload server (default 300)',
  '  -n, --namespace NS      default "default"',
  "  --kubeconfig FILE       default: $KUBECONFIG, else the local cluster's (--data-dir, default /var/lib/cairn)",
].join('\n');

/** kubectl's order: --kubeconfig, $KUBECONFIG, then the local `cairn up` cluster's admin kubeconfig. */
export function kubeconfigPath(flag: string | undefined, dataDir: string | undefined): string {
  const path = flag ?? (dataDir ? undefined : process.env.KUBECONFIG?.split(':')[0]) ?? join(dataDir ?? DEFAULT_CLUSTER_DIR, 'kubeconfig');
  if (!existsSync(path)) throw new CliError(`no kubeconfig at ${path}: pass --kubeconfig FILE (or start a cluster with cairn up)`);
  return path;
}

export interface ApiSession {
  transport: HttpsTransport;
  client: Client;
}

export function apiSession(v: Values): ApiSession {
  const transport = HttpsTransport.fromKubeconfig(kubeconfigPath(v.kubeconfig as string | undefined, v['data-dir'] as string | undefined), { timeoutMs: 30_000 });
  return { transport, client: new Client(transport) };
}

/** An API or upload failure as the one line a user sees. */
export function cliErrorOf(e: unknown, what: string): unknown {
  if (e instanceof StatusError) return new CliError(`${what}: ${e.status.message ?? e.message}`);
  if (e instanceof ClientError || e instanceof UploadError || e instanceof PortForwardError) return new CliError(`${what}: ${e.message}`);
  return e;
}

/** A progress line rewritten in place on a terminal, a line per 10 % otherwise. */
export function progressPrinter(label: string): (sent: number, total: number) => void {
  let shown = -1;
  const tty = process.stderr.isTTY;
  return (sent, total) => {
    const pct = total ? Math.floor((100 * sent) / total) : 100;
    if (pct === shown || (!tty && pct % 10 !== 0)) return;
    shown = pct;
    const line = `${label} ${(sent / 2 ** 20).toFixed(1)} MiB / ${(total / 2 ** 20).toFixed(1)} MiB (${pct}%)`;
    process.stderr.write(tty ? `\r${line}${pct === 100 ? '\n' : ''}` : `${line}\n`);
  };
}

/**
 * Waits for the DataVolume's upload server, sends the file and waits for Succeeded: the part of
 * image-upload that `cairn vm import` repeats for each disk.
 */
export async function uploadIntoDataVolume(s: ApiSession, namespace: string, name: string, file: string, waitMs: number, say: (line: string) => void): Promise<void> {
  say(`Waiting for DataVolume ${namespace}/${name} upload pod to be ready...`);
  const ready = await waitForPhase(s.client, namespace, name, ['UploadReady', 'WaitForFirstConsumer', 'Succeeded'], waitMs);
  if (ready.status?.phase === 'Succeeded') throw new UploadError(`DataVolume ${namespace}/${name} already successfully imported`);
  if (ready.status?.phase === 'WaitForFirstConsumer') throw new UploadError('cannot upload to DataVolume in WaitForFirstConsumer phase, make sure the PVC is Bound, or use force-bind flag');
  say('Pod now ready');
  await sendImage({ client: s.client, connection: s.transport.connection, dataVolume: ready, file, onProgress: progressPrinter(name) });
  say('Uploading data completed successfully, waiting for processing to complete, you can hit ctrl-c without interrupting the progress');
  await waitForPhase(s.client, namespace, name, ['Succeeded'], PROCESSING_TIMEOUT_MS);
  say('Processing completed successfully');
}

function volumeMode(v: string | undefined): 'Block' | 'Filesystem' | undefined {
  if (v === undefined) return undefined;
  if (/^block$/i.test(v)) return 'Block';
  if (/^filesystem$/i.test(v)) return 'Filesystem';
  throw new CliError(`Invalid volume mode '${v}'. Valid values are 'block' and 'filesystem'.`, 2);
}

function uploadDataVolume(name: string, namespace: string, v: Values): DataVolume {
  const size = v.size as string;
  if (!(parseQuantity(size) > 0)) throw new CliError(`validation failed for size=${size}: not a quantity like 10Gi`, 2);
  const access = v['access-mode'] as string | undefined;
  if (access === 'ReadOnlyMany') throw new CliError('cannot upload to a readonly volume, use either ReadWriteOnce or ReadWriteMany if supported', 2);
  const mode = volumeMode(v['volume-mode'] as string | undefined);
  return {
    apiVersion: `${DATAVOLUMES.group}/${DATAVOLUMES.version}`,
    kind: 'DataVolume',
    metadata: { name, namespace, ...(v['force-bind'] ? { annotations: { [ANN_IMMEDIATE_BINDING]: 'true' } } : {}) },
    spec: {
      source: { upload: {} },
      storage: {
        resources: { requests: { storage: size } },
        ...(v['storage-class'] ? { storageClassName: v['storage-class'] as string } : {}),
        ...(access ? { accessModes: [access] } : {}),
        ...(mode ? { volumeMode: mode } : {}),
      },
    },
  };
}

export async function runVmImageUpload(v: Values, positionals: string[]): Promise<number> {
  const [kind, name, ...extra] = positionals;
  if ((kind !== 'dv' && kind !== 'pvc') || !name || extra.length) throw new CliError('expecting two args: dv|pvc NAME', 2);
  const file = v['image-path'] as string | undefined;
  if (!file) throw new CliError('either image-path or archive-path must be provided', 2);
  if (!(await stat(file).then((s) => s.isFile(), () => false))) throw new CliError(`the image path ${file} does not exist or is not a file`);
  const waitSecs = v['wait-secs'] === undefined ? DEFAULT_WAIT_SECS : Number(v['wait-secs']);
  if (!Number.isInteger(waitSecs) || waitSecs <= 0) throw new CliError(`--wait-secs wants whole seconds, got "${v['wait-secs']}"`, 2);
  const namespace = (v.namespace as string | undefined) ?? 'default';
  const s = apiSession(v);
  try {
    if (kind === 'pvc') {
      await uploadIntoClaim(s, namespace, name, file, waitSecs * 1000, v);
      console.log(`Uploading ${file} completed successfully`);
      return 0;
    }
    let existing: DataVolume | undefined;
    try {
      existing = (await s.client.resource(DATAVOLUMES).get(name, namespace)) as DataVolume;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (existing && !isUploadSource(existing)) throw new CliError(`DataVolume ${namespace}/${name} exists and has no upload source`);
    if (!existing && v['no-create']) throw new CliError(`DataVolume ${namespace}/${name} not found (--no-create)`);
    if (existing) console.log(`Using existing DataVolume ${namespace}/${name}`);
    else {
      if (!v.size) throw new CliError('when creating a resource, the size must be specified', 2);
      await s.client.resource(DATAVOLUMES).create(uploadDataVolume(name, namespace, v), { namespace });
      console.log(`DataVolume ${namespace}/${name} created`);
    }
    await uploadIntoDataVolume(s, namespace, name, file, waitSecs * 1000, (l) => console.log(l));
    console.log(`Uploading ${file} completed successfully`);
    return 0;
  } catch (e) {
    throw cliErrorOf(e, `cairn vm image-upload ${name}`);
  } finally {
    s.transport.close();
  }
}

function uploadClaim(name: string, namespace: string, v: Values): KubeObject {
  const size = v.size as string;
  if (!(parseQuantity(size) > 0)) throw new CliError(`validation failed for size=${size}: not a quantity like 10Gi`, 2);
  const access = (v['access-mode'] as string | undefined) ?? 'ReadWriteOnce';
  if (access === 'ReadOnlyMany') throw new CliError('cannot upload to a readonly volume, use either ReadWriteOnce or ReadWriteMany if supported', 2);
  const mode = v.block ? 'Block' : volumeMode(v['volume-mode'] as string | undefined);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace,
      annotations: { [ANN_UPLOAD_REQUEST]: '', [ANN_CONTENT_TYPE]: 'kubevirt', ...(v['force-bind'] ? { [ANN_IMMEDIATE_BINDING]: 'true' } : {}) },
    },
    spec: {
      accessModes: [access],
      resources: { requests: { storage: size } },
      ...(v['storage-class'] ? { storageClassName: v['storage-class'] as string } : {}),
      ...(mode ? { volumeMode: mode } : {}),
    },
  };
}

/** Polls the claim until `ok` holds of it; its upload pod's failure ends the wait. */
async function waitForClaim(s: ApiSession, namespace: string, name: string, what: string, ok: (a: Record<string, string>) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = ((await s.client.resource(PVCS).get(name, namespace)) as KubeObject).metadata.annotations ?? {};
    if (ok(a)) return;
    if (a[ANN_POD_PHASE] === 'Failed') throw new UploadError(`the upload pod of PVC ${namespace}/${name} failed`);
    if (Date.now() > deadline) throw new UploadError(`timed out waiting for PVC ${namespace}/${name} ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** virtctl image-upload pvc: the claim (created unless it exists as an upload target), its upload pod, the file. */
async function uploadIntoClaim(s: ApiSession, namespace: string, name: string, file: string, waitMs: number, v: Values): Promise<void> {
  let claim: KubeObject | undefined;
  try {
    claim = (await s.client.resource(PVCS).get(name, namespace)) as KubeObject;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (claim) {
    const a = claim.metadata.annotations ?? {};
    if (a[ANN_UPLOAD_REQUEST] === undefined) throw new CliError(`PVC ${namespace}/${name} not available for upload`);
    if (a[ANN_POD_PHASE] === 'Succeeded') throw new CliError(`PVC ${namespace}/${name} already successfully imported/cloned/updated`);
    console.log(`Using existing PVC ${namespace}/${name}`);
  } else {
    if (v['no-create']) throw new CliError(`PVC ${namespace}/${name} not found (--no-create)`);
    if (!v.size) throw new CliError('when creating a resource, the size must be specified', 2);
    claim = (await s.client.resource(PVCS).create(uploadClaim(name, namespace, v), { namespace })) as KubeObject;
    console.log(`PVC ${namespace}/${name} created`);
  }
  console.log(`Waiting for PVC ${name} upload pod to be ready...`);
  await waitForClaim(s, namespace, name, 'upload pod to be ready', (a) => a[ANN_POD_READY] === 'true', waitMs);
  console.log('Pod now ready');
  // The upload helpers take a DataVolume; the claim has the names they derive from.
  await sendImage({ client: s.client, connection: s.transport.connection, dataVolume: { ...claim, spec: {} }, file, onProgress: progressPrinter(name) });
  console.log('Uploading data completed successfully, waiting for processing to complete, you can hit ctrl-c without interrupting the progress');
  await waitForClaim(s, namespace, name, 'upload to complete', (a) => a[ANN_POD_PHASE] === 'Succeeded', PROCESSING_TIMEOUT_MS);
  console.log('Processing completed successfully');
}
