/**
 * The labels a kubelet puts on its Node (initialNode) and how it reconciles them on an existing
 * Node (updateDefaultLabels): hostname, os and arch, stable and beta spellings. Used by the node
 * agent and by the simulated nodes.
 */
import { goArch } from './host-info.js';

export const LABEL_HOSTNAME = 'kubernetes.io/hostname';

export function defaultNodeLabels(hostname: string, arch: string = goArch()): Record<string, string> {
  return {
    [LABEL_HOSTNAME]: hostname,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': arch,
  };
}

/**
 * Sets `wanted` on `existing` (a copy): changed values are overwritten, labels with empty values
 * are removed, labels not in `wanted` are left alone. Returns undefined when nothing changes.
 */
export function reconcileLabels(existing: Record<string, string> | undefined, wanted: Record<string, string>): Record<string, string> | undefined {
  const out = { ...(existing ?? {}) };
  let changed = false;
  for (const [k, v] of Object.entries(wanted)) {
    if (v === '') {
      if (k in out) {
        delete out[k];
        changed = true;
      }
    } else if (out[k] !== v) {
      out[k] = v;
      changed = true;
    }
  }
  return changed ? out : undefined;
}
