/**
 * The snapshot controller's calls to a VMI's freeze and unfreeze subresources (KubeVirt's
 * kubecli VirtualMachineInstance(ns).Freeze/Unfreeze): PUTs to subresources.kubevirt.io, which the
 * API server forwards to the VMI's node (src/api/virt-node-proxy.ts). Errors are the API's
 * StatusErrors, with the node's message.
 */
import type { Client } from '../../client/index.js';
import { SUBRESOURCE_GROUP } from '../api/subresource-api.js';
import { formatGoDuration } from './go-duration.js';

export interface VmiFreezer {
  freeze(namespace: string, name: string, unfreezeTimeoutMs: number): Promise<void>;
  unfreeze(namespace: string, name: string): Promise<void>;
}

const path = (ns: string, name: string, sub: 'freeze' | 'unfreeze') =>
  `/apis/${SUBRESOURCE_GROUP}/v1/namespaces/${encodeURIComponent(ns)}/virtualmachineinstances/${encodeURIComponent(name)}/${sub}`;

export function apiVmiFreezer(client: Client): VmiFreezer {
  return {
    async freeze(ns, name, unfreezeTimeoutMs) {
      await client.transport.request({ method: 'PUT', path: path(ns, name, 'freeze'), body: { unfreezeTimeout: formatGoDuration(unfreezeTimeoutMs) } });
    },
    async unfreeze(ns, name) {
      await client.transport.request({ method: 'PUT', path: path(ns, name, 'unfreeze') });
    },
  };
}
