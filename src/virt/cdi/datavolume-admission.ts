/**
 * CDI's DataVolume admission webhooks, as one Cairn admission plugin on DataVolume create:
 * - `datavolume-validate.cdi.kubevirt.io`: a registry source names exactly one of url and
 *   imageStream, its url has the docker:// (or oci-archive://) scheme, its pullMethod is pod or
 *   node, and an imageStream needs pullMethod node; a pvc source's claim, when it exists, is not
 *   larger than the target asks (CDI lets a clone of a claim that does not exist yet through: the
 *   DataVolume waits for it).
 * - `datavolume-mutate.cdi.kubevirt.io`: a clone needs its creator to be allowed `create` on
 *   `datavolumes/source` of the source claim in its namespace (or, CDI's fallback, `create`
 *   pods there) — a SubjectAccessReview for the requesting user, refused with CDI's message.
 */
import type { RegistryAccess } from '../../api/admission/resource-quota.js';
import type { Attributes } from '../../api/authz/attributes.js';
import type { RbacAuthorizer } from '../../api/authz/rbac.js';
import type { AdmissionPlugin } from '../../registry/hooks.js';
import type { KubeObject } from '../../util/object.js';
import { type Cause, invalid, webhookDenied } from '../api/vmi-validation-causes.js';
import { cloneSizeRefusal, cloneSourceOf } from './clone-plan.js';
import { type DataVolume, DATAVOLUMES, type RegistrySource } from './datavolume-api.js';

export const DATAVOLUME_WEBHOOKS = { validate: 'datavolume-validate.cdi.kubevirt.io', mutate: 'datavolume-mutate.cdi.kubevirt.io' } as const;

/** CDI's subresource a clone's creator needs in the source namespace (DataVolumeCloneSourceSubresource). */
export const CLONE_SOURCE_SUBRESOURCE = 'source';
const REGISTRY_SCHEMES = ['docker', 'oci-archive'];
const PULL_METHODS = ['pod', 'node'];

/** CDI's validateDataVolumeSourceRegistry: the first problem, as its cause. */
export function registrySourceCauses(r: RegistrySource): Cause[] {
  const field = 'spec.source.Registry';
  if ((r.url === undefined) === (r.imageStream === undefined)) return [invalid(field, 'Source registry should have either URL or ImageStream')];
  if (r.url !== undefined) {
    let scheme: string;
    try {
      scheme = new URL(r.url).protocol.replace(/:$/, '');
    } catch {
      return [invalid(`${field}.URL`, `Illegal registry source URL ${r.url}`)];
    }
    if (!REGISTRY_SCHEMES.includes(scheme)) return [invalid(`${field}.URL`, `Illegal registry source URL scheme ${r.url}`)];
  }
  if (r.pullMethod !== undefined && !PULL_METHODS.includes(r.pullMethod)) return [invalid(`${field}.importMethod`, `ImportMethod ${r.pullMethod} is neither pod, node or ""`)];
  if (r.imageStream === '') return [invalid(`${field}.importMethod`, 'Source registry ImageStream is not valid')];
  if (r.imageStream !== undefined && r.pullMethod !== 'node') return [invalid(`${field}.importMethod`, 'Source registry ImageStream is supported only with node pull import method')];
  return [];
}

/** CDI's clone authorization: either review allows it. */
export async function cloneAllowed(authz: RbacAuthorizer, user: Attributes['user'], namespace: string, name: string): Promise<boolean> {
  const base = { user, verb: 'create', resourceRequest: true, apiVersion: '*', namespace, name, path: '' };
  const reviews: Attributes[] = [
    { ...base, apiGroup: DATAVOLUMES.group, resource: 'datavolumes', subresource: CLONE_SOURCE_SUBRESOURCE },
    { ...base, apiGroup: '', resource: 'pods' },
  ];
  for (const a of reviews) if ((await authz.authorize(a)).allowed) return true;
  return false;
}

export function dataVolumeAdmission(o: RegistryAccess & { authz: () => RbacAuthorizer }): AdmissionPlugin {
  async function sourceClaim(ns: string, name: string): Promise<KubeObject | undefined> {
    const kind = o.catalog().byPlural('', 'v1', 'persistentvolumeclaims');
    return kind ? o.registry().get(kind, ns, name).catch(() => undefined) : undefined;
  }
  return {
    name: 'DataVolumeAdmission',
    async admit(a) {
      if (a.operation !== 'CREATE' || a.subresource || a.kind.group !== DATAVOLUMES.group || a.kind.plural !== DATAVOLUMES.plural || !a.object) return;
      const dv = a.object as DataVolume;
      const registry = dv.spec?.source?.registry;
      if (registry) {
        const causes = registrySourceCauses(registry);
        if (causes.length) throw webhookDenied(DATAVOLUME_WEBHOOKS.validate, causes);
      }
      const src = cloneSourceOf(dv);
      if (!src) return;
      const claim = await sourceClaim(src.namespace, src.name);
      const tooSmall = claim && cloneSizeRefusal(dv, claim);
      if (tooSmall) throw webhookDenied(DATAVOLUME_WEBHOOKS.validate, [invalid('spec.pvc.resources.requests.size', tooSmall)]);
      if (!(await cloneAllowed(o.authz(), a.user, src.namespace, src.name))) {
        const message = `User ${a.user.name} has insufficient permissions in clone source namespace ${src.namespace}`;
        throw webhookDenied(DATAVOLUME_WEBHOOKS.mutate, [invalid('spec.source.PVC.namespace', message)]);
      }
    },
  };
}
