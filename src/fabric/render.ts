// Rendering every file a node needs from a (valid) topology: renderNode for one node in
// memory, renderAll for the whole cluster into DIR/<node>/.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findNode, type Topology } from './topology.js';
import { renderInterfaces } from './render/interfaces.js';
import { renderFrr } from './render/frr.js';
import { corosyncVersion, renderCorosync } from './render/corosync.js';
import { renderCeph } from './render/ceph.js';

export interface RenderedNode {
  interfaces: string;
  'frr.conf': string;
  'corosync.conf': string;
  'ceph.conf': string;
}

export class UnknownNodeError extends Error {
  constructor(readonly node: string) {
    super(`the topology has no node "${node}"`);
    this.name = 'UnknownNodeError';
  }
}

/** The node's files; `previous.corosyncVersion` is the config_version of the last rendering. */
export function renderNode(t: Topology, nodeName: string, previous?: { corosyncVersion?: number }): RenderedNode {
  if (!findNode(t, nodeName)) throw new UnknownNodeError(nodeName);
  return {
    interfaces: renderInterfaces(t, nodeName),
    'frr.conf': renderFrr(t, nodeName),
    'corosync.conf': renderCorosync(t, nodeName, previous?.corosyncVersion),
    'ceph.conf': renderCeph(t, nodeName),
  };
}

/** Writes DIR/<node>/<file> for every node; returns the paths written. */
export async function renderAll(t: Topology, outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const node of t.nodes) {
    const dir = join(outDir, node.name);
    const previous = await readFile(join(dir, 'corosync.conf'), 'utf8').then(corosyncVersion, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    const files = renderNode(t, node.name, { corosyncVersion: previous });
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text);
      written.push(join(dir, name));
    }
  }
  return written;
}
