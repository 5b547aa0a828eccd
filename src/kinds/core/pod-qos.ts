/** A pod's QoS class, set in status on create (upstream pkg/apis/core/helper/qos GetPodQOS). */
import { asObj, asObjList, type Obj } from './helpers.js';
import { quantityOf } from './quantity.js';

const QOS_RESOURCES = ['cpu', 'memory'];

export function podQOSClass(spec: Obj): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...asObjList(spec.containers), ...asObjList(spec.initContainers)]) {
    const res = asObj(c.resources);
    const found = new Set<string>();
    for (const name of QOS_RESOURCES) {
      const req = quantityOf(res?.requests, name);
      if (req !== undefined && req !== 0) requests.set(name, (requests.get(name) ?? 0) + req);
      const lim = quantityOf(res?.limits, name);
      if (lim !== undefined && lim !== 0) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0) + lim);
      }
    }
    // Guaranteed needs every container to limit both cpu and memory.
    if (found.size !== QOS_RESOURCES.length) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) if (limits.get(name) !== req) return 'Burstable';
    if (requests.size === limits.size) return 'Guaranteed';
  }
  return 'Burstable';
}
