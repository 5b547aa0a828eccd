/**
 * KubeVirt's `virt-launcher-eviction-interceptor.kubevirt.io` webhook on pods/eviction (its
 * pod-eviction admitter) with its evacuation controller's part folded in: evicting the launcher
 * pod that carries a VMI whose evictionStrategy is LiveMigrate (or LiveMigrateIfPossible and the
 * VMI is LiveMigratable) marks the VMI (status.evacuationNodeName), creates a migration for it
 * (generateName `kubevirt-evacuation-`, annotation `kubevirt.io/evacuationMigration` naming the
 * node) unless one is in flight, and refuses the eviction with 429 — so `kubectl drain` retries
 * until the pod is gone, the guest having moved. Evicting a launcher pod that ended passes; one
 * that does not carry the guest (a migration's target, or a source the guest left) is refused
 * until it ends, as KubeVirt does. External only marks the VMI.
 */
import type { RegistryAccess } from '../../api/admission/resource-quota.js';
import { SYSTEM_USER } from '../../api/bootstrap.js';
import { ApiError } from '../../api/errors.js';
import type { EvictionAdmission } from '../../api/pod-subresources.js';
import { podNodeName } from '../../controllers/util/nodes.js';
import { podPhase } from '../../controllers/util/pod-state.js';
import type { WriteContext } from '../../registry/hooks.js';
import type { KubeObject } from '../../util/object.js';
import { ANN_DOMAIN, APP_VIRT_LAUNCHER, LABEL_APP } from '../launcher/layout.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { VMIMS } from '../migration/migration-state.js';
import { KUBEVIRT_GROUP } from './kubevirt.js';
import { inFlightMigrations } from './vmim-admission.js';

export const EVICTION_WEBHOOK = 'virt-launcher-eviction-interceptor.kubevirt.io';
/** KubeVirt's annotation on an evacuation's migration: the node being drained. */
export const ANN_EVACUATION_MIGRATION = 'kubevirt.io/evacuationMigration';
export const EVACUATION_PREFIX = 'kubevirt-evacuation-';

/** KubeVirt's denied(): 429, so clients retry; kube-apiserver prefixes the webhook's name. */
const denied = (message: string) => new ApiError(429, '', `admission webhook "${EVICTION_WEBHOOK}" denied the request: ${message}`);

const isMigratable = (vmi: Vmi) => vmi.status?.conditions?.some((c) => c.type === 'LiveMigratable' && c.status === 'True') ?? false;

/** What the VMI's eviction strategy asks for: nothing, a mark only (External), or a migration. */
function plan(vmi: Vmi): 'pass' | 'mark' | 'migrate' {
  switch (vmi.spec.evictionStrategy) {
    case 'LiveMigrate':
      if (!isMigratable(vmi)) throw denied(`VMI ${vmi.metadata.name} is configured with an eviction strategy but is not live-migratable`);
      return 'migrate';
    case 'LiveMigrateIfPossible':
      return isMigratable(vmi) ? 'migrate' : 'pass';
    case 'External':
      return 'mark';
    default:
      return 'pass';
  }
}

/** The migration KubeVirt's evacuation controller creates (GenerateNewMigration). */
export function evacuationMigration(vmi: Vmi, node: string): KubeObject {
  return {
    apiVersion: `${KUBEVIRT_GROUP}/v1`,
    kind: 'VirtualMachineInstanceMigration',
    metadata: { generateName: EVACUATION_PREFIX, namespace: vmi.metadata.namespace, annotations: { [ANN_EVACUATION_MIGRATION]: node } },
    spec: { vmiName: vmi.metadata.name },
  };
}

export function launcherEvictionAdmission(access: RegistryAccess): EvictionAdmission {
  return async (pod, ctx) => {
    if (pod.metadata.labels?.[LABEL_APP] !== APP_VIRT_LAUNCHER || ['Succeeded', 'Failed'].includes(podPhase(pod))) return;
    const vmiName = pod.metadata.annotations?.[ANN_DOMAIN];
    if (!vmiName) return;
    const ns = pod.metadata.namespace!;
    const vmiKind = access.catalog().byPlural(KUBEVIRT_GROUP, 'v1', 'virtualmachineinstances');
    let vmi: Vmi;
    try {
      vmi = (await access.registry().get(vmiKind!, ns, vmiName)) as Vmi;
    } catch (e) {
      throw denied(`kubevirt failed getting the vmi: ${(e as Error).message}`);
    }
    const wanted = plan(vmi);
    if (wanted === 'pass') return;
    const triggered = `Eviction triggered evacuation of VMI "${ns}/${vmiName}"`;
    const node = podNodeName(pod);
    const inFlight = wanted === 'migrate' ? await inFlightMigrations(access, ns, vmiName) : [];
    if (vmi.status?.evacuationNodeName && (wanted === 'mark' || inFlight.length)) throw denied(`Evacuation in progress: ${triggered}`);
    if (vmi.status?.nodeName !== node) throw denied('Eviction request for target Pod');
    // virt-api writes as its own service account, past the VMI's update webhook.
    const system: WriteContext = { ...ctx, user: SYSTEM_USER, fieldManager: 'virt-api', subresource: undefined };
    await access.registry().updateRaw(vmiKind!, ns, vmiName, system, (o) => {
      o.status = { ...(o.status as object), evacuationNodeName: node };
    });
    if (wanted === 'migrate' && !inFlight.length) {
      const vmimKind = access.catalog().byPlural(VMIMS.group, VMIMS.version, VMIMS.plural)!;
      try {
        await access.registry().create(vmimKind, ns, evacuationMigration(vmi, node), system);
      } catch (e) {
        // Still a 429: KubeVirt's evacuation controller retries too, and drain keeps asking.
        throw denied(`kubevirt failed creating the evacuation migration: ${(e as Error).message}`);
      }
    }
    throw denied(triggered);
  };
}
