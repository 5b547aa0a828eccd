/**
 * RBAC on every request, through the HTTPS front with client certificates of new users (made by
 * `cairn user create`'s code path) and service-account tokens: each dimension a rule has (verb,
 * API group, resource, subresource, namespace, resource name, non-resource URL), bindings to
 * users, groups and service accounts, aggregated ClusterRoles, the default roles, escalation
 * prevention, impersonation, the access-review APIs, and upstream's 403 messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  adminCreate,
  binding,
  clusterRoleBindingPath,
  clusterRolePath,
  group,
  role,
  roleBindingPath,
  rolePath,
  until,
  user,
  userClient,
} from '../support/users.js';

let server: TestServer;
let admin: RawClient;
const clients: RawClient[] = [];
const as = async (name: string, groups: string[] = []) => {
  const c = await userClient(server, name, groups);
  clients.push(c);
  return c;
};

function forbidden(r: { status: number; json: any; text: string }, message: string) {
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.kind, 'Status');
  assert.equal(r.json.reason, 'Forbidden');
  assert.equal(r.json.message, message);
}

const deployment = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
});

describe('RBAC authorization', () => {
  before(async () => {
    server = await startTestServer({ server: { controllers: true } });
    admin = RawClient.admin(server.url, server.dataDir);
    for (const ns of ['team-a', 'team-b']) await adminCreate(admin, '/api/v1/namespaces', { metadata: { name: ns } });
  });
  after(async () => {
    for (const c of clients) c.close();
    admin?.close();
    await server?.stop();
  });

  it('denies an unbound user with upstream 403 messages for namespaced, cluster, named and non-resource requests', async () => {
    const alice = await as('alice');
    forbidden(await alice.request({ path: '/api/v1/namespaces/default/pods' }), 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"');
    forbidden(await alice.request({ path: '/api/v1/nodes' }), 'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope');
    const r = await alice.request({ path: '/apis/apps/v1/namespaces/team-a/deployments/web/scale' });
    forbidden(r, 'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments/scale" in API group "apps" in the namespace "team-a"');
    assert.deepEqual(r.json.details, { name: 'web', group: 'apps', kind: 'deployments' });
    forbidden(await alice.request({ path: '/metrics' }), 'forbidden: User "alice" cannot get path "/metrics"');
    forbidden(await alice.request({ path: '/api/v1/namespaces/team-a' }), 'namespaces "team-a" is forbidden: User "alice" cannot get resource "namespaces" in API group "" in the namespace "team-a"');
    // What every authenticated user may do: discovery, health, version, self reviews.
    for (const p of ['/api', '/apis', '/api/v1', '/version', '/healthz', '/readyz', '/openapi/v3']) assert.equal((await alice.request({ path: p })).status, 200, p);
  });

  it('anonymous requests may read health and version only', async () => {
    const anon = new RawClient(server.url, { ca: admin.creds.ca });
    clients.push(anon);
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) assert.equal((await anon.request({ path: p })).status, 200, p);
    assert.equal((await anon.request({ path: '/api/v1/namespaces' })).status, 401);
  });

  it('a Role grants by verb, resource, namespace and resource name', async () => {
    const bob = await as('bob');
    await adminCreate(admin, '/api/v1/namespaces/team-a/configmaps', { metadata: { name: 'one' }, data: { a: '1' } });
    await adminCreate(admin, '/api/v1/namespaces/team-a/configmaps', { metadata: { name: 'two' }, data: { a: '2' } });
    await adminCreate(admin, rolePath('team-a'), role('cm-reader', [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['list'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['one'] },
    ]));
    await adminCreate(admin, roleBindingPath('team-a'), binding('bob-cm', 'Role', 'cm-reader', [user('bob')]));
    const listA = await until(() => bob.request({ path: '/api/v1/namespaces/team-a/configmaps' }), 200);
    assert.equal(listA.status, 200, listA.text);
    assert.equal((await bob.request({ path: '/api/v1/namespaces/team-a/configmaps/one' })).status, 200);
    forbidden(await bob.request({ path: '/api/v1/namespaces/team-a/configmaps/two' }), 'configmaps "two" is forbidden: User "bob" cannot get resource "configmaps" in API group "" in the namespace "team-a"');
    // A watch narrowed to one name authorizes as that name.
    assert.equal((await bob.request({ path: '/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Done&limit=1' })).status, 200);
    forbidden(await bob.request({ path: '/api/v1/namespaces/team-b/configmaps' }), 'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" in the namespace "team-b"');
    forbidden(await bob.request({ method: 'DELETE', path: '/api/v1/namespaces/team-a/configmaps/one' }), 'configmaps "one" is forbidden: User "bob" cannot delete resource "configmaps" in API group "" in the namespace "team-a"');
    // All namespaces at once needs a cluster-wide grant.
    forbidden(await bob.request({ path: '/api/v1/configmaps' }), 'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" at the cluster scope');
  });

  it('subresources are their own resources; */scale and API groups match as upstream', async () => {
    const carol = await as('carol');
    await adminCreate(admin, '/apis/apps/v1/namespaces/team-a/deployments', deployment('web'));
    await adminCreate(admin, rolePath('team-a'), role('scaler', [{ apiGroups: ['apps'], resources: ['*/scale'], verbs: ['get', 'update', 'patch'] }]));
    await adminCreate(admin, roleBindingPath('team-a'), binding('carol-scale', 'Role', 'scaler', [user('carol')]));
    const scale = await until(() => carol.request({ path: '/apis/apps/v1/namespaces/team-a/deployments/web/scale' }), 200);
    assert.equal(scale.status, 200, scale.text);
    assert.equal(scale.json.kind, 'Scale');
    forbidden(await carol.request({ path: '/apis/apps/v1/namespaces/team-a/deployments/web' }), 'deployments.apps "web" is forbidden: User "carol" cannot get resource "deployments" in API group "apps" in the namespace "team-a"');
    forbidden(await carol.request({ path: '/apis/apps/v1/namespaces/team-a/deployments/web/status' }), 'deployments.apps "web" is forbidden: User "carol" cannot get resource "deployments/status" in API group "apps" in the namespace "team-a"');
    const patched = await carol.request({ method: 'PATCH', path: '/apis/apps/v1/namespaces/team-a/deployments/web/scale', headers: { 'content-type': 'application/merge-patch+json' }, body: { spec: { replicas: 3 } } });
    assert.equal(patched.status, 200, patched.text);
  });

  it('ClusterRoleBindings to groups, ClusterRoles bound in one namespace, and non-resource URLs', async () => {
    const dave = await as('dave', ['ops']);
    await adminCreate(admin, clusterRolePath, role('node-reader', [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }, { nonResourceURLs: ['/metrics'], verbs: ['get'] }]));
    await adminCreate(admin, clusterRoleBindingPath, binding('ops-nodes', 'ClusterRole', 'node-reader', [group('ops')]));
    assert.equal((await until(() => dave.request({ path: '/api/v1/nodes' }), 200)).status, 200);
    assert.equal((await dave.request({ path: '/metrics' })).status, 200);
    // The default `view` role, bound in team-b only.
    await adminCreate(admin, roleBindingPath('team-b'), binding('ops-view', 'ClusterRole', 'view', [group('ops')]));
    assert.equal((await until(() => dave.request({ path: '/apis/apps/v1/namespaces/team-b/deployments' }), 200)).status, 200);
    forbidden(await dave.request({ path: '/apis/apps/v1/namespaces/team-a/deployments' }), 'deployments.apps is forbidden: User "dave" cannot list resource "deployments" in API group "apps" in the namespace "team-a"');
    forbidden(await dave.request({ path: '/api/v1/namespaces/team-b/secrets' }), 'secrets is forbidden: User "dave" cannot list resource "secrets" in API group "" in the namespace "team-b"');
  });

  it('service-account tokens are authorized through RoleBindings to the ServiceAccount', async () => {
    await adminCreate(admin, '/api/v1/namespaces/team-a/serviceaccounts', { metadata: { name: 'robot' } });
    const tr = await adminCreate(admin, '/api/v1/namespaces/team-a/serviceaccounts/robot/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} });
    const token = tr.json.status.token as string;
    const anon = new RawClient(server.url, { ca: admin.creds.ca });
    clients.push(anon);
    const auth = { authorization: `Bearer ${token}` };
    forbidden(await anon.request({ path: '/api/v1/namespaces/team-a/pods', headers: auth }), 'pods is forbidden: User "system:serviceaccount:team-a:robot" cannot list resource "pods" in API group "" in the namespace "team-a"');
    await adminCreate(admin, roleBindingPath('team-a'), binding('robot-edit', 'ClusterRole', 'edit', [{ kind: 'ServiceAccount', name: 'robot' }]));
    assert.equal((await until(() => anon.request({ path: '/api/v1/namespaces/team-a/pods', headers: auth }), 200)).status, 200);
    const created = await anon.request({ method: 'POST', path: '/api/v1/namespaces/team-a/configmaps', headers: auth, body: { metadata: { name: 'by-robot' } } });
    assert.equal(created.status, 201, created.text);
    assert.equal((await anon.request({ path: '/api/v1/namespaces/team-b/pods', headers: auth })).status, 403);
  });

  it('aggregated ClusterRoles collect the rules of matching ClusterRoles, including into the default ones', async () => {
    await adminCreate(admin, clusterRolePath, { metadata: { name: 'monitoring' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-monitoring': 'true' } }] }, rules: [] });
    await adminCreate(admin, clusterRolePath, { metadata: { name: 'leases-reader', labels: { 'example.com/aggregate-to-monitoring': 'true', 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list'] }] });
    const deadline = Date.now() + 5000;
    let mon: any;
    let view: any;
    do {
      mon = (await admin.request({ path: `${clusterRolePath}/monitoring` })).json;
      view = (await admin.request({ path: `${clusterRolePath}/view` })).json;
      if (mon.rules?.length && JSON.stringify(view.rules).includes('leases')) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    assert.deepEqual(mon.rules, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list'] }]);
    assert.ok(JSON.stringify(view.rules).includes('"leases"'), 'view aggregates roles labelled aggregate-to-view');
    // ... and edit and admin aggregate view in turn.
    let adminRole: any;
    do {
      adminRole = (await admin.request({ path: `${clusterRolePath}/admin` })).json;
      if (JSON.stringify(adminRole.rules).includes('"leases"') && JSON.stringify(adminRole.rules).includes('"rolebindings"')) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline + 5000);
    assert.ok(JSON.stringify(adminRole.rules).includes('"leases"'));
    // Setting an aggregationRule takes cluster-admin.
    const eve = await as('eve');
    await adminCreate(admin, clusterRolePath, role('role-writer', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['create'] }]));
    await adminCreate(admin, clusterRoleBindingPath, binding('eve-roles', 'ClusterRole', 'role-writer', [user('eve')]));
    const agg = await until(() => eve.request({ method: 'POST', path: clusterRolePath, body: { metadata: { name: 'eve-agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } } }), 403);
    forbidden(agg, 'clusterroles.rbac.authorization.k8s.io "eve-agg" is forbidden: must have cluster-admin privileges to use the aggregationRule');
  });

  it('prevents escalation: only rules one holds can be granted, unless allowed escalate or bind', async () => {
    const frank = await as('frank');
    await adminCreate(admin, rolePath('team-b'), role('rbac-writer', [
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
    ]));
    await adminCreate(admin, roleBindingPath('team-b'), binding('frank-rbac', 'Role', 'rbac-writer', [user('frank')]));
    const ok = await until(() => frank.request({ method: 'POST', path: rolePath('team-b'), body: role('cm-get', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]) }), 201);
    assert.equal(ok.status, 201, ok.text);
    const esc = await frank.request({ method: 'POST', path: rolePath('team-b'), body: role('too-much', [{ apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'delete'] }]) });
    forbidden(
      esc,
      'roles.rbac.authorization.k8s.io "too-much" is forbidden: user "frank" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}',
    );
    // Binding a role whose rules frank holds is fine; binding `edit` is not.
    assert.equal((await frank.request({ method: 'POST', path: roleBindingPath('team-b'), body: binding('b1', 'Role', 'cm-get', [user('grace')]) })).status, 201);
    const bindEdit = await frank.request({ method: 'POST', path: roleBindingPath('team-b'), body: binding('b2', 'ClusterRole', 'edit', [user('grace')]) });
    assert.equal(bindEdit.status, 403);
    assert.match(bindEdit.json.message, /^rolebindings\.rbac\.authorization\.k8s\.io "b2" is forbidden: user "frank" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n/);
    forbidden(
      await frank.request({ method: 'POST', path: roleBindingPath('team-b'), body: binding('b3', 'ClusterRole', 'missing', [user('grace')]) }),
      'rolebindings.rbac.authorization.k8s.io "b3" is forbidden: clusterrole.rbac.authorization.k8s.io "missing" not found',
    );
    // With `bind` on clusterroles/edit and `escalate` on roles, both go through.
    await adminCreate(admin, rolePath('team-b'), role('binder', [
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['edit'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate'] },
    ]));
    await adminCreate(admin, roleBindingPath('team-b'), binding('frank-binder', 'Role', 'binder', [user('frank')]));
    const bound = await until(() => frank.request({ method: 'POST', path: roleBindingPath('team-b'), body: binding('b2', 'ClusterRole', 'edit', [user('grace')]) }), 201);
    assert.equal(bound.status, 201, bound.text);
    assert.equal((await frank.request({ method: 'POST', path: rolePath('team-b'), body: role('too-much', [{ apiGroups: [''], resources: ['secrets'], verbs: ['*'] }]) })).status, 201);
  });

  it('impersonation is authorized per user, group, uid and extra', async () => {
    const hank = await as('hank');
    const imp = { 'impersonate-user': 'bob' };
    forbidden(await hank.request({ path: '/api/v1/namespaces/team-a/configmaps', headers: imp }), 'users "bob" is forbidden: User "hank" cannot impersonate resource "users" in API group "" at the cluster scope');
    await adminCreate(admin, clusterRolePath, role('impersonate-bob', [{ apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: ['bob'] }]));
    await adminCreate(admin, clusterRoleBindingPath, binding('hank-imp', 'ClusterRole', 'impersonate-bob', [user('hank')]));
    const asBob = await until(() => hank.request({ path: '/api/v1/namespaces/team-a/configmaps', headers: imp }), 200);
    assert.equal(asBob.status, 200, asBob.text);
    const who = await hank.request({ method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', headers: imp, body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    assert.equal(who.status, 201, who.text);
    assert.deepEqual(who.json.status.userInfo, { username: 'bob', groups: ['system:authenticated'] });
    forbidden(await hank.request({ path: '/api/v1/namespaces/team-a/configmaps', headers: { ...imp, 'impersonate-group': 'admins' } }), 'groups "admins" is forbidden: User "hank" cannot impersonate resource "groups" in API group "" at the cluster scope');
    forbidden(await hank.request({ path: '/api/v1/namespaces/team-a/configmaps', headers: { ...imp, 'impersonate-uid': '42' } }), 'uids.authentication.k8s.io "42" is forbidden: User "hank" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope');
    forbidden(await hank.request({ path: '/api/v1/namespaces/team-a/configmaps', headers: { ...imp, 'impersonate-extra-scopes': 'view' } }), 'userextras.authentication.k8s.io "view" is forbidden: User "hank" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope');
    forbidden(await hank.request({ path: '/api/v1/pods', headers: { 'impersonate-user': 'system:serviceaccount:team-a:robot' } }), 'serviceaccounts "robot" is forbidden: User "hank" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-a"');
    // The admin (system:masters) may impersonate anyone, with groups, uid and extra.
    const r = await admin.request({ method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', headers: { 'impersonate-user': 'system:serviceaccount:team-a:robot', 'impersonate-uid': 'u-1', 'impersonate-extra-scopes': 'a' }, body: { kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1' } });
    assert.deepEqual(r.json.status.userInfo, { username: 'system:serviceaccount:team-a:robot', uid: 'u-1', groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated'], extra: { scopes: ['a'] } });
    assert.equal((await admin.request({ path: '/api', headers: { 'impersonate-group': 'x' } })).status, 500);
  });

  it('SubjectAccessReview, SelfSubjectAccessReview and SelfSubjectRulesReview answer from RBAC and are not stored', async () => {
    const sar = await admin.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'bob', resourceAttributes: { namespace: 'team-a', verb: 'get', resource: 'configmaps', name: 'one' } } } });
    assert.equal(sar.status, 201, sar.text);
    assert.equal(sar.json.status.allowed, true);
    assert.equal(sar.json.status.reason, 'RBAC: allowed by RoleBinding "bob-cm/team-a" of Role "cm-reader" to User "bob"');
    const denied = await admin.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', body: { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: { user: 'bob', nonResourceAttributes: { path: '/metrics', verb: 'get' } } } });
    assert.deepEqual(denied.json.status, { allowed: false });
    const invalid = await admin.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', body: { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: { resourceAttributes: { verb: 'get' } } } });
    assert.equal(invalid.status, 422);
    // An unprivileged user may not ask about others, but may ask about themselves.
    const bob = await as('bob');
    assert.equal((await bob.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', body: sar.json })).status, 403);
    const self = await bob.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body: { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: { resourceAttributes: { namespace: 'team-a', verb: 'list', resource: 'configmaps' } } } });
    assert.equal(self.status, 201);
    assert.equal(self.json.status.allowed, true);
    const rules = await bob.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', body: { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', spec: { namespace: 'team-a' } } });
    assert.equal(rules.status, 201);
    assert.deepEqual(rules.json.status.resourceRules.filter((r: any) => r.resources.includes('configmaps')), [
      { verbs: ['list'], apiGroups: [''], resources: ['configmaps'] },
      { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['one'] },
    ]);
    assert.ok(rules.json.status.nonResourceRules.some((r: any) => r.nonResourceURLs.includes('/version')));
    assert.equal((await admin.request({ path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews' })).status, 405);
    // Discovery lists them as create-only.
    const disc = (await admin.request({ path: '/apis/authorization.k8s.io/v1' })).json;
    assert.deepEqual(disc.resources.map((r: any) => [r.name, r.verbs]).sort(), [
      ['localsubjectaccessreviews', ['create']],
      ['selfsubjectaccessreviews', ['create']],
      ['selfsubjectrulesreviews', ['create']],
      ['subjectaccessreviews', ['create']],
    ]);
  });
});
