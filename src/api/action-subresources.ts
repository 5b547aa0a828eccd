/**
 * Create-only subresources that are actions rather than views of the object — pods/binding,
 * pods/eviction, serviceaccounts/token — as upstream registers them as their own REST storage.
 * Each is served by a handler; discovery lists them with the `create` verb.
 */
import type { KindDefinition } from '../kinds/types.js';
import type { GenericRegistry } from '../registry/generic-registry.js';
import type { WriteContext } from '../registry/hooks.js';
import type { ApiRequest, ApiResponse } from './types.js';

export type ActionHandler = (registry: GenericRegistry, kind: KindDefinition, ns: string, name: string, req: ApiRequest, ctx: WriteContext) => Promise<ApiResponse>;

export interface ActionSubresource {
  /** The parent resource as `group/plural` (`/pods` for core). */
  resource: string;
  name: string;
  /** The kind posted and returned, e.g. Binding, Eviction (policy/v1), TokenRequest (authentication.k8s.io/v1). */
  kind: string;
  group?: string;
  version?: string;
  handler: ActionHandler;
}

export class ActionSubresources {
  private readonly byKey = new Map<string, ActionSubresource>();

  constructor(actions: ActionSubresource[] = []) {
    for (const a of actions) this.byKey.set(`${a.resource}/${a.name}`, a);
  }

  get(kind: KindDefinition, sub: string): ActionSubresource | undefined {
    return kind.custom ? undefined : this.byKey.get(`${kind.group}/${kind.plural}/${sub}`);
  }

  of(kind: KindDefinition): ActionSubresource[] {
    if (kind.custom) return [];
    return [...this.byKey.values()].filter((a) => a.resource === `${kind.group}/${kind.plural}`);
  }
}
