/**
 * The API objects the Ingress controller reads, typed as far as it uses them, and their
 * resource refs. Objects come from informer caches (frozen): read, never change.
 */
import type { ResourceRef } from '../client/index.js';
import type { KubeObject } from '../util/object.js';

export const INGRESSES: ResourceRef = { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true, kind: 'Ingress' };
export const INGRESS_CLASSES: ResourceRef = { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', namespaced: false, kind: 'IngressClass' };
export const SECRETS: ResourceRef = { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' };

export interface IngressServiceBackend {
  name?: string;
  port?: { name?: string; number?: number };
}
export interface IngressBackend {
  service?: IngressServiceBackend;
  resource?: { apiGroup?: string; kind?: string; name?: string };
}
export interface HTTPIngressPath {
  path?: string;
  pathType?: string;
  backend?: IngressBackend;
}
export interface IngressRule {
  host?: string;
  http?: { paths?: HTTPIngressPath[] };
}
export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}
export interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  tls?: IngressTLS[];
  rules?: IngressRule[];
}
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}
export type Ingress = KubeObject & { spec?: IngressSpec; status?: { loadBalancer?: { ingress?: LoadBalancerIngress[] } } };

export type IngressClass = KubeObject & { spec?: { controller?: string } };

export interface EndpointSlicePort {
  name?: string;
  port?: number;
  protocol?: string;
}
export interface Endpoint {
  addresses?: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
}
export type EndpointSlice = KubeObject & { addressType?: string; endpoints?: Endpoint[]; ports?: EndpointSlicePort[] };

export type Secret = KubeObject & { type?: string; data?: Record<string, string> };

/** "namespace/name", the key every cache and reference map uses. */
export const keyOf = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ''}/${name ?? ''}`;
