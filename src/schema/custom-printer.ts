/**
 * `kubectl get` columns of a custom resource, from its version's additionalPrinterColumns, as
 * upstream's CRD table convertor: Name first, then each column's JSONPath value; Age
 * (creationTimestamp) when the version declares no columns. Date cells are the age of the
 * timestamp ("5m"), rendered by the server as upstream's cellForJSONValue does ("<invalid>" when
 * it does not parse); missing values are null (kubectl prints `<none>`).
 */
import type { Printer, TableColumn } from '../kinds/types.js';
import { humanDuration, nameColumn } from '../kinds/printing.js';
import { evalSimpleJsonPath, parseSimpleJsonPath } from './simple-jsonpath.js';

export interface PrinterColumnSpec {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

const DEFAULT_COLUMNS: PrinterColumnSpec[] = [
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since the object was created.' },
];

const COLUMN_TYPES: TableColumn['type'][] = ['string', 'integer', 'number', 'boolean', 'date'];

function cell(v: unknown, type: string, now: Date): unknown {
  if (v === undefined || v === null) return null;
  if (type === 'date') {
    if (typeof v !== 'string') return null;
    const t = Date.parse(v);
    return Number.isNaN(t) ? '<invalid>' : humanDuration(now.getTime() - t);
  }
  if (type === 'integer' || type === 'number') return typeof v === 'number' ? v : null;
  if (type === 'boolean') return typeof v === 'boolean' ? v : null;
  if (typeof v === 'string') return v;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function customPrinter(specs: PrinterColumnSpec[] | undefined): Printer {
  const cols = specs?.length ? specs : DEFAULT_COLUMNS;
  const paths = cols.map((c) => parseSimpleJsonPath(c.jsonPath));
  return {
    columns: [
      nameColumn,
      ...cols.map((c) => ({
        name: c.name,
        type: COLUMN_TYPES.includes(c.type as TableColumn['type']) ? (c.type as TableColumn['type']) : 'string',
        ...(c.format ? { format: c.format } : {}),
        description: c.description ?? '',
        priority: c.priority ?? 0,
      })),
    ],
    cells: (obj, now) => [obj.metadata.name, ...cols.map((c, i) => (paths[i] ? cell(evalSimpleJsonPath(obj, paths[i]!), c.type, now) : null))],
  };
}
