/**
 * PodSpec rules shared by every kind that carries one (Pod, PodTemplate, and the apps/batch
 * workloads' `spec.template`): upstream's SetDefaults_PodSpec, ValidatePodSpec,
 * ValidatePodTemplateSpec and the pod-update munging of ValidatePodUpdate.
 *
 * Stable API for other kinds: defaultPodSpec, validatePodSpec, validatePodTemplateSpec,
 * podSpecImmutableUpdate. Pod-only behaviour (requests from limits, enableServiceLinks,
 * status) lives in pod.ts.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { validateAnnotations, validateLabels } from '../../registry/validation.js';
import { deepClone, deepEqual } from '../../util/object.js';
import { type ContainerKind, defaultContainer, validateContainer, validateResourceList } from './container.js';
import {
  asList,
  asObj,
  asObjList,
  asStr,
  inclusiveRange,
  type Obj,
  setDefault,
  validateDNSLabel,
  validateDNSSubdomain,
  validateEnum,
  validateIP,
  validateQualifiedName,
} from './helpers.js';
import { defaultVolume, validateVolumes } from './pod-volumes.js';
import { validateTolerations } from './tolerations.js';

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;
const CONTAINER_KINDS: ContainerKind[] = ['containers', 'initContainers', 'ephemeralContainers'];
const MAX_INT32 = 2147483647;

/**
 * SetDefaults_PodSpec and the defaults of everything nested in it (containers, volumes, probes).
 * Mutates `spec` in place; safe on partial or malformed input.
 */
export function defaultPodSpec(spec: Obj): void {
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'restartPolicy', 'Always');
  if (!asObj(spec.securityContext)) spec.securityContext = {};
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) spec.terminationGracePeriodSeconds = 30;
  setDefault(spec, 'schedulerName', 'default-scheduler');
  // v1 keeps the deprecated `serviceAccount` alias in step with `serviceAccountName` (conversion does this upstream).
  if (!spec.serviceAccountName && spec.serviceAccount) spec.serviceAccountName = spec.serviceAccount;
  if (spec.serviceAccountName) spec.serviceAccount = spec.serviceAccountName;
  for (const kind of CONTAINER_KINDS) for (const c of asObjList(spec[kind])) defaultContainer(c);
  for (const v of asObjList(spec.volumes)) defaultVolume(v);
}

/** User and group IDs in security contexts (upstream IsValidUserID/IsValidGroupID). */
function validateIds(sc: Obj | undefined, path: FieldPath, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (!sc) return errs;
  for (const f of fields) {
    const v = sc[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_INT32) errs.push(fieldErr.invalid(path.child(f), v, inclusiveRange(0, MAX_INT32)));
  }
  asList(sc.supplementalGroups).forEach((g, i) => {
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > MAX_INT32)
      errs.push(fieldErr.invalid(path.child('supplementalGroups').index(i), g, inclusiveRange(0, MAX_INT32)));
  });
  return errs;
}

function validateHostAliases(aliases: unknown, path: FieldPath): FieldError[] {
  return asObjList(aliases).flatMap((a, i) => [
    ...validateIP(a.ip, path.index(i).child('ip')),
    ...asList(a.hostnames).flatMap((h, j) => validateDNSSubdomain(asStr(h), path.index(i).child('hostnames').index(j))),
  ]);
}

