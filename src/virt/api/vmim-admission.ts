/**
 * KubeVirt's admission webhooks for migrations as one Cairn admission plugin:
 * - VirtualMachineInstanceMigration create (`migrations-mutator.kubevirt.io`, then
 *   `migration-create-validator.kubevirt.io`): the `kubevirt.io/vmi-name` label and the
 *   migration finalizer are added; the VMI must exist, not have ended, run, not be
 *   LiveMigratable=False, and have no other migration in flight.
 * - VirtualMachineInstanceMigration update (`migration-update-validator.kubevirt.io`): the spec
 *   is immutable, and so is the selector label of a migration in flight.
 * - MigrationPolicy create/update (`migration-policy-validator.kubevirt.io`, migration-policy.ts).
 * - KubeVirt CR create (`kubevirt-create-validator.kubevirt.io`: only one) and create/update
 *   (`kubevirt-update-validator.kubevirt.io`: the migration configuration, kubevirt-cr.ts).
 * KubeVirt answers the create refusals that are not field causes with 400 and the bare message
 * (webhookutils.ToAdmissionResponseError), which kube-apiserver prefixes with the webhook's name.
 */
import type { RegistryAccess } from '../../api/admission/resource-quota.js';
import { ApiError } from '../../api/errors.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import type { KubeObject } from '../../util/object.js';
import { deepEqual } from '../../util/object.js';
import { conditionOf } from '../controllers/vm-api.js';
import { isFinalPhase } from '../controllers/vmi-status.js';
import { MIGRATION_FINALIZER } from '../controllers/migration-phase.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { MIGRATION_POLICIES, type VirtualMachineInstanceMigration, VMIMS } from '../migration/migration-state.js';
import { KUBEVIRT_GROUP } from './kubevirt.js';
import { ALREADY_CREATED, isKubeVirtCr, KUBEVIRT_CREATE_WEBHOOK, KUBEVIRT_UPDATE_WEBHOOK, KUBEVIRTS, type KubeVirt, validateKubeVirt } from './kubevirt-cr.js';
import { type MigrationPolicy, MIGRATION_POLICY_WEBHOOK, validateMigrationPolicy } from './migration-policy.js';
import { type Cause, notSupported, required, webhookDenied } from './vmi-validation-causes.js';

/** KubeVirt's label naming a migration's VMI (MigrationSelectorLabel). */
export const LABEL_MIGRATION_VMI_NAME = 'kubevirt.io/vmi-name';

export const MIGRATION_WEBHOOKS = {
  create: 'migration-create-validator.kubevirt.io',
  update: 'migration-update-validator.kubevirt.io',
} as const;

/** A webhook's refusal without causes: kube-apiserver's ToStatusErr keeps the webhook's code and leaves the reason empty. */
export function webhookRefusal(webhook: string, code: number, message: string): ApiError {
  return new ApiError(code, '', `admission webhook "${webhook}" denied the request: ${message}`);
}

/** KubeVirt's isMigratable: only an explicit LiveMigratable=False refuses (the handler sets it on running VMIs). */
export function migratableRefusal(vmi: Vmi): string | undefined {
  const c = conditionOf(vmi, 'LiveMigratable');
  return c?.status === 'False' ? `Cannot migrate VMI, Reason: ${c.reason ?? ''}, Message: ${c.message ?? ''}` : undefined;
}

const isFinalMigration = (m: KubeObject) => ['Succeeded', 'Failed'].includes((m.status as { phase?: string } | undefined)?.phase ?? '');

/** The VMI's migrations that have not ended (KubeVirt's ensureNoMigrationConflict lists them by the selector label). */
export async function inFlightMigrations(access: RegistryAccess, ns: string, vmiName: string): Promise<KubeObject[]> {
  const kind = access.catalog().byPlural(VMIMS.group, VMIMS.version, VMIMS.plural);
  if (!kind) return [];
  const list = await access.registry().list(kind, ns, { labelSelector: `${LABEL_MIGRATION_VMI_NAME}=${vmiName}` });
  return list.items.filter((m) => !isFinalMigration(m));
}

async function getVmi(access: RegistryAccess, ns: string, name: string): Promise<Vmi | undefined> {
  const kind = access.catalog().byPlural(KUBEVIRT_GROUP, 'v1', 'virtualmachineinstances');
  if (!kind) return undefined;
  try {
    return (await access.registry().get(kind, ns, name)) as Vmi;
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return undefined;
    throw e;
  }
}

