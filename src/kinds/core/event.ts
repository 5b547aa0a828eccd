/** core/v1 Event: the legacy-event rules of upstream ValidateEventCreate/Update and printEvent. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { age, nameColumn } from '../printing.js';
import type { KindDefinition, Printer } from '../types.js';
import { asObj, asStr, validateDNSSubdomain, validateQualifiedName } from './helpers.js';

const involved = (o: KubeObject) => asObj(o.involvedObject) ?? {};
const source = (o: KubeObject) => asObj(o.source) ?? {};
const root = (f: string) => FieldPath.root(f);

/** Length limits of events.k8s.io, which apply to core events that use the new fields (eventTime set). */
const LIMITS: [string, number][] = [
  ['reportingInstance', 128],
  ['action', 128],
  ['reason', 128],
  ['message', 1024],
];

function validate(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const ns = obj.metadata.namespace ?? '';
  const involvedNs = asStr(involved(obj).namespace);
  const nsErr = () => fieldErr.invalid(root('involvedObject').child('namespace'), involvedNs, 'does not match event.namespace');
  if (!obj.eventTime) {
    // Old-style events: the event lives in its object's namespace (cluster-scoped objects: "default").
    if (involvedNs === '' ? ns !== '' && ns !== 'default' : ns !== involvedNs) errs.push(nsErr());
  } else {
    if (involvedNs === '' && ns !== 'default' && ns !== 'kube-system') errs.push(nsErr());
    const controller = asStr(obj.reportingComponent);
    if (!controller) errs.push(fieldErr.required(root('reportingComponent')));
    else errs.push(...validateQualifiedName(controller, root('reportingComponent')));
    for (const [f, max] of LIMITS) {
      const v = asStr(obj[f]);
      if (!v && f !== 'message') errs.push(fieldErr.required(root(f)));
      if (v.length > max) errs.push(fieldErr.invalid(root(f), '', `can have at most ${max} characters`));
    }
  }
  if (ns) errs.push(...validateDNSSubdomain(ns, root('namespace')));
  return errs;
}

const column = (name: string, description: string, priority = 0) => ({ name, type: 'string' as const, description, priority });

/** Source as component and host, falling back to the new reporting fields. */
function sourceOf(obj: KubeObject): [string, string] {
  const s = source(obj);
  return asStr(s.component) ? [asStr(s.component), asStr(s.host)] : [asStr(obj.reportingComponent), asStr(obj.reportingInstance)];
}

const printer: Printer = {
  columns: [
    column('Last Seen', 'When the event was last observed.'),
    column('Type', 'Normal or Warning.'),
    column('Reason', 'A short machine-readable reason for the event.'),
    column('Object', 'The object the event is about, as kind/name.'),
    column('Subobject', 'The part of the object the event is about, such as a container.', 1),
    column('Source', 'The component (and host) that reported the event.', 1),
    column('Message', 'A human-readable description of what happened.'),
    column('First Seen', 'When the event was first observed.', 1),
    column('Count', 'How many times the event has occurred.', 1),
    { ...nameColumn, priority: 1 },
  ],
  cells(obj, now) {
    const series = asObj(obj.series);
    const inv = involved(obj);
    const [component, instance] = sourceOf(obj);
    return eventCells(
      {
        name: obj.metadata.name,
        type: asStr(obj.type),
        reason: asStr(obj.reason),
        message: asStr(obj.message),
        objectKind: asStr(inv.kind),
        objectName: asStr(inv.name),
        fieldPath: asStr(inv.fieldPath),
        component,
        instance,
        firstTimestamp: asStr(obj.firstTimestamp),
        lastTimestamp: asStr(obj.lastTimestamp),
        eventTime: asStr(obj.eventTime),
        count: typeof obj.count === 'number' ? obj.count : 0,
        series: series && { count: Number(series.count ?? 0), lastObservedTime: asStr(series.lastObservedTime) },
      },
      now,
    );
  },
};

/** What a row of the Event table shows, under either API's field names (core/v1 and events.k8s.io/v1). */
export interface EventRowFields {
  name?: string;
  type?: string;
  reason?: string;
  message?: string;
  objectKind?: string;
  objectName?: string;
  fieldPath?: string;
  component: string;
  instance: string;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
  series?: { count?: number; lastObservedTime?: string };
}

/** Upstream printEvent: one row of the Event table, shared by core/v1 and events.k8s.io/v1 Events. */
export function eventCells(e: EventRowFields, now: Date): unknown[] {
  const first = e.firstTimestamp ? age(e.firstTimestamp, now) : age(e.eventTime, now);
  let last = e.lastTimestamp ? age(e.lastTimestamp, now) : first;
  let count = e.count ?? 0;
  if (e.series) {
    last = age(e.series.lastObservedTime, now);
    count = e.series.count ?? 0;
  } else if (count === 0) count = 1; // singleton events from the new API carry no count
  const kind = (e.objectKind ?? '').toLowerCase();
  const target = e.objectName ? `${kind}/${e.objectName}` : kind;
  const source = e.instance ? `${e.component}, ${e.instance}` : e.component;
  return [last, e.type ?? '', e.reason ?? '', target, e.fieldPath ?? '', source, (e.message ?? '').trim(), first, count, e.name];
}

export const event: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  plural: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  schemaName: 'io.k8s.api.core.v1.Event',
  nameFormat: 'subdomain',
  fieldSelectors: {
    'involvedObject.kind': (o) => asStr(involved(o).kind),
    'involvedObject.namespace': (o) => asStr(involved(o).namespace),
    'involvedObject.name': (o) => asStr(involved(o).name),
    'involvedObject.uid': (o) => asStr(involved(o).uid),
    'involvedObject.apiVersion': (o) => asStr(involved(o).apiVersion),
    'involvedObject.resourceVersion': (o) => asStr(involved(o).resourceVersion),
    'involvedObject.fieldPath': (o) => asStr(involved(o).fieldPath),
    reason: (o) => asStr(o.reason),
    reportingComponent: (o) => asStr(o.reportingComponent),
    source: (o) => asStr(source(o).component),
    type: (o) => asStr(o.type),
  },
  printer,
  strategy: { validate },
};
