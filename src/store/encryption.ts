/**
 * Encryption at rest (upstream's EncryptionConfiguration with the aesgcm provider): values of
 * the configured resources (Secrets by default) are stored as
 * `k8s:enc:aesgcm:v1:<key name>:` + 12-byte nonce + AES-256-GCM ciphertext and tag, with the
 * storage key as additional authenticated data (a value copied under another key does not
 * decrypt). The first key encrypts; every key decrypts, and unencrypted values still read, so
 * keys rotate by putting a new one first: the server rewrites values under older keys at start.
 *
 * The keys live in DATA/encryption.json (mode 0600), created with one random key on first start:
 *   { "resources": ["secrets"], "keys": [{ "name": "key1", "secret": "<base64 of 32 bytes>" }] }
 * A resource is named as upstream does: `secrets`, `configmaps`, `deployments.apps`.
 */
import { type CipherGCM, type DecipherGCM, createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, StoreError } from './errors.js';
import type { KeyValue, ListOptions, ListResult, Store, WatchEvent, WatchHandle, WatchOptions } from './types.js';

export const ENCRYPTION_CONFIG_FILE = 'encryption.json';
const PREFIX = 'k8s:enc:aesgcm:v1:';
const ENC_MARK = Buffer.from('k8s:enc:');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface EncryptionKey {
  name: string;
  /** Base64 of 16, 24 or 32 bytes (AES-128/192/256). */
  secret: string;
}

export interface EncryptionConfig {
  resources: string[];
  keys: EncryptionKey[];
}

export class EncryptionConfigError extends Error {}

export function validateEncryptionConfig(cfg: unknown, where: string): EncryptionConfig {
  const c = cfg as Partial<EncryptionConfig> | null;
  if (!c || typeof c !== 'object') throw new EncryptionConfigError(`${where}: want an object with "resources" and "keys"`);
  if (!Array.isArray(c.resources) || c.resources.some((r) => typeof r !== 'string' || !r)) throw new EncryptionConfigError(`${where}: "resources" must be a list of resource names like "secrets"`);
  if (!Array.isArray(c.keys) || c.keys.length === 0) throw new EncryptionConfigError(`${where}: "keys" must list at least one key`);
  const names = new Set<string>();
  for (const [i, k] of c.keys.entries()) {
    if (!k || typeof k.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(k.name)) throw new EncryptionConfigError(`${where}: keys[${i}].name must be letters, digits, '.', '_' or '-'`);
    if (names.has(k.name)) throw new EncryptionConfigError(`${where}: key name "${k.name}" is used twice`);
    names.add(k.name);
    const len = typeof k.secret === 'string' ? Buffer.from(k.secret, 'base64').length : 0;
    if (![16, 24, 32].includes(len)) throw new EncryptionConfigError(`${where}: keys[${i}].secret must be base64 of 16, 24 or 32 bytes`);
  }
  return { resources: c.resources, keys: c.keys.map((k) => ({ name: k.name, secret: k.secret })) };
}

export const newKey = (name: string): EncryptionKey => ({ name, secret: randomBytes(32).toString('base64') });

export async function readEncryptionConfig(path: string): Promise<EncryptionConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new EncryptionConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new EncryptionConfigError(`${path}: not JSON: ${(e as Error).message}`);
  }
  return validateEncryptionConfig(parsed, path);
}

export async function writeEncryptionConfig(path: string, cfg: EncryptionConfig): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

/** DATA/encryption.json, created with one new key for Secrets when missing. */
export async function ensureEncryptionConfig(dataDir: string): Promise<EncryptionConfig> {
  const path = join(dataDir, ENCRYPTION_CONFIG_FILE);
  if (!existsSync(path)) await writeEncryptionConfig(path, { resources: ['secrets'], keys: [newKey('key1')] });
  return readEncryptionConfig(path);
}

/** Adds a new key in front (it encrypts from the next start on); the older ones stay for reading. */
export async function rotateEncryptionKey(dataDir: string): Promise<EncryptionKey> {
  const path = join(dataDir, ENCRYPTION_CONFIG_FILE);
  const cfg = await readEncryptionConfig(path);
  let n = cfg.keys.length + 1;
  while (cfg.keys.some((k) => k.name === `key${n}`)) n++;
  const key = newKey(`key${n}`);
  await writeEncryptionConfig(path, { ...cfg, keys: [key, ...cfg.keys] });
  return key;
}

/** The store key prefix of an upstream resource name (`secrets` -> `/registry/core/secrets/`). */
export function resourceKeyPrefix(resource: string): string {
  const i = resource.indexOf('.');
  const plural = i < 0 ? resource : resource.slice(0, i);
  const group = i < 0 ? 'core' : resource.slice(i + 1);
  return `/registry/${group}/${plural}/`;
}

/** A Store that encrypts the values of some key prefixes and decrypts them on every way out. */
export class EncryptingStore implements Store {
  private readonly keys: Map<string, Buffer>;
  private readonly primary: { name: string; key: Buffer };
  private readonly prefixes: string[];

  constructor(
    private readonly inner: Store,
    cfg: EncryptionConfig,
  ) {
    this.keys = new Map(cfg.keys.map((k) => [k.name, Buffer.from(k.secret, 'base64')]));
    this.primary = { name: cfg.keys[0].name, key: this.keys.get(cfg.keys[0].name)! };
    this.prefixes = cfg.resources.map(resourceKeyPrefix);
  }