async function admitCreate(access: RegistryAccess, a: AdmissionAttributes): Promise<void> {
  const vmim = a.object as unknown as VirtualMachineInstanceMigration;
  const vmiName = vmim.spec?.vmiName ?? '';
  // The mutating webhook runs first.
  vmim.metadata.labels = { ...vmim.metadata.labels, [LABEL_MIGRATION_VMI_NAME]: vmiName };
  if (!vmim.metadata.finalizers?.includes(MIGRATION_FINALIZER)) vmim.metadata.finalizers = [...(vmim.metadata.finalizers ?? []), MIGRATION_FINALIZER];

  if (!vmiName) throw webhookDenied(MIGRATION_WEBHOOKS.create, [required('spec.vmiName', 'vmiName is missing')]);
  const refuse = (message: string) => webhookRefusal(MIGRATION_WEBHOOKS.create, 400, message);
  const ns = a.namespace ?? '';
  const vmi = await getVmi(access, ns, vmiName);
  if (!vmi) throw refuse(`the VMI "${ns}/${vmiName}" does not exist`);
  const phase = vmi.status?.phase ?? 'Pending';
  if (isFinalPhase(phase)) throw refuse('Cannot migrate VMI in finalized state.');
  // KubeVirt admits it and leaves the migration Pending until the VMI runs; Cairn refuses at once.
  if (phase !== 'Running') throw refuse(`Cannot migrate VMI that is not running (phase ${phase}).`);
  const notMigratable = migratableRefusal(vmi);
  if (notMigratable) throw refuse(notMigratable);
  const active = (await inFlightMigrations(access, ns, vmiName))[0];
  if (active) throw refuse(`in-flight migration detected. Active migration job (${active.metadata.uid}) is currently already in progress for VMI ${vmiName}.`);
}

/** virt-operator's create validator: a KubeVirt CR anywhere in the cluster refuses another. */
async function admitKubeVirtCreate(access: RegistryAccess): Promise<void> {
  const kind = access.catalog().byPlural(KUBEVIRTS.group, KUBEVIRTS.version, KUBEVIRTS.plural);
  if (!kind) return;
  const existing = await access.registry().list(kind, undefined, {});
  if (existing.items.length) throw webhookRefusal(KUBEVIRT_CREATE_WEBHOOK, 400, ALREADY_CREATED);
}

function updateCauses(vmim: KubeObject, old: KubeObject): Cause[] {
  if (!deepEqual(vmim.spec, old.spec)) return [notSupported('', "update of Migration object's spec is restricted")];
  const before = old.metadata.labels?.[LABEL_MIGRATION_VMI_NAME];
  const after = vmim.metadata.labels?.[LABEL_MIGRATION_VMI_NAME];
  if (before !== undefined && !isFinalMigration(vmim) && after !== before) {
    return [notSupported('', after === undefined ? "selector label can't be removed from an in-flight migration" : "selector label can't be modified on an in-flight migration")];
  }
  return [];
}

export function migrationAdmission(access: RegistryAccess): AdmissionPlugin {
  return {
    name: 'KubeVirtMigrationWebhooks',
    async admit(a) {
      if (a.subresource || !a.object || a.operation === 'DELETE') return;
      if (a.kind.group === VMIMS.group && a.kind.plural === VMIMS.plural) {
        if (a.operation === 'CREATE') return admitCreate(access, a);
        const causes = updateCauses(a.object, a.oldObject!);
        if (causes.length) throw webhookDenied(MIGRATION_WEBHOOKS.update, causes);
      } else if (a.kind.group === MIGRATION_POLICIES.group && a.kind.plural === MIGRATION_POLICIES.plural) {
        const causes = validateMigrationPolicy(a.object as MigrationPolicy);
        if (causes.length) throw webhookDenied(MIGRATION_POLICY_WEBHOOK, causes);
      } else if (isKubeVirtCr(a.kind.group, a.kind.plural)) {
        if (a.operation === 'CREATE') await admitKubeVirtCreate(access);
        const causes = validateKubeVirt(a.object as KubeVirt);
        if (causes.length) throw webhookDenied(KUBEVIRT_UPDATE_WEBHOOK, causes);
      }
    },
  };
}
