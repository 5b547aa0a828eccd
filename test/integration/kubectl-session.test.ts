/**
 * A realistic session with the machine's real `kubectl` against a real Cairn API server (on the
 * store testStore() picks), asserting what the user sees: exact column headers, values and
 * messages. Every call gets its own --kubeconfig and a --cache-dir made for this run, and runs
 * with an argument array (never a shell string). The steps build on each other, in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/kubectl/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let server: TestServer;
let cacheDir: string;

/** Runs kubectl with this server's kubeconfig and the run's cache dir; never throws on a non-zero exit. */
function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args],
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 32 << 20, env: { ...process.env, KUBECONFIG: '' } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** kubectl that must succeed; returns stdout. */
async function ok(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** kubectl that must fail; returns the run. */
async function fails(args: string[], opts: { input?: string } = {}): Promise<Run> {
  const r = await kubectl(args, opts);
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} unexpectedly succeeded:\n${r.stdout}`);
  return r;
}

/** Splits a table printed by kubectl into rows of cells (columns are separated by 3+ spaces). */
const lines = (out: string) => out.split('\n').filter((l) => l.trim() !== '');
const words = (line: string) => line.trim().split(/\s+/);
const header = (out: string) => words(lines(out)[0] ?? '');
/** The row whose first cell (or, for -A, second) is `name`. */
function row(out: string, name: string, col = 0): string[] {
  const r = lines(out).slice(1).map(words).find((w) => w[col] === name);
  assert.ok(r, `no row ${name} in:\n${out}`);
  return r;
}
const AGE = /^\d+s$/;

const NS = 'shop';
const NS2 = 'shop-extra';
const jsonpath = (args: string[], path: string) => ok(['get', ...args, '-o', `jsonpath=${path}`]);

describe(`kubectl session (${testStore()} store)`, () => {
  before(async () => {
    server = await startTestServer();
    cacheDir = await mkdtemp(join(tmpdir(), 'cairn-kubectl-cache-'));
  });
  after(async () => {
    await server?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  test('version and the initial namespaces', async () => {
    const v = JSON.parse(await ok(['version', '-o', 'json']));
    assert.equal(v.serverVersion.major, '1');
    assert.ok(Number.parseInt(v.serverVersion.minor, 10) >= 30, `server minor ${v.serverVersion.minor}`);
    assert.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+/);

    const out = await ok(['get', 'ns']);
    assert.deepEqual(header(out), ['NAME', 'STATUS', 'AGE']);
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      const r = row(out, ns);
      assert.equal(r[1], 'Active');
      assert.match(r[2]!, AGE);
    }
  });

  test('create namespaces', async () => {
    assert.equal(await ok(['create', 'namespace', NS]), `namespace/${NS} created\n`);
    // The same from a manifest on stdin.
    const manifest = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS2}\n  labels:\n    team: extra\n`;
    assert.equal(await ok(['create', '-f', '-'], { input: manifest }), `namespace/${NS2} created\n`);
    const r = await fails(['create', 'namespace', NS]);
    assert.equal(r.stderr.trim(), `Error from server (AlreadyExists): namespaces "${NS}" already exists`);
    assert.deepEqual(row(await ok(['get', 'ns', '-l', 'team=extra']), NS2).slice(0, 2), [NS2, 'Active']);
  });

  test('imperative create commands (typed clients: protobuf request bodies)', async () => {
    assert.equal(await ok(['create', 'configmap', 'literal', '-n', NS2, '--from-literal=a=1', '--from-literal=b=two']), 'configmap/literal created\n');
    assert.equal(await jsonpath(['cm', 'literal', '-n', NS2], '{.data}'), '{"a":"1","b":"two"}');
    assert.equal(await ok(['create', 'secret', 'generic', 'creds', '-n', NS2, '--from-literal=pw=hunter2']), 'secret/creds created\n');
    assert.equal(await jsonpath(['secret', 'creds', '-n', NS2], '{.type} {.data.pw}'), `Opaque ${Buffer.from('hunter2').toString('base64')}`);
    // replicas is a pointer: an explicit 0 survives (it would default to 1 if lost).
    assert.equal(await ok(['create', 'deployment', 'idle', '-n', NS2, '--image=nginx:1.25', '--replicas=0', '--port=8080']), 'deployment.apps/idle created\n');
    assert.equal(
      await jsonpath(['deploy', 'idle', '-n', NS2], '{.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].ports[0].containerPort}'),
      '0 idle 8080',
    );
    assert.equal(await ok(['create', 'service', 'clusterip', 'idle', '-n', NS2, '--tcp=80:8080']), 'service/idle created\n');
    assert.equal(await jsonpath(['svc', 'idle', '-n', NS2], '{.spec.ports[0].port} {.spec.ports[0].targetPort}'), '80 8080');
    const dup = await fails(['create', 'configmap', 'literal', '-n', NS2, '--from-literal=a=1']);
    assert.equal(dup.stderr.trim(), 'error: failed to create configmap: configmaps "literal" already exists');
    await ok(['delete', 'deployment,service', 'idle', '-n', NS2]);
  });

  test('apply a multi-document file; the custom resource after its CRD is established', async () => {
    const first = await kubectl(['apply', '-n', NS, '-f', fixture('app.yaml')]);
    // kubectl maps every document before it creates anything: the Widget's kind is unknown until
    // the CRD exists, so this first apply creates everything else and reports the Widget.
    assert.notEqual(first.code, 0, first.stdout);
    assert.deepEqual(lines(first.stdout), [
      'deployment.apps/web created',
      'service/web created',
      'configmap/web-config created',
      'secret/web-secret created',
      'ingress.networking.k8s.io/web created',
      'networkpolicy.networking.k8s.io/web-allow-http created',
      'persistentvolumeclaim/web-data created',
      'storageclass.storage.k8s.io/kubectl-fast created',
      'customresourcedefinition.apiextensions.k8s.io/widgets.kubectl.cairn.io created',
    ]);
    assert.match(first.stderr, /^error: /m);

    assert.equal(
      await ok(['wait', '--for=condition=Established', 'crd/widgets.kubectl.cairn.io', '--timeout=20s']),
      'customresourcedefinition.apiextensions.k8s.io/widgets.kubectl.cairn.io condition met\n',
    );
    const second = await ok(['apply', '-n', NS, '-f', fixture('app.yaml')]);
    assert.match(second, /^deployment\.apps\/web unchanged$/m);
    assert.match(second, /^configmap\/web-config unchanged$/m);
    assert.match(second, /^customresourcedefinition\.apiextensions\.k8s\.io\/widgets\.kubectl\.cairn\.io unchanged$/m);
    assert.match(second, /^widget\.kubectl\.cairn\.io\/gizmo created$/m);
  });

  test('get: default tables for each kind', async () => {
    // The deployment controller rolls out a ReplicaSet of 2; with no nodes no pod becomes ready.
    await until('the deployment controller to roll out', async () => (await jsonpath(['deploy', 'web', '-n', NS], '{.status.updatedReplicas}')) === '2');
    const deploy = await ok(['get', 'deployments', '-n', NS]);
    assert.deepEqual(header(deploy), ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
    const d = row(deploy, 'web');
    assert.deepEqual(d.slice(0, 4), ['web', '0/2', '2', '0']);
    assert.match(d[4]!, AGE);

    const svc = await ok(['get', 'services', '-n', NS]);
    assert.deepEqual(header(svc), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    const s = row(svc, 'web');
    assert.equal(s[1], 'ClusterIP');
    assert.match(s[2]!, /^10\.(9[6-9]|10\d|11[01])\.\d+\.\d+$/); // allocated from 10.96.0.0/12
    assert.equal(s[3], '<none>');
    assert.equal(s[4], '80/TCP');

    const cm = await ok(['get', 'configmaps', '-n', NS]);
    assert.deepEqual(header(cm), ['NAME', 'DATA', 'AGE']);
    assert.deepEqual(row(cm, 'web-config').slice(0, 2), ['web-config', '2']);

    const secret = await ok(['get', 'secrets', '-n', NS]);
    assert.deepEqual(header(secret), ['NAME', 'TYPE', 'DATA', 'AGE']);
    assert.deepEqual(row(secret, 'web-secret').slice(0, 3), ['web-secret', 'Opaque', '1']);

    const ing = await ok(['get', 'ingress', '-n', NS]);
    assert.deepEqual(header(ing), ['NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE']);
    assert.deepEqual(row(ing, 'web').slice(0, 4), ['web', '<none>', 'web.example.com', '80']);

    const np = await ok(['get', 'networkpolicies', '-n', NS]);
    assert.deepEqual(header(np), ['NAME', 'POD-SELECTOR', 'AGE']);
    assert.deepEqual(row(np, 'web-allow-http').slice(0, 2), ['web-allow-http', 'app=web']);

    const pvc = await ok(['get', 'pvc', '-n', NS]);
    assert.deepEqual(header(pvc), ['NAME', 'STATUS', 'VOLUME', 'CAPACITY', 'ACCESS', 'MODES', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'AGE']);
    assert.deepEqual(row(pvc, 'web-data').slice(0, 4), ['web-data', 'Pending', 'kubectl-fast', '<unset>']);

    const sc = await ok(['get', 'storageclass', 'kubectl-fast']);
    assert.deepEqual(header(sc), ['NAME', 'PROVISIONER', 'RECLAIMPOLICY', 'VOLUMEBINDINGMODE', 'ALLOWVOLUMEEXPANSION', 'AGE']);
    assert.deepEqual(row(sc, 'kubectl-fast').slice(0, 5), ['kubectl-fast', 'cairn.io/local', 'Delete', 'WaitForFirstConsumer', 'false']);

    // The CRD's additionalPrinterColumns, by its short name; the defaulted color shows.
    const wg = await ok(['get', 'wg', '-n', NS]);
    assert.deepEqual(header(wg), ['NAME', 'SIZE', 'COLOR', 'AGE']);
    const w = row(wg, 'gizmo');
    assert.deepEqual(w.slice(0, 3), ['gizmo', '3', 'grey']);
    assert.match(w[3]!, AGE);

    // Several kinds at once: kind-qualified names and a table per kind.
    const multi = await ok(['get', 'deploy,cm', '-n', NS]);
    assert.match(multi, /^deployment\.apps\/web\s+0\/2\s+2\s+0\s+\d+s$/m);
    assert.match(multi, /^configmap\/web-config\s+2\s+\d+s$/m);
  });

  test('get: -o wide, yaml, json, jsonpath, -l, --field-selector, -A', async () => {
    const wide = await ok(['get', 'deploy', 'web', '-n', NS, '-o', 'wide']);
    assert.deepEqual(header(wide), ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    assert.deepEqual(row(wide, 'web').slice(5), ['nginx', 'nginx:1.25', 'app=web']);
    const svcWide = await ok(['get', 'svc', 'web', '-n', NS, '-o', 'wide']);
    assert.deepEqual(header(svcWide), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
    assert.equal(row(svcWide, 'web')[6], 'app=web');

    const yaml = await ok(['get', 'configmap', 'web-config', '-n', NS, '-o', 'yaml']);
    assert.match(yaml, /^apiVersion: v1$/m);
    assert.match(yaml, /^kind: ConfigMap$/m);
    assert.match(yaml, /^data:\n {2}color: blue\n {2}greeting: hello$/m);
    assert.match(yaml, /^ {2}name: web-config$/m);
    assert.match(yaml, /^ {2}namespace: shop$/m);
    assert.doesNotMatch(yaml, /managedFields/); // hidden unless --show-managed-fields

    const deploy = JSON.parse(await ok(['get', 'deployment', 'web', '-n', NS, '-o', 'json']));
    assert.equal(deploy.kind, 'Deployment');
    assert.equal(deploy.apiVersion, 'apps/v1');
    assert.equal(deploy.spec.replicas, 2);
    assert.equal(deploy.spec.strategy.type, 'RollingUpdate'); // defaulted by the server
    assert.equal(deploy.spec.template.spec.containers[0].ports[0].protocol, 'TCP');
    assert.ok(deploy.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
    const secret = JSON.parse(await ok(['get', 'secret', 'web-secret', '-n', NS, '-o', 'json']));
    assert.equal(Buffer.from(secret.data.password, 'base64').toString(), 's3cret'); // stringData became data
    assert.equal(secret.stringData, undefined);

    assert.equal(await jsonpath(['deploy', 'web', '-n', NS], '{.spec.template.spec.containers[0].ports[*].containerPort}'), '80 9113');
    assert.equal(await jsonpath(['widget', 'gizmo', '-n', NS], '{.spec.color}'), 'grey');
    // Every namespace also has the root-ca-cert-publisher's kube-root-ca.crt, as upstream.
    for (const n of [NS, NS2]) await until(`kube-root-ca.crt in ${n}`, async () => (await kubectl(['get', 'cm', 'kube-root-ca.crt', '-n', n])).code === 0);
    assert.equal(await jsonpath(['cm', '-n', NS], '{range .items[*]}{.metadata.name}{"\\n"}{end}'), 'kube-root-ca.crt\nweb-config\n');

    // Label and field selectors; -A adds the NAMESPACE column.
    await ok(['apply', '-n', NS2, '-f', fixture('extra.yaml')]);
    const byLabel = await ok(['get', 'cm', '-n', NS2, '-l', 'batch=old']);
    assert.deepEqual(lines(byLabel).slice(1).map((l) => words(l)[0]), ['extra-one', 'extra-two']);
    const notOld = await ok(['get', 'cm', '-n', NS2, '-l', 'batch,batch!=old', '-o', 'name']);
    assert.equal(notOld, 'configmap/extra-keep\n');
    assert.equal(await ok(['get', 'cm', '-n', NS2, '-l', 'batch in (new,other)', '-o', 'name']), 'configmap/extra-keep\n');
    // Without the existence requirement, != also matches objects that lack the label.
    assert.equal(await ok(['get', 'cm', '-n', NS2, '-l', 'batch!=old', '-o', 'name']), 'configmap/extra-keep\nconfigmap/kube-root-ca.crt\nconfigmap/literal\n');
    const byField = await ok(['get', 'cm', '-n', NS2, '--field-selector', 'metadata.name=extra-two', '-o', 'name']);
    assert.equal(byField, 'configmap/extra-two\n');
    const all = await ok(['get', 'configmaps', '-A', '-l', 'batch']);
    assert.deepEqual(header(all), ['NAMESPACE', 'NAME', 'DATA', 'AGE']);
    assert.deepEqual(row(all, 'extra-keep', 1).slice(0, 3), [NS2, 'extra-keep', '1']);
    const allWidgets = await ok(['get', 'widgets', '-A']);
    assert.deepEqual(header(allWidgets), ['NAMESPACE', 'NAME', 'SIZE', 'COLOR', 'AGE']);
    assert.deepEqual(row(allWidgets, 'gizmo', 1).slice(0, 4), [NS, 'gizmo', '3', 'grey']);
    const none = await kubectl(['get', 'cm', '-n', NS2, '-l', 'batch=none']);
    assert.equal(none.code, 0);
    assert.equal(none.stderr.trim(), `No resources found in ${NS2} namespace.`);
  });

  test('describe a deployment and a configmap', async () => {
    const d = await ok(['describe', 'deployment', 'web', '-n', NS]);
    assert.match(d, /^Name:\s+web$/m);
    assert.match(d, /^Namespace:\s+shop$/m);
    assert.match(d, /^Labels:\s+app=web\n\s+tier=frontend$/m);
    assert.match(d, /^Selector:\s+app=web$/m);
    assert.match(d, /^Replicas:\s+2 desired \| 2 updated \| 2 total \| 0 available \| 2 unavailable$/m);
    assert.match(d, /^NewReplicaSet:\s+web-[a-z0-9]+ \(2\/2 replicas created\)$/m);
    assert.match(d, /^StrategyType:\s+RollingUpdate$/m);
    assert.match(d, /^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$/m);
    assert.match(d, /^\s+nginx:\n\s+Image:\s+nginx:1\.25\n\s+Ports:\s+80\/TCP, 9113\/TCP$/m);
    assert.match(d, /^\s+MODE:\s+production$/m);

    const c = await ok(['describe', 'configmap', 'web-config', '-n', NS]);
    assert.match(c, /^Name:\s+web-config$/m);
    assert.match(c, /^Labels:\s+app=web$/m);
    // kubectl 1.32 prints the keys in map order (random; sorted only from kubernetes#131500).
    assert.match(c, /^Data\n====\n(color|greeting):\n/m);
    assert.match(c, /^color:\n----\nblue\n/m);
    assert.match(c, /^greeting:\n----\nhello\n/m);
  });

  test('label, annotate, and patch of all three types', async () => {
    assert.equal(await ok(['label', 'deployment', 'web', '-n', NS, 'env=prod']), 'deployment.apps/web labeled\n');
    assert.equal(await ok(['annotate', 'deployment', 'web', '-n', NS, 'owner=team-a']), 'deployment.apps/web annotated\n');
    assert.equal(await jsonpath(['deploy', 'web', '-n', NS], '{.metadata.labels.env}/{.metadata.annotations.owner}'), 'prod/team-a');
    const relabel = await fails(['label', 'deployment', 'web', '-n', NS, 'env=staging']);
    assert.match(relabel.stderr, /'env' already has a value \(prod\), and --overwrite is false/);
    await ok(['label', 'deployment', 'web', '-n', NS, 'env-']);
    assert.equal(await jsonpath(['deploy', 'web', '-n', NS], '{.metadata.labels}'), '{"app":"web","tier":"frontend"}');

    // Strategic merge (the default): the container list merges by name, other fields stay.
    assert.equal(
      await ok(['patch', 'deployment', 'web', '-n', NS, '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}']),
      'deployment.apps/web patched\n',
    );
    assert.equal(
      await jsonpath(['deploy', 'web', '-n', NS], '{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].ports[*].name}'),
      'nginx:1.26 nginx http metrics',
    );
    // Merge patch: null deletes a key.
    await ok(['patch', 'configmap', 'web-config', '-n', NS, '--type=merge', '-p', '{"data":{"color":"red","extra":"x"}}']);
    assert.equal(await jsonpath(['cm', 'web-config', '-n', NS], '{.data}'), '{"color":"red","extra":"x","greeting":"hello"}');
    await ok(['patch', 'configmap', 'web-config', '-n', NS, '--type=merge', '-p', '{"data":{"extra":null}}']);
    // JSON patch.
    await ok(['patch', 'configmap', 'web-config', '-n', NS, '--type=json', '-p', '[{"op":"replace","path":"/data/color","value":"green"},{"op":"add","path":"/data/size","value":"L"}]']);
    assert.equal(await jsonpath(['cm', 'web-config', '-n', NS], '{.data}'), '{"color":"green","greeting":"hello","size":"L"}');
    assert.equal(
      await ok(['patch', 'configmap', 'web-config', '-n', NS, '--type=merge', '-p', '{"data":{"color":"green"}}']),
      'configmap/web-config patched (no change)\n',
    );
    const badTest = await fails(['patch', 'configmap', 'web-config', '-n', NS, '--type=json', '-p', '[{"op":"test","path":"/data/color","value":"blue"}]']);
    // Upstream answers a failed JSON patch operation with a generic 422 that carries no detail.
    assert.equal(badTest.stderr.trim(), 'The request is invalid: the server rejected our request due to an error in our request');
    // Patching the custom resource (merge; CRs take no strategic merge).
    await ok(['patch', 'widget', 'gizmo', '-n', NS, '--type=merge', '-p', '{"spec":{"size":5}}']);
    assert.equal(await jsonpath(['wg', 'gizmo', '-n', NS], '{.spec.size}'), '5');
  });

  test('apply an edited file: a list element removed, values changed', async () => {
    const out = await ok(['apply', '-n', NS, '-f', fixture('app-edited.yaml')]);
    assert.match(out, /^deployment\.apps\/web configured$/m);
    assert.match(out, /^configmap\/web-config configured$/m);
    assert.match(out, /^service\/web unchanged$/m);
    const c = '{.spec.template.spec.containers[0]}';
    const container = JSON.parse(await jsonpath(['deploy', 'web', '-n', NS], c));
    assert.equal(container.image, 'nginx:1.27');
    assert.deepEqual(container.ports.map((p: { name: string }) => p.name), ['http']); // metrics port gone
    assert.deepEqual(container.env, [{ name: 'MODE', value: 'production' }]); // DEBUG gone
    // The edit changed greeting; color goes back to the file's value; size (added by a patch, never
    // in the file) stays, as a three-way merge leaves fields the file never managed.
    assert.equal(await jsonpath(['cm', 'web-config', '-n', NS], '{.data}'), '{"color":"blue","greeting":"bonjour","size":"L"}');
    // Labels and annotations set by other commands survive apply.
    assert.equal(await jsonpath(['deploy', 'web', '-n', NS], '{.metadata.annotations.owner}'), 'team-a');
  });

  test('server-side apply: a conflict between managers, then --force-conflicts', async () => {
    assert.equal(
      await ok(['apply', '--server-side', '--field-manager=alice', '-n', NS, '-f', fixture('ssa-alice.yaml')]),
      'configmap/settings serverside-applied\n',
    );
    const conflict = await fails(['apply', '--server-side', '--field-manager=bob', '-n', NS, '-f', fixture('ssa-bob.yaml')]);
    assert.match(conflict.stderr, /^error: Apply failed with 1 conflict: conflict with "alice": \.data\.shared$/m);
    assert.match(conflict.stderr, /--force-conflicts/);
    assert.equal(await jsonpath(['cm', 'settings', '-n', NS], '{.data.shared}'), 'one');

    assert.equal(
      await ok(['apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-n', NS, '-f', fixture('ssa-bob.yaml')]),
      'configmap/settings serverside-applied\n',
    );
    assert.equal(await jsonpath(['cm', 'settings', '-n', NS], '{.data}'), '{"owner":"alice","shared":"two"}');
    const obj = JSON.parse(await ok(['get', 'cm', 'settings', '-n', NS, '-o', 'json', '--show-managed-fields']));
    const mf = obj.metadata.managedFields as { manager: string; operation: string; fieldsType: string; fieldsV1: { 'f:data': object } }[];
    const byManager = Object.fromEntries(mf.map((e) => [e.manager, e]));
    assert.deepEqual(Object.keys(byManager).sort(), ['alice', 'bob']);
    assert.equal(byManager.alice!.operation, 'Apply');
    assert.equal(byManager.alice!.fieldsType, 'FieldsV1');
    assert.deepEqual(byManager.alice!.fieldsV1, { 'f:data': { 'f:owner': {} } });
    assert.deepEqual(byManager.bob!.fieldsV1, { 'f:data': { 'f:shared': {} } });
    const yaml = await ok(['get', 'cm', 'settings', '-n', NS, '-o', 'yaml', '--show-managed-fields']);
    assert.match(yaml, /^ {2}- apiVersion: v1\n {4}fieldsType: FieldsV1\n/m);
    assert.match(yaml, /^ {4}manager: bob\n {4}operation: Apply$/m);
  });

  test('scale, and a watch that sees a change', async () => {
    assert.equal(await ok(['scale', 'deployment', 'web', '-n', NS, '--replicas=4']), 'deployment.apps/web scaled\n');
    assert.equal(await jsonpath(['deploy', 'web', '-n', NS], '{.spec.replicas}'), '4');
    assert.equal(row(await ok(['get', 'deploy', 'web', '-n', NS]), 'web')[1], '0/4');

    const watcher = spawn('kubectl', ['--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, 'get', 'configmaps', '-w', '-n', NS], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watcher.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((r) => watcher.once('exit', () => r()));
    try {
      await until('the watch to list the existing configmaps', () => /^settings\s/m.test(out));
      assert.deepEqual(header(out), ['NAME', 'DATA', 'AGE']);
      await ok(['apply', '-n', NS, '-f', '-'], { input: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\ndata:\n  a: "1"\n' });
      await until('the watch to show the new configmap', () => /^watched\s+1\s+\d+s$/m.test(out));
      await ok(['patch', 'configmap', 'watched', '-n', NS, '--type=merge', '-p', '{"data":{"b":"2"}}']);
      await until('the watch to show the update', () => /^watched\s+2\s+\d+s$/m.test(out));
      assert.equal(err, '');
    } finally {
      watcher.kill('SIGTERM');
      await exited;
    }
  });

  test('delete -f, delete -l, and a namespace cascade', async () => {
    assert.equal(await ok(['delete', '-n', NS, '-f', fixture('ssa-alice.yaml')]), 'configmap "settings" deleted\n');
    assert.equal(await ok(['delete', 'configmaps', '-n', NS2, '-l', 'batch=old']), 'configmap "extra-one" deleted\nconfigmap "extra-two" deleted\n');
    assert.equal(await ok(['get', 'cm', '-n', NS2, '-l', 'batch', '-o', 'name']), 'configmap/extra-keep\n');
    assert.equal(await ok(['delete', '-n', NS2, '-f', fixture('extra.yaml'), '--ignore-not-found']), 'configmap "extra-keep" deleted\n');

    // The namespace controller empties the namespace; kubectl waits for it to go.
    assert.equal(await ok(['delete', 'namespace', NS], { timeoutMs: 60_000 }), `namespace "${NS}" deleted\n`);
    const gone = await fails(['get', 'namespace', NS]);
    assert.equal(gone.stderr.trim(), `Error from server (NotFound): namespaces "${NS}" not found`);
    const deploys = await kubectl(['get', 'deployments,configmaps,widgets', '-n', NS]);
    assert.equal(deploys.code, 0, deploys.stderr);
    assert.equal(deploys.stdout, '');
    assert.equal(deploys.stderr.trim(), `No resources found in ${NS} namespace.`);
    // Cluster-scoped objects from the same file are not in the namespace and stay.
    assert.equal(await ok(['get', 'storageclass', 'kubectl-fast', '-o', 'name']), 'storageclass.storage.k8s.io/kubectl-fast\n');
  });

  test('explain and api-resources', async () => {
    const res = await ok(['explain', 'pod.spec.containers.resources']);
    assert.match(res, /^KIND:\s+Pod$/m);
    assert.match(res, /^VERSION:\s+v1$/m);
    assert.match(res, /^FIELD:\s+resources <ResourceRequirements>$/m);
    assert.match(res, /^FIELDS:$/m);
    assert.match(res, /^ {2}limits\t<map\[string\]Quantity>$/m);
    assert.match(res, /^ {2}requests\t<map\[string\]Quantity>$/m);
    const strategy = await ok(['explain', 'deployment.spec.strategy']);
    assert.match(strategy, /^GROUP:\s+apps$/m);
    assert.match(strategy, /^KIND:\s+Deployment$/m);
    assert.match(strategy, /^FIELD:\s+strategy <DeploymentStrategy>$/m);
    assert.match(strategy, /^ {2}rollingUpdate\t<RollingUpdateDeployment>$/m);
    assert.match(strategy, /^ {2}type\t<string>$/m);
    assert.match(strategy, /Recreate, RollingUpdate/);
    const widget = await ok(['explain', 'widgets.spec']);
    assert.match(widget, /^ {2}size\t<integer> -required-$/m);

    const all = await ok(['api-resources']);
    assert.deepEqual(header(all), ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
    assert.deepEqual(row(all, 'deployments'), ['deployments', 'deploy', 'apps/v1', 'true', 'Deployment']);
    assert.deepEqual(row(all, 'namespaces'), ['namespaces', 'ns', 'v1', 'false', 'Namespace']);
    assert.deepEqual(row(all, 'widgets'), ['widgets', 'wg', 'kubectl.cairn.io/v1', 'true', 'Widget']);
    assert.deepEqual(row(all, 'customresourcedefinitions'), ['customresourcedefinitions', 'crd,crds', 'apiextensions.k8s.io/v1', 'false', 'CustomResourceDefinition']);
    const apps = await ok(['api-resources', '--api-group=apps']);
    const names = lines(apps).slice(1).map((l) => words(l)[0]);
    assert.ok(names.includes('deployments') && names.includes('statefulsets') && names.includes('daemonsets') && names.includes('replicasets'), apps);
    // Counted from the end: SHORTNAMES is blank for kinds without (controllerrevisions).
    for (const l of lines(apps).slice(1)) assert.equal(words(l).at(-3), 'apps/v1', l);
  });

  test('create --dry-run=server', async () => {
    assert.equal(await ok(['create', '--dry-run=server', '-n', NS2, '-f', fixture('dry-run.yaml')]), 'configmap/dry created (server dry run)\n');
    const obj = JSON.parse(await ok(['create', '--dry-run=server', '-n', NS2, '-f', fixture('dry-run.yaml'), '-o', 'json']));
    assert.equal(obj.metadata.namespace, NS2);
    assert.ok(obj.metadata.uid && obj.metadata.creationTimestamp);
    const r = await fails(['get', 'configmap', 'dry', '-n', NS2]);
    assert.equal(r.stderr.trim(), 'Error from server (NotFound): configmaps "dry" not found');
    // A dry run still conflicts with what exists.
    await ok(['create', '-n', NS2, '-f', fixture('dry-run.yaml')]);
    const dup = await fails(['create', '--dry-run=server', '-n', NS2, '-f', fixture('dry-run.yaml')]);
    assert.match(dup.stderr, /^Error from server \(AlreadyExists\): error when creating ".*dry-run\.yaml": configmaps "dry" already exists$/m);
  });

  test('errors as users see them', async () => {
    const bad = await fails(['apply', '-n', NS2, '-f', fixture('bad-deployment.yaml')]);
    assert.match(bad.stderr, /^The Deployment "bad" is invalid: spec\.template\.spec\.containers\[0\]\.image: Required value$/m);
    assert.equal((await fails(['get', 'deployment', 'bad', '-n', NS2])).stderr.trim(), 'Error from server (NotFound): deployments.apps "bad" not found');

    const nope = await fails(['get', 'nope']);
    assert.equal(nope.stderr.trim(), 'error: the server doesn\'t have a resource type "nope"');
    const missing = await fails(['get', 'configmap', 'missing', '-n', NS2]);
    assert.equal(missing.stderr.trim(), 'Error from server (NotFound): configmaps "missing" not found');
    // kubectl looks the namespace up after a NotFound and reports that instead.
    const inMissingNs = await fails(['get', 'configmap', 'missing', '-n', 'no-such-ns']);
    assert.equal(inMissingNs.stderr.trim(), 'Error from server (NotFound): namespaces "no-such-ns" not found');

    const unknown = await fails(['apply', '-n', NS2, '-f', fixture('unknown-field.yaml')]);
    assert.match(unknown.stderr, /unknown field "dta"/);
    assert.match(unknown.stderr, /^Error from server \(BadRequest\): error when creating ".*unknown-field\.yaml": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dta"$/m);
    // With validation off the field is dropped and the object created.
    assert.equal(await ok(['apply', '--validate=false', '-n', NS2, '-f', fixture('unknown-field.yaml')]), 'configmap/typo created\n');
    assert.equal(await jsonpath(['cm', 'typo', '-n', NS2], '{.data}'), '{"a":"b"}');

    const noNs = await fails(['apply', '-n', 'no-such-ns', '-f', fixture('dry-run.yaml')]);
    assert.match(noNs.stderr, /^Error from server \(NotFound\): error when creating ".*dry-run\.yaml": namespaces "no-such-ns" not found$/m);
    const noNsCreate = await fails(['create', 'configmap', 'x', '-n', 'no-such-ns', '--from-literal=a=b']);
    assert.match(noNsCreate.stderr, /namespaces "no-such-ns" not found/);
    const list = await kubectl(['get', 'configmaps', '-n', 'no-such-ns']);
    assert.equal(list.code, 0);
    assert.equal(list.stderr.trim(), 'No resources found in no-such-ns namespace.');
  });
});
