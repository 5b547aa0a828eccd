/**
 * secret volumes: the Secret's keys (base64-decoded) as files on a tmpfs, as the kubelet does,
 * so secret data never reaches the node's disk. Refreshed in place on every sync; missing →
 * the mount fails unless optional.
 */
import type { KeyToPath, SecretObject } from '../pods/api-types.js';
import type { Payload } from './atomic-writer.js';
import { DEFAULT_MODE } from './config-map.js';
import { setupFileVolume } from './file-volume.js';
import type { VolumePlugin } from './plugin.js';

export const SECRET = 'kubernetes.io/secret';

/** upstream secret.MakePayload. */
export function secretPayload(items: KeyToPath[] | undefined, secret: SecretObject, defaultMode: number, optional: boolean): Payload {
  const data = secret.data ?? {};
  const payload: Payload = new Map();
  if (!items?.length) {
    for (const [k, v] of Object.entries(data)) payload.set(k, { data: Buffer.from(v, 'base64'), mode: defaultMode });
    return payload;
  }
  for (const it of items) {
    if (!Object.hasOwn(data, it.key)) {
      if (optional) continue;
      throw new Error(`references non-existent secret key: ${it.key}`);
    }
    payload.set(it.path, { data: Buffer.from(data[it.key], 'base64'), mode: it.mode ?? defaultMode });
  }
  return payload;
}

export const secretPlugin: VolumePlugin = {
  name: SECRET,
  canSupport: (v) => !!v.secret,
  async setup(ctx) {
    const src = ctx.volume.secret!;
    const name = src.secretName ?? '';
    const optional = src.optional === true;
    let secret = ctx.source.secret(ctx.pod.metadata.namespace ?? '', name);
    if (!secret) {
      if (!optional) throw new Error(`secret "${name}" not found`);
      secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name } };
    }
    const payload = secretPayload(src.items, secret, src.defaultMode ?? DEFAULT_MODE, optional);
    return setupFileVolume(ctx, SECRET, 'Memory', payload);
  },
};
