/**
 * Which Ingresses this controller serves, as ingress-nginx decides it: the legacy
 * `kubernetes.io/ingress.class` annotation when present (it predates IngressClass and wins),
 * else `spec.ingressClassName`, else — an Ingress without any class — the cluster's default
 * class when that is ours. Ours is the IngressClass `cairn` whose controller is
 * `cairn.io/ingress-nginx`; `cairn up` makes it, marked as the default class.
 */
import type { Ingress, IngressClass } from './ingress-api.js';

export const INGRESS_CLASS_NAME = 'cairn';
export const INGRESS_CONTROLLER = 'cairn.io/ingress-nginx';
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** `ourClass`: the IngressClass named `cairn`, if it exists. */
export function servesIngress(ing: Ingress, ourClass: IngressClass | undefined): boolean {
  const legacy = ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (legacy !== undefined) return legacy === INGRESS_CLASS_NAME;
  if (!ourClass || ourClass.spec?.controller !== INGRESS_CONTROLLER) return false;
  const name = ing.spec?.ingressClassName;
  if (name) return name === INGRESS_CLASS_NAME;
  return ourClass.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
}

/** The IngressClass `cairn up` makes (ensureSystemObjects applies it). */
export function cairnIngressClass(): IngressClass {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: INGRESS_CLASS_NAME, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    spec: { controller: INGRESS_CONTROLLER },
  };
}