  get backend() {
    return this.inner.backend;
  }

  private covered(key: string): boolean {
    for (const p of this.prefixes) if (key.startsWith(p)) return true;
    return false;
  }

  encrypt(key: string, plain: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const aes = createCipheriv(aesName(this.primary.key), this.primary.key, nonce) as CipherGCM;
    aes.setAAD(Buffer.from(key));
    const body = Buffer.concat([aes.update(plain), aes.final(), aes.getAuthTag()]);
    return Buffer.concat([Buffer.from(`${PREFIX}${this.primary.name}:`), nonce, body]);
  }

  /** The plaintext of a stored value, and the name of the key that encrypted it (undefined: stored in the clear). */
  decrypt(key: string, stored: Uint8Array): { plain: Uint8Array; keyName?: string } {
    const buf = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    if (!buf.subarray(0, ENC_MARK.length).equals(ENC_MARK)) return { plain: stored };
    const head = buf.subarray(0, Math.min(buf.length, 256)).toString('latin1');
    if (!head.startsWith(PREFIX)) throw new StoreError(`${key}: value encrypted with an unsupported provider (${head.split(':').slice(0, 4).join(':')})`);
    const end = head.indexOf(':', PREFIX.length);
    if (end < 0) throw new StoreError(`${key}: malformed encrypted value`);
    const name = head.slice(PREFIX.length, end);
    const secret = this.keys.get(name);
    if (!secret) throw new StoreError(`${key}: value encrypted with key "${name}", which is not in the encryption configuration`);
    const rest = buf.subarray(end + 1);
    if (rest.length < NONCE_BYTES + TAG_BYTES) throw new StoreError(`${key}: malformed encrypted value`);
    const nonce = rest.subarray(0, NONCE_BYTES);
    const tag = rest.subarray(rest.length - TAG_BYTES);
    const aes = createDecipheriv(aesName(secret), secret, nonce) as DecipherGCM;
    aes.setAAD(Buffer.from(key));
    aes.setAuthTag(tag);
    try {
      return { plain: Buffer.concat([aes.update(rest.subarray(NONCE_BYTES, rest.length - TAG_BYTES)), aes.final()]), keyName: name };
    } catch {
      throw new StoreError(`${key}: value does not decrypt with key "${name}"`);
    }
  }

  private out(kv: KeyValue): KeyValue;
  private out(kv: KeyValue | undefined): KeyValue | undefined;
  private out(kv: KeyValue | undefined): KeyValue | undefined {
    if (!kv || !this.covered(kv.key)) return kv;
    return { ...kv, value: this.decrypt(kv.key, kv.value).plain };
  }

  private in(key: string, value: Uint8Array): Uint8Array {
    return this.covered(key) ? this.encrypt(key, value) : value;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ConflictError && e.current && this.covered(e.current.key)) throw new ConflictError(e.key, this.out(e.current));
      throw e;
    }
  }

  async get(key: string): Promise<KeyValue | null> {
    const kv = await this.inner.get(key);
    return kv ? this.out(kv) : null;
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const r = await this.inner.list(prefix, opts);
    return { ...r, items: r.items.map((kv) => this.out(kv)) };
  }

  count(prefix: string): Promise<number> {
    return this.inner.count(prefix);
  }

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    const kv = await this.call(() => this.inner.create(key, this.in(key, value)));
    return { ...kv, value };
  }

  async update(key: string, value: Uint8Array, expectedModRevision: number): Promise<KeyValue> {
    const kv = await this.call(() => this.inner.update(key, this.in(key, value), expectedModRevision));
    return { ...kv, value };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.out(await this.call(() => this.inner.delete(key, expectedModRevision)));
  }

  watch(prefix: string, opts: WatchOptions): WatchHandle {
    return this.inner.watch(prefix, {
      ...opts,
      onEvents: (events) => {
        let out: WatchEvent[];
        try {
          out = events.map((ev) => (this.covered(ev.kv.key) ? { ...ev, kv: this.out(ev.kv), prevKv: this.out(ev.prevKv) } : ev));
        } catch (e) {
          opts.onError(e as Error);
          return;
        }
        opts.onEvents(out);
      },
    });
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }

  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Rewrites every covered value not encrypted with the current first key (older keys, or stored
   * in the clear before encryption was on). Returns how many were rewritten; values changed
   * meanwhile are skipped (their writer encrypted them with the current key).
   */
  async rewriteStale(): Promise<number> {
    let rewritten = 0;
    for (const prefix of this.prefixes) {
      let startKey: string | undefined;
      for (;;) {
        const page = await this.inner.list(prefix, { limit: 500, startKey });
        for (const kv of page.items) {
          const { plain, keyName } = this.decrypt(kv.key, kv.value);
          if (keyName === this.primary.name) continue;
          try {
            await this.inner.update(kv.key, this.encrypt(kv.key, plain), kv.modRevision);
            rewritten++;
          } catch (e) {
            if (!(e instanceof ConflictError) && !(e instanceof StoreError && /not found/.test(e.message))) throw e;
          }
        }
        if (!page.more || !page.items.length) break;
        startKey = page.items[page.items.length - 1].key + '\0';
      }
    }
    return rewritten;
  }
}

function aesName(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return `aes-${key.length * 8}-gcm` as 'aes-256-gcm';
}
