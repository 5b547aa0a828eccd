/**
 * meta.k8s.io/v1 Table responses for `kubectl get`: the kind's printer columns (or the default
 * Name/Created At), each row carrying the object's metadata as PartialObjectMetadata.
 */
import type { KindDefinition, TableColumn } from '../kinds/types.js';
import { defaultColumns } from '../kinds/printing.js';
import type { KubeObject } from '../util/object.js';
import { acceptedAs } from './accept.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Whether an Accept header asks for a Table (any version kubectl sends). */
export function wantsTable(accept: string | undefined): 'v1' | 'v1beta1' | undefined {
  const v = acceptedAs(accept, 'Table', 'meta.k8s.io');
  if (v === undefined) return undefined;
  return v === 'v1beta1' ? 'v1beta1' : 'v1';
}

export function columnsFor(kind: KindDefinition): TableColumn[] {
  return kind.printer?.columns ?? defaultColumns;
}

function rowFor(kind: KindDefinition, obj: KubeObject, now: Date, include: IncludeObject) {
  const cells = kind.printer ? kind.printer.cells(obj, now) : [obj.metadata.name, obj.metadata.creationTimestamp];
  const row: Record<string, unknown> = { cells };
  if (include === 'Object') row.object = obj;
  else if (include === 'Metadata')
    row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
  return row;
}

export function toTable(
  kind: KindDefinition,
  objs: KubeObject[],
  listMeta: Record<string, unknown>,
  opts: { version: 'v1' | 'v1beta1'; include: IncludeObject; noHeaders?: boolean; now?: Date },
) {
  const now = opts.now ?? new Date();
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata: listMeta,
    columnDefinitions: opts.noHeaders ? [] : columnsFor(kind).map((c) => ({ ...c, format: c.format ?? '' })),
    rows: objs.map((o) => rowFor(kind, o, now, opts.include)),
  };
}
