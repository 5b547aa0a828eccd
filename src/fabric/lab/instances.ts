// The daemons of a lab node, each with its runtime directory under the node's lab directory.
import { join } from 'node:path';
import { CorosyncInstance } from './corosync.js';
import { FrrInstance } from './frr.js';
import { nodeDir, nodeNetns } from './names.js';

export function frrOf(id: string, node: string): FrrInstance {
  return new FrrInstance(nodeNetns(id, node), join(nodeDir(id, node), 'frr'));
}

export function corosyncOf(id: string, node: string): CorosyncInstance {
  return new CorosyncInstance(nodeNetns(id, node), join(nodeDir(id, node), 'corosync'));
}
