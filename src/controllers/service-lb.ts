/**
 * LoadBalancer IPs from a pool (`cairn server --lb-pool CIDR`), in the manner of upstream's
 * service controller with a bare-metal implementation behind it (as MetalLB's layer-2 mode):
 * a Service of type LoadBalancer without a loadBalancerClass gets an address from the pool in
 * status.loadBalancer.ingress (ipMode VIP) — spec.loadBalancerIP when it asks for a free one in
 * the pool — and loses it when it changes type or is deleted.
 *
 * The allocation is the Services' own status: the addresses in use are those every Service's
 * status holds, read from the informer cache plus what this controller wrote and the cache has
 * not shown yet. The controller runs in the one leader with one worker, so assignments are
 * serialized and nothing is kept that a restart would lose.
 */
import { isConflict, isNotFound } from '../client/index.js';
import { isPlainObject, type KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import { SERVICES, serviceSpec } from './util/service-endpoints.js';

export interface IPPool {
  text: string;
  size: number;
  contains(ip: string): boolean;
  /** Addresses in order. */
  addresses(): Iterable<string>;
}

const ipToNum = (ip: string): number | undefined => {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((a, o) => a * 256 + Number(o), 0);
};
const numToIP = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/**
 * Parses a pool: an IPv4 CIDR (network and broadcast addresses left out for prefixes up to /30)
 * or a range `FIRST-LAST`. Throws with a one-line message on anything else.
 */
export function parseIPPool(text: string): IPPool {
  const t = text.trim();
  let first: number | undefined;
  let last: number | undefined;
  const range = /^([\d.]+)\s*-\s*([\d.]+)$/.exec(t);
  if (range) {
    first = ipToNum(range[1]);
    last = ipToNum(range[2]);
    if (first === undefined || last === undefined || last < first) throw new Error(`invalid address range "${text}": want FIRST-LAST with FIRST <= LAST`);
  } else {
    const m = /^([\d.]+)\/(\d{1,2})$/.exec(t);
    const base = m ? ipToNum(m[1]) : undefined;
    const bits = m ? Number(m[2]) : NaN;
    if (base === undefined || !(bits >= 0 && bits <= 32)) throw new Error(`invalid CIDR "${text}": want an IPv4 CIDR such as 192.168.1.240/28`);
    const count = 2 ** (32 - bits);
    const network = base - (base % count);
    first = count > 2 ? network + 1 : network;
    last = count > 2 ? network + count - 2 : network + count - 1;
  }
  const lo = first;
  const hi = last;
  return {
    text: t,
    size: hi - lo + 1,
    contains: (ip) => {
      const n = ipToNum(ip);
      return n !== undefined && n >= lo && n <= hi;
    },
    *addresses() {
      for (let n = lo; n <= hi; n++) yield numToIP(n);
    },
  };
}

interface Ingress {
  ip?: string;
  hostname?: string;
  ipMode?: string;
  ports?: unknown[];
}
const ingressOf = (s: KubeObject): Ingress[] => {
  const st = isPlainObject(s.status) ? (s.status as { loadBalancer?: { ingress?: Ingress[] } }) : {};
  return st.loadBalancer?.ingress ?? [];
};
const keyOf = (s: KubeObject) => `${s.metadata.namespace}/${s.metadata.name}`;
/** Services this controller serves: type LoadBalancer with no loadBalancerClass (others have their own implementation). */
const wantsIP = (s: KubeObject) => serviceSpec(s).type === 'LoadBalancer' && !serviceSpec(s).loadBalancerClass && !s.metadata.deletionTimestamp;

export const serviceLBController: ControllerSpec = {
  name: 'service-lb',
  start(ctx) {
    const services = ctx.informers.forResource<KubeObject>(SERVICES);
    const rc = ctx.client.resource(SERVICES);
    const recorder = ctx.recorder('service-controller');
    let pool: IPPool | undefined;
    if (ctx.settings.lbPool) {
      try {
        pool = parseIPPool(ctx.settings.lbPool);
      } catch (e) {
        ctx.logger({ level: 'error', msg: 'ignoring the LoadBalancer pool', error: (e as Error).message });
      }
    }
    /** What this controller assigned and the cache may not show yet: service key → ip ('' for released). */
    const written = new Map<string, string>();

    /** Addresses held by Services other than `self`, oldest holder first wins a duplicate. */
    const inUse = (self: string): Set<string> => {
      const used = new Set<string>();
      for (const s of services.store.list()) {
        const k = keyOf(s);
        if (k === self) continue;
        if (!wantsIP(s)) continue;
        const w = written.get(k);
        if (w !== undefined) {
          used.add(w);
          continue;
        }
        for (const i of ingressOf(s)) if (i.ip) used.add(i.ip);
      }
      return used;
    };

    const writeStatus = async (svc: KubeObject, ingress: Ingress[]): Promise<void> => {
      const next = structuredClone(svc);
      const st = (isPlainObject(next.status) ? next.status : (next.status = {})) as { loadBalancer?: { ingress?: Ingress[] } };
      st.loadBalancer = ingress.length ? { ...(st.loadBalancer ?? {}), ingress } : {};
      await rc.updateStatus(next);
    };

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const svc = services.store.get(key);
      // Once the cache shows what we wrote, the cache is the truth again.
      const w = written.get(key);
      if (w !== undefined && (!svc || ingressOf(svc).some((i) => i.ip === w))) written.delete(key);
      if (!svc) return;
      const current = ingressOf(svc).filter((i) => i.ip);
      if (!wantsIP(svc)) {
        // No longer a LoadBalancer we serve: release what we gave it.
        if (serviceSpec(svc).loadBalancerClass || current.length === 0 || !pool) return;
        recorder.event(svc, 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
        try {
          await writeStatus(svc, []);
        } catch (e) {
          if (isNotFound(e)) return;
          throw e;
        }
        written.delete(key);
        recorder.event(svc, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
        return;
      }
      if (!pool) return;
      const used = inUse(key);
      const requested = serviceSpec(svc).loadBalancerIP;
      const have = current.map((i) => i.ip!).find((ip) => pool!.contains(ip) && !used.has(ip));
      let ip: string | undefined;
      if (requested) {
        if (!pool.contains(requested)) return fail(svc, `requested IP "${requested}" is not in the pool ${pool.text}`);
        if (used.has(requested)) return fail(svc, `requested IP "${requested}" is already allocated to another Service`);
        ip = requested;
      } else ip = have ?? [...pool.addresses()].find((a) => !used.has(a));
      if (!ip) return fail(svc, `no available IPs in pool ${pool.text}`);
      if (current.length === 1 && current[0].ip === ip && current[0].ipMode === 'VIP') return;
      recorder.event(svc, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');
      try {
        await writeStatus(svc, [{ ip, ipMode: 'VIP' }]);
      } catch (e) {
        if (isNotFound(e)) return;
        if (isConflict(e)) return { requeueAfterMs: 0 };
        throw e;
      }
      written.set(key, ip);
      recorder.event(svc, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
    };

    const fail = (svc: KubeObject, why: string): { requeueAfterMs: number } => {
      recorder.event(svc, 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: ${why}`);
      // Retried when another Service releases an address (and now and then regardless).
      return { requeueAfterMs: 30_000 };
    };

    // One worker: assignments are serialized.
    const { controller, queue } = simpleController(ctx, { name: 'service-lb', primary: services, reconcile, workers: 1 });
    // A released address may satisfy a waiting Service.
    const wakeWaiting = () => {
      for (const s of services.store.list()) if (wantsIP(s) && ingressOf(s).length === 0) queue.add(keyOf(s));
    };
    services.addEventHandler({
      onUpdate: (o, n) => {
        if (wantsIP(o) && !wantsIP(n)) wakeWaiting();
      },
      onDelete: () => wakeWaiting(),
    });
    return controller;
  },
};
