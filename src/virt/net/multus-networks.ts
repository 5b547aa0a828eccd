// A VMI's secondary networks as its launcher pod asks Multus for them (KubeVirt's
// GenerateMultusCNIAnnotation): one NetworkSelectionElement per non-default `multus` network,
// its NAD named `[namespace/]name` (the VMI's namespace by default), the pod interface named by
// KubeVirt's hashed scheme. The guest's MAC is not requested for the pod interface: the guest NIC
// sits behind it on the in-pod bridge and keeps its own (interfaceMac). Pure.
import { ANN_NETWORKS } from '../../net/multus-annotation.js';
import type { Vmi, VmiNetwork } from '../launcher/vmi-types.js';
import { podInterfaceName } from './secondary-names.js';

export interface SecondaryNetwork {
  /** The VMI's network (and interface) name. */
  name: string;
  nadNamespace: string;
  nadName: string;
  podIface: string;
}

const isSecondary = (n: VmiNetwork): n is VmiNetwork & { multus: { networkName: string } } => !!n.multus && !n.multus.default;

export function secondaryNetworks(vmi: Vmi): SecondaryNetwork[] {
  return (vmi.spec.networks ?? []).filter(isSecondary).map((n) => {
    const [a, b] = n.multus.networkName.split('/', 2) as [string, string | undefined];
    return { name: n.name, nadNamespace: b === undefined ? vmi.metadata.namespace! : a, nadName: b ?? a, podIface: podInterfaceName(n.name) };
  });
}

/** The launcher pod's annotations for Multus; none when the VMI has no secondary network. */
export function launcherNetworkAnnotations(vmi: Vmi): Record<string, string> {
  const nets = secondaryNetworks(vmi);
  if (!nets.length) return {};
  return { [ANN_NETWORKS]: JSON.stringify(nets.map((n) => ({ name: n.nadName, namespace: n.nadNamespace, interface: n.podIface }))) };
}
