/**
 * What the agent hands each of its node-wide network parts (the service proxy, the
 * NetworkPolicy enforcer, the Ingress controller): the API, the shared informers, and the
 * node's network namespace. A part registers the informers it needs in its constructor (before
 * the factory starts) and does its work between start() and stop(), level-triggered from the
 * informer caches, so a restarted agent converges from what the API and the kernel hold.
 */
import type { Client, Logger, SharedInformerFactory } from '../client/index.js';
import type { EventRecorder } from '../controllers/events.js';
import type { Ip } from '../net/ip.js';
import type { Nft } from '../net/nft.js';

export interface NodeAddonContext {
  client: Client;
  informers: SharedInformerFactory;
  recorder: EventRecorder;
  logger: Logger;
  nodeName: string;
  /** The node's network namespace; undefined = the host's root namespace. */
  nodeNetns?: string;
  /** `ip` in the node's namespace. */
  node: Ip;
  /** The node's `ip cairn` nftables table (every part owns its own chains, sets and maps in it). */
  nft: Nft;
  /** The node's underlay address (InternalIP) and device. */
  internalIP: string;
  underlayDev: string;
  /** This node's pod /24, the cluster's pod network, the pod bridge and its gateway address. */
  podCidr: string;
  clusterCidr: string;
  serviceCidr: string;
  bridge: string;
  gateway: string;
  /** The agent's data dir (a part keeps files under DATA/<part>/). */
  dataDir: string;
}

export interface NodeAddon {
  /** Called once the informers have synced. */
  start(): Promise<void>;
  /** Stops the loops; leaves the kernel state in place (the next agent adopts it). */
  stop(): Promise<void>;
}
