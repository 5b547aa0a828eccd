/**
 * Kubeconfig loading: picks the current (or named) context and resolves its cluster and user to
 * the bytes a TLS connection needs. Paths inside the file are relative to the file's directory,
 * as kubectl resolves them; `*-data` fields are base64.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { KubeconfigError } from './errors.js';
import { isPlainObject } from '../util/object.js';

/** What a transport needs to reach and authenticate to one API server. */
export interface ClusterConnection {
  contextName: string;
  /** Base URL, e.g. `https://127.0.0.1:6443`. */
  server: string;
  /** Default namespace of the context ('default' when unset). */
  namespace: string;
  /** CA bundle to trust instead of the system roots. */
  ca?: Buffer;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  token?: string;
  /** Re-read periodically, as client-go does for rotating (service-account) tokens. */
  tokenFile?: string;
}

export interface LoadKubeconfigOptions {
  /** Use this context instead of current-context. */
  context?: string;
}

export function loadKubeconfig(path: string, opts: LoadKubeconfigOptions = {}): ClusterConnection {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseKubeconfig(text, dirname(resolve(path)), opts);
}

type Named = { name: string; entry: Record<string, unknown> };

/** Parses kubeconfig text; relative file references resolve against baseDir. */
export function parseKubeconfig(text: string, baseDir: string, opts: LoadKubeconfigOptions = {}): ClusterConnection {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new KubeconfigError(`kubeconfig is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(doc)) throw new KubeconfigError('kubeconfig is empty or not a mapping');

  const contextName = opts.context ?? str(doc['current-context']);
  if (!contextName) throw new KubeconfigError('kubeconfig has no current-context and no context was given');
  const context = find(doc, 'contexts', 'context', contextName);
  const clusterName = str(context.cluster);
  if (!clusterName) throw new KubeconfigError(`context "${contextName}" names no cluster`);
  const cluster = find(doc, 'clusters', 'cluster', clusterName);
  const userName = str(context.user);
  const user = userName ? find(doc, 'users', 'user', userName) : {};

  const server = str(cluster.server);
  if (!server) throw new KubeconfigError(`cluster "${clusterName}" has no server`);
  const file = (p: string | undefined) => (p ? (isAbsolute(p) ? p : resolve(baseDir, p)) : undefined);
  const bytes = (dataKey: string, fileKey: string, from: Record<string, unknown>, what: string): Buffer | undefined => {
    const data = str(from[dataKey]);
    if (data) return Buffer.from(data, 'base64');
    const f = file(str(from[fileKey]));
    if (!f) return undefined;
    try {
      return readFileSync(f);
    } catch (err) {
      throw new KubeconfigError(`cannot read ${what} ${f}: ${(err as Error).message}`, { cause: err });
    }
  };

  const conn: ClusterConnection = {
    contextName,
    server: server.replace(/\/+$/, ''),
    namespace: str(context.namespace) || 'default',
  };
  const ca = bytes('certificate-authority-data', 'certificate-authority', cluster, 'certificate authority');
  if (ca) conn.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) conn.insecureSkipTlsVerify = true;
  const serverName = str(cluster['tls-server-name']);
  if (serverName) conn.tlsServerName = serverName;
  const cert = bytes('client-certificate-data', 'client-certificate', user, 'client certificate');
  const key = bytes('client-key-data', 'client-key', user, 'client key');
  if (!!cert !== !!key) throw new KubeconfigError(`user "${userName}" has a client certificate without a key or a key without a certificate`);
  if (cert && key) {
    conn.clientCert = cert;
    conn.clientKey = key;
  }
  const token = str(user.token);
  if (token) conn.token = token;
  const tokenFile = file(str(user.tokenFile));
  if (tokenFile && !token) conn.tokenFile = tokenFile;
  return conn;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Finds `{name, <field>: {...}}` in the named list, e.g. contexts[].context. */
function find(doc: Record<string, unknown>, list: string, field: string, name: string): Record<string, unknown> {
  const items = Array.isArray(doc[list]) ? (doc[list] as unknown[]) : [];
  const hit = items
    .filter(isPlainObject)
    .map((i): Named => ({ name: String(i.name ?? ''), entry: isPlainObject(i[field]) ? i[field] : {} }))
    .find((i) => i.name === name);
  if (!hit) throw new KubeconfigError(`kubeconfig has no ${field} named "${name}"`);
  return hit.entry;
}
