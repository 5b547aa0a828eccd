/**
 * Unpacking an OVA: a tar of the OVF descriptor (first), an optional manifest (`.mf`: the
 * SHA-1/256/512 of every other file) and certificate, and the disk files. Entries are written
 * into a directory of the importer's own under their plain names only — an archive member with
 * a path, a link or a device is refused — and every file the manifest lists is checked against
 * its digest, so a damaged or tampered download fails here, naming the file.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readTar } from '../../agent/images/tar.js';
import { MAX_OVF_BYTES } from './ovf.js';

export class OvaError extends Error {
  override name = 'OvaError';
}

export interface UnpackedOva {
  /** The descriptor's text. */
  ovf: string;
  /** Every other file (not the descriptor, manifest or certificate): name → path in the directory. */
  files: Map<string, string>;
  /** Whether a manifest was present (and so every listed digest was checked). */
  verified: boolean;
}

const DIGESTS = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;
type Algorithm = (typeof DIGESTS)[keyof typeof DIGESTS];
const PLAIN_NAME = /^[A-Za-z0-9._ -]+$/;

/** `SHA256(disk1.vmdk)= ab12…` lines → name → [algorithm, hex]. */
export function parseManifest(text: string): Map<string, [Algorithm, string]> {
  const out = new Map<string, [Algorithm, string]>();
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const m = /^(SHA1|SHA256|SHA512)\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$/.exec(line.trim());
    if (!m) throw new OvaError(`manifest line ${JSON.stringify(line.trim().slice(0, 80))} is not "SHA256(file)= digest"`);
    out.set(m[2]!, [DIGESTS[m[1] as keyof typeof DIGESTS], m[3]!.toLowerCase()]);
  }
  return out;
}

export async function unpackOva(ovaPath: string, destDir: string): Promise<UnpackedOva> {
  let ovf: string | undefined;
  let manifest: Map<string, [Algorithm, string]> | undefined;
  const files = new Map<string, string>();
  /** Digests of each written file, by every algorithm a manifest may use. */
  const digests = new Map<string, Digests>();
  let first = true;
  try {
    for await (const { header, body } of readTar(createReadStream(ovaPath))) {
      const name = header.name.replace(/^\.\//, '');
      if (header.type !== 'file') throw new OvaError(`archive member ${JSON.stringify(header.name)} is a ${header.type}, not a file`);
      if (!PLAIN_NAME.test(name) || name === '.' || name === '..') throw new OvaError(`archive member ${JSON.stringify(header.name)} is not a plain file name`);
      if (first && !name.toLowerCase().endsWith('.ovf')) throw new OvaError(`the first archive member is ${JSON.stringify(name)}: an OVA starts with its .ovf descriptor`);
      first = false;
      if (name.toLowerCase().endsWith('.ovf')) {
        if (ovf !== undefined) throw new OvaError('the archive holds more than one .ovf descriptor');
        if (header.size > MAX_OVF_BYTES) throw new OvaError(`the descriptor is larger than ${MAX_OVF_BYTES} bytes`);
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c);
        ovf = Buffer.concat(chunks).toString('utf8');
        digests.set(name, hashOf(Buffer.concat(chunks)));
        continue;
      }
      if (name.toLowerCase().endsWith('.mf')) {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c);
        manifest = parseManifest(Buffer.concat(chunks).toString('utf8'));
        continue;
      }
      if (name.toLowerCase().endsWith('.cert')) {
        for await (const _ of body) void _;
        continue;
      }
      if (files.has(name)) throw new OvaError(`the archive holds ${name} twice`);
      const path = join(destDir, name);
      // The manifest normally comes before the disks (OVF's order): then only its digest is computed.
      const known = manifest?.get(name)?.[0];
      digests.set(name, await writeHashed(body, path, known ? [known] : ALGORITHMS));
      files.set(name, path);
    }
  } catch (e) {
    if (e instanceof OvaError) throw e;
    throw new OvaError(`reading ${ovaPath}: ${(e as Error).message}`);
  }
  if (ovf === undefined) throw new OvaError(`${ovaPath} holds no .ovf descriptor: not an OVA`);
  for (const [name, [alg, want]] of manifest ?? []) {
    const got = digests.get(name);
    if (!got) throw new OvaError(`the manifest lists ${name}, which the archive does not hold`);
    if (got[alg] !== want) throw new OvaError(`${name} does not match its ${alg.toUpperCase()} digest in the manifest: the archive is damaged`);
  }
  return { ovf, files, verified: manifest !== undefined };
}

const ALGORITHMS: Algorithm[] = Object.values(DIGESTS);
type Digests = Partial<Record<Algorithm, string>>;

const hashers = (algs: Algorithm[]): [Algorithm, Hash][] => algs.map((a) => [a, createHash(a)]);
const hexes = (h: [Algorithm, Hash][]): Digests => Object.fromEntries(h.map(([a, x]) => [a, x.digest('hex')]));

function hashOf(b: Buffer): Digests {
  const h = hashers(ALGORITHMS);
  for (const [, x] of h) x.update(b);
  return hexes(h);
}

async function writeHashed(body: AsyncIterable<Buffer>, path: string, algs: Algorithm[]): Promise<Digests> {
  const h = hashers(algs);
  await pipeline(
    body,
    async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        for (const [, x] of h) x.update(c);
        yield c;
      }
    },
    createWriteStream(path, { flags: 'wx', mode: 0o600 }),
  );
  return hexes(h);
}
