/**
 * TLS material for nginx: the certificate and key of each kubernetes.io/tls Secret an Ingress
 * names, checked (a certificate, a key that matches it) and written as one PEM file, mode 0600,
 * under DATA/ingress/ssl — named after its content's hash, so a changed Secret changes the
 * configuration and nginx reloads it. Hosts without a usable Secret get the default certificate,
 * a self-signed "Kubernetes Ingress Controller Fake Certificate" as ingress-nginx serves, made
 * once per node. Key material never reaches a log line or an error message.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../api/pki.js';
import { keyOf, type Secret } from './ingress-api.js';
import type { CertificateLookup } from './ingress-model.js';

const DEFAULT_FILE = 'default.pem';
const FAKE_CN = 'Kubernetes Ingress Controller Fake Certificate';

interface Parsed {
  resourceVersion: string;
  lookup: CertificateLookup;
  pem?: string;
}

/** Does the certificate cover the host? A wildcard host needs that very wildcard among its names. */
function covers(cert: X509Certificate, host: string): boolean {
  if (!host.startsWith('*.')) return cert.checkHost(host) !== undefined;
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4).toLowerCase());
  return names.includes(host);
}

export class CertificateStore {
  private readonly parsed = new Map<string, Parsed>();
  /** file → PEM of the lookups handed out since the last write(). */
  private wanted = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly secret: (namespace: string, name: string) => Secret | undefined,
  ) {}

  get defaultFile(): string {
    return join(this.dir, DEFAULT_FILE);
  }

  /** Makes the directory and, once, the default certificate. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    if (existsSync(this.defaultFile)) return;
    const ca = await createCa(FAKE_CN);
    const pair = await issueCertificate(ca, { commonName: FAKE_CN, dnsNames: ['ingress.local'], usage: 'server' });
    await this.writeAtomically(this.defaultFile, `${pair.certPem.trim()}\n${pair.keyPem.trim()}\n`);
  }

  /** The PEM file for a Secret (to be written by the next write()), or why there is none. */
  lookup(namespace: string, name: string): CertificateLookup {
    const key = keyOf(namespace, name);
    const secret = this.secret(namespace, name);
    const rv = secret?.metadata.resourceVersion ?? '';
    let p = this.parsed.get(key);
    if (!p || p.resourceVersion !== rv || !secret) {
      p = this.parse(namespace, name, secret);
      this.parsed.set(key, p);
    }
    if (p.lookup.ok && p.pem) this.wanted.set(p.lookup.file, p.pem);
    return p.lookup;
  }

  /**
   * Writes the files of `used` (files handed out by lookup()) and removes every other PEM but the
   * default one: Secrets no Ingress names any more leave no key material behind.
   */
  async write(used: Set<string>): Promise<void> {
    for (const [file, pem] of this.wanted) if (used.has(file) && !existsSync(file)) await this.writeAtomically(file, pem);
    this.wanted = new Map();
    for (const name of await readdir(this.dir)) {
      const file = join(this.dir, name);
      if (name !== DEFAULT_FILE && !used.has(file)) await rm(file, { force: true });
    }
    for (const key of [...this.parsed.keys()]) {
      const [ns, name] = key.split('/') as [string, string];
      if (!this.secret(ns, name)) this.parsed.delete(key);
    }
  }

  private parse(namespace: string, name: string, secret: Secret | undefined): Parsed {
    const rv = secret?.metadata.resourceVersion ?? '';
    const what = `Secret ${namespace}/${name}`;
    const bad = (message: string): Parsed => ({ resourceVersion: rv, lookup: { ok: false, reason: 'InvalidCertificate', message } });
    if (!secret) return { resourceVersion: rv, lookup: { ok: false, reason: 'SecretNotFound', message: `${what} not found` } };
    const crtB64 = secret.data?.['tls.crt'];
    const keyB64 = secret.data?.['tls.key'];
    if (!crtB64 || !keyB64) return bad(`${what} has no tls.crt and tls.key`);
    const crt = Buffer.from(crtB64, 'base64').toString('utf8');
    const keyPem = Buffer.from(keyB64, 'base64').toString('utf8');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(crt);
    } catch {
      return bad(`${what}: tls.crt is not a PEM certificate`);
    }
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      return bad(`${what}: tls.key is not a PEM private key`);
    }
    let matches = false;
    try {
      matches = cert.checkPrivateKey(key);
    } catch {
      // a key of another type than the certificate's
    }
    if (!matches) return bad(`${what}: tls.key does not match tls.crt`);
    if (!/^[a-z0-9.-]+$/.test(namespace) || !/^[a-z0-9.-]+$/.test(name)) return bad(`${what}: unusable name`);
    const pem = `${crt.trim()}\n${keyPem.trim()}\n`;
    const hash = createHash('sha256').update(pem).digest('hex').slice(0, 16);
    const file = join(this.dir, `${namespace}_${name}_${hash}.pem`);
    return { resourceVersion: rv, pem, lookup: { ok: true, file, covers: (host) => covers(cert, host) } };
  }

  private async writeAtomically(file: string, content: string): Promise<void> {
    const tmp = `${file}.tmp`;
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, file);
  }
}
