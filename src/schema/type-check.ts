/**
 * JSON type checks for built-in kinds. Upstream decodes built-in objects into typed Go structs,
 * so a value of the wrong JSON type (a string where a map is declared, 1.5 for an int32) is
 * refused before any validation runs: `json: cannot unmarshal string into Go struct field
 * ConfigMap.data of type map[string]string`. This walk finds the first such value.
 * null decodes as Go decodes it: a struct field set to null is left out, a null map value or
 * list element becomes its type's zero value (`{"app": null}` -> `{"app": ""}`); unknown fields
 * are left to the unknown-field check, and untyped schemas (Quantity, RawExtension) accept anything.
 */
import { derefSchema, type JSONSchema, type SchemaResolver } from './types.js';
import { isPlainObject } from '../util/object.js';

export interface TypeMismatch {
  /** Dotted path, e.g. `spec.template.spec.containers[0].ports[1].containerPort`. */
  path: string;
  /** What was found: string, number, bool, array, object. */
  found: string;
  /** What the schema declares, in Go's words: map[string]string, int32, []v1.Container, ... */
  expected: string;
}

const foundType = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v === 'object' ? 'object' : typeof v);

function goType(s: JSONSchema): string {
  switch (s.type) {
    case 'object':
      return s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties ? `map[string]${goType(s.additionalProperties)}` : 'object';
    case 'array':
      return `[]${s.items ? goType(s.items) : 'interface {}'}`;
    case 'integer':
      return s.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    default:
      return 'interface {}';
  }
}

function zeroValue(s: JSONSchema | undefined): unknown {
  switch (s?.type) {
    case 'string':
      return '';
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'object':
      return {};
    default:
      return undefined;
  }
}

/**
 * Applies Go's decoding of nulls (in place) and returns the first value of the wrong type, if
 * any. Only for built-in kinds: CRD objects keep their nulls and are validated by their schema.
 */
export function typedDecode(obj: unknown, schema: JSONSchema, resolver: SchemaResolver, path = ''): TypeMismatch | undefined {
  const stack: [unknown, JSONSchema | undefined, string][] = [[obj, schema, path]];
  while (stack.length) {
    const [v, raw, p] = stack.pop()!;
    const s = derefSchema(raw, resolver);
    if (!s || v === null || v === undefined) continue;
    if (s['x-kubernetes-int-or-string']) {
      if (!(typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) return { path: p, found: foundType(v), expected: 'intstr.IntOrString' };
      continue;
    }
    const bad = (): TypeMismatch => ({ path: p, found: typeof v === 'number' ? `number ${v}` : foundType(v), expected: goType(s) });
    switch (s.type) {
      case 'string':
        if (typeof v !== 'string') return bad();
        break;
      case 'boolean':
        if (typeof v !== 'boolean') return bad();
        break;
      case 'integer':
        if (typeof v !== 'number' || !Number.isInteger(v)) return bad();
        break;
      case 'number':
        if (typeof v !== 'number') return bad();
        break;
      case 'array':
        if (!Array.isArray(v)) return bad();
        v.forEach((x, i) => {
          if (x === null) {
            const zero = zeroValue(derefSchema(s.items, resolver));
            if (zero !== undefined) v[i] = zero;
          } else if (s.items) stack.push([x, s.items, `${p}[${i}]`]);
        });
        break;
      case 'object':
        if (!isPlainObject(v)) return bad();
        for (const [k, x] of Object.entries(v)) {
          const prop = s.properties?.[k];
          const child = prop ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
          if (x === null && child) {
            if (prop) delete v[k];
            else {
              const zero = zeroValue(derefSchema(child, resolver));
              if (zero === undefined) delete v[k];
              else v[k] = zero;
            }
          } else if (child) stack.push([x, child, p ? `${p}.${k}` : k]);
        }
        break;
    }
  }
  return undefined;
}
