/**
 * KubeVirt's virt-api admission webhooks as one Cairn admission plugin, in the order the API
 * server would call them (mutating, then validating):
 * - VirtualMachineInstance create: the defaults (vmi-defaults.ts), then the create checks; update:
 *   the spec and the reserved labels are immutable for users. (KubeVirt's mutator also drops a
 *   user's status changes; Cairn keeps them, so tests and tools can play the node's part.)
 * - VirtualMachine create/update: the template's architecture, machine type and (on create)
 *   firmware UUID/serial, then KubeVirt's VM checks (vmi-admission-vm.ts).
 * KubeVirt's own components (its service accounts) are Cairn's: the API server's in-process
 * controllers and subresource handlers, and the node agents (virt-handler).
 */
import type { UserInfo } from '../../api/types.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { KUBEVIRT_GROUP } from './kubevirt.js';
import { validateVm } from './vmi-admission-vm.js';
import { setVmDefaults, setVmiDefaults } from './vmi-defaults.js';
import { webhookDenied } from './vmi-validation-causes.js';
import { validateDiscontinuedBindings } from './vmi-validation-network.js';
import { validateVmiCreate, validateVmiUpdate } from './vmi-validation.js';

/** KubeVirt's webhook names (virt-operator's install strategy), as they appear in refusals. */
export const WEBHOOKS = {
  vmiCreate: 'virtualmachineinstances-create-validator.kubevirt.io',
  vmiUpdate: 'virtualmachineinstances-update-validator.kubevirt.io',
  vm: 'virtualmachine-validator.kubevirt.io',
} as const;

/** The identity of the API server's own clients (controllers, subresource handlers). */
const API_SERVER_USER = 'system:apiserver';

/** Whether the request comes from what KubeVirt would run under its own service accounts. */
export function isKubevirtComponent(user: UserInfo): boolean {
  return user.name === API_SERVER_USER || (user.groups ?? []).includes('system:nodes');
}

async function admitVmi(a: AdmissionAttributes): Promise<void> {
  const vmi = a.object as Vmi;
  const component = isKubevirtComponent(a.user);
  if (a.operation === 'CREATE') {
    setVmiDefaults(vmi, new Date());
    const causes = [...validateDiscontinuedBindings('spec', vmi.spec), ...(await validateVmiCreate(vmi, component))];
    if (causes.length) throw webhookDenied(WEBHOOKS.vmiCreate, causes);
    return;
  }
  const causes = validateVmiUpdate(vmi, a.oldObject as Vmi, component);
  if (causes.length) throw webhookDenied(WEBHOOKS.vmiUpdate, causes);
}

async function admitVm(a: AdmissionAttributes): Promise<void> {
  const vm = a.object!;
  if (vm.metadata.deletionTimestamp) return;
  const operation = a.operation as 'CREATE' | 'UPDATE';
  setVmDefaults(vm, operation);
  const causes = await validateVm(vm, operation, isKubevirtComponent(a.user));
  if (causes.length) throw webhookDenied(WEBHOOKS.vm, causes);
}

export function kubevirtAdmission(): AdmissionPlugin {
  return {
    name: 'KubeVirtWebhooks',
    async admit(a) {
      if (a.kind.group !== KUBEVIRT_GROUP || a.subresource || !a.object || a.operation === 'DELETE') return;
      if (a.kind.plural === 'virtualmachineinstances') await admitVmi(a);
      else if (a.kind.plural === 'virtualmachines') await admitVm(a);
    },
  };
}
