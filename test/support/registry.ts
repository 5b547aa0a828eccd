/**
 * Debian's docker-registry (distribution 2.8) for tests: 127.0.0.1 on a kernel-picked port, a
 * temp config and storage dir, killed and removed by stop() and at process exit. With `token`,
 * the registry trusts a tiny loopback token server started here (ES256 JWTs carrying an x5c
 * certificate that is the registry's root bundle), which checks Basic credentials.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { createPrivateKey, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa } from '../../src/api/pki.js';

export const REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export interface RegistryHandle {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT — the registry part of image references */
  host: string;
  storageDir: string;
  stop(): Promise<void>;
}

export interface TokenServerHandle {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Requests the token server saw (for asserting the flow). */
  requests: { scope: string | null; user?: string }[];
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export function requireRegistry(): void {
  try {
    accessSync(REGISTRY_BIN, constants.X_OK);
  } catch {
    throw new Error(`docker-registry not found at ${REGISTRY_BIN}: install Debian's docker-registry (bash scripts/setup.sh)`);
  }
}

export async function startRegistry(opts: { storageDir?: string; token?: TokenServerHandle } = {}): Promise<RegistryHandle> {
  requireRegistry();
  const base = mkdtempSync(join(tmpdir(), 'cairn-registry-'));
  const storageDir = opts.storageDir ?? join(base, 'storage');
  const port = await freePort();
  const auth = opts.token
    ? `auth:\n  token:\n    realm: ${opts.token.realm}\n    service: ${opts.token.service}\n    issuer: ${opts.token.issuer}\n    rootcertbundle: ${opts.token.certPath}\n`
    : '';
  const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storageDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
${auth}`;
  writeFileSync(join(base, 'config.yml'), config);
  const logPath = join(base, 'registry.log');
  const log = openSync(logPath, 'a');
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(base, 'config.yml')], { stdio: ['ignore', log, log] });
  closeSync(log);
  let removed = false;
  const cleanup = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (!removed) rmSync(base, { recursive: true, force: true });
    removed = true;
  };
  process.once('exit', cleanup);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const out = readFileSync(logPath, 'utf8');
      cleanup();
      throw new Error(`docker-registry exited with ${child.exitCode}: ${out.slice(-2000)}`);
    }
    try {
      const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.status === 200 || r.status === 401) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      cleanup();
      throw new Error('docker-registry did not answer on /v2/ within 15 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    storageDir,
    async stop() {
      process.removeListener('exit', cleanup);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      cleanup();
    },
  };
}

/** Path in the registry's storage of a blob's content (to corrupt it in tests). */
export function registryBlobPath(storageDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A loopback token server: Basic credentials → ES256 JWT granting pull on the requested repository. */
export async function startTokenServer(users: Record<string, string>): Promise<TokenServerHandle> {
  const ca = await createCa('cairn-test-registry-token');
  const base = mkdtempSync(join(tmpdir(), 'cairn-regtoken-'));
  const certPath = join(base, 'token.crt');
  writeFileSync(certPath, ca.certPem);
  const der = new X509Certificate(ca.certPem).raw;
  const key = createPrivateKey(ca.keyPem);
  const service = 'cairn-test-registry';
  const issuer = 'cairn-test-token-issuer';
  const requests: TokenServerHandle['requests'] = [];
  const server: Server = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scope = u.searchParams.get('scope');
    let user: string | undefined;
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Basic ')) {
      const dec = Buffer.from(h.slice(6), 'base64').toString();
      const i = dec.indexOf(':');
      if (users[dec.slice(0, i)] === dec.slice(i + 1)) user = dec.slice(0, i);
      else {
        requests.push({ scope, user: `!${dec.slice(0, i)}` });
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
    }
    requests.push({ scope, user });
    // anonymous callers get a token with no access (the registry then answers 401)
    const access: { type: string; name: string; actions: string[] }[] = [];
    const m = /^repository:([^:]+):(.+)$/.exec(scope ?? '');
    if (user && m) access.push({ type: 'repository', name: m[1], actions: m[2].split(',') });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('SHA256').update(input).sign({ key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const cleanup = () => rmSync(base, { recursive: true, force: true });
  process.once('exit', cleanup);
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    async stop() {
      process.removeListener('exit', cleanup);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      cleanup();
    },
  };
}
