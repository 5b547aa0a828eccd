/**
 * The default roles and bindings every cluster has (upstream's bootstrappolicy): cluster-admin,
 * the user-facing admin/edit/view roles aggregated from aggregate-to-* roles, discovery and
 * basic-user roles for every authenticated user, public-info-viewer for everyone. Created or
 * reconciled at each server start: a role carrying `rbac.authorization.kubernetes.io/autoupdate:
 * "true"` gets the missing permissions added back (upstream's reconciliation adds, never removes);
 * set the annotation to "false" to keep a change.
 */
import type { ApiServer } from '../api-server.js';
import { ApiError } from '../errors.js';
import type { WriteContext } from '../../registry/hooks.js';
import type { KubeObject } from '../../util/object.js';
import type { PolicyRule } from './rules.js';
import { covers } from './rules.js';
import type { UserInfo } from '../types.js';

const RBAC = 'rbac.authorization.k8s.io';
/** The user (client certificate CN) of the cluster DNS server, and its ClusterRole and binding. */
export const CAIRN_DNS_USER = 'system:cairn-dns';
const AUTOUPDATE = 'rbac.authorization.kubernetes.io/autoupdate';
const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];

const rule = (verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule => ({
  apiGroups,
  resources,
  verbs,
  ...(resourceNames ? { resourceNames } : {}),
});
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ nonResourceURLs, verbs });

interface RoleSpec {
  name: string;
  labels?: Record<string, string>;
  rules?: PolicyRule[];
  aggregateFrom?: string;
}

const aggregateTo = (role: string) => ({ [`rbac.authorization.k8s.io/aggregate-to-${role}`]: 'true' });

