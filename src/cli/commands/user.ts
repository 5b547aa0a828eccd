/**
 * `cairn user create NAME [--group G]...`: a client certificate for a new user, signed by the
 * cluster CA in DATA/pki (CN = the user, O = each group), written as a kubeconfig. What the user
 * may then do is up to RBAC: bind them (or a group) to a role.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { issueCertificate } from '../../api/pki.js';
import { renderKubeconfig } from '../../api/kubeconfig-writer.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

const DEFAULT_DATA_DIR = '/var/lib/cairn';

export interface UserKubeconfigOptions {
  dataDir: string;
  name: string;
  groups?: string[];
  /** The API server URL; default: the one in DATA/admin.kubeconfig. */
  server?: string;
}

async function readOrFail(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${what} not found at ${path}: is --data-dir the server's data directory?`);
    if (code === 'EACCES') throw new CliError(`cannot read ${path}: permission denied (the CA key is readable by its owner only)`);
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function checkName(kind: string, v: string) {
  if (!v.trim()) throw new CliError(`${kind} must not be empty`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new CliError(`${kind} ${JSON.stringify(v)} contains control characters`);
  if (v.length > 253) throw new CliError(`${kind} is longer than 253 characters`);
}

/** Issues a client certificate for the user and returns a kubeconfig using it. */
export async function createUserKubeconfig(o: UserKubeconfigOptions): Promise<string> {
  checkName('user name', o.name);
  for (const g of o.groups ?? []) checkName('group', g);
  const pki = join(o.dataDir, 'pki');
  const ca = { certPem: await readOrFail(join(pki, 'ca.crt'), 'the cluster CA certificate'), keyPem: await readOrFail(join(pki, 'ca.key'), 'the cluster CA key') };
  let server = o.server;
  if (!server) {
    const admin = YAML.parse(await readOrFail(join(o.dataDir, 'admin.kubeconfig'), 'admin.kubeconfig')) as { clusters?: { cluster?: { server?: string } }[] };
    server = admin?.clusters?.[0]?.cluster?.server;
    if (!server) throw new CliError(`no server URL in ${join(o.dataDir, 'admin.kubeconfig')}; pass --server URL`);
  }
  if (!/^https:\/\/[^/\s]+\/?$/.test(server)) throw new CliError(`--server wants an https URL like https://127.0.0.1:6443, got "${server}"`);
  const cert = await issueCertificate(ca, { commonName: o.name, organizations: o.groups ?? [], usage: 'client' });
  return renderKubeconfig({ server, caPem: ca.certPem, userName: o.name, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem });
}

export const userCommand: Command = {
  name: 'user',
  summary: 'create client-certificate kubeconfigs for users',
  usage: [
    'usage: cairn user create NAME [--group G]... [--data-dir DIR] [--out FILE] [--server URL]',
    '',
    '  Issues a client certificate signed by the cluster CA (CN=NAME, O=each group) and writes a',
    '  kubeconfig for it. Grant it access with a RoleBinding or ClusterRoleBinding.',
    '',
    `  --data-dir DIR   the server's data directory, holding pki/ca.crt and pki/ca.key (default ${DEFAULT_DATA_DIR})`,
    '  --group G        a group the user belongs to (repeatable)',
    '  --out FILE       write the kubeconfig here (mode 0600) instead of to stdout',
    "  --server URL     the API server URL (default: the one in DATA/admin.kubeconfig)",
  ].join('\n'),
  options: {
    'data-dir': { type: 'string' },
    group: { type: 'string', multiple: true },
    out: { type: 'string' },
    server: { type: 'string' },
  },
  async run(v, positionals) {
    const [sub, name, ...extra] = positionals;
    if (sub !== 'create') throw new CliError(sub ? `unknown subcommand "user ${sub}"; run 'cairn user --help'` : "missing subcommand; run 'cairn user --help'", 2);
    if (!name) throw new CliError("missing NAME; usage: cairn user create NAME [--group G]...", 2);
    if (extra.length) throw new CliError(`unexpected argument "${extra[0]}"; run 'cairn user --help'`, 2);
    const text = await createUserKubeconfig({
      dataDir: (v['data-dir'] as string | undefined) ?? DEFAULT_DATA_DIR,
      name,
      groups: (v.group as string[] | undefined) ?? [],
      server: v.server as string | undefined,
    });
    const out = v.out as string | undefined;
    if (!out) {
      process.stdout.write(text);
      return 0;
    }
    try {
      await writeFile(out, text, { mode: 0o600 });
    } catch (e) {
      throw new CliError(`cannot write ${out}: ${(e as Error).message}`);
    }
    process.stderr.write(`wrote ${out} for user "${name}"${v.group ? ` (groups: ${(v.group as string[]).join(', ')})` : ''}\n`);
    return 0;
  },
};
