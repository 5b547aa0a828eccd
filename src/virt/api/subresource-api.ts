/**
 * subresources.kubevirt.io/v1, the API KubeVirt's virt-api serves and its clients (virtctl, the
 * web consoles, `cairn vm`) call: `PUT /apis/subresources.kubevirt.io/v1/namespaces/NS/
 * virtualmachines/NAME/{start,stop,restart,migrate}` with KubeVirt's option bodies, answered 202
 * Accepted with no body, or with KubeVirt's Status errors. These four only change API objects;
 * the VMI subresources that talk to the running guest (console, vnc, pause, unpause, freeze, unfreeze) are listed
 * here for discovery and served by src/api/virt-node-proxy.ts, which reaches the VMI's node.
 */
import type { ApiServer } from '../../api/api-server.js';
import { SYSTEM_USER } from '../../api/bootstrap.js';
import { ApiError } from '../../api/errors.js';
import type { ExtensionGroup } from '../../api/extension-groups.js';
import type { ResourceRequest } from '../../api/request-info.js';
import type { ApiRequest, ApiResponse } from '../../api/types.js';
import type { KindDefinition } from '../../kinds/types.js';
import type { WriteContext } from '../../registry/hooks.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import { KUBEVIRT_GROUP } from './kubevirt.js';
import { type LifecyclePlan, planMigration, planRestart, planStart, planStop } from './vm-lifecycle.js';

export const SUBRESOURCE_GROUP = 'subresources.kubevirt.io';
const ACTIONS = ['start', 'stop', 'restart', 'migrate'] as const;
type Action = (typeof ACTIONS)[number];
/** The VMI subresources served through the VMI's node (WebSockets, then PUTs). */
export const VMI_STREAMS = ['console', 'vnc'] as const;
export const VMI_ACTIONS = ['pause', 'unpause', 'freeze', 'unfreeze'] as const;
/**
 * Who serves the VMI PUTs (VMI_ACTIONS) of an API server to its in-process clients, which reach
 * `handle` and never the HTTPS front's streaming routes (src/api/virt-node-proxy.ts registers).
 */
export const vmiActionServers = new WeakMap<ApiServer, (req: ApiRequest) => Promise<void>>();
/** virt-api's own name for a VM in its errors (`virtualmachine.kubevirt.io "x" not found`). */
const VM_RESOURCE = { group: KUBEVIRT_GROUP, resource: 'virtualmachine' };

/** The options bodies of KubeVirt's StartOptions, StopOptions, RestartOptions, MigrateOptions, PauseOptions and UnpauseOptions. */
export interface Options {
  paused?: boolean;
  gracePeriod?: number;
  gracePeriodSeconds?: number;
  addedNodeSelector?: Record<string, string>;
  dryRun?: string[];
}

const notFound = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

/** An options body as virt-api's decodeBody reads it: none is no options. */
export function parseOptions(req: ApiRequest): Options {
  const text = req.body?.toString('utf8').trim();
  if (!text) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw ApiError.badRequest(`Can not unmarshal Request body to struct, error: ${(e as Error).message}`);
  }
  if (!isPlainObject(body)) throw ApiError.badRequest('Can not unmarshal Request body to struct');
  return body as Options;
}

function kindOf(api: ApiServer, plural: string): KindDefinition {
  const k = api.catalog.byPlural(KUBEVIRT_GROUP, 'v1', plural);
  if (!k) throw notFound();
  return k;
}

async function getOrUndefined(api: ApiServer, kind: KindDefinition, ns: string, name: string): Promise<KubeObject | undefined> {
  try {
    return await api.registry.get(kind, ns, name);
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return undefined;
    throw e;
  }
}

async function apply(api: ApiServer, vm: KubeObject, vmi: KubeObject | undefined, plan: LifecyclePlan, ctx: () => WriteContext): Promise<void> {
  const ns = vm.metadata.namespace!;
  const name = vm.metadata.name!;
  if (plan.vmiTerminationGracePeriodSeconds !== undefined && vmi) {
    const spec = { ...(vmi.spec as object), terminationGracePeriodSeconds: plan.vmiTerminationGracePeriodSeconds };
    await api.registry.update(kindOf(api, 'virtualmachineinstances'), ns, name, { ...vmi, spec }, ctx());
  }
  const vmKind = kindOf(api, 'virtualmachines');
  if (plan.spec) await api.registry.update(vmKind, ns, name, { ...vm, spec: { ...(vm.spec as object), ...plan.spec } }, ctx());
  if (plan.stateChangeRequests) {
    const { startFailure: _cleared, ...status } = (isPlainObject(vm.status) ? vm.status : {}) as Record<string, unknown>;
    await api.registry.update(vmKind, ns, name, { ...vm, status: { ...status, stateChangeRequests: plan.stateChangeRequests } }, { ...ctx(), subresource: 'status' });
  }
  if (plan.deleteLauncherPod && vmi) await deleteLauncherPod(api, vmi, ctx);
}

