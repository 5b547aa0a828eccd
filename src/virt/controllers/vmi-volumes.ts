/**
 * Whether a VMI's claims allow its launcher pod now, as KubeVirt's VMI controller judges it
 * (watch/vmi/datavolumes.go areDataVolumesReady, storage/types VolumeReadyToAttachToNode): every
 * persistentVolumeClaim and dataVolume volume's claim must exist; a claim a DataVolume controls
 * is ready once that DataVolume Succeeded (or is PendingPopulation), and one waiting for its
 * first consumer lets a provisioning pod go first. Also the DataVolumes involved, for the
 * VMI's DataVolumesReady condition and its Failed phase.
 */
import { controllerRefOf } from '../../controllers/util/controller-ref.js';
import type { KubeObject } from '../../util/object.js';
import type { DataVolume } from '../cdi/datavolume-api.js';
import { claimNameOf } from '../launcher/launcher-pod.js';
import type { Vmi } from '../launcher/vmi-types.js';

export interface VolumeCheck {
  /** Every claim exists and is populated (or waits for its first consumer). */
  ready: boolean;
  /** Some DataVolume waits for its first consumer: a provisioning pod must be scheduled first. */
  waitForFirstConsumer: boolean;
  /** KubeVirt's message for the first claim that does not exist. */
  missing?: string;
  /** The DataVolumes behind the VMI's claims. */
  dataVolumes: DataVolume[];
}

const READY_PHASES = new Set(['Succeeded', 'PendingPopulation']);

export function checkVolumes(vmi: Vmi, getClaim: (name: string) => KubeObject | undefined, getDataVolume: (name: string) => DataVolume | undefined): VolumeCheck {
  const ns = vmi.metadata.namespace;
  const check: VolumeCheck = { ready: true, waitForFirstConsumer: false, dataVolumes: [] };
  for (const v of vmi.spec.volumes ?? []) {
    const name = claimNameOf(v);
    if (!name) continue;
    const claim = getClaim(name);
    const owner = claim && controllerRefOf(claim);
    const dv = owner?.kind === 'DataVolume' ? getDataVolume(owner.name) : v.dataVolume ? getDataVolume(v.dataVolume.name) : undefined;
    if (dv && !check.dataVolumes.includes(dv)) check.dataVolumes.push(dv);
    // Only disks and DataVolumes hold the pod back (KubeVirt does not wait on ephemeral ones).
    if (!v.persistentVolumeClaim && !v.dataVolume) continue;
    if (!claim) {
      check.missing ??= `PVC ${ns}/${name} does not exist, waiting for it to appear`;
      check.ready = false;
      continue;
    }
    if (owner?.kind !== 'DataVolume') continue;
    const phase = dv?.status?.phase ?? '';
    if (phase === 'WaitForFirstConsumer') check.waitForFirstConsumer = true;
    else if (!READY_PHASES.has(phase)) check.ready = false;
  }
  return check;
}

export const hasFailedDataVolume = (c: VolumeCheck) => c.dataVolumes.some((dv) => dv.status?.phase === 'Failed');
