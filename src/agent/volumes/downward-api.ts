/**
 * downwardAPI volumes: pod fields and container resources as files, on a tmpfs, refreshed in
 * place on every sync (so label and annotation changes reach running containers).
 *
 * Formats are the kubelet's: `metadata.labels` / `metadata.annotations` are one `key="value"`
 * line per entry, sorted by key, values quoted as Go's %q, no newline after the last;
 * `metadata.labels['k']` is the bare value (empty when absent). resourceFieldRef values are
 * integers rounded up after dividing by the divisor (default 1), with the node's allocatable
 * standing in for a limit the container does not set.
 */
import type { DownwardAPIVolumeFile, Pod, Quantity, ResourceFieldSelector } from '../pods/api-types.js';
import { containerResourceValue } from '../pods/env.js';
import { aggregateMessage } from './aggregate.js';
import type { Payload } from './atomic-writer.js';
import { DEFAULT_MODE } from './config-map.js';
import { setupFileVolume } from './file-volume.js';
import type { VolumePlugin } from './plugin.js';

export const DOWNWARD_API = 'kubernetes.io/downward-api';

const isPrint = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** Go's strconv.Quote (what %q prints for a string). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ESCAPES[ch]) out += ESCAPES[ch];
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd'; // a lone surrogate: Go's JSON decoding made it U+FFFD
    else if (isPrint.test(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** upstream fieldpath.FormatMap. */
export function formatMap(m: Record<string, string> | undefined): string {
  const keys = Object.keys(m ?? {}).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return keys.map((k) => `${k}=${goQuote(m![k])}`).join('\n');
}

/** upstream fieldpath.ExtractFieldPathAsString: the pod fields a downwardAPI volume can show. */
export function volumeFieldValue(pod: Pod, fieldPath: string): string {
  const md = pod.metadata;
  const sub = /^(.+)\['(.*)'\]$/s.exec(fieldPath);
  if (sub) {
    if (sub[1] === 'metadata.annotations') return md.annotations?.[sub[2]] ?? '';
    if (sub[1] === 'metadata.labels') return md.labels?.[sub[2]] ?? '';
    throw new Error(`fieldPath "${fieldPath}" does not support subscript`);
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return formatMap(md.annotations);
    case 'metadata.labels':
      return formatMap(md.labels);
    case 'metadata.name':
      return md.name ?? '';
    case 'metadata.namespace':
      return md.namespace ?? '';
    case 'metadata.uid':
      return md.uid ?? '';
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

/** A resourceFieldRef of a volume always names its container (the env's defaults to its own). */
function resourceValue(pod: Pod, ref: ResourceFieldSelector, nodeAllocatable: Record<string, Quantity>): string {
  const c = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((x) => x.name === (ref.containerName ?? ''));
  if (!c) throw new Error(`container ${ref.containerName ?? ''} not found`);
  return containerResourceValue(pod, c, ref, nodeAllocatable);
}

/** upstream downwardapi.CollectData: every item, errors aggregated. */
export function downwardAPIPayload(items: DownwardAPIVolumeFile[] | undefined, pod: Pod, nodeAllocatable: Record<string, Quantity>, defaultMode: number): Payload {
  const payload: Payload = new Map();
  const errors: string[] = [];
  for (const it of items ?? []) {
    let value = '';
    try {
      if (it.fieldRef) value = volumeFieldValue(pod, it.fieldRef.fieldPath);
      else if (it.resourceFieldRef) value = resourceValue(pod, it.resourceFieldRef, nodeAllocatable);
    } catch (e) {
      errors.push((e as Error).message);
      continue;
    }
    payload.set(it.path, { data: Buffer.from(value, 'utf8'), mode: it.mode ?? defaultMode });
  }
  if (errors.length) throw new Error(aggregateMessage(errors));
  return payload;
}

export const downwardAPIPlugin: VolumePlugin = {
  name: DOWNWARD_API,
  canSupport: (v) => !!v.downwardAPI,
  async setup(ctx) {
    const src = ctx.volume.downwardAPI!;
    const payload = downwardAPIPayload(src.items, ctx.pod, ctx.source.nodeAllocatable(), src.defaultMode ?? DEFAULT_MODE);
    return setupFileVolume(ctx, DOWNWARD_API, 'Memory', payload);
  },
};
