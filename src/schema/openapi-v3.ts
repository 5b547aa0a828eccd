/**
 * `/openapi/v3` and its per-group-version documents, computed from the served kinds and the
 * schema catalog on first request and cached until either changes. Each document's URL in the
 * index carries a hash of its content, so clients (kubectl caches them on disk) refetch exactly
 * when it changed.
 */
import { createHash } from 'node:crypto';
import type { KindDefinition } from '../kinds/types.js';
import type { JSONSchema } from './types.js';
import { reachableSchemas } from './builtin-schemas.js';
import { type SchemaCatalog, componentNameOf } from './catalog.js';
import { crdComponentName } from './custom-schemas.js';
import { COMMON_COMPONENTS, SCALE_COMPONENT, resourcePaths } from './openapi-paths.js';

export interface OpenAPIV3Index {
  paths: Record<string, { serverRelativeURL: string }>;
}

export interface PublishedDocument {
  /** The document as JSON text (served as application/json). */
  json: string;
  /** Content hash used in the index URL and as the ETag. */
  hash: string;
}

/** The document key of a group-version: `api/v1` or `apis/apps/v1`. */
export const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);

function listComponentName(k: KindDefinition): string | undefined {
  if (k.custom || k.schema) return crdComponentName(k.group, k.version, k.listKind);
  const own = componentNameOf(k);
  return own && `${own}List`;
}

export class OpenAPIV3Publisher {
  private cache?: { generation: number; docs: Map<string, PublishedDocument> };

  constructor(
    private readonly catalog: SchemaCatalog,
    private readonly info = { title: 'Cairn', version: 'v1.35.0' },
  ) {}

  index(): OpenAPIV3Index {
    const paths: OpenAPIV3Index['paths'] = {};
    for (const [p, d] of this.documents()) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${d.hash}` };
    return { paths };
  }

  /** The document at `path` (`apis/apps/v1`), or undefined if no served kind is in that group-version. */
  document(path: string): PublishedDocument | undefined {
    return this.documents().get(path.replace(/^\/+|\/+$/g, ''));
  }

  private documents(): Map<string, PublishedDocument> {
    if (this.cache?.generation !== this.catalog.generation) this.cache = { generation: this.catalog.generation, docs: this.build() };
    return this.cache.docs;
  }

  private build(): Map<string, PublishedDocument> {
    const byGv = new Map<string, KindDefinition[]>();
    for (const k of this.catalog.kinds) {
      const p = gvPath(k.group, k.version);
      byGv.set(p, [...(byGv.get(p) ?? []), k]);
    }
    const docs = new Map<string, PublishedDocument>();
    for (const p of [...byGv.keys()].sort()) {
      const json = JSON.stringify(this.buildDocument(byGv.get(p)!));
      docs.set(p, { json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() });
    }
    return docs;
  }

  private buildDocument(kinds: KindDefinition[]): object {
    const paths: Record<string, unknown> = {};
    const roots = [...COMMON_COMPONENTS];
    for (const k of [...kinds].sort((a, b) => a.plural.localeCompare(b.plural))) {
      const schema = componentNameOf(k);
      const listSchema = listComponentName(k);
      if (!schema || !listSchema || !this.catalog.has(schema)) continue;
      Object.assign(paths, resourcePaths({ kind: k, schema, listSchema }));
      roots.push(schema, listSchema);
      if (k.scale) roots.push(SCALE_COMPONENT);
    }
    const lookup = (n: string) => this.catalog.get(n);
    const schemas: Record<string, JSONSchema> = {};
    for (const n of [...reachableSchemas(roots, lookup)].sort()) schemas[n] = lookup(n)!;
    return {
      openapi: '3.0.0',
      info: this.info,
      paths,
      components: {
        schemas,
        securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer token authentication', name: 'authorization', in: 'header' } },
      },
      security: [{ BearerToken: [] }],
    };
  }
}
