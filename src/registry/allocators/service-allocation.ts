/**
 * Cluster IPs and node ports for Services, allocated by the API server as upstream's service
 * REST storage does: a Service that needs a cluster IP gets one from the service CIDR (or the one
 * it asks for, if free), NodePort and LoadBalancer ports get node ports from the node-port range,
 * and what a Service no longer holds is released after the write.
 */
import { ApiError } from '../../api/errors.js';
import type { Store } from '../../store/types.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import { type FieldError, FieldPath, fieldErr } from '../field-errors.js';
import type { StorageHooks, WriteContext } from '../hooks.js';
import { AlreadyAllocatedError, ipv4CidrRange, OutOfRangeError, portRange, RangeAllocator, RangeFullError } from './range-allocator.js';

export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

interface ServicePort {
  nodePort?: number;
  protocol?: string;
}
interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
  allocateLoadBalancerNodePorts?: boolean;
}

const specOf = (o: KubeObject | undefined): ServiceSpec => (o && isPlainObject(o.spec) ? (o.spec as ServiceSpec) : {});
const needsClusterIP = (s: ServiceSpec) => s.type !== 'ExternalName' && s.clusterIP !== 'None';
const needsNodePorts = (s: ServiceSpec) => s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);
const heldIP = (o: KubeObject | undefined) => {
  const s = specOf(o);
  return o && needsClusterIP(s) && s.clusterIP ? s.clusterIP : undefined;
};
const heldPorts = (o: KubeObject | undefined) =>
  new Set(
    (specOf(o).ports ?? [])
      .map((p) => p.nodePort)
      .filter((n): n is number => typeof n === 'number' && n > 0)
      .map(String),
  );

export class ServiceAllocation implements StorageHooks {
  readonly ips: RangeAllocator;
  readonly nodePorts: RangeAllocator;

  constructor(store: Store, serviceCidr = DEFAULT_SERVICE_CIDR) {
    // The first address is kept for the `kubernetes` Service, as upstream does.
    this.ips = new RangeAllocator(store, '/registry/ranges/serviceips/', ipv4CidrRange(serviceCidr), new Set([0]));
    this.nodePorts = new RangeAllocator(store, '/registry/ranges/servicenodeports/', portRange(NODE_PORT_MIN, NODE_PORT_MAX));
  }

  async beforeWrite(obj: KubeObject, old: KubeObject | undefined, ctx: WriteContext): Promise<() => Promise<void>> {
    const spec = specOf(obj);
    const owner = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const taken: (() => Promise<void>)[] = [];
    const undo = async () => {
      for (const t of taken.reverse()) await t().catch(() => {});
    };
    const errs: FieldError[] = [];
    try {
      if (needsClusterIP(spec)) {
        const wanted = spec.clusterIP;
        if (!wanted) {
          if (!ctx.dryRun) {
            const ip = await this.ips.allocateNext(owner);
            taken.push(() => this.ips.release(ip));
            spec.clusterIP = ip;
            spec.clusterIPs = [ip];
          }
        } else if (wanted !== heldIP(old)) {
          const err = await this.claim(this.ips, wanted, owner, ctx.dryRun, taken);
          if (err) errs.push(fieldErr.invalid(FieldPath.root('spec').child('clusterIPs'), [wanted], `failed to allocate IP ${wanted}: ${err}`));
        }
      }
      if (needsNodePorts(spec)) {
        const before = heldPorts(old);
        const path = FieldPath.root('spec').child('ports');
        for (const [i, p] of (spec.ports ?? []).entries()) {
          if (typeof p.nodePort === 'number' && p.nodePort > 0) {
            if (before.has(String(p.nodePort))) continue;
            const err = await this.claim(this.nodePorts, String(p.nodePort), owner, ctx.dryRun, taken);
            if (err) errs.push(fieldErr.invalid(path.index(i).child('nodePort'), p.nodePort, err));
          } else if (!ctx.dryRun) {
            const port = await this.nodePorts.allocateNext(owner);
            taken.push(() => this.nodePorts.release(port));
            p.nodePort = Number(port);
          }
        }
      }
    } catch (e) {
      await undo();
      if (e instanceof RangeFullError) throw ApiError.internal(`failed to allocate from range ${e.message}: range is full`);
      throw e;
    }
    if (errs.length) {
      await undo();
      throw ApiError.invalid('', 'Service', obj.metadata.name ?? '', errs);
    }
    return undo;
  }

  async afterWrite(obj: KubeObject | undefined, old: KubeObject): Promise<void> {
    const oldIP = heldIP(old);
    if (oldIP && oldIP !== heldIP(obj)) await this.ips.release(oldIP);
    const keep = obj && needsNodePorts(specOf(obj)) ? heldPorts(obj) : new Set<string>();
    for (const port of heldPorts(old)) if (!keep.has(port)) await this.nodePorts.release(port);
  }

  /** Claims a specific item; returns upstream's message when it cannot be had. */
  private async claim(alloc: RangeAllocator, item: string, owner: string, dryRun: boolean, taken: (() => Promise<void>)[]): Promise<string | undefined> {
    const what = alloc === this.ips ? 'IPs' : 'ports';
    const outOfRange = `provided ${alloc === this.ips ? 'IP' : 'port'} is not in the valid range. The range of valid ${what} is ${alloc.range.text}`;
    try {
      if (dryRun) return (await alloc.isFree(item)) ? undefined : `provided ${alloc === this.ips ? 'IP' : 'port'} is already allocated`;
      await alloc.allocate(item, owner);
      taken.push(() => alloc.release(item));
      return undefined;
    } catch (e) {
      if (e instanceof OutOfRangeError) return outOfRange;
      if (e instanceof AlreadyAllocatedError) return `provided ${alloc === this.ips ? 'IP' : 'port'} is already allocated`;
      throw e;
    }
  }
}
