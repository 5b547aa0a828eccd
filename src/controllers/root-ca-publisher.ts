/**
 * Every active namespace has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA, for
 * pods to verify the API server (the service-account token volume projects it) — upstream's
 * root-ca-cert-publisher. A deleted or edited ConfigMap is put back: `data` exactly `{ca.crt}` and
 * the `kubernetes.io/description` annotation set.
 *
 * The CA comes from the cluster settings (`rootCaPem`): `cairn server` passes its own, `cairn
 * controllers` the one of its kubeconfig (or --root-ca-file). Without one the controller does not
 * run, as upstream does not start it without a root CA.
 */
import { type DeletedFinalStateUnknown, finalStateOf, isAlreadyExists, isForbidden, isNotFound, type ResourceRef } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import { NAMESPACES } from './namespace.js';

export const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
export const DESCRIPTION_ANNOTATION = 'kubernetes.io/description';
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. ' +
  'No other usage is guaranteed across distributions of Kubernetes clusters.';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const isActive = (ns: KubeObject | undefined) => !!ns && !ns.metadata.deletionTimestamp && (ns.status as { phase?: string } | undefined)?.phase !== 'Terminating';

export const rootCaPublisherController: ControllerSpec = {
  name: 'root-ca-cert-publisher',
  start(ctx) {
    const rootCa = ctx.settings.rootCaPem;
    if (!rootCa) {
      ctx.logger({ level: 'warn', msg: 'no root CA given: not publishing kube-root-ca.crt' });
      return [];
    }
    const namespaces = ctx.informers.forResource<KubeObject>(NAMESPACES);
    // Only the one ConfigMap name matters: a field selector keeps every other ConfigMap out of the cache.
    const configMaps = ctx.informers.forResource<KubeObject>(CONFIGMAPS, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP}` });
    const api = ctx.client.resource<ConfigMap>(CONFIGMAPS);
    const { controller, queue } = simpleController(ctx, {
      name: 'root-ca-cert-publisher',
      primary: namespaces,
      secondary: [configMaps],
      reconcile: async (ns) => {
        if (!isActive(namespaces.store.get(ns))) return;
        const want = { 'ca.crt': rootCa };
        const cm = configMaps.store.get(`${ns}/${ROOT_CA_CONFIGMAP}`) as ConfigMap | undefined;
        if (!cm) {
          try {
            await api.create(
              { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace: ns, annotations: { [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION } }, data: want },
              { namespace: ns },
            );
          } catch (e) {
            // Already there (the cache lags), or the namespace is gone or terminating: nothing to do.
            if (isAlreadyExists(e) || isNotFound(e) || isForbidden(e)) return;
            throw e;
          }
          return;
        }
        const data = cm.data ?? {};
        const same = Object.keys(data).length === 1 && data['ca.crt'] === rootCa;
        if (same && cm.metadata.annotations?.[DESCRIPTION_ANNOTATION]) return;
        const fixed: ConfigMap = structuredClone(cm);
        fixed.data = want;
        fixed.metadata.annotations = { ...(fixed.metadata.annotations ?? {}), [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION };
        try {
          await api.update(fixed, { namespace: ns });
        } catch (e) {
          if (isNotFound(e)) queue.add(ns);
          else throw e;
        }
      },
    });
    const enqueue = (obj: KubeObject | DeletedFinalStateUnknown<KubeObject>) => {
      const cm = finalStateOf(obj);
      if (cm.metadata.name === ROOT_CA_CONFIGMAP && cm.metadata.namespace) queue.add(cm.metadata.namespace);
    };
    configMaps.addEventHandler({ onUpdate: (_old, obj) => enqueue(obj), onDelete: enqueue });
    return controller;
  },
};
