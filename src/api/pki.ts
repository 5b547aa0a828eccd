/**
 * The cluster's certificates, generated on first start under DATA/pki: a CA, the API server's
 * serving certificate (SANs for its listen address, localhost, 127.0.0.1 and any extra names), an
 * admin client certificate (CN=admin, O=system:masters) and the client certificate the API server
 * presents to node agents (apiserver-kubelet-client: CN=cairn-apiserver-kubelet-client,
 * O=system:masters, as kubeadm's), all ECDSA P-256.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface ClusterPki {
  ca: KeyPairPem;
  server: KeyPairPem;
  admin: KeyPairPem;
  /** The API server's client certificate towards node agents (logs, exec, attach, port-forward). */
  kubeletClient: KeyPairPem;
  /** Signs service-account tokens (ES256); PEM private key. */
  serviceAccountKeyPem: string;
  dir: string;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

/** RFC 4514 escaping for a distinguished-name attribute value. */
function dnValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1');
}

export async function createCa(commonName = 'cairn-ca'): Promise<KeyPairPem> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${dnValue(commonName)}`,
    notBefore: now,
    notAfter: new Date(now.getTime() + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ips?: string[];
  usage: 'server' | 'client';
}

export async function issueCertificate(ca: KeyPairPem, opts: IssueOptions): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = new Date(Date.now() - 60_000);
  const subject = [...(opts.organizations ?? []).map((o) => `O=${dnValue(o)}`), `CN=${dnValue(opts.commonName)}`].join(', ');
  const altNames: x509.JsonGeneralName[] = [
    ...(opts.dnsNames ?? []).map((d) => ({ type: 'dns' as const, value: d })),
    ...(opts.ips ?? []).map((ip) => ({ type: 'ip' as const, value: ip })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (altNames.length) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: now,
    notAfter: new Date(now.getTime() + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

async function loadOrCreate(dir: string, name: string, make: () => Promise<KeyPairPem>): Promise<KeyPairPem> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  if (existsSync(crt) && existsSync(key)) return { certPem: await readFile(crt, 'utf8'), keyPem: await readFile(key, 'utf8') };
  const pair = await make();
  await writeFile(key, pair.keyPem, { mode: 0o600 });
  await writeFile(crt, pair.certPem, { mode: 0o644 });
  return pair;
}

/** Loads the cluster PKI from DATA/pki, creating what is missing. */
export async function ensurePki(dataDir: string, serverNames: { dnsNames: string[]; ips: string[] }): Promise<ClusterPki> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreate(dir, 'ca', () => createCa());
  const dnsNames = [...new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...serverNames.dnsNames])];
  const ips = [...new Set(['127.0.0.1', '::1', ...serverNames.ips])];
  let server = await loadOrCreate(dir, 'apiserver', () => issueCertificate(ca, { commonName: 'cairn-apiserver', dnsNames, ips, usage: 'server' }));
  if (!certCovers(server.certPem, dnsNames, ips)) {
    // The listen address changed since the certificate was made: issue a new one.
    server = await issueCertificate(ca, { commonName: 'cairn-apiserver', dnsNames, ips, usage: 'server' });
    await writeFile(join(dir, 'apiserver.key'), server.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'apiserver.crt'), server.certPem);
  }
  const admin = await loadOrCreate(dir, 'admin', () => issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' }));
  const kubeletClient = await loadOrCreate(dir, 'apiserver-kubelet-client', () =>
    issueCertificate(ca, { commonName: 'cairn-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' }),
  );
  const saKeyPath = join(dir, 'sa.key');
  if (!existsSync(saKeyPath)) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    await writeFile(saKeyPath, await exportKeyPem(keys.privateKey), { mode: 0o600 });
  }
  return { ca, server, admin, kubeletClient, serviceAccountKeyPem: await readFile(saKeyPath, 'utf8'), dir };
}

function certCovers(certPem: string, dnsNames: string[], ips: string[]): boolean {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = new Set((san?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`));
  return dnsNames.every((d) => names.has(`dns:${d}`)) && ips.every((ip) => names.has(`ip:${ip}`));
}

export function splitHostsForSan(hosts: string[]): { dnsNames: string[]; ips: string[] } {
  const dnsNames: string[] = [];
  const ips: string[] = [];
  for (const h of hosts) {
    if (!h || h === '0.0.0.0' || h === '::') continue;
    if (isIP(h)) ips.push(h);
    else dnsNames.push(h);
  }
  return { dnsNames, ips };
}
