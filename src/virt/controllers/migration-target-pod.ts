/**
 * A migration's target launcher pod (KubeVirt's createTargetPod, pkg/virt-controller/watch/
 * migration): the VMI's launcher pod as the VMI controller renders it, plus
 *   - the migration's uid as a label and its name as an annotation (KubeVirt's);
 *   - a required pod anti-affinity to the VMI's other launcher pods on the same host, which
 *     keeps the target off the source node (KubeVirt's rule);
 *   - the migration's spec.addedNodeSelector under the VMI's own nodeSelector;
 *   - the source pod's IP in ANN_POD_IP_HANDOFF: the target's network takes that address, so the
 *     guest keeps its IP and open connections across the move (Cairn's pod IP handoff);
 *   - when the migration may go post-copy, CAP_SYS_PTRACE on the compute container: the target's
 *     QEMU (7.2, Debian 12) takes guest page faults through the userfaultfd syscall, which with the
 *     kernel's default vm.unprivileged_userfaultfd=0 needs that capability, and without it QEMU
 *     refuses the postcopy-ram capability ("Postcopy is not supported"). Only such targets get it.
 * It stays controlled by the VMI, so deleting the VMI deletes it too. Pure.
 */
import type { KubeObject } from '../../util/object.js';
import { launcherPod, type LauncherPod } from '../launcher/launcher-pod.js';
import { COMPUTE_CONTAINER, LABEL_CREATED_BY } from '../launcher/layout.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { ANN_POD_IP_HANDOFF, LABEL_MIGRATION_JOB_UID, type VirtualMachineInstanceMigration } from '../migration/migration-state.js';

/** KubeVirt's annotation naming the migration on its target pod. */
export const ANN_MIGRATION_JOB_NAME = 'kubevirt.io/migrationJobName';
const HOSTNAME_TOPOLOGY = 'kubernetes.io/hostname';

type Obj = Record<string, unknown>;

export function migrationTargetPod(vmi: Vmi, vmim: VirtualMachineInstanceMigration, sourcePod: KubeObject, volumeModeOf: (claim: string) => string | undefined, opts: { allowPostCopy?: boolean } = {}): LauncherPod {
  const rendered = launcherPod(vmi, volumeModeOf);
  const pod = rendered.pod;
  pod.metadata.labels = { ...pod.metadata.labels, [LABEL_MIGRATION_JOB_UID]: vmim.metadata.uid! };
  const sourceIP = (sourcePod.status as { podIP?: string } | undefined)?.podIP;
  pod.metadata.annotations = { ...pod.metadata.annotations, [ANN_MIGRATION_JOB_NAME]: vmim.metadata.name!, ...(sourceIP ? { [ANN_POD_IP_HANDOFF]: sourceIP } : {}) };

  const spec = pod.spec as Obj;
  spec.nodeSelector = { ...vmim.spec.addedNodeSelector, ...(spec.nodeSelector as Record<string, string>) };
  const term = { labelSelector: { matchLabels: { [LABEL_CREATED_BY]: vmi.metadata.uid! } }, topologyKey: HOSTNAME_TOPOLOGY };
  const affinity = ((spec.affinity as Obj | undefined) ??= {});
  const anti = ((affinity.podAntiAffinity as Obj | undefined) ??= {});
  anti.requiredDuringSchedulingIgnoredDuringExecution = [...((anti.requiredDuringSchedulingIgnoredDuringExecution as Obj[] | undefined) ?? []), term];
  if (opts.allowPostCopy) {
    const compute = (spec.containers as Obj[]).find((c) => c.name === COMPUTE_CONTAINER)!;
    compute.securityContext = { ...(compute.securityContext as Obj | undefined), capabilities: { add: ['SYS_PTRACE'] } };
  }
  return rendered;
}
