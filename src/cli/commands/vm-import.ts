/**
 * `cairn vm import FILE [--name NAME] [-n NS] [--storage-class SC] [--start]`: a VM from an OVA,
 * an OVF with its disk files beside it, or a bare disk image (src/virt/import/import-source.ts).
 * Everything is read and checked first (descriptor, manifest digests, each disk with qemu-img)
 * and the names are checked free, so a refused import creates nothing. Then each disk gets a
 * DataVolume with an upload source (vm-plan.ts) that the disk is uploaded into as
 * `cairn vm image-upload` does — qemu-img in the upload server converts VMDK, VHD(X), qcow2 to
 * raw — and last the VirtualMachine, Halted unless --start. If an upload fails, the
 * DataVolumes made so far are deleted again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNotFound } from '../../client/index.js';
import { ANN_IMMEDIATE_BINDING, DATAVOLUMES } from '../../virt/cdi/datavolume-api.js';
import { VIRTUAL_MACHINES } from '../../virt/controllers/vm-api.js';
import { readImportSource, withFilesystemHeadroom } from '../../virt/import/import-source.js';
import { planImport } from '../../virt/import/vm-plan.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { apiSession, cliErrorOf, uploadIntoDataVolume } from './vm-image-upload.js';

type Values = Parameters<Command['run']>[0];

const MI = 2 ** 20;
const UPLOAD_POD_WAIT_MS = 300_000;

export const vmImportOptions: Command['options'] = {
  name: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'storage-class': { type: 'string' },
  start: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'data-dir': { type: 'string' },
};

export const vmImportUsage = [
  'usage: cairn vm import FILE [--name NAME] [-n NAMESPACE] [--storage-class SC] [--start]',
  '',
  '  FILE                    an OVA, an OVF (its disk files beside it), or a disk image (raw, qcow2, vmdk, vhd, vhdx, vdi)',
  '  --name NAME             the VirtualMachine (default: the OVF name, or the disk file name, as a DNS label)',
  '  --storage-class SC      for the disks\' DataVolumes (default: the default StorageClass)',
  '  --start                 start the VM once its disks are in (default: runStrategy Halted)',
  '  -n, --namespace NS      default "default"',
  "  --kubeconfig FILE       default: $KUBECONFIG, else the local cluster's (--data-dir, default /var/lib/cairn)",
  '',
  'A bare disk gets 1 vCPU, 1Gi of memory, BIOS and one NIC on the pod network (masquerade).',
].join('\n');

async function exists(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

export async function runVmImport(v: Values, positionals: string[]): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new CliError('cairn vm import takes one FILE (an OVA, an OVF or a disk image)', 2);
  const namespace = (v.namespace as string | undefined) ?? 'default';
  const work = await mkdtemp(join(tmpdir(), 'cairn-vm-import-'));
  const s = apiSession(v);
  const created: string[] = [];
  let done = false;
  try {
    const source = await readImportSource(file, work).catch((e: Error) => {
      throw new CliError(`cairn vm import ${file}: ${e.message}`);
    });
    for (const d of source.vm.disks) d.capacityBytes = withFilesystemHeadroom(d.capacityBytes);
    const plan = planImport(source.vm, {
      namespace,
      ...(v.name ? { name: v.name as string } : {}),
      ...(v['storage-class'] ? { storageClassName: v['storage-class'] as string } : {}),
      runStrategy: v.start ? 'Always' : 'Halted',
    });
    const vmName = plan.vm.metadata.name!;
    if (await exists(() => s.client.resource(VIRTUAL_MACHINES).get(vmName, namespace))) throw new CliError(`cairn vm import: VirtualMachine ${namespace}/${vmName} already exists (choose another --name)`);
    for (const dv of plan.dataVolumes) {
      const n = dv.object.metadata.name!;
      if (await exists(() => s.client.resource(DATAVOLUMES).get(n, namespace))) throw new CliError(`cairn vm import: DataVolume ${namespace}/${n} already exists (choose another --name)`);
    }
    for (const w of plan.warnings) console.error(`warning: ${w}`);

    for (const dv of plan.dataVolumes) {
      const n = dv.object.metadata.name!;
      // The disk goes in now: the claim must not wait for the VM to be its first consumer.
      dv.object.metadata.annotations = { ...dv.object.metadata.annotations, [ANN_IMMEDIATE_BINDING]: 'true' };
      await s.client.resource(DATAVOLUMES).create(dv.object, { namespace });
      created.push(n);
      console.log(`DataVolume ${namespace}/${n} created`);
    }
    for (const dv of plan.dataVolumes) {
      if (!dv.file) continue;
      const disk = source.disks.get(dv.file)!;
      console.log(`Uploading ${dv.file} (${disk.info.format}, ${Math.ceil(disk.info.virtualSizeBytes / MI)} MiB) into ${dv.object.metadata.name}`);
      await uploadIntoDataVolume(s, namespace, dv.object.metadata.name!, disk.path, UPLOAD_POD_WAIT_MS, (l) => console.log(l));
    }
    await s.client.resource(VIRTUAL_MACHINES).create(plan.vm, { namespace });
    done = true;
    console.log(`VirtualMachine ${namespace}/${vmName} created${v.start ? ' and starting' : ' (Halted: cairn vm start ' + vmName + ')'}`);
    return 0;
  } catch (e) {
    throw cliErrorOf(e, `cairn vm import ${file}`);
  } finally {
    if (!done) for (const n of created) await s.client.resource(DATAVOLUMES).delete(n, { namespace }).catch(() => undefined);
    s.transport.close();
    await rm(work, { recursive: true, force: true });
  }
}
