// TLS Secrets → PEM files for nginx: checked, written 0600 under a content-hash name, removed
// when no Ingress uses them; a default certificate made once.
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createCa, issueCertificate, type KeyPairPem } from '../../src/api/pki.js';
import { CertificateStore } from '../../src/ingress/certificates.js';
import type { Secret } from '../../src/ingress/ingress-api.js';

let dir: string;
let ca: KeyPairPem;
const secrets = new Map<string, Secret>();
const b64 = (s: string) => Buffer.from(s).toString('base64');
const tlsSecret = (name: string, pair: KeyPairPem, rv = '1'): Secret => ({
  metadata: { name, namespace: 'default', resourceVersion: rv },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': b64(pair.certPem), 'tls.key': b64(pair.keyPem) },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-ingress-certs-'));
  ca = await createCa('test-ca');
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the default certificate is the fake one ingress-nginx serves, made once, 0600', async () => {
  const store = new CertificateStore(join(dir, 'ssl'), () => undefined);
  await store.init();
  const first = await readFile(store.defaultFile, 'utf8');
  assert.match(new X509Certificate(first).subject, /CN=Kubernetes Ingress Controller Fake Certificate/);
  assert.equal((await stat(store.defaultFile)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'ssl'))).mode & 0o777, 0o700);
  await new CertificateStore(join(dir, 'ssl'), () => undefined).init();
  assert.equal(await readFile(store.defaultFile, 'utf8'), first);
});

test('a good Secret becomes a 0600 PEM covering its hosts; bad ones say why', async () => {
  const store = new CertificateStore(join(dir, 'ssl'), (ns, name) => secrets.get(`${ns}/${name}`));
  await store.init();
  const a = await issueCertificate(ca, { commonName: 'a.test', dnsNames: ['a.test', '*.wild.test'], usage: 'server' });
  const other = await issueCertificate(ca, { commonName: 'b.test', dnsNames: ['b.test'], usage: 'server' });
  secrets.set('default/a', tlsSecret('a', a));
  secrets.set('default/mismatch', tlsSecret('mismatch', { certPem: a.certPem, keyPem: other.keyPem }));
  secrets.set('default/garbage', { metadata: { name: 'garbage', namespace: 'default', resourceVersion: '1' }, data: { 'tls.crt': b64('nope'), 'tls.key': b64('nope') } });

  const ok = store.lookup('default', 'a');
  assert.ok(ok.ok);
  assert.equal(ok.covers('a.test'), true);
  assert.equal(ok.covers('x.wild.test'), true);
  assert.equal(ok.covers('*.wild.test'), true);
  assert.equal(ok.covers('b.test'), false);
  assert.deepEqual(store.lookup('default', 'mismatch'), { ok: false, reason: 'InvalidCertificate', message: 'Secret default/mismatch: tls.key does not match tls.crt' });
  assert.deepEqual(store.lookup('default', 'garbage'), { ok: false, reason: 'InvalidCertificate', message: 'Secret default/garbage: tls.crt is not a PEM certificate' });
  assert.deepEqual(store.lookup('default', 'absent'), { ok: false, reason: 'SecretNotFound', message: 'Secret default/absent not found' });

  await store.write(new Set([ok.file]));
  assert.equal((await stat(ok.file)).mode & 0o777, 0o600);
  const pem = await readFile(ok.file, 'utf8');
  assert.ok(pem.includes(a.certPem.trim()) && pem.includes(a.keyPem.trim()));

  // A changed Secret is a new file (so the configuration changes and nginx reloads); the old goes.
  secrets.set('default/a', tlsSecret('a', other, '2'));
  const changed = store.lookup('default', 'a');
  assert.ok(changed.ok);
  assert.notEqual(changed.file, ok.file);
  await store.write(new Set([changed.file]));
  assert.deepEqual((await readdir(join(dir, 'ssl'))).sort(), [changed.file.split('/').pop(), 'default.pem'].sort());
  await store.write(new Set());
  assert.deepEqual(await readdir(join(dir, 'ssl')), ['default.pem']);
});