function validateDNSConfig(spec: Obj, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const cfg = asObj(spec.dnsConfig);
  if (spec.dnsPolicy === 'None' && !cfg) errs.push(fieldErr.required(path, 'must provide `dnsConfig` when `dnsPolicy` is None'));
  if (!cfg) return errs;
  const ns = asList(cfg.nameservers);
  if (spec.dnsPolicy === 'None' && ns.length === 0) errs.push(fieldErr.required(path.child('nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  if (ns.length > 3) errs.push(fieldErr.invalid(path.child('nameservers'), ns, 'must not have more than 3 nameservers'));
  ns.forEach((n, i) => errs.push(...validateIP(n, path.child('nameservers').index(i))));
  const searches = asList(cfg.searches);
  if (searches.length > 32) errs.push(fieldErr.invalid(path.child('searches'), searches, 'must not have more than 32 search paths'));
  searches.forEach((s, i) => errs.push(...validateDNSSubdomain(asStr(s).replace(/\.$/, ''), path.child('searches').index(i))));
  asObjList(cfg.options).forEach((o, i) => {
    if (!o.name) errs.push(fieldErr.required(path.child('options').index(i), 'Option.Name must not be empty'));
  });
  return errs;
}

function validateSchedulingGates(gates: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  asObjList(gates).forEach((g, i) => {
    const name = asStr(g.name);
    errs.push(...validateQualifiedName(name, path.index(i)));
    if (seen.has(name)) errs.push(fieldErr.duplicate(path.index(i), name));
    seen.add(name);
  });
  return errs;
}

/** Upstream ValidatePodSpec: everything in a pod spec that does not depend on the enclosing object. */
export function validatePodSpec(spec: unknown, path: FieldPath): FieldError[] {
  const s = asObj(spec);
  if (!s) return [fieldErr.required(path)];
  const { errs, names: volumes } = validateVolumes(s.volumes, path.child('volumes'));
  const ctx = { volumes, names: new Set<string>(), hostNetwork: s.hostNetwork === true };
  const containers = asObjList(s.containers);
  if (containers.length === 0) errs.push(fieldErr.required(path.child('containers')));
  for (const kind of CONTAINER_KINDS) asObjList(s[kind]).forEach((c, i) => errs.push(...validateContainer(c, path.child(kind).index(i), kind, ctx)));
  errs.push(...validateEnum(s.restartPolicy, path.child('restartPolicy'), RESTART_POLICIES));
  errs.push(...validateEnum(s.dnsPolicy, path.child('dnsPolicy'), DNS_POLICIES));
  errs.push(...validateLabels(s.nodeSelector, path.child('nodeSelector')));
  const sc = asObj(s.securityContext);
  errs.push(...validateIds(sc, path.child('securityContext'), ['runAsUser', 'runAsGroup', 'fsGroup']));
  for (const kind of CONTAINER_KINDS)
    asObjList(s[kind]).forEach((c, i) => errs.push(...validateIds(asObj(c.securityContext), path.child(kind).index(i).child('securityContext'), ['runAsUser', 'runAsGroup'])));
  asObjList(s.imagePullSecrets).forEach((r, i) => {
    if (!r.name) errs.push(fieldErr.required(path.child('imagePullSecrets').index(i).child('name')));
  });
  errs.push(...validateTolerations(s.tolerations, path.child('tolerations')));
  errs.push(...validateHostAliases(s.hostAliases, path.child('hostAliases')));
  asObjList(s.readinessGates).forEach((g, i) => errs.push(...validateQualifiedName(asStr(g.conditionType), path.child('readinessGates').index(i).child('conditionType'))));
  for (const [f, check] of [
    ['serviceAccountName', validateDNSSubdomain],
    ['nodeName', validateDNSSubdomain],
    ['hostname', validateDNSLabel],
    ['subdomain', validateDNSLabel],
    ['priorityClassName', validateDNSSubdomain],
    ['runtimeClassName', validateDNSSubdomain],
  ] as const) {
    const v = asStr(s[f]);
    if (v) errs.push(...check(v, path.child(f)));
  }
  const ads = s.activeDeadlineSeconds;
  if (ads !== undefined && ads !== null && (typeof ads !== 'number' || !Number.isInteger(ads) || ads < 1 || ads > MAX_INT32))
    errs.push(fieldErr.invalid(path.child('activeDeadlineSeconds'), ads, inclusiveRange(1, MAX_INT32)));
  errs.push(...validateDNSConfig(s, path.child('dnsConfig')));
  if (s.overhead !== undefined) errs.push(...validateResourceList(s.overhead, path.child('overhead')));
  errs.push(...validateSchedulingGates(s.schedulingGates, path.child('schedulingGates')));
  const os = asObj(s.os);
  if (os) errs.push(...validateEnum(os.name, path.child('os', 'name'), ['linux', 'windows']));
  return errs;
}

/**
 * Upstream ValidatePodTemplateSpec, for `spec.template` of workloads. `path` is the template's
 * path (e.g. `spec.template`); labels/annotations are reported at `<path>.labels` as upstream does.
 */
export function validatePodTemplateSpec(template: unknown, path: FieldPath): FieldError[] {
  const t = asObj(template);
  if (!t) return [fieldErr.required(path)];
  const meta = asObj(t.metadata) ?? {};
  const errs = [...validateLabels(meta.labels, path.child('labels')), ...validateAnnotations(meta.annotations, path.child('annotations'))];
  errs.push(...validatePodSpec(t.spec, path.child('spec')));
  if (asList(asObj(t.spec)?.ephemeralContainers).length > 0)
    errs.push(fieldErr.forbidden(path.child('spec', 'ephemeralContainers'), 'ephemeral containers not allowed in pod template'));
  return errs;
}

const UPDATABLE_POD_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** A short, stable description of which top-level spec fields differ (upstream prints a cmp.Diff here). */
function specDiff(oldSpec: Obj, newSpec: Obj): string {
  const keys = [...new Set([...Object.keys(oldSpec), ...Object.keys(newSpec)])].sort();
  return keys
    .filter((k) => !deepEqual(oldSpec[k], newSpec[k]))
    .map((k) => `  ${k}: ${JSON.stringify(oldSpec[k] ?? null)} -> ${JSON.stringify(newSpec[k] ?? null)}`)
    .join('\n');
}

/** Toleration updates may only add tolerations; an existing one may change only its tolerationSeconds. */
function validateOnlyAddedTolerations(newT: Obj[], oldT: Obj[], path: FieldPath): FieldError[] {
  for (const old of oldT) {
    const found = newT.some((n) => deepEqual({ ...old, tolerationSeconds: n.tolerationSeconds }, n));
    if (!found) return [fieldErr.forbidden(path, 'existing toleration can not be modified except its tolerationSeconds')];
  }
  return [];
}

/**
 * Upstream ValidatePodUpdate's spec rule: a running pod's spec is immutable except container
 * images, activeDeadlineSeconds (set or lowered), added tolerations, removed scheduling gates and
 * terminationGracePeriodSeconds going from negative to 1. `path` is the spec's path (`spec`).
 */
export function podSpecImmutableUpdate(newSpec: unknown, oldSpec: unknown, path: FieldPath = FieldPath.root('spec')): FieldError[] {
  const n = asObj(newSpec) ?? {};
  const o = asObj(oldSpec) ?? {};
  const errs: FieldError[] = [];
  // Start from the new spec and put back the old value of every field that may change, then compare.
  const munged = deepClone(n);
  for (const kind of CONTAINER_KINDS) {
    const oldCs = asObjList(o[kind]);
    asObjList(munged[kind]).forEach((c, i) => {
      if (i < oldCs.length) c.image = oldCs[i].image;
    });
  }
  const newAds = n.activeDeadlineSeconds;
  if (newAds !== undefined && newAds !== null) {
    if (typeof newAds !== 'number' || newAds < 0 || newAds > MAX_INT32)
      return [fieldErr.invalid(path.child('activeDeadlineSeconds'), newAds, inclusiveRange(0, MAX_INT32))];
    if (typeof o.activeDeadlineSeconds === 'number' && o.activeDeadlineSeconds < newAds)
      return [fieldErr.invalid(path.child('activeDeadlineSeconds'), newAds, 'must be less than or equal to previous value')];
  } else if (o.activeDeadlineSeconds !== undefined && o.activeDeadlineSeconds !== null) {
    errs.push(fieldErr.invalid(path.child('activeDeadlineSeconds'), null, 'must not update from a positive integer to nil value'));
  }
  munged.activeDeadlineSeconds = o.activeDeadlineSeconds;
  errs.push(...validateOnlyAddedTolerations(asObjList(n.tolerations), asObjList(o.tolerations), path.child('tolerations')));
  munged.tolerations = o.tolerations;
  const oldGates = new Set(asObjList(o.schedulingGates).map((g) => asStr(g.name)));
  asObjList(n.schedulingGates).forEach((g, i) => {
    if (!oldGates.has(asStr(g.name))) errs.push(fieldErr.forbidden(path.child('schedulingGates').index(i), `only deletion is allowed, but found new scheduling gate '${asStr(g.name)}'`));
  });
  munged.schedulingGates = o.schedulingGates;
  const oldGrace = o.terminationGracePeriodSeconds;
  if (typeof oldGrace === 'number' && oldGrace < 0 && n.terminationGracePeriodSeconds === 1) munged.terminationGracePeriodSeconds = oldGrace;
  for (const k of Object.keys(munged)) if (munged[k] === undefined) delete munged[k];
  if (!deepEqual(munged, o))
    errs.push(fieldErr.forbidden(path, `pod updates may not change fields other than ${UPDATABLE_POD_FIELDS.join(',')}\n${specDiff(o, munged)}`));
  return errs;
}
