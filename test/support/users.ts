/**
 * Test users: client certificates made by `cairn user create`'s code path (createUserKubeconfig),
 * as raw HTTPS clients or kubeconfig files, and helpers to create RBAC objects as the admin and
 * wait until the server's RBAC cache has seen them.
 */
import { writeFile } from 'node:fs/promises';
import YAML from 'yaml';
import { createUserKubeconfig } from '../../src/cli/commands/user.js';
import { RawClient, type RawResponse } from './raw-https.js';
import type { TestServer } from './server.js';

const fromB64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

export async function userClient(server: TestServer, name: string, groups: string[] = []): Promise<RawClient> {
  const kc = YAML.parse(await createUserKubeconfig({ dataDir: server.dataDir, name, groups })) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  return new RawClient(server.url, {
    ca: fromB64(kc.clusters[0].cluster['certificate-authority-data']),
    cert: fromB64(kc.users[0].user['client-certificate-data']),
    key: fromB64(kc.users[0].user['client-key-data']),
  });
}

export async function writeUserKubeconfig(server: TestServer, path: string, name: string, groups: string[] = []): Promise<string> {
  await writeFile(path, await createUserKubeconfig({ dataDir: server.dataDir, name, groups }), { mode: 0o600 });
  return path;
}

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

/** POSTs an RBAC object (or anything) as the admin; fails the test on an error. */
export async function adminCreate(admin: RawClient, path: string, body: object): Promise<RawResponse> {
  const r = await admin.request({ method: 'POST', path, body });
  if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.text}`);
  return r;
}

export const rolePath = (ns: string) => `${RBAC}/namespaces/${ns}/roles`;
export const roleBindingPath = (ns: string) => `${RBAC}/namespaces/${ns}/rolebindings`;
export const clusterRolePath = `${RBAC}/clusterroles`;
export const clusterRoleBindingPath = `${RBAC}/clusterrolebindings`;

export const role = (name: string, rules: object[], ns?: string) => ({ metadata: { name, ...(ns ? { namespace: ns } : {}) }, rules });
export const binding = (name: string, roleKind: 'Role' | 'ClusterRole', roleName: string, subjects: object[]) => ({
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
  subjects,
});
export const user = (name: string) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name });
export const group = (name: string) => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name });

/** Polls a request until its status is `want` (the RBAC cache follows writes through a watch). */
export async function until(fn: () => Promise<RawResponse>, want: number, timeoutMs = 5000): Promise<RawResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fn();
    if (r.status === want || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
}
