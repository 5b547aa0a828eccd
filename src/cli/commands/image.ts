/**
 * `cairn image import FILE` loads an OCI layout or docker-archive tarball into a node's image
 * store (DATA/images); `cairn image list` shows what is there; `cairn image pull REF` pulls from
 * a registry with progress.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError, ImageStore, importArchive, type ImageRecord } from '../../agent/images/index.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';

const DEFAULT_DATA_DIR = '/var/lib/cairn';

const USAGE = `usage: cairn image import FILE [--data-dir DIR] [--name REF] [--output json]
       cairn image pull REF [--data-dir DIR] [--pull-secret FILE]... [--output json]
       cairn image list [--data-dir DIR] [--output json]

  import  load an OCI image layout tarball or a docker-archive ('docker save') tarball into the
          node's image store, checking every digest; --name names an image whose archive
          carries only a tag or no name
  pull    pull an image from its registry (--pull-secret: a .dockerconfigjson file)
  list    list the images in the store`;

function short(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

function table(recs: ImageRecord[]): string {
  const rows = [['IMAGE', 'IMAGE ID', 'DIGEST', 'SIZE']];
  for (const r of recs) {
    const names = r.references.length ? r.references : ['<none>'];
    for (const n of names) rows.push([n, short(r.id), short(r.digest), `${(r.size / 1024 / 1024).toFixed(1)}MB`]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(w[i])).join('   ').trimEnd()).join('\n');
}

async function openStore(dataDir: string): Promise<ImageStore> {
  try {
    return await new ImageStore(dataDir).init();
  } catch (e) {
    throw new CliError(`cannot open the image store in ${join(dataDir, 'images')}: ${(e as Error).message}`);
  }
}

function wrap(e: unknown): never {
  if (e instanceof ImageError) throw new CliError(e.message);
  throw e;
}

export const imageCommand: Command = {
  name: 'image',
  summary: "import, pull and list images in a node's image store",
  usage: USAGE,
  options: {
    'data-dir': { type: 'string' },
    name: { type: 'string' },
    'pull-secret': { type: 'string', multiple: true },
    output: { type: 'string', short: 'o' },
  },
  async run(values, positionals) {
    const [sub, ...args] = positionals;
    const dataDir = (values['data-dir'] as string | undefined) ?? DEFAULT_DATA_DIR;
    const json = values.output === 'json';
    if (values.output !== undefined && !json) throw new CliError(`--output must be json, got "${values.output}"`, 2);
    switch (sub) {
      case 'import': {
        if (args.length !== 1) throw new CliError(`image import takes one FILE; run 'cairn image --help'`, 2);
        const store = await openStore(dataDir);
        const recs = await importArchive(store, args[0], { name: values.name as string | undefined }).catch(wrap);
        if (json) console.log(JSON.stringify(recs, null, 2));
        else for (const r of recs) console.log(`imported ${r.references.join(', ') || '<unnamed>'} (${r.digest}, ${r.layers.length} layers)`);
        return 0;
      }
      case 'pull': {
        if (args.length !== 1) throw new CliError(`image pull takes one REF; run 'cairn image --help'`, 2);
        const secrets: string[] = [];
        for (const f of (values['pull-secret'] as string[] | undefined) ?? []) {
          secrets.push(await readFile(f, 'utf8').catch(() => {
            throw new CliError(`cannot read pull secret ${f}`);
          }));
        }
        const store = await openStore(dataDir);
        let lastLine = 0;
        const rec = await store
          .pull(args[0], {
            pullSecrets: secrets,
            onProgress: (p) => {
              if (json || !process.stderr.isTTY || Date.now() - lastLine < 200) return;
              lastLine = Date.now();
              process.stderr.write(`\rpulling ${(p.overallDownloaded / 1048576).toFixed(1)}/${(p.overallTotal / 1048576).toFixed(1)} MB`);
            },
          })
          .catch(wrap);
        if (!json && process.stderr.isTTY) process.stderr.write('\n');
        if (json) console.log(JSON.stringify(rec, null, 2));
        else console.log(`pulled ${args[0]} (${rec.digest})`);
        return 0;
      }
      case 'list': {
        const store = await openStore(dataDir);
        const recs = await store.list();
        console.log(json ? JSON.stringify(recs, null, 2) : table(recs));
        return 0;
      }
      default:
        throw new CliError(sub ? `unknown image subcommand "${sub}"; run 'cairn image --help'` : USAGE, 2);
    }
  },
};
