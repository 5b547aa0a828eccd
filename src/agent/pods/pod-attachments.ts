/**
 * Multus in the node agent (the agent is the node's CNI): after a pod's cluster network, the
 * extra interfaces its `k8s.v1.cni.cncf.io/networks` annotation asks for, each on the bridge its
 * NetworkAttachmentDefinition names (src/net/pod-attachments.ts), then the
 * `k8s.v1.cni.cncf.io/network-status` annotation listing every interface. A missing NAD, a
 * malformed annotation or a config Cairn does not implement fails the sandbox — the pod does not
 * start, and the sandbox error (FailedCreatePodSandBox) says why, as Multus would.
 *
 * Multus runs CNI ADD once per sandbox; here a sandbox whose interfaces are all there (an agent
 * restart re-adopting it) is kept as it is, without reading the NADs again, so a NAD deleted
 * under a running pod does not fail it.
 */
import { type Client, isNotFound } from '../../client/index.js';
import { type BridgeNetConf, parseBridgeNetConf, NetConfError } from '../../net/bridge-net-conf.js';
import type { Ip } from '../../net/ip.js';
import { ANN_NETWORK_STATUS, ANN_NETWORKS, CLUSTER_NETWORK_NAME, type NetworkSelection, type NetworkStatus, parseNetworksAnnotation } from '../../net/multus-annotation.js';
import { type AttachmentStatus, PodAttachments } from '../../net/pod-attachments.js';
import type { PodNetworkStatus } from '../../net/pod-network.js';
import type { KubeObject } from '../../util/object.js';
import type { Pod } from './api-types.js';
import { PODS } from './pod-manager.js';

export const NETWORK_ATTACHMENT_DEFINITIONS = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions', namespaced: true, kind: 'NetworkAttachmentDefinition' } as const;

type Nad = KubeObject & { spec?: { config?: string } };

/** Why a pod's attachments cannot be made (the sandbox error's text). */
export class PodAttachmentsError extends Error {
  override name = 'PodAttachmentsError';
}

export interface PodNetworkAttachmentsOptions {
  client: Client;
  /** The node's namespace (where the bridges are). */
  node: Ip;
}

export class PodNetworkAttachments {
  private readonly kernel: PodAttachments;

  constructor(private readonly o: PodNetworkAttachmentsOptions) {
    this.kernel = new PodAttachments(o.node);
  }

  /** Makes the pod's attachments (none without the annotation) and publishes network-status. */
  async ensure(pod: Pod, primary: PodNetworkStatus): Promise<void> {
    const ann = pod.metadata.annotations?.[ANN_NETWORKS];
    if (ann === undefined) return;
    const ns = pod.metadata.namespace!;
    const uid = pod.metadata.uid!;
    const selections = this.parse(ann, ns);
    const whole = await Promise.all(selections.map((s, i) => this.kernel.isWhole(uid, primary.netns, i, s.interface)));
    let statuses: AttachmentStatus[];
    if (whole.every(Boolean)) {
      statuses = await Promise.all(selections.map((s, i) => this.kernel.status(uid, primary.netns, i, s.interface)));
    } else {
      const confs = await Promise.all(selections.map((s) => this.netConf(s)));
      statuses = [];
      for (const [i, s] of selections.entries()) {
        const c = confs[i]!;
        const addresses = c.ipam.type === 'static' ? (c.ipam.ipsCapability && s.ips?.length ? s.ips : c.ipam.addresses) : [];
        statuses.push(
          await this.kernel.setup(uid, primary.netns, {
            index: i,
            ifname: s.interface,
            bridge: c.bridge,
            ...(c.vlan !== undefined ? { vlan: c.vlan } : {}),
            ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
            ...(s.mac ? { mac: s.mac } : {}),
            addresses,
          }),
        );
      }
    }
    await this.publish(pod, networkStatus(primary, selections, statuses));
  }

  /** Removes the sandbox's attachments. Idempotent. */
  async remove(uid: string): Promise<void> {
    await this.kernel.teardown(uid);
  }

  /** After a restart: removes attachments of sandboxes not in liveIds. */
  gc(liveIds: Iterable<string>): Promise<string[]> {
    return this.kernel.gc(liveIds);
  }

  private parse(ann: string, ns: string): NetworkSelection[] {
    try {
      return parseNetworksAnnotation(ann, ns);
    } catch (e) {
      throw new PodAttachmentsError(`Multus: error parsing the ${ANN_NETWORKS} annotation: ${(e as Error).message}`);
    }
  }

  private async netConf(s: NetworkSelection): Promise<BridgeNetConf> {
    let nad: Nad;
    try {
      nad = await this.o.client.resource<Nad>(NETWORK_ATTACHMENT_DEFINITIONS).get(s.name, s.namespace);
    } catch (e) {
      if (isNotFound(e))
        throw new PodAttachmentsError(
          `Multus: cannot find a network-attachment-definition (${s.name}) in namespace (${s.namespace}): network-attachment-definitions.k8s.cni.cncf.io "${s.name}" not found`,
        );
      throw e;
    }
    try {
      return parseBridgeNetConf(nad.spec?.config ?? '');
    } catch (e) {
      if (e instanceof NetConfError) throw new PodAttachmentsError(`Multus: network-attachment-definition ${s.namespace}/${s.name}: ${e.message}`);
      throw e;
    }
  }

  private async publish(pod: Pod, status: NetworkStatus[]): Promise<void> {
    const text = JSON.stringify(status, null, 4);
    if (pod.metadata.annotations?.[ANN_NETWORK_STATUS] === text) return;
    try {
      await this.o.client.resource<Pod>(PODS).patch(pod.metadata.name!, { metadata: { annotations: { [ANN_NETWORK_STATUS]: text } } }, 'merge', { namespace: pod.metadata.namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

const ipOf = (cidr: string) => cidr.split('/')[0]!;

/** Multus' network-status: the cluster network (default) first, then each attachment as `namespace/name`. */
export function networkStatus(primary: PodNetworkStatus, selections: NetworkSelection[], attachments: AttachmentStatus[]): NetworkStatus[] {
  return [
    { name: CLUSTER_NETWORK_NAME, interface: 'eth0', ips: [primary.podIP], mac: primary.mac, default: true, dns: {} },
    ...selections.map((s, i) => {
      const a = attachments[i]!;
      return { name: `${s.namespace}/${s.name}`, interface: s.interface, ...(a.addresses.length ? { ips: a.addresses.map(ipOf) } : {}), mac: a.mac, dns: {} };
    }),
  ];
}
