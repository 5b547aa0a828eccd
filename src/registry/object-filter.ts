/**
 * Label and field selectors compiled against a kind: which fields it can be selected by
 * (metadata.name, metadata.namespace, and the kind's own), with upstream's errors for the rest.
 */
import { ApiError } from '../api/errors.js';
import type { KindDefinition } from '../kinds/types.js';
import type { KubeObject } from '../util/object.js';
import { type FieldRequirement, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type Requirement, SelectorParseError } from './selectors.js';

export interface CompiledSelectors {
  /** No selector at all: every object matches. */
  empty: boolean;
  matches(obj: KubeObject): boolean;
}

export function compileSelectors(kind: KindDefinition, labelSelector?: string, fieldSelector?: string): CompiledSelectors {
  let labels: Requirement[] = [];
  let fields: FieldRequirement[] = [];
  try {
    labels = parseLabelSelector(labelSelector ?? '');
    fields = parseFieldSelector(fieldSelector ?? '');
  } catch (e) {
    if (e instanceof SelectorParseError) throw ApiError.badRequest(e.message);
    throw e;
  }
  const extra = kind.fieldSelectors ?? {};
  for (const f of fields) {
    if (f.field !== 'metadata.name' && f.field !== 'metadata.namespace' && !(f.field in extra))
      throw ApiError.badRequest(`field label not supported: ${f.field}`);
  }
  const fieldValue = (obj: KubeObject) => (name: string) => {
    if (name === 'metadata.name') return obj.metadata.name;
    if (name === 'metadata.namespace') return obj.metadata.namespace;
    return extra[name]?.(obj);
  };
  const empty = labels.length === 0 && fields.length === 0;
  return {
    empty,
    matches: empty ? () => true : (obj) => matchesLabels(labels, obj.metadata.labels) && matchesFields(fields, fieldValue(obj)),
  };
}
