// Checks a parsed YAML value against the subset of JSON Schema that fabric's schema uses:
// $ref to local $defs, type, properties, required, additionalProperties, items, enum,
// minItems/maxItems and pattern. Every problem is returned with its field path.
//
// Numeric ranges (minimum/maximum) are deliberately not checked here: they are design problems
// that validate.ts reports together with all the others, whereas a shape problem stops the load.
import type { TopologyIssue } from './topology.js';

export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: 'object' | 'array' | 'string' | 'integer';
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly (string | number)[];
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
  title?: string;
  $schema?: string;
  $id?: string;
}

export function checkShape(value: unknown, root: JsonSchema): TopologyIssue[] {
  const issues: TopologyIssue[] = [];
  walk(value, root, '', root, issues);
  return issues;
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace(/^#\/\$defs\//, '');
  const def = root.$defs?.[name];
  if (!def) throw new Error(`fabric schema: unresolved $ref ${schema.$ref}`);
  return def;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

const typeNames = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'an integer' };

function hasType(v: unknown, t: NonNullable<JsonSchema['type']>): boolean {
  switch (t) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return Number.isInteger(v);
    case 'string':
      return typeof v === 'string';
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function walk(v: unknown, s0: JsonSchema, path: string, root: JsonSchema, issues: TopologyIssue[]): void {
  const s = resolve(s0, root);
  const at = path || '(top level)';
  if (s.type && !hasType(v, s.type)) {
    issues.push({ path: at, message: `expected ${s.description && s.type === 'string' && s.pattern ? s.description : typeNames[s.type]}, got ${describe(v)}` });
    return;
  }
  if (s.enum && !s.enum.includes(v as string | number)) {
    issues.push({ path: at, message: `must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(v)}` });
    return;
  }
  if (s.pattern && typeof v === 'string' && !new RegExp(s.pattern).test(v)) {
    issues.push({ path: at, message: `expected ${s.description ?? `a string matching ${s.pattern}`}, got ${describe(v)}` });
    return;
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) issues.push({ path: at, message: `needs at least ${s.minItems} item(s), has ${v.length}` });
    if (s.maxItems !== undefined && v.length > s.maxItems) issues.push({ path: at, message: `allows at most ${s.maxItems} item(s), has ${v.length}` });
    if (s.items) v.forEach((item, i) => walk(item, s.items!, join(path, i), root, issues));
    return;
  }
  if (typeof v === 'object' && v !== null) {
    const obj = v as Record<string, unknown>;
    for (const key of s.required ?? []) {
      if (obj[key] === undefined || obj[key] === null) issues.push({ path: join(path, key), message: 'required field is missing' });
    }
    for (const [key, child] of Object.entries(obj)) {
      const prop = s.properties?.[key];
      if (prop) {
        if (child !== undefined && child !== null) walk(child, prop, join(path, key), root, issues);
      } else if (s.additionalProperties === false || (s.additionalProperties === undefined && s.properties)) {
        issues.push({ path: join(path, key), message: 'unknown field' });
      } else if (typeof s.additionalProperties === 'object') {
        walk(child, s.additionalProperties, join(path, key), root, issues);
      }
    }
  }
}