export const BOOTSTRAP_CLUSTER_ROLES: RoleSpec[] = [
  { name: 'cluster-admin', rules: [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])] },
  { name: 'admin', aggregateFrom: 'admin' },
  { name: 'edit', aggregateFrom: 'edit', labels: aggregateTo('admin') },
  { name: 'view', aggregateFrom: 'view', labels: aggregateTo('edit') },
  {
    name: 'system:aggregate-to-admin',
    labels: aggregateTo('admin'),
    rules: [rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']), rule([...WRITE, ...READ], [RBAC], ['rolebindings', 'roles'])],
  },
  {
    name: 'system:aggregate-to-edit',
    labels: aggregateTo('edit'),
    rules: [
      rule(READ, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
      rule(['impersonate'], [''], ['serviceaccounts']),
      rule(WRITE, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      rule(['create'], [''], ['pods/eviction']),
      rule(WRITE, [''], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy']),
      rule(['create'], [''], ['serviceaccounts/token']),
      rule(WRITE, ['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']),
      rule(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
      rule(WRITE, ['batch'], ['cronjobs', 'jobs']),
      rule(WRITE, ['policy'], ['poddisruptionbudgets']),
      rule(WRITE, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
      rule([...WRITE, ...READ], ['coordination.k8s.io'], ['leases']),
    ],
  },
  {
    name: 'system:aggregate-to-view',
    labels: aggregateTo('view'),
    rules: [
      rule(READ, [''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status']),
      rule(READ, [''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status']),
      rule(READ, [''], ['namespaces']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      rule(READ, ['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
      rule(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      rule(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
      rule(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      rule(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
    ],
  },
  {
    name: 'system:discovery',
    rules: [urls(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])],
  },
  {
    name: 'system:basic-user',
    rules: [rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews'])],
  },
  { name: 'system:public-info-viewer', rules: [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])] },
  {
    name: 'system:auth-delegator',
    rules: [rule(['create'], ['authentication.k8s.io'], ['tokenreviews']), rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews'])],
  },
  { name: 'system:monitoring', rules: [urls(['get'], ['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/readyz', '/readyz/*'])] },
  // What node agents may do (upstream's NodeRules, without the certificatesigningrequests rule:
  // Cairn issues node certificates itself). Cairn has no Node authorizer yet, so a node is not
  // limited to its own objects. Beyond upstream: events.k8s.io events, and list/watch of
  // endpoints, persistent volumes and claims.
  {
    name: 'system:node',
    rules: [
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews']),
      rule(READ, [''], ['services']),
      rule(['create', 'get', 'list', 'watch'], [''], ['nodes']),
      rule(['patch', 'update'], [''], ['nodes/status']),
      rule(['patch', 'update'], [''], ['nodes']),
      rule(['create', 'patch', 'update'], ['', 'events.k8s.io'], ['events']),
      rule(READ, [''], ['pods']),
      rule(['create', 'delete'], [''], ['pods']),
      rule(['patch', 'update'], [''], ['pods/status']),
      rule(['create'], [''], ['pods/eviction']),
      rule(READ, [''], ['configmaps', 'secrets']),
      rule(READ, [''], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(READ, [''], ['endpoints']),
      rule(['create', 'delete', 'get', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
      rule(['get'], ['storage.k8s.io'], ['volumeattachments']),
      rule(['create'], [''], ['serviceaccounts/token']),
      rule(['get', 'patch', 'update'], [''], ['persistentvolumeclaims/status']),
      rule(READ, ['storage.k8s.io'], ['csidrivers']),
      rule(['create', 'delete', 'get', 'patch', 'update'], ['storage.k8s.io'], ['csinodes']),
      rule(READ, ['node.k8s.io'], ['runtimeclasses']),
      // The agent is also the node's service proxy (upstream's system:node-proxier), NetworkPolicy
      // enforcer and Ingress controller (ingress-nginx's ClusterRole).
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      rule(READ, [''], ['namespaces']),
      rule(READ, ['networking.k8s.io'], ['networkpolicies', 'ingresses', 'ingressclasses']),
      rule(['patch', 'update'], ['networking.k8s.io'], ['ingresses/status']),
      // It is also the provisioner, resizer and capacity publisher of its node's local volumes
      // (external-provisioner in node-deployment mode, external-resizer).
      rule(READ, ['storage.k8s.io'], ['storageclasses', 'csistoragecapacities']),
      rule(['create', 'update', 'patch', 'delete'], ['storage.k8s.io'], ['csistoragecapacities']),
      rule(['create', 'update', 'patch', 'delete'], [''], ['persistentvolumes']),
      rule(['update', 'patch'], [''], ['persistentvolumeclaims']),
      // And the snapshotter of their snapshots (csi-snapshotter in distributed mode); restores read snapshots.
      rule(READ, ['snapshot.storage.k8s.io'], ['volumesnapshots', 'volumesnapshotclasses', 'volumesnapshotcontents']),
      rule(['update', 'patch'], ['snapshot.storage.k8s.io'], ['volumesnapshotcontents', 'volumesnapshotcontents/status']),
      // And the node's virt-handler (KubeVirt's kubevirt-handler ClusterRole): it runs the VMIs
      // whose launcher pods are bound here and writes their status.
      rule(['get', 'list', 'watch', 'update', 'patch'], ['kubevirt.io'], ['virtualmachineinstances']),
      // And the node's Multus: it reads NetworkAttachmentDefinitions and writes a pod's
      // network-status annotation (Multus' ClusterRole grants pods update for it).
      rule(READ, ['k8s.cni.cncf.io'], ['network-attachment-definitions']),
      rule(['patch'], [''], ['pods']),
    ],
  },
  // The cluster DNS server (`cairn dns`): what CoreDNS's system:coredns role grants for the
  // kubernetes plugin without `pods verified`.
  {
    name: CAIRN_DNS_USER,
    rules: [rule(['list', 'watch'], [''], ['services', 'namespaces']), rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices'])],
  },
];

interface BindingSpec {
  name: string;
  role: string;
  subjects: { kind: 'Group' | 'User'; name: string }[];
}

export const BOOTSTRAP_CLUSTER_ROLE_BINDINGS: BindingSpec[] = [
  { name: 'cluster-admin', role: 'cluster-admin', subjects: [{ kind: 'Group', name: 'system:masters' }] },
  { name: 'system:discovery', role: 'system:discovery', subjects: [{ kind: 'Group', name: 'system:authenticated' }] },
  { name: 'system:basic-user', role: 'system:basic-user', subjects: [{ kind: 'Group', name: 'system:authenticated' }] },
  {
    name: 'system:public-info-viewer',
    role: 'system:public-info-viewer',
    subjects: [
      { kind: 'Group', name: 'system:authenticated' },
      { kind: 'Group', name: 'system:unauthenticated' },
    ],
  },
  { name: 'system:monitoring', role: 'system:monitoring', subjects: [{ kind: 'Group', name: 'system:monitoring' }] },
  // Upstream binds system:node to no one since 1.8 (the Node authorizer grants it); without that
  // authorizer Cairn binds it to the nodes' group, the pre-1.8 default.
  { name: 'system:node', role: 'system:node', subjects: [{ kind: 'Group', name: 'system:nodes' }] },
  { name: CAIRN_DNS_USER, role: CAIRN_DNS_USER, subjects: [{ kind: 'User', name: CAIRN_DNS_USER }] },
];

const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };

function clusterRoleObject(spec: RoleSpec): KubeObject {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name: spec.name, labels: { ...BOOTSTRAP_LABELS, ...spec.labels }, annotations: { [AUTOUPDATE]: 'true' } },
    ...(spec.aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: aggregateTo(spec.aggregateFrom) }] } } : {}),
    rules: spec.rules ?? [],
  };
}

function bindingObject(spec: BindingSpec): KubeObject {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: spec.name, labels: { ...BOOTSTRAP_LABELS }, annotations: { [AUTOUPDATE]: 'true' } },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: spec.role },
    subjects: spec.subjects.map((s) => ({ ...s, apiGroup: RBAC })),
  };
}

/** Creates the default roles and bindings, and adds back what an autoupdate one lost. Idempotent. */
export async function bootstrapRbac(api: ApiServer, user: UserInfo): Promise<void> {
  const ctx = (): WriteContext => ({ user, now: new Date(), dryRun: false, fieldManager: 'cairn-apiserver', fieldValidation: 'Ignore', warnings: [] });
  const roleKind = api.catalog.byPlural(RBAC, 'v1', 'clusterroles')!;
  const bindingKind = api.catalog.byPlural(RBAC, 'v1', 'clusterrolebindings')!;
  const get = async (kind: typeof roleKind, name: string) => {
    try {
      return await api.registry.get(kind, undefined, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return null;
      throw e;
    }
  };
  const ensure = async (kind: typeof roleKind, want: KubeObject, reconcile: (cur: KubeObject, want: KubeObject) => KubeObject | null) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await get(kind, want.metadata.name!);
      try {
        if (!cur) {
          await api.registry.create(kind, undefined, structuredClone(want), ctx());
          return;
        }
        if ((cur.metadata.annotations ?? {})[AUTOUPDATE] !== 'true') return;
        const next = reconcile(cur, want);
        if (next) await api.registry.update(kind, undefined, want.metadata.name!, next, ctx());
        return;
      } catch (e) {
        if (e instanceof ApiError && (e.code === 409 || e.code === 404)) continue;
        throw e;
      }
    }
  };
  for (const spec of BOOTSTRAP_CLUSTER_ROLES) {
    await ensure(roleKind, clusterRoleObject(spec), (cur, want) => {
      const curRules = (cur.rules ?? []) as PolicyRule[];
      const wantRules = (want.rules ?? []) as PolicyRule[];
      const labels = { ...(cur.metadata.labels ?? {}), ...(want.metadata.labels ?? {}) };
      const missingLabels = JSON.stringify(labels) !== JSON.stringify(cur.metadata.labels ?? {});
      // Aggregated roles: the aggregation controller owns the rules; only the rule selector is reconciled.
      if (want.aggregationRule) {
        if (!missingLabels && JSON.stringify(cur.aggregationRule) === JSON.stringify(want.aggregationRule)) return null;
        return { ...cur, metadata: { ...cur.metadata, labels }, aggregationRule: want.aggregationRule };
      }
      const missing = wantRules.filter((r) => !covers(curRules, [r]).ok);
      if (!missing.length && !missingLabels) return null;
      return { ...cur, metadata: { ...cur.metadata, labels }, rules: [...curRules, ...missing] };
    });
  }
  for (const spec of BOOTSTRAP_CLUSTER_ROLE_BINDINGS) {
    await ensure(bindingKind, bindingObject(spec), (cur, want) => {
      const have = (cur.subjects ?? []) as { kind: string; name: string }[];
      const add = (want.subjects as { kind: string; name: string }[]).filter((s) => !have.some((h) => h.kind === s.kind && h.name === s.name));
      return add.length ? { ...cur, subjects: [...have, ...add] } : null;
    });
  }
}
