/**
 * The RBAC authorizer (upstream's plugin/pkg/auth/authorizer/rbac): a request is allowed when
 * a rule of a role bound to the user — by ClusterRoleBindings anywhere, by RoleBindings in the
 * request's namespace — allows it. Members of system:masters are allowed everything (upstream's
 * privileged-group authorizer, in front of RBAC). Roles and bindings are read from informer
 * caches over the in-process transport, as kube-apiserver reads them from its own informers.
 */
import { type Client, type Informer, SharedInformerFactory } from '../../client/index.js';
import { RBAC_GROUP as RBAC, type RoleRef, type Subject } from '../../kinds/rbac/binding-common.js';
import type { KubeObject } from '../../util/object.js';
import type { UserInfo } from '../types.js';
import { type Attributes, PRIVILEGED_GROUP } from './attributes.js';
import { type PolicyRule, ruleAllows } from './rules.js';

type Binding = KubeObject & { roleRef?: RoleRef; subjects?: Subject[] };
type Role = KubeObject & { rules?: PolicyRule[] };

export interface Decision {
  allowed: boolean;
  /** Why: the binding that allowed it, or the resolution errors of a denial (may be empty). */
  reason: string;
}

/** Where a rule came from (for SubjectAccessReview reasons). */
type Visitor = (source: string | undefined, rule: PolicyRule | undefined, err: string | undefined) => boolean;

const q = JSON.stringify;

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} ${q(`${s.name}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind} ${q(s.name ?? '')}`;
}

function appliesToUser(user: UserInfo, s: Subject, namespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return user.name === s.name;
    case 'Group':
      return user.groups.includes(s.name ?? '');
    case 'ServiceAccount': {
      const ns = s.namespace || namespace;
      if (!ns) return false;
      return user.name === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

export class RbacAuthorizer {
  private readonly factory: SharedInformerFactory;
  private readonly roles: Informer<Role>;
  private readonly clusterRoles: Informer<Role>;
  private readonly roleBindings: Informer<Binding>;
  private readonly clusterRoleBindings: Informer<Binding>;
  private started = false;

  constructor(client: Client) {
    this.factory = new SharedInformerFactory(client, { logger: () => {} });
    const ref = (plural: string, kind: string, namespaced: boolean) => ({ group: RBAC, version: 'v1', plural, kind, namespaced });
    this.roles = this.factory.forResource<Role>(ref('roles', 'Role', true));
    this.clusterRoles = this.factory.forResource<Role>(ref('clusterroles', 'ClusterRole', false));
    this.roleBindings = this.factory.forResource<Binding>(ref('rolebindings', 'RoleBinding', true));
    this.clusterRoleBindings = this.factory.forResource<Binding>(ref('clusterrolebindings', 'ClusterRoleBinding', false));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.factory.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await this.factory.waitForSync(signal);
  }

  private synced(): boolean {
    return this.roles.hasSynced() && this.clusterRoles.hasSynced() && this.roleBindings.hasSynced() && this.clusterRoleBindings.hasSynced();
  }

  async stop(): Promise<void> {
    await this.factory.stop();
  }

  /** The rules of a binding's role; an error text when the role is missing. */
  roleRefRules(ref: RoleRef, bindingNamespace: string): { rules?: PolicyRule[]; err?: string } {
    if (ref.kind === 'Role') {
      const r = this.roles.store.getByName(ref.name ?? '', bindingNamespace);
      return r ? { rules: r.rules ?? [] } : { err: `role.${RBAC} ${q(ref.name ?? '')} not found` };
    }
    if (ref.kind === 'ClusterRole') {
      const r = this.clusterRoles.store.getByName(ref.name ?? '');
      return r ? { rules: r.rules ?? [] } : { err: `clusterrole.${RBAC} ${q(ref.name ?? '')} not found` };
    }
    return { err: `unsupported role reference kind: ${q(ref.kind ?? '')}` };
  }

  /** Visits every rule that applies to the user in the namespace (cluster-wide ones first), as upstream's VisitRulesFor. */
  visitRulesFor(user: UserInfo, namespace: string, visit: Visitor): void {
    for (const b of this.clusterRoleBindings.store.list()) {
      const s = (b.subjects ?? []).find((x) => appliesToUser(user, x, ''));
      if (!s) continue;
      const { rules, err } = this.roleRefRules(b.roleRef ?? {}, '');
      if (err) {
        if (!visit(undefined, undefined, err)) return;
        continue;
      }
      const source = `ClusterRoleBinding ${q(b.metadata.name)} of ${b.roleRef?.kind} ${q(b.roleRef?.name)} to ${describeSubject(s, '')}`;
      for (const r of rules!) if (!visit(source, r, undefined)) return;
    }
    if (!namespace) return;
    for (const b of this.roleBindings.store.byNamespace(namespace)) {
      const s = (b.subjects ?? []).find((x) => appliesToUser(user, x, namespace));
      if (!s) continue;
      const { rules, err } = this.roleRefRules(b.roleRef ?? {}, namespace);
      if (err) {
        if (!visit(undefined, undefined, err)) return;
        continue;
      }
      const source = `RoleBinding ${q(`${b.metadata.name}/${namespace}`)} of ${b.roleRef?.kind} ${q(b.roleRef?.name)} to ${describeSubject(s, namespace)}`;
      for (const r of rules!) if (!visit(source, r, undefined)) return;
    }
  }

  /** Every rule that applies to the user in the namespace, with resolution errors. */
  async rulesFor(user: UserInfo, namespace: string): Promise<{ rules: PolicyRule[]; errors: string[] }> {
    if (!this.synced()) await this.waitForSync();
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitRulesFor(user, namespace, (_s, r, e) => {
      if (r) rules.push(r);
      if (e) errors.push(e);
      return true;
    });
    return { rules, errors };
  }

  async authorize(a: Attributes): Promise<Decision> {
    if (a.user.groups.includes(PRIVILEGED_GROUP)) return { allowed: true, reason: '' };
    if (!this.synced()) await this.waitForSync();
    let allowedBy: string | undefined;
    const errors: string[] = [];
    this.visitRulesFor(a.user, a.namespace ?? '', (source, rule, err) => {
      if (rule && ruleAllows(a, rule)) {
        allowedBy = source;
        return false;
      }
      if (err) errors.push(err);
      return true;
    });
    if (allowedBy) return { allowed: true, reason: `RBAC: allowed by ${allowedBy}` };
    return { allowed: false, reason: errors.length ? `RBAC: ${aggregate(errors)}` : '' };
  }
}

/** utilerrors.NewAggregate's text: one error as is, several as `[a, b]`. */
function aggregate(errs: string[]): string {
  return errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`;
}
