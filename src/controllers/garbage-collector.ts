/**
 * The garbage collector, as upstream's: it watches every resource, keeps a graph of
 * ownerReferences, and
 * - deletes an object once none of its owners exists (Background propagation), including
 *   owners deleted while the collector was down: the first sync finds the dangling references;
 * - for an owner being deleted in the Foreground (finalizer `foregroundDeletion`), deletes its
 *   dependents and removes the finalizer when no dependent with blockOwnerDeletion is left;
 * - for an owner being deleted with Orphan (finalizer `orphan`), removes its references from
 *   the dependents and then the finalizer.
 * Keys are object UIDs; every decision is re-checked against the API before acting.
 */
import { setMaxListeners } from 'node:events';
import { ApiDiscovery, discoverResources, finalStateOf, type Informer, isConflict, isNotFound, type ResourceRef, WorkQueue, runController } from '../client/index.js';
import type { KubeObject, OwnerReference } from '../util/object.js';
import type { ControllerContext, ControllerSpec } from './context.js';

const IGNORED = new Set(['events', 'leases', 'bindings']);
const REDISCOVER_MS = 15_000;
export const FOREGROUND = 'foregroundDeletion';
export const ORPHAN = 'orphan';

interface GraphNode {
  ref: ResourceRef;
  obj: KubeObject;
  /** UIDs of objects that list this one as an owner. */
  dependents: Set<string>;
}

export class OwnerGraph {
  readonly nodes = new Map<string, GraphNode>();
  /** owner UID -> dependents, also for owners not (yet) seen. */
  private readonly byOwner = new Map<string, Set<string>>();

  upsert(ref: ResourceRef, obj: KubeObject): void {
    const uid = obj.metadata.uid!;
    const prev = this.nodes.get(uid);
    for (const o of prev?.obj.metadata.ownerReferences ?? []) this.byOwner.get(o.uid)?.delete(uid);
    for (const o of obj.metadata.ownerReferences ?? []) {
      let set = this.byOwner.get(o.uid);
      if (!set) this.byOwner.set(o.uid, (set = new Set()));
      set.add(uid);
    }
    this.nodes.set(uid, { ref, obj, dependents: this.byOwner.get(uid) ?? new Set() });
    if (!this.byOwner.has(uid)) this.byOwner.set(uid, this.nodes.get(uid)!.dependents);
  }

  remove(obj: KubeObject): string[] {
    const uid = obj.metadata.uid!;
    const node = this.nodes.get(uid);
    this.nodes.delete(uid);
    for (const o of node?.obj.metadata.ownerReferences ?? []) this.byOwner.get(o.uid)?.delete(uid);
    return [...(this.byOwner.get(uid) ?? [])];
  }

  dependentsOf(uid: string): GraphNode[] {
    return [...(this.byOwner.get(uid) ?? [])].map((d) => this.nodes.get(d)).filter((n): n is GraphNode => !!n);
  }
}

export const garbageCollector: ControllerSpec = {
  name: 'garbage-collector',
  start(ctx) {
    const graph = new OwnerGraph();
    const queue = new WorkQueue<string>({ name: 'garbage_collector_attempt_to_delete' });
    const watched = new Map<string, Informer<KubeObject>>();
    const refKey = (r: ResourceRef) => `${r.group}/${r.plural}`;

    const watch = (ref: ResourceRef) => {
      if (watched.has(refKey(ref))) return;
      const inf = ctx.informers.forResource<KubeObject>(ref);
      watched.set(refKey(ref), inf);
      inf.addEventHandler({
        onAdd: (o) => {
          graph.upsert(ref, o);
          if (o.metadata.ownerReferences?.length || o.metadata.deletionTimestamp) queue.add(o.metadata.uid!);
          for (const d of graph.dependentsOf(o.metadata.uid!)) queue.add(d.obj.metadata.uid!);
        },
        onUpdate: (_old, o) => {
          graph.upsert(ref, o);
          if (o.metadata.ownerReferences?.length || o.metadata.deletionTimestamp) queue.add(o.metadata.uid!);
        },
        onDelete: (d) => {
          const o = finalStateOf(d);
          for (const dep of graph.remove(o)) queue.add(dep);
          // An owner being deleted in the foreground waits for this dependent to go.
          for (const owner of o.metadata.ownerReferences ?? []) if (graph.nodes.has(owner.uid)) queue.add(owner.uid);
        },
      });
    };

    const discover = async () => {
      for (const r of await discoverResources(ctx.client.transport)) {
        if (IGNORED.has(r.plural) || !['list', 'watch', 'delete'].every((v) => r.verbs.includes(v))) continue;
        watch(r);
      }
    };

    const gc = new Collector(ctx, graph, queue);
    let timer: NodeJS.Timeout | undefined;
    const ready = (async () => {
      await discover();
      // New CRDs join the graph as they appear.
      timer = setInterval(() => void discover().catch(() => {}), REDISCOVER_MS);
      ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    })();
    return runController({
      name: 'garbage-collector',
      queue,
      reconcile: (uid) => gc.reconcile(uid),
      informers: [
        {
          waitForSync: async (signal) => {
            await ready;
            // One wait per watched resource on the one signal: dozens with CRDs, all legitimate.
            if (signal) setMaxListeners(watched.size + 10, signal);
            await Promise.all([...watched.values()].map((i) => i.waitForSync(signal)));
          },
        },
      ],
      workers: 4,
      signal: ctx.signal,
      logger: ctx.logger,
    });
  },
};

