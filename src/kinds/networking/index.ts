/** The networking.k8s.io/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { ingressClassKind } from './ingress-class.js';
import { ingressKind } from './ingress.js';
import { networkPolicyKind } from './network-policy.js';

export const networkingKinds: KindDefinition[] = [ingressKind, ingressClassKind, networkPolicyKind];
