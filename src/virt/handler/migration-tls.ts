/**
 * TLS on the migration stream (KubeVirt encrypts it by default; `disableTLS` in the migration
 * configuration turns it off). KubeVirt's handlers use certificates of their own CA; a Cairn node
 * already has two from the cluster CA, and each side shows the one whose usage fits its role:
 *   - the target listens: the agent's serving certificate (serverAuth, CN <node name>), and it
 *     accepts only a client certificate of the source node, CN `system:node:<source>` (the
 *     identity the API server knows the node by);
 *   - the source connects: the agent's client certificate (clientAuth, CN `system:node:<name>`),
 *     and it accepts only the target node's serving certificate, CN <target node name>.
 * socat reads certificates from files: the CA and the client pair (which the agent holds only in
 * its kubeconfig) are written once per agent start to a private directory of the agent's.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ProxyTls } from './migration-proxy.js';

/** What the agent has: the CA and client pair as PEM (from its kubeconfig), its serving pair as files. */
export interface MigrationTlsSource {
  caPem: string;
  servingCertFile: string;
  servingKeyFile: string;
  /** Undefined when the agent's kubeconfig authenticates without a client certificate. */
  clientCertPem?: string;
  clientKeyPem?: string;
}

export interface MigrationTlsFiles {
  caFile: string;
  servingCertFile: string;
  servingKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export class MigrationTlsError extends Error {
  override name = 'MigrationTlsError';
}

/** The node identity a client certificate of node `name` carries (Kubernetes' node authorizer's). */
export const nodeIdentity = (name: string) => `system:node:${name}`;

async function writePrivate(path: string, text: string): Promise<void> {
  // Atomically: a proxy starting meanwhile reads the old file or the new one, never half of one.
  await writeFile(`${path}.tmp`, text, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

/** Writes the CA and client pair under `dir` (0700); the serving pair stays where the agent has it. */
export async function writeMigrationTls(dir: string, s: MigrationTlsSource): Promise<MigrationTlsFiles> {
  if (!s.clientCertPem || !s.clientKeyPem) throw new MigrationTlsError('the node agent has no client certificate for TLS on the migration stream (its kubeconfig authenticates otherwise); set disableTLS in the migration configuration');
  dir = resolve(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { caFile: join(dir, 'ca.crt'), clientCertFile: join(dir, 'client.crt'), clientKeyFile: join(dir, 'client.key') };
  await writePrivate(files.caFile, s.caPem);
  await writePrivate(files.clientCertFile, s.clientCertPem);
  await writePrivate(files.clientKeyFile, s.clientKeyPem);
  return { ...files, servingCertFile: resolve(s.servingCertFile), servingKeyFile: resolve(s.servingKeyFile) };
}

/** The target's proxies: the serving pair, only the source node let in. */
export function targetProxyTls(f: MigrationTlsFiles, sourceNode: string): ProxyTls {
  return { certFile: f.servingCertFile, keyFile: f.servingKeyFile, caFile: f.caFile, peerName: nodeIdentity(sourceNode) };
}

/** The source's proxies: the client pair, only the target node trusted. */
export function sourceProxyTls(f: MigrationTlsFiles, targetNode: string): ProxyTls {
  return { certFile: f.clientCertFile, keyFile: f.clientKeyFile, caFile: f.caFile, peerName: targetNode };
}
