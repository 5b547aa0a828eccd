/**
 * The JSON patches a VirtualMachineClone's restore applies to the new VM (KubeVirt's
 * watch/clone/vm-target.go generatePatches): every interface's macAddress replaced (by
 * newMacAddresses' entry, or emptied so a new one is made), the firmware serial and UUID emptied
 * (the VM defaults give the clone fresh ones), the labels and annotations the filters do not keep
 * removed (VM and template metadata), then the clone's own patches.
 *
 * Filters as KubeVirt's: each is a regular expression matched anywhere in the key; `*` keeps
 * everything; `!expr` drops what matches, whatever the others kept. No filters: all kept.
 */
import type { VirtualMachine } from '../controllers/vm-api.js';
import type { VirtualMachineClone } from '../snapshot/snapshot-types.js';
import { ANN_LAST_RESTORE_UID } from '../snapshot/snapshot-types.js';

type Op = { op: 'replace' | 'remove'; path: string; value?: unknown };

/** RFC 6901 escaping of one reference token. */
const escapeToken = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The keys of `m` the filters keep. */
export function keptKeys(keys: string[], filters: string[]): Set<string> {
  const positive = filters.filter((f) => !f.startsWith('!')).map((f) => (f === '*' ? '.*' : f));
  const negative = filters.filter((f) => f.startsWith('!')).map((f) => f.slice(1));
  const matches = (re: string, key: string) => {
    try {
      return new RegExp(re).test(key);
    } catch {
      // Go's regexp.MatchString error: logged by KubeVirt, the filter matches nothing.
      return false;
    }
  };
  return new Set(keys.filter((k) => positive.some((re) => matches(re, k)) && !negative.some((re) => matches(re, k))));
}

function removals(m: Record<string, string> | undefined, filters: string[] | undefined, base: string): Op[] {
  if (!filters || !m) return [];
  const kept = keptKeys(Object.keys(m), filters);
  return Object.keys(m)
    .filter((k) => !kept.has(k))
    .map((k) => ({ op: 'remove', path: `${base}/${escapeToken(k)}` }));
}

interface TemplateSpec {
  domain?: { devices?: { interfaces?: { name: string }[] }; firmware?: Record<string, unknown> };
}

export function clonePatches(source: VirtualMachine, spec: VirtualMachineClone['spec']): string[] {
  const tspec = (source.spec.template?.spec ?? {}) as TemplateSpec;
  const ops: Op[] = [];
  (tspec.domain?.devices?.interfaces ?? []).forEach((iface, i) =>
    ops.push({ op: 'replace', path: `/spec/template/spec/domain/devices/interfaces/${i}/macAddress`, value: spec.newMacAddresses?.[iface.name] ?? '' }),
  );
  const firmware = tspec.domain?.firmware;
  if (firmware) ops.push({ op: 'replace', path: '/spec/template/spec/domain/firmware/serial', value: spec.newSMBiosSerial ?? '' });
  ops.push(...removals(source.metadata.labels, spec.labelFilters, '/metadata/labels'));
  const annotations = { ...(source.metadata.annotations ?? {}) };
  // A clone is not the restore that made its source.
  delete annotations[ANN_LAST_RESTORE_UID];
  ops.push(...removals(annotations, spec.annotationFilters, '/metadata/annotations'));
  const tmeta = source.spec.template?.metadata;
  ops.push(...removals(tmeta?.labels, spec.template?.labelFilters, '/spec/template/metadata/labels'));
  ops.push(...removals(tmeta?.annotations, spec.template?.annotationFilters, '/spec/template/metadata/annotations'));
  if (firmware) ops.push({ op: 'replace', path: '/spec/template/spec/domain/firmware/uuid', value: '' });
  return [...ops.map((o) => JSON.stringify(o)), ...(spec.patches ?? [])];
}
