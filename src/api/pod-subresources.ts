/**
 * The pods/binding and pods/eviction subresources (create only), as upstream's BindingREST and
 * EvictionREST: a core/v1 Binding sets spec.nodeName of an unbound pod (and its PodScheduled
 * condition) in one guaranteed update; a policy/v1 Eviction deletes the pod with the eviction's
 * DeleteOptions (no PodDisruptionBudgets yet, so an eviction is never refused for budget) once
 * the eviction admissions let it (the validating webhooks on pods/eviction upstream, such as
 * KubeVirt's launcher-pod interceptor).
 */
import type { KindDefinition } from '../kinds/types.js';
import type { GenericRegistry } from '../registry/generic-registry.js';
import type { WriteContext } from '../registry/hooks.js';
import { type FieldError, fieldErr } from '../registry/field-errors.js';
import { isPlainObject, type KubeObject } from '../util/object.js';
import { decodeBody } from './decode.js';
import { ApiError } from './errors.js';
import type { ActionHandler } from './action-subresources.js';
import type { ApiRequest, ApiResponse } from './types.js';
import { rfc3339 } from '../controllers/util/nodes.js';

export const POD_CREATE_SUBRESOURCES = new Set(['binding', 'eviction']);

export const isPodsKind = (k: KindDefinition) => k.group === '' && k.plural === 'pods' && !k.custom;

const createdStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };

interface PodCondition {
  type: string;
  status: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

function decode(req: ApiRequest): Record<string, unknown> {
  const { value } = decodeBody(req.body, req.headers['content-type'], { findDuplicates: false });
  if (!isPlainObject(value)) throw ApiError.badRequest('the body of the request must be an object');
  return value;
}


/** POST .../pods/NAME/binding */
export async function createPodBinding(registry: GenericRegistry, kind: KindDefinition, ns: string, name: string, req: ApiRequest, ctx: WriteContext): Promise<ApiResponse> {
  const body = decode(req);
  if (body.kind !== undefined && body.kind !== 'Binding') throw ApiError.badRequest(`not a Binding object: kind ${JSON.stringify(body.kind)}`);
  const meta = isPlainObject(body.metadata) ? body.metadata : {};
  const bindingName = typeof meta.name === 'string' ? meta.name : '';
  if (bindingName !== name) throw ApiError.badRequest('name in URL does not match name in Binding object');
  const target = isPlainObject(body.target) ? body.target : {};
  const targetName = typeof target.name === 'string' ? target.name : '';
  const targetKind = typeof target.kind === 'string' ? target.kind : '';
  // Upstream ValidatePodBinding.
  const causes: FieldError[] = [];
  if (targetKind !== '' && targetKind !== 'Node') causes.push(fieldErr.notSupported('target.kind', targetKind, ['Node', '<empty>']));
  if (targetName === '') causes.push(fieldErr.required('target.name'));
  if (causes.length) throw ApiError.invalid('', 'Binding', name, causes);
  const annotations = isPlainObject(meta.annotations) ? (meta.annotations as Record<string, unknown>) : {};
  try {
    await registry.updateRaw(kind, ns, name, ctx, (pod: KubeObject) => {
      const spec = (pod.spec ??= {}) as { nodeName?: string };
      if (pod.metadata.deletionTimestamp) throw new BindError(`pod ${name} is being deleted, cannot be assigned to a host`);
      if (spec.nodeName) throw new BindError(`pod ${name} is already assigned to node "${spec.nodeName}"`);
      spec.nodeName = targetName;
      const a = (pod.metadata.annotations ??= {});
      for (const [k, v] of Object.entries(annotations)) if (typeof v === 'string') a[k] = v;
      const status = (pod.status ??= {}) as { conditions?: PodCondition[] };
      const conditions = (status.conditions ??= []);
      const cur = conditions.find((c) => c.type === 'PodScheduled');
      // podutil.UpdatePodCondition: the transition time moves only when the status changes.
      if (cur) {
        if (cur.status !== 'True') cur.lastTransitionTime = rfc3339(ctx.now);
        cur.status = 'True';
        delete cur.reason;
        delete cur.message;
      } else conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339(ctx.now) });
    });
  } catch (e) {
    if (e instanceof BindError) throw ApiError.conflict({ group: '', resource: 'pods/binding' }, name, e.message);
    throw e;
  }
  return { status: 201, body: createdStatus };
}

class BindError extends Error {}

/** An admission step on an eviction of an existing pod: throws the ApiError that refuses it. */
export type EvictionAdmission = (pod: KubeObject, ctx: WriteContext) => Promise<void>;

/** POST .../pods/NAME/eviction, with these admissions. */
export const podEvictionHandler =
  (admissions: EvictionAdmission[]): ActionHandler =>
  (registry, kind, ns, name, req, ctx) =>
    createPodEviction(registry, kind, ns, name, req, ctx, admissions);

/** POST .../pods/NAME/eviction */
export async function createPodEviction(registry: GenericRegistry, kind: KindDefinition, ns: string, name: string, req: ApiRequest, ctx: WriteContext, admissions: EvictionAdmission[] = []): Promise<ApiResponse> {
  const body = decode(req);
  if (body.kind !== undefined && body.kind !== 'Eviction') throw ApiError.badRequest(`not an Eviction object: kind ${JSON.stringify(body.kind)}`);
  const meta = isPlainObject(body.metadata) ? body.metadata : {};
  if ((typeof meta.name === 'string' ? meta.name : '') !== name) throw ApiError.badRequest('name in URL does not match name in Eviction object');
  const opts = isPlainObject(body.deleteOptions) ? body.deleteOptions : {};
  const grace = opts.gracePeriodSeconds;
  const pre = isPlainObject(opts.preconditions) ? (opts.preconditions as { uid?: string; resourceVersion?: string }) : undefined;
  // Fails with 404 when the pod is gone, as upstream.
  const pod = await registry.get(kind, ns, name);
  const dryRun = ctx.dryRun || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All'));
  for (const admit of admissions) await admit(pod, { ...ctx, dryRun });
  await registry.delete(
    kind,
    ns,
    name,
    {
      gracePeriodSeconds: typeof grace === 'number' ? grace : undefined,
      preconditions: pre,
      propagationPolicy: opts.propagationPolicy as 'Orphan' | 'Background' | 'Foreground' | undefined,
    },
    { ...ctx, subresource: undefined },
  );
  return { status: 201, body: createdStatus };
}