/** A forced restart deletes the VMI's running launcher pod with a 1 s grace period, as virt-api does. */
async function deleteLauncherPod(api: ApiServer, vmi: KubeObject, ctx: () => WriteContext): Promise<void> {
  const pods = api.catalog.byPlural('', 'v1', 'pods')!;
  const list = await api.registry.list(pods, vmi.metadata.namespace, { labelSelector: `kubevirt.io=virt-launcher,kubevirt.io/created-by=${vmi.metadata.uid}`, fieldSelector: 'status.phase==Running' });
  const migration = (vmi.status as { migrationState?: { completed?: boolean; targetPod?: string } } | undefined)?.migrationState;
  const pod = list.items.length > 1 && migration?.completed ? list.items.find((p) => p.metadata.name === migration.targetPod) : list.items[0];
  if (!pod) return;
  try {
    await api.registry.delete(pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 1 }, ctx());
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 404)) throw e;
  }
}

async function serveAction(api: ApiServer, action: Action, ns: string, name: string, opts: Options, dryRun: boolean): Promise<void> {
  const ctx = (): WriteContext => ({ user: SYSTEM_USER, now: new Date(), dryRun, fieldManager: 'virt-api', fieldValidation: 'Ignore', warnings: [] });
  const vm = await getOrUndefined(api, kindOf(api, 'virtualmachines'), ns, name);
  if (!vm) throw ApiError.notFound(VM_RESOURCE, name);
  const vmi = await getOrUndefined(api, kindOf(api, 'virtualmachineinstances'), ns, name);
  switch (action) {
    case 'start':
      return apply(api, vm, vmi, planStart(vm, vmi, { paused: opts.paused }), ctx);
    case 'stop':
      return apply(api, vm, vmi, planStop(vm, vmi, { gracePeriod: opts.gracePeriod }), ctx);
    case 'restart':
      return apply(api, vm, vmi, planRestart(vm, vmi, { gracePeriodSeconds: opts.gracePeriodSeconds }), ctx);
    case 'migrate':
      await api.registry.create(kindOf(api, 'virtualmachineinstancemigrations'), ns, planMigration(vm, vmi, { addedNodeSelector: opts.addedNodeSelector }), ctx());
  }
}

export const kubevirtSubresources: ExtensionGroup = {
  group: SUBRESOURCE_GROUP,
  version: 'v1',
  resources: [
    ...ACTIONS.map((a) => ({ name: `virtualmachines/${a}`, namespaced: true, verbs: ['update'] })),
    ...VMI_STREAMS.map((s) => ({ name: `virtualmachineinstances/${s}`, namespaced: true, verbs: ['get'] })),
    ...VMI_ACTIONS.map((a) => ({ name: `virtualmachineinstances/${a}`, namespaced: true, verbs: ['update'] })),
  ],
  async serve(api: ApiServer, req: ApiRequest, info: ResourceRequest): Promise<ApiResponse> {
    const vmiAction = vmiActionServers.get(api);
    if (info.resource === 'virtualmachineinstances' && vmiAction && (VMI_ACTIONS as readonly string[]).includes(info.subresource ?? '')) {
      await vmiAction(req);
      return { status: 200, contentType: 'text/plain; charset=utf-8', raw: '' };
    }
    const action = ACTIONS.find((a) => a === info.subresource);
    if (info.resource !== 'virtualmachines' || !action || !info.name || !info.namespace) throw notFound();
    if (info.verb !== 'update') throw ApiError.methodNotAllowed('the server does not allow this method on the requested resource');
    const opts = parseOptions(req);
    const dryRun = (opts.dryRun ?? req.query.getAll('dryRun')).includes('All');
    await serveAction(api, action, info.namespace, info.name, opts, dryRun);
    return { status: 202, contentType: 'text/plain; charset=utf-8', raw: '' };
  },
};
