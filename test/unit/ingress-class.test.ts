// Which Ingresses the controller takes: the legacy annotation first, then ingressClassName, then
// the default class — as ingress-nginx decides.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ingress, IngressClass } from '../../src/ingress/ingress-api.js';
import { cairnIngressClass, servesIngress } from '../../src/ingress/ingress-class.js';

const ing = (className?: string, annotation?: string): Ingress => ({
  metadata: { name: 'x', namespace: 'default', annotations: annotation === undefined ? undefined : { 'kubernetes.io/ingress.class': annotation } },
  spec: { ingressClassName: className, defaultBackend: { service: { name: 's', port: { number: 80 } } } },
});
const ours = cairnIngressClass();
const notDefault: IngressClass = { ...ours, metadata: { name: 'cairn' } };
const otherController: IngressClass = { ...ours, spec: { controller: 'example.com/other' } };

test('ingressClassName cairn is ours when the class is ours; other names are not', () => {
  assert.equal(servesIngress(ing('cairn'), ours), true);
  assert.equal(servesIngress(ing('cairn'), notDefault), true);
  assert.equal(servesIngress(ing('nginx'), ours), false);
  assert.equal(servesIngress(ing('cairn'), otherController), false);
  assert.equal(servesIngress(ing('cairn'), undefined), false);
});

test('no class: ours only while cairn is the default class', () => {
  assert.equal(servesIngress(ing(), ours), true);
  assert.equal(servesIngress(ing(), notDefault), false);
  assert.equal(servesIngress(ing(), undefined), false);
});

test('the legacy annotation decides on its own', () => {
  assert.equal(servesIngress(ing(undefined, 'cairn'), undefined), true);
  assert.equal(servesIngress(ing(undefined, 'nginx'), ours), false);
});

test('the class cairn up makes is the default, for controller cairn.io/ingress-nginx', () => {
  assert.deepEqual(cairnIngressClass(), {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'cairn', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
    spec: { controller: 'cairn.io/ingress-nginx' },
  });
});
