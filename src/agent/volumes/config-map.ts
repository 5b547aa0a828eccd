/**
 * configMap volumes: the ConfigMap's keys (or the listed items) as files on the node's disk,
 * refreshed in place on every sync. A missing ConfigMap (or key) fails the mount — the pod waits
 * in ContainerCreating — unless the volume is optional, which gives an empty volume.
 */
import type { ConfigMapObject, KeyToPath } from '../pods/api-types.js';
import type { Payload } from './atomic-writer.js';
import { setupFileVolume } from './file-volume.js';
import type { VolumePlugin } from './plugin.js';

export const CONFIG_MAP = 'kubernetes.io/configmap';

/** The mode of projected files when the volume names none (API default). */
export const DEFAULT_MODE = 0o644;

/** upstream configmap.MakePayload. */
export function configMapPayload(items: KeyToPath[] | undefined, cm: ConfigMapObject, defaultMode: number, optional: boolean): Payload {
  const data = cm.data ?? {};
  const binary = cm.binaryData ?? {};
  const payload: Payload = new Map();
  if (!items?.length) {
    for (const [k, v] of Object.entries(data)) payload.set(k, { data: Buffer.from(v, 'utf8'), mode: defaultMode });
    for (const [k, v] of Object.entries(binary)) payload.set(k, { data: Buffer.from(v, 'base64'), mode: defaultMode });
    return payload;
  }
  for (const it of items) {
    let content: Buffer;
    if (Object.hasOwn(data, it.key)) content = Buffer.from(data[it.key], 'utf8');
    else if (Object.hasOwn(binary, it.key)) content = Buffer.from(binary[it.key], 'base64');
    else if (optional) continue;
    else throw new Error(`configmap references non-existent config key: ${it.key}`);
    payload.set(it.path, { data: content, mode: it.mode ?? defaultMode });
  }
  return payload;
}

export const configMapPlugin: VolumePlugin = {
  name: CONFIG_MAP,
  canSupport: (v) => !!v.configMap,
  async setup(ctx) {
    const src = ctx.volume.configMap!;
    const name = src.name ?? '';
    const optional = src.optional === true;
    let cm = ctx.source.configMap(ctx.pod.metadata.namespace ?? '', name);
    if (!cm) {
      // The kubelet's configmap manager reports the singular resource name.
      if (!optional) throw new Error(`configmap "${name}" not found`);
      cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } };
    }
    const payload = configMapPayload(src.items, cm, src.defaultMode ?? DEFAULT_MODE, optional);
    return setupFileVolume(ctx, CONFIG_MAP, '', payload);
  },
};
