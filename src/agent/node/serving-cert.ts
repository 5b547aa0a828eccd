/**
 * The agent's HTTPS certificate when none is given: like the kubelet without --tls-cert-file, it
 * makes its own once (DATA/pki/agent.crt and agent.key) for its hostname, InternalIP and
 * 127.0.0.1, signed by a throw-away CA of its own. Clusters that want the API server to verify
 * agents (cairn up) issue the certificate from the cluster CA instead.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../../api/pki.js';

export async function ensureServingCert(dataDir: string, names: { hostname: string; ips: string[] }): Promise<{ certFile: string; keyFile: string }> {
  const dir = join(dataDir, 'pki');
  const certFile = join(dir, 'agent.crt');
  const keyFile = join(dir, 'agent.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa(`${names.hostname}-ca@${Math.floor(Date.now() / 1000)}`);
  const pair = await issueCertificate(ca, { commonName: names.hostname, dnsNames: [names.hostname], ips: [...new Set([...names.ips, '127.0.0.1'])], usage: 'server' });
  await writeFile(keyFile, pair.keyPem, { mode: 0o600 });
  await writeFile(certFile, pair.certPem, { mode: 0o644 });
  return { certFile, keyFile };
}
