// STUB — being written (issue 5).
import type { NodeAddon, NodeAddonContext } from '../agent/node-addon.js';

export class ServiceProxy implements NodeAddon {
  constructor(readonly ctx: NodeAddonContext) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
