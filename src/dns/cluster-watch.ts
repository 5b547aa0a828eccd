/**
 * Keeps a ClusterZone current from the API: one list+watch each of namespaces, Services and
 * EndpointSlices (what CoreDNS's kubernetes plugin watches with `pods insecure`), so a query
 * never waits on the API. The zone counts as synced once all three have listed.
 */
import { finalStateOf, SharedInformerFactory, type Client, type DeletedFinalStateUnknown, type Informer, type Logger } from '../client/index.js';
import { NAMESPACES } from '../controllers/namespace.js';
import { ENDPOINT_SLICES, SERVICES } from '../controllers/util/service-endpoints.js';
import type { KubeObject } from '../util/object.js';
import type { ClusterZone } from './cluster-zone.js';

export interface ClusterWatch {
  /** Resolves once every informer has listed (the zone is then marked synced). */
  synced: Promise<void>;
  stop(): Promise<void>;
}

function feed(inf: Informer, set: (o: KubeObject) => void, remove: (o: KubeObject) => void): void {
  inf.addEventHandler({
    onAdd: set,
    onUpdate: (_old, o) => set(o),
    onDelete: (o: KubeObject | DeletedFinalStateUnknown<KubeObject>) => remove(finalStateOf(o)),
  });
}

export function watchCluster(client: Client, zone: ClusterZone, logger: Logger): ClusterWatch {
  const informers = new SharedInformerFactory(client, { logger });
  const ns = (o: KubeObject) => o.metadata.namespace ?? '';
  feed(informers.forResource(NAMESPACES), (o) => zone.setNamespace(o.metadata.name!), (o) => zone.deleteNamespace(o.metadata.name!));
  feed(informers.forResource(SERVICES), (o) => zone.setService(o), (o) => zone.deleteService(ns(o), o.metadata.name!));
  feed(informers.forResource(ENDPOINT_SLICES), (o) => zone.setSlice(o), (o) => zone.deleteSlice(ns(o), o.metadata.name!));
  const ac = new AbortController();
  informers.start();
  const synced = informers.waitForSync(ac.signal).then(() => zone.markSynced());
  return {
    synced,
    async stop() {
      ac.abort();
      await synced.catch(() => undefined);
      await informers.stop();
    },
  };
}
