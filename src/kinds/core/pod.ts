/** core/v1 Pod: pkg/registry/core/pod/strategy.go, v1 defaults and ValidatePod/ValidatePodUpdate. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import type { KindDefinition } from '../types.js';
import { defaultRequestsFromLimits } from './container.js';
import { asList, asObj, asObjList, asStr, ensureObj, validateDNSSubdomain, validateIP } from './helpers.js';
import { podPrinter } from './pod-printer.js';
import { podQOSClass } from './pod-qos.js';
import { defaultPodSpec, podSpecImmutableUpdate, validatePodSpec } from './pod-spec.js';

const specPath = FieldPath.root('spec');
const spec = (o: KubeObject) => asObj(o.spec) ?? {};
const status = (o: KubeObject) => asObj(o.status) ?? {};

/** SetDefaults_Pod on top of the shared pod-spec defaults: only real pods get these, not templates. */
function defaultPod(obj: KubeObject): void {
  const s = ensureObj(obj, 'spec');
  defaultPodSpec(s);
  for (const kind of ['containers', 'initContainers']) for (const c of asObjList(s[kind])) defaultRequestsFromLimits(c);
  if (s.enableServiceLinks === undefined || s.enableServiceLinks === null) s.enableServiceLinks = true;
  // On the host network a container port is a host port, so record it as one.
  if (s.hostNetwork === true)
    for (const kind of ['containers', 'initContainers'])
      for (const c of asObjList(s[kind])) for (const p of asObjList(c.ports)) if (!p.hostPort) p.hostPort = p.containerPort;
}

function prepareForCreate(obj: KubeObject): void {
  const s = ensureObj(obj, 'spec');
  const st: Record<string, unknown> = { phase: 'Pending', qosClass: podQOSClass(s) };
  if (asList(s.schedulingGates).length > 0)
    st.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' }];
  obj.status = st;
  // What the Priority admission plugin does when no priority class applies.
  if (!s.priorityClassName && s.priority === undefined) s.priority = 0;
  if (s.preemptionPolicy === undefined) s.preemptionPolicy = 'PreemptLowerPriority';
}

function validate(obj: KubeObject): FieldError[] {
  const s = asObj(obj.spec);
  const errs = validatePodSpec(s, specPath);
  if (s && asList(s.schedulingGates).length > 0 && asStr(s.nodeName))
    errs.push(fieldErr.forbidden(specPath.child('nodeName'), 'cannot be set until all schedulingGates have been cleared'));
  return errs;
}

function validateStatusUpdate(obj: KubeObject): FieldError[] {
  const st = status(obj);
  const path = FieldPath.root('status');
  const errs: FieldError[] = [];
  const nominated = asStr(st.nominatedNodeName);
  if (nominated) errs.push(...validateDNSSubdomain(nominated, path.child('nominatedNodeName')));
  for (const f of ['podIPs', 'hostIPs']) asObjList(st[f]).forEach((ip, i) => errs.push(...validateIP(ip.ip, path.child(f).index(i).child('ip'))));
  return errs;
}

function warnings(obj: KubeObject): string[] {
  const grace = spec(obj).terminationGracePeriodSeconds;
  return typeof grace === 'number' && grace < 0 ? ['spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1'] : [];
}

export const pod: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Pod',
  listKind: 'PodList',
  plural: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  schemaName: 'io.k8s.api.core.v1.Pod',
  nameFormat: 'subdomain',
  statusSubresource: true,
  // Pods carry metadata.generation since 1.33 (bumped on spec changes, echoed in status.observedGeneration).
  tracksGeneration: true,
  fieldSelectors: {
    'spec.nodeName': (o) => asStr(spec(o).nodeName),
    'spec.restartPolicy': (o) => asStr(spec(o).restartPolicy),
    'spec.schedulerName': (o) => asStr(spec(o).schedulerName),
    'spec.serviceAccountName': (o) => asStr(spec(o).serviceAccountName),
    'spec.hostNetwork': (o) => String(spec(o).hostNetwork === true),
    'status.phase': (o) => asStr(status(o).phase),
    'status.podIP': (o) => asStr(asObjList(status(o).podIPs)[0]?.ip) || asStr(status(o).podIP),
    'status.nominatedNodeName': (o) => asStr(status(o).nominatedNodeName),
  },
  printer: podPrinter,
  strategy: {
    defaults: defaultPod,
    prepareForCreate,
    validate,
    validateUpdate: (obj, old) => podSpecImmutableUpdate(obj.spec, old.spec, specPath),
    validateStatusUpdate,
    warnings,
  },
};
