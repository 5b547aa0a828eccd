/**
 * Finding a VM's instancetype and preference and pinning them, as KubeVirt's pkg/instancetype
 * find and revision packages do: the first time the controller sees the reference it copies the
 * object into an apps/v1 ControllerRevision owned by the VM, named
 * `<vm>-<object>-<version>-<object uid>-<object generation>`, and records the name in
 * `spec.instancetype.revisionName` (and in `status.instancetypeRef`), so editing or deleting the
 * instancetype later never changes what the VM runs. Kind defaults to the cluster-wide kinds.
 */
import type { ResourceRef } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';
import type { InstancetypeSpec, PreferenceSpec } from './instancetype-apply.js';
import { CLUSTER_INSTANCETYPES, CLUSTER_PREFERENCES, CONTROLLER_REVISIONS, INSTANCETYPES, type Matcher, PREFERENCES, type VirtualMachine, vmControllerRef } from './vm-api.js';

export type Which = 'instancetype' | 'preference';

/** A referenced object or revision that does not exist; `reason` is KubeVirt's sync error reason. */
export class ReferenceNotFoundError extends Error {
  constructor(
    readonly reason: 'FailedFindInstancetype' | 'FailedFindPreference',
    message: string,
  ) {
    super(message);
    this.name = 'ReferenceNotFoundError';
  }
}

/** Reads from the controller's caches: a namespaced object by namespace/name, a cluster one by name. */
export type Lookup = (ref: ResourceRef, namespace: string | undefined, name: string) => KubeObject | undefined;

const KINDS = {
  instancetype: { namespaced: INSTANCETYPES, cluster: CLUSTER_INSTANCETYPES, reason: 'FailedFindInstancetype' },
  preference: { namespaced: PREFERENCES, cluster: CLUSTER_PREFERENCES, reason: 'FailedFindPreference' },
} as const;

const notFound = (which: Which, plural: string, group: string | undefined, name: string) => new ReferenceNotFoundError(KINDS[which].reason, `${plural}${group ? `.${group}` : ''} "${name}" not found`);

/** KubeVirt's revision name (pkg/instancetype/revision GenerateName). */
export function revisionName(vm: VirtualMachine, obj: KubeObject): string {
  const version = (obj.apiVersion ?? '').split('/').pop();
  return `${vm.metadata.name}-${obj.metadata.name}-${version}-${obj.metadata.uid}-${obj.metadata.generation ?? 1}`;
}

/** The ControllerRevision pinning `obj` for `vm` (KubeVirt's CreateControllerRevision). */
export function revisionFor(vm: VirtualMachine, obj: KubeObject): KubeObject {
  const [, version] = (obj.apiVersion ?? '').split('/');
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(vm, obj),
      namespace: vm.metadata.namespace,
      labels: {
        'instancetype.kubevirt.io/object-uid': obj.metadata.uid!,
        'instancetype.kubevirt.io/object-name': obj.metadata.name!,
        'instancetype.kubevirt.io/object-kind': obj.kind!,
        'instancetype.kubevirt.io/object-version': version ?? '',
        'instancetype.kubevirt.io/object-generation': String(obj.metadata.generation ?? 1),
      },
      ownerReferences: [vmControllerRef(vm)],
    },
    data: {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}), uid: obj.metadata.uid, generation: obj.metadata.generation ?? 1 },
      spec: (obj as { spec?: unknown }).spec,
    },
    revision: 0,
  } as KubeObject;
}

export interface Resolved<S> {
  spec: S;
  /** The object found by name when the VM has no revision yet: it is to be pinned. */
  toPin?: KubeObject;
  /** The kind the VM refers to (for status and the VMI's annotations). */
  kind: string;
}

/** The spec a VM's reference resolves to: its pinned revision, else the live object. */
export function resolveReference<S extends InstancetypeSpec | PreferenceSpec>(vm: VirtualMachine, which: Which, lookup: Lookup): Resolved<S> | undefined {
  const matcher: Matcher | undefined = vm.spec[which];
  if (!matcher?.name) return undefined;
  const kinds = KINDS[which];
  const ref = matcher.kind === kinds.namespaced.kind ? kinds.namespaced : kinds.cluster;
  const kind = ref.kind!;
  const ns = vm.metadata.namespace!;
  if (matcher.revisionName) {
    const rev = lookup(CONTROLLER_REVISIONS, ns, matcher.revisionName);
    if (!rev) throw notFound(which, CONTROLLER_REVISIONS.plural, CONTROLLER_REVISIONS.group, matcher.revisionName);
    return { spec: ((rev as { data?: { spec?: S } }).data?.spec ?? {}) as S, kind };
  }
  const obj = lookup(ref, ref.namespaced ? ns : undefined, matcher.name);
  if (!obj) throw notFound(which, ref.plural, ref.group, matcher.name);
  return { spec: ((obj as { spec?: S }).spec ?? {}) as S, toPin: obj, kind };
}
