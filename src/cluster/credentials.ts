/**
 * Credentials the local cluster hands out from the API server's CA (DIR/server/pki): each node's
 * client certificate (CN system:node:<node>, O system:nodes — the group the system:node role is
 * bound to) inside its kubeconfig, each agent's serving certificate (for 127.0.0.1 and its
 * underlay address, so the API server can verify it), the DNS server's client certificate (CN
 * system:cairn-dns), and the admin kubeconfig. Files already
 * issued by the current CA are kept; anything issued by another CA (the server's data was
 * replaced) is issued again.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as x509 from '@peculiar/x509';
import { CAIRN_DNS_USER } from '../api/authz/bootstrap-policy.js';
import { issueCertificate, type KeyPairPem } from '../api/pki.js';
import { renderKubeconfig } from '../api/kubeconfig-writer.js';
import { loadKubeconfig } from '../client/index.js';
import type { ClusterLayout } from './layout.js';

async function readCa(layout: ClusterLayout): Promise<KeyPairPem> {
  return { certPem: await readFile(layout.caCertFile, 'utf8'), keyPem: await readFile(layout.caKeyFile, 'utf8') };
}

async function issuedBy(certPem: string, caPem: string): Promise<boolean> {
  try {
    return await new x509.X509Certificate(certPem).verify({ publicKey: new x509.X509Certificate(caPem).publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

async function writePrivate(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, text, { mode: 0o600 });
}

/** A kubeconfig with a client certificate for `commonName` (in `organizations`), issued when missing, stale or for another server. */
async function ensureClientKubeconfig(layout: ClusterLayout, ca: KeyPairPem, path: string, commonName: string, organizations: string[]): Promise<void> {
  let current;
  try {
    current = existsSync(path) ? loadKubeconfig(path) : undefined;
  } catch {
    // Damaged: issue a new one.
  }
  if (current?.clientCert && current.server === layout.apiURL && (await issuedBy(current.clientCert.toString('utf8'), ca.certPem))) return;
  const client = await issueCertificate(ca, { commonName, organizations, usage: 'client' });
  await writePrivate(path, renderKubeconfig({ server: layout.apiURL, caPem: ca.certPem, clusterName: `cairn-${layout.spec.name}`, userName: commonName, clientCertPem: client.certPem, clientKeyPem: client.keyPem }));
}

/** Node n's kubeconfig (client certificate) and serving certificate, issued when missing or stale. */
export async function ensureNodeCredentials(layout: ClusterLayout, n: number): Promise<void> {
  const ca = await readCa(layout);
  const node = layout.nodeName(n);
  await ensureClientKubeconfig(layout, ca, layout.nodeKubeconfig(n), `system:node:${node}`, ['system:nodes']);
  const certFile = layout.nodeCertFile(n);
  if (!existsSync(certFile) || !existsSync(layout.nodeKeyFile(n)) || !(await issuedBy(await readFile(certFile, 'utf8'), ca.certPem))) {
    const serving = await issueCertificate(ca, { commonName: node, dnsNames: [node], ips: ['127.0.0.1', layout.lab.underlayIP(n)], usage: 'server' });
    await writePrivate(layout.nodeKeyFile(n), serving.keyPem);
    await writeFile(certFile, serving.certPem, { mode: 0o644 });
  }
}

/** The DNS server's kubeconfig: user system:cairn-dns, bound to the ClusterRole of the same name (list/watch what DNS answers from). */
export async function ensureDnsCredentials(layout: ClusterLayout): Promise<void> {
  await ensureClientKubeconfig(layout, await readCa(layout), layout.dnsKubeconfig, CAIRN_DNS_USER, []);
}

/** DIR/kubeconfig: the admin client certificate the server made, for kubectl. */
export async function writeAdminKubeconfig(layout: ClusterLayout): Promise<void> {
  const text = renderKubeconfig({
    server: layout.apiURL,
    caPem: await readFile(layout.caCertFile, 'utf8'),
    clusterName: `cairn-${layout.spec.name}`,
    userName: 'admin',
    clientCertPem: await readFile(layout.adminCertFile, 'utf8'),
    clientKeyPem: await readFile(layout.adminKeyFile, 'utf8'),
  });
  await writePrivate(layout.adminKubeconfig, text);
}
