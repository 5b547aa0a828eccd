/**
 * `cairn ceph down`: stops the Ceph daemons of the cluster in a data dir, unmounts whatever is
 * mounted under DIR/ceph (a ceph-fuse mount a user left there), and removes DIR/ceph — the
 * OSDs' block files, the keyrings, the logs — and the Kubernetes objects `cairn ceph up` made
 * when the API server still answers.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Client, HttpsTransport, StatusError, TransportError } from '../client/index.js';
import { ClusterLayout, type ClusterSpec } from '../cluster/layout.js';
import { unmountAllUnder } from '../cluster/mounts.js';
import { requireRoot } from '../cluster/preflight.js';
import { readState, writeState } from '../cluster/state.js';
import { SECRETS } from '../ingress/ingress-api.js';
import { STORAGE_CLASSES } from '../storage/api.js';
import { stopDaemons } from './daemons.js';
import { CephClusterError } from './errors.js';
import { removePublicNetworkRoute } from './host-route.js';
import { CEPHFS_CLASS, RBD_CLASS, SECRET_NAME, SECRET_NAMESPACE } from './kube-objects.js';
import { CephLayout } from './layout.js';

/**
 * `cairn down`'s step: stops the daemons and unmounts what is mounted under DIR/ceph, keeping
 * the data (`cairn up` then `cairn ceph up` bring the same cluster back; --purge deletes it with
 * the data dir). Returns what it did, one line each.
 */
export async function stopCeph(dataDir: string, spec: ClusterSpec): Promise<string[]> {
  const l = new CephLayout(new ClusterLayout(dataDir, spec));
  const done = (await stopDaemons(l)).map((d) => `stopped ceph ${d}`);
  if (existsSync(l.dir)) for (const m of await unmountAllUnder(l.dir)) done.push(`unmounted ${m}`);
  return done;
}

/** Stops the daemons, removes DIR/ceph and the host's route to a fabric's public network; returns what it did, one line each. */
async function removeCeph(dataDir: string, spec: ClusterSpec): Promise<string[]> {
  const done = await stopCeph(dataDir, spec);
  const l = await CephLayout.of(new ClusterLayout(dataDir, spec));
  if (existsSync(l.dir)) {
    await rm(l.dir, { recursive: true, force: true });
    done.push(`removed ${l.dir}`);
  }
  const unrouted = await removePublicNetworkRoute(l);
  if (unrouted) done.push(unrouted);
  return done;
}

/** Returns false when there was no Ceph cluster to remove. */
export async function cephDown(opts: { dataDir: string; progress?: (line: string) => void }): Promise<boolean> {
  requireRoot('cairn ceph down');
  const progress = opts.progress ?? (() => {});
  const dataDir = resolve(opts.dataDir);
  const state = await readState(dataDir);
  if (!state) throw new CephClusterError(`no Cairn cluster in ${dataDir}`);
  const lines = await removeCeph(dataDir, state.spec);
  lines.forEach((line) => progress(line));
  await writeState(dataDir, { ...state, cephPids: undefined });
  let removedObjects: string[] = [];
  try {
    removedObjects = await removeKubeObjects(new ClusterLayout(dataDir, state.spec));
  } catch (e) {
    // A stopped Cairn cluster: its objects stay until it runs again (`cairn ceph up` would reapply them).
    if (!(e instanceof TransportError)) throw e;
    progress(`the API server did not answer (${e.message}): Secret ${SECRET_NAMESPACE}/${SECRET_NAME} and the StorageClasses ${RBD_CLASS}, ${CEPHFS_CLASS} are left`);
  }
  removedObjects.forEach((line) => progress(line));
  return lines.length + removedObjects.length > 0;
}

async function removeKubeObjects(cluster: ClusterLayout): Promise<string[]> {
  if (!existsSync(cluster.adminKubeconfig)) return [];
  const transport = HttpsTransport.fromKubeconfig(cluster.adminKubeconfig);
  const client = new Client(transport);
  const done: string[] = [];
  const del = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      done.push(`deleted ${what}`);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
  };
  try {
    for (const sc of [RBD_CLASS, CEPHFS_CLASS]) await del(`StorageClass ${sc}`, () => client.resource(STORAGE_CLASSES).delete(sc));
    await del(`Secret ${SECRET_NAMESPACE}/${SECRET_NAME}`, () => client.resource(SECRETS).delete(SECRET_NAME, { namespace: SECRET_NAMESPACE }));
  } finally {
    transport.close();
  }
  return done;
}