class Collector {
  private readonly discovery: ApiDiscovery;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly graph: OwnerGraph,
    private readonly queue: WorkQueue<string>,
  ) {
    this.discovery = new ApiDiscovery(ctx.client.transport);
  }

  async reconcile(uid: string): Promise<{ requeueAfterMs?: number } | void> {
    const node = this.graph.nodes.get(uid);
    if (!node) return;
    const obj = node.obj;
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp && finalizers.includes(ORPHAN)) return this.orphanDependents(node);
    if (obj.metadata.deletionTimestamp && finalizers.includes(FOREGROUND)) return this.deleteDependentsFirst(node);
    const owners = obj.metadata.ownerReferences ?? [];
    if (!owners.length || obj.metadata.deletionTimestamp) return;
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const o of owners) {
      const state = await this.ownerState(o, obj.metadata.namespace);
      if (state === 'absent') dangling.push(o);
      else if (state === 'waiting') waiting.push(o);
      else solid.push(o);
    }
    if (solid.length) {
      if (!dangling.length && !waiting.length) return;
      const gone = new Set([...dangling, ...waiting].map((o) => o.uid));
      await this.patchOwners(node, owners.filter((o) => !gone.has(o.uid)));
      return;
    }
    // No owner is left: the object goes. Foreground when an owner waits on a dependent that itself owns things.
    const policy = waiting.length && node.dependents.size ? 'Foreground' : 'Background';
    await this.deleteObject(node, policy);
  }

  /** Whether an owner exists, is being deleted in the foreground, or is gone (checked against the API). */
  private async ownerState(o: OwnerReference, namespace: string | undefined): Promise<'solid' | 'waiting' | 'absent'> {
    const known = this.graph.nodes.get(o.uid);
    let owner = known?.obj;
    if (!owner) {
      const ownerRef = await this.discovery.lookup(o.apiVersion, o.kind);
      // An owner kind the server does not serve cannot be checked: retry later rather than delete.
      if (!ownerRef) throw new Error(`cannot resolve owner kind ${o.kind} in ${o.apiVersion}`);
      const rc = this.ctx.client.resource(ownerRef);
      try {
        // A namespaced dependent's owner is in its namespace; cluster-scoped owners have none.
        owner = await rc.get(o.name, rc.ref.namespaced ? namespace : undefined);
      } catch (e) {
        if (isNotFound(e)) return 'absent';
        throw e;
      }
      if (owner.metadata.uid !== o.uid) return 'absent';
    }
    if (owner.metadata.deletionTimestamp && (owner.metadata.finalizers ?? []).includes(FOREGROUND)) return 'waiting';
    return 'solid';
  }

  private async orphanDependents(node: GraphNode): Promise<void> {
    const uid = node.obj.metadata.uid!;
    for (const d of this.graph.dependentsOf(uid)) {
      await this.patchOwners(d, (d.obj.metadata.ownerReferences ?? []).filter((o) => o.uid !== uid));
    }
    await this.removeFinalizer(node, ORPHAN);
  }

  private async deleteDependentsFirst(node: GraphNode): Promise<{ requeueAfterMs?: number } | void> {
    const uid = node.obj.metadata.uid!;
    const dependents = this.graph.dependentsOf(uid);
    const blocking = dependents.filter((d) => d.obj.metadata.ownerReferences?.some((o) => o.uid === uid && o.blockOwnerDeletion));
    for (const d of dependents) {
      if (d.obj.metadata.deletionTimestamp) continue;
      await this.deleteObject(d, d.dependents.size ? 'Foreground' : 'Background');
    }
    if (!blocking.length) await this.removeFinalizer(node, FOREGROUND);
    else return { requeueAfterMs: 1000 };
  }

  private async deleteObject(node: GraphNode, policy: 'Foreground' | 'Background'): Promise<void> {
    const { obj, ref } = node;
    try {
      await this.ctx.client.resource(ref).delete(obj.metadata.name!, { namespace: obj.metadata.namespace, propagationPolicy: policy, preconditions: { uid: obj.metadata.uid } });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }

  private async patchOwners(node: GraphNode, owners: OwnerReference[]): Promise<void> {
    const { obj, ref } = node;
    try {
      // A JSON patch with a uid test: only this incarnation of the object is changed.
      await this.ctx.client.resource(ref).patch(
        obj.metadata.name!,
        [
          { op: 'test', path: '/metadata/uid', value: obj.metadata.uid },
          { op: owners.length ? 'replace' : 'remove', path: '/metadata/ownerReferences', ...(owners.length ? { value: owners } : {}) },
        ],
        'json',
        { namespace: obj.metadata.namespace },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async removeFinalizer(node: GraphNode, finalizer: string): Promise<void> {
    const { ref } = node;
    const rc = this.ctx.client.resource(ref);
    for (let i = 0; i < 5; i++) {
      let cur: KubeObject;
      try {
        cur = await rc.get(node.obj.metadata.name!, node.obj.metadata.namespace);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      if (cur.metadata.uid !== node.obj.metadata.uid || !(cur.metadata.finalizers ?? []).includes(finalizer)) return;
      const next = structuredClone(cur);
      next.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      try {
        await rc.update(next);
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!isConflict(e)) throw e;
      }
    }
    this.queue.addRateLimited(node.obj.metadata.uid!);
  }
}

