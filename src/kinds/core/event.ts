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

/** Source as "component, host", falling back to the new reporting fields. */
function sourceText(obj: KubeObject): string {
  const s = source(obj);
  const [component, instance] = asStr(s.component) ? [asStr(s.component), asStr(s.host)] : [asStr(obj.reportingComponent), asStr(obj.reportingInstance)];
  return instance ? `${component}, ${instance}` : component;
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
    const first = obj.firstTimestamp ? age(asStr(obj.firstTimestamp), now) : age(asStr(obj.eventTime) || undefined, now);
    const series = asObj(obj.series);
    let last = obj.lastTimestamp ? age(asStr(obj.lastTimestamp), now) : first;
    let count = typeof obj.count === 'number' ? obj.count : 0;
    if (series) {
      last = age(asStr(series.lastObservedTime) || undefined, now);
      count = Number(series.count ?? 0);
    } else if (count === 0) count = 1; // singleton events from the new API carry no count
    const inv = involved(obj);
    const kind = asStr(inv.kind).toLowerCase();
    const target = asStr(inv.name) ? `${kind}/${asStr(inv.name)}` : kind;
    return [last, asStr(obj.type), asStr(obj.reason), target, asStr(inv.fieldPath), sourceText(obj), asStr(obj.message).trim(), first, count, obj.metadata.name];
  },
};

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
