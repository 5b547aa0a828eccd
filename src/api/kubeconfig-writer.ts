/** Writes kubeconfig files that the real kubectl and client libraries read. */
import { writeFile } from 'node:fs/promises';
import YAML from 'yaml';

export interface KubeconfigSpec {
  server: string;
  caPem: string;
  clusterName?: string;
  userName?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function renderKubeconfig(spec: KubeconfigSpec): string {
  const cluster = spec.clusterName ?? 'cairn';
  const user = spec.userName ?? 'admin';
  const userEntry: Record<string, string> = {};
  if (spec.clientCertPem) userEntry['client-certificate-data'] = b64(spec.clientCertPem);
  if (spec.clientKeyPem) userEntry['client-key-data'] = b64(spec.clientKeyPem);
  if (spec.token) userEntry.token = spec.token;
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caPem) } }],
    users: [{ name: user, user: userEntry }],
    contexts: [{ name: cluster, context: { cluster, user, namespace: 'default' } }],
    'current-context': cluster,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await writeFile(path, renderKubeconfig(spec), { mode: 0o600 });
}
