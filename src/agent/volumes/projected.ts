/**
 * projected volumes: secrets, config maps, downward API items and service account tokens
 * combined into one directory on a tmpfs (the kube-api-access-* volume every pod gets is one).
 * Every source is collected and all failures are reported together, as upstream collectData.
 *
 * A token file has the volume's defaultMode, or 0600 when the pod has an fsGroup or all its
 * containers run as one user (that user then owns it; fsGroup ownership makes it 0640).
 */
import type { VolumeProjection } from '../pods/api-types.js';
import { aggregateMessage } from './aggregate.js';
import type { Payload } from './atomic-writer.js';
import { configMapPayload, DEFAULT_MODE } from './config-map.js';
import { downwardAPIPayload } from './downward-api.js';
import { setupFileVolume } from './file-volume.js';
import type { VolumeContext, VolumePlugin } from './plugin.js';
import { secretPayload } from './secret.js';

export const PROJECTED = 'kubernetes.io/projected';

/** The API's default token lifetime. */
const DEFAULT_TOKEN_SECONDS = 3600;

async function sourcePayload(ctx: VolumeContext, s: VolumeProjection, defaultMode: number): Promise<Payload> {
  const pod = ctx.pod;
  const ns = pod.metadata.namespace ?? '';
  if (s.secret) {
    const name = s.secret.name ?? '';
    const optional = s.secret.optional === true;
    const secret = ctx.source.secret(ns, name);
    if (!secret && !optional) throw new Error(`secret "${name}" not found`);
    return secretPayload(s.secret.items, secret ?? { metadata: { name } }, defaultMode, optional);
  }
  if (s.configMap) {
    const name = s.configMap.name ?? '';
    const optional = s.configMap.optional === true;
    const cm = ctx.source.configMap(ns, name);
    if (!cm && !optional) throw new Error(`configmap "${name}" not found`);
    return configMapPayload(s.configMap.items, cm ?? { metadata: { name } }, defaultMode, optional);
  }
  if (s.downwardAPI) return downwardAPIPayload(s.downwardAPI.items, pod, ctx.source.nodeAllocatable(), defaultMode);
  if (s.serviceAccountToken) {
    const tp = s.serviceAccountToken;
    const token = await ctx.tokens.get(ns, pod.spec.serviceAccountName || 'default', {
      audiences: tp.audience ? [tp.audience] : undefined,
      expirationSeconds: tp.expirationSeconds ?? DEFAULT_TOKEN_SECONDS,
      boundPod: { name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' },
    });
    const mode = ctx.fsUser !== undefined || ctx.fsGroup !== undefined ? 0o600 : defaultMode;
    return new Map([[tp.path, { data: Buffer.from(token, 'utf8'), mode, fsUser: ctx.fsUser }]]);
  }
  if (s.clusterTrustBundle) throw new Error('clusterTrustBundle projections are not supported yet');
  return new Map();
}

export const projectedPlugin: VolumePlugin = {
  name: PROJECTED,
  canSupport: (v) => !!v.projected,
  async setup(ctx) {
    const src = ctx.volume.projected!;
    const defaultMode = src.defaultMode ?? DEFAULT_MODE;
    const payload: Payload = new Map();
    const errors: string[] = [];
    for (const s of src.sources ?? []) {
      try {
        for (const [p, f] of await sourcePayload(ctx, s, defaultMode)) payload.set(p, f);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new Error(aggregateMessage(errors));
    return setupFileVolume(ctx, PROJECTED, 'Memory', payload);
  },
};
