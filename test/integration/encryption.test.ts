/**
 * Secrets encrypted at rest: the SQLite file and the raw etcd value hold
 * `k8s:enc:aesgcm:v1:<key>:` and ciphertext, never the secret's value, while the API serves the
 * plaintext; ConfigMaps stay in the clear. Key rotation: `cairn encryption rotate-key`, restart,
 * and the stored value is rewritten under the new key while the old one still decrypts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Etcd3 } from 'etcd3';
import { RawClient } from '../support/raw-https.js';
import { startEtcd } from '../support/etcd.js';
import { startTestServer } from '../support/server.js';

const CAIRN_BIN = new URL('../../../bin/cairn.js', import.meta.url).pathname;
const SECRET = 'correct-horse-battery-staple-7f3a';
const b64 = Buffer.from(SECRET).toString('base64');
const secretBody = (name: string) => ({ metadata: { name }, data: { password: b64 }, stringData: { token: `${SECRET}-token` } });

/** Every byte the SQLite store has on disk (the database, its WAL and shared memory). */
async function sqliteBytes(dataDir: string): Promise<Buffer> {
  const files = (await readdir(dataDir)).filter((f) => f.startsWith('cairn.db'));
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(dataDir, f)))));
}

function storedValue(dataDir: string, key: string): Buffer {
  const db = new Database(join(dataDir, 'cairn.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT value FROM log WHERE key = ? AND deleted = 0 ORDER BY rev DESC LIMIT 1').get(key) as { value: Buffer } | undefined;
    assert.ok(row, `no row for ${key}`);
    return row.value;
  } finally {
    db.close();
  }
}

describe('encryption at rest', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('SQLite: no plaintext secret on disk; rotation re-encrypts under the new key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cairn-enc-'));
    dirs.push(dataDir);
    let server = await startTestServer({ store: 'sqlite', dataDir });
    let admin = RawClient.admin(server.url, dataDir);
    try {
      const cfg = JSON.parse(await readFile(join(dataDir, 'encryption.json'), 'utf8'));
      assert.deepEqual(cfg.resources, ['secrets']);
      assert.equal(cfg.keys.length, 1);
      assert.equal(Buffer.from(cfg.keys[0].secret, 'base64').length, 32);
      const created = await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/secrets', body: secretBody('db-pass') });
      assert.equal(created.status, 201, created.text);
      await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: { name: 'plain' }, data: { marker: 'configmap-marker-in-clear' } } });
      const got = await admin.request({ path: '/api/v1/namespaces/default/secrets/db-pass' });
      assert.equal(got.json.data.password, b64);
      assert.equal(Buffer.from(got.json.data.token, 'base64').toString(), `${SECRET}-token`);
    } finally {
      admin.close();
      await server.stop();
    }
    // The store holds its file locked while it runs: read it once stopped.
    const value = storedValue(dataDir, '/registry/core/secrets/default/db-pass');
    assert.ok(value.toString('latin1').startsWith('k8s:enc:aesgcm:v1:key1:'), value.subarray(0, 40).toString('latin1'));
    const disk = await sqliteBytes(dataDir);
    for (const needle of [SECRET, b64, 'db-pass-token', Buffer.from(`${SECRET}-token`).toString('base64')]) assert.equal(disk.indexOf(needle), -1, `found ${needle} on disk`);
    assert.notEqual(disk.indexOf('configmap-marker-in-clear'), -1, 'ConfigMaps are not encrypted (sanity check of the scan)');

    // Rotate: a new key goes first; after a restart the stored value is under it and still reads.
    const { stderr } = await promisify(execFile)(process.execPath, [CAIRN_BIN, 'encryption', 'rotate-key', '--data-dir', dataDir]);
    assert.match(stderr, /added key "key2"/);
    server = await startTestServer({ store: 'sqlite', dataDir });
    admin = RawClient.admin(server.url, dataDir);
    try {
      const got = await admin.request({ path: '/api/v1/namespaces/default/secrets/db-pass' });
      assert.equal(got.json.data.password, b64);
      const cfg = JSON.parse(await readFile(join(dataDir, 'encryption.json'), 'utf8'));
      assert.deepEqual(cfg.keys.map((k: { name: string }) => k.name), ['key2', 'key1']);
      // Watches and lists decrypt too.
      const list = await admin.request({ path: '/api/v1/namespaces/default/secrets' });
      assert.equal(list.json.items.find((s: any) => s.metadata.name === 'db-pass').data.password, b64);
    } finally {
      admin.close();
      await server.stop();
    }
    assert.ok(storedValue(dataDir, '/registry/core/secrets/default/db-pass').toString('latin1').startsWith('k8s:enc:aesgcm:v1:key2:'));
  });

  it('etcd: the raw value under the secret key is ciphertext', async () => {
    const etcd = await startEtcd();
    const prefix = `/cairn-enc-${process.pid}`;
    const server = await startTestServer({ store: 'etcd', etcdEndpoints: etcd.endpoints, etcdPrefix: prefix });
    const admin = RawClient.admin(server.url, server.dataDir);
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const created = await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/secrets', body: secretBody('db-pass') });
      assert.equal(created.status, 201, created.text);
      const raw = await client.get(`${prefix}//registry/core/secrets/default/db-pass`).buffer();
      assert.ok(raw, 'the secret is in etcd');
      assert.ok(raw.toString('latin1').startsWith('k8s:enc:aesgcm:v1:key1:'));
      assert.equal(raw.indexOf(SECRET), -1);
      assert.equal(raw.indexOf(b64), -1);
      const all = await client.getAll().prefix(prefix).buffers();
      for (const [k, v] of Object.entries(all)) assert.equal(v.indexOf(SECRET), -1, `plaintext under ${k}`);
      const got = await admin.request({ path: '/api/v1/namespaces/default/secrets/db-pass' });
      assert.equal(got.json.data.password, b64);
    } finally {
      client.close();
      admin.close();
      await server.stop();
      await etcd.stop();
    }
  });
});
