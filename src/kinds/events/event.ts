/**
 * events.k8s.io/v1 Event. Upstream serves it from the same storage as core/v1 Event and
 * validates the internal (core) shape, so error paths use the core field names (`message`,
 * `involvedObject`, `source`, `count`...) even for events.k8s.io requests; we keep those paths.
 * The table is core Event's table, computed from the v1 fields.
 */
import { type FieldError, fieldErr } from '../../registry/field-errors.js';
import { isQualifiedName } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { eventCells } from '../core/event.js';
import { nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  fieldPath?: string;
}
interface EventV1 extends KubeObject {
  eventTime?: string;
  series?: { count?: number; lastObservedTime?: string };
  reportingController?: string;
  reportingInstance?: string;
  action?: string;
  reason?: string;
  regarding?: ObjectReference;
  related?: ObjectReference;
  note?: string;
  type?: string;
  deprecatedSource?: { component?: string; host?: string };
  deprecatedFirstTimestamp?: string;
  deprecatedLastTimestamp?: string;
  deprecatedCount?: number;
}

const REPORTING_INSTANCE_MAX = 128;
const ACTION_MAX = 128;
const REASON_MAX = 128;
const NOTE_MAX = 1024;

const maxLen = (path: string, v: string | undefined, max: number): FieldError[] =>
  (v ?? '').length > max ? [fieldErr.invalid(path, '', `can have at most ${max} characters`)] : [];

/** Upstream's ValidateEventCreate for events.k8s.io/v1 requests (legacy checks plus the strict ones). */
function validate(obj: KubeObject): FieldError[] {
  const e = obj as EventV1;
  const errs: FieldError[] = [];
  const ns = e.metadata.namespace;
  if (!e.eventTime) errs.push(fieldErr.required('eventTime'));
  else {
    // Events about cluster-scoped objects must live in "default" or "kube-system".
    if (!e.regarding?.namespace && ns !== 'default' && ns !== 'kube-system')
      errs.push(fieldErr.invalid('involvedObject.namespace', e.regarding?.namespace ?? '', 'does not match event.namespace'));
    if (!e.reportingController) errs.push(fieldErr.required('reportingController'));
    for (const m of isQualifiedName(e.reportingController ?? '')) errs.push(fieldErr.invalid('reportingController', e.reportingController ?? '', m));
    if (!e.reportingInstance) errs.push(fieldErr.required('reportingInstance'));
    errs.push(...maxLen('reportingInstance', e.reportingInstance, REPORTING_INSTANCE_MAX));
    if (!e.action) errs.push(fieldErr.required('action'));
    errs.push(...maxLen('action', e.action, ACTION_MAX));
    if (!e.reason) errs.push(fieldErr.required('reason'));
    errs.push(...maxLen('reason', e.reason, REASON_MAX));
    errs.push(...maxLen('message', e.note, NOTE_MAX));
  }
  if (e.series) {
    if ((e.series.count ?? 0) < 2) errs.push(fieldErr.invalid('series.count', '', 'should be at least 2'));
    if (!e.series.lastObservedTime) errs.push(fieldErr.required('series.lastObservedTime'));
  }
  if (e.type !== 'Normal' && e.type !== 'Warning') errs.push(fieldErr.invalid('type', '', `has invalid value: ${e.type ?? ''}`));
  if (e.deprecatedFirstTimestamp) errs.push(fieldErr.invalid('firstTimestamp', '', 'needs to be unset'));
  if (e.deprecatedLastTimestamp) errs.push(fieldErr.invalid('lastTimestamp', '', 'needs to be unset'));
  if (e.deprecatedCount) errs.push(fieldErr.invalid('count', '', 'needs to be unset'));
  if (e.deprecatedSource?.component || e.deprecatedSource?.host) errs.push(fieldErr.invalid('source', '', 'needs to be unset'));
  return errs;
}

/** v1 field -> the core path upstream reports when it changes; only series may change after creation. */
const IMMUTABLE: [keyof EventV1, string][] = [
  ['regarding', 'involvedObject'],
  ['reason', 'reason'],
  ['note', 'message'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
  ['type', 'type'],
  ['eventTime', 'eventTime'],
  ['action', 'action'],
  ['related', 'related'],
  ['reportingController', 'reportingController'],
  ['reportingInstance', 'reportingInstance'],
];

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  for (const [field, path] of IMMUTABLE) {
    const n = (obj as EventV1)[field];
    const o = (old as EventV1)[field];
    if (!deepEqual(n ?? null, o ?? null)) errs.push(fieldErr.invalid(path, n ?? null, 'field is immutable'));
  }
  return errs;
}

const col = (name: string, type: 'string' | 'integer', description: string, priority = 0) => ({ name, type, description, priority });

export const eventKind: KindDefinition = {
  group: 'events.k8s.io',
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  plural: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.events.v1.Event',
  printer: {
    columns: [
      col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
      col('Type', 'string', 'Type of this event (Normal, Warning).'),
      col('Reason', 'string', 'A short, machine understandable string that describes why this event was generated.'),
      col('Object', 'string', 'The object this event is about.'),
      col('Subobject', 'string', 'The part of the object this event is about, if any.', 1),
      col('Source', 'string', 'The component and instance reporting this event.', 1),
      col('Message', 'string', 'A human-readable description of the status of this operation.'),
      col('First Seen', 'string', 'The time at which the event was first recorded.', 1),
      col('Count', 'integer', 'The number of times this event has occurred.', 1),
      { ...nameColumn, priority: 1 },
    ],
    cells(obj, now) {
      const e = obj as EventV1;
      const r = e.regarding ?? {};
      return eventCells(
        {
          name: obj.metadata.name,
          type: e.type,
          reason: e.reason,
          message: e.note,
          objectKind: r.kind,
          objectName: r.name,
          fieldPath: r.fieldPath,
          component: e.deprecatedSource?.component || e.reportingController || '',
          instance: e.deprecatedSource?.host || e.reportingInstance || '',
          firstTimestamp: e.deprecatedFirstTimestamp,
          lastTimestamp: e.deprecatedLastTimestamp,
          eventTime: e.eventTime,
          count: e.deprecatedCount,
          series: e.series,
        },
        now,
      );
    },
  },
  strategy: { validate, validateUpdate },
};
