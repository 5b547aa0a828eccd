/**
 * DefaultTolerationSeconds admission, as upstream's plugin: a pod created without a toleration
 * for the `node.kubernetes.io/not-ready` or `node.kubernetes.io/unreachable` NoExecute taints gets
 * one with tolerationSeconds (default 300), so taint-based eviction removes it from a failed node
 * after five minutes rather than at once.
 */
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export function defaultTolerationSeconds(notReadySeconds = 300, unreachableSeconds = 300): AdmissionPlugin {
  return {
    name: 'DefaultTolerationSeconds',
    async admit(a: AdmissionAttributes) {
      if (a.operation !== 'CREATE' || a.subresource || a.kind.group !== '' || a.kind.plural !== 'pods' || a.kind.custom || !a.object) return;
      const spec = (a.object.spec ??= {}) as { tolerations?: Toleration[] };
      const tolerations = spec.tolerations ?? [];
      const covers = (key: string) => tolerations.some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
      const add: Toleration[] = [];
      if (!covers(TAINT_NOT_READY)) add.push({ key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: notReadySeconds });
      if (!covers(TAINT_UNREACHABLE)) add.push({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: unreachableSeconds });
      if (add.length) spec.tolerations = [...tolerations, ...add];
    },
  };
}
