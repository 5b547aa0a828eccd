/**
 * NetworkPolicy end to end, in the manner of upstream's e2e netpol suite: a two-node `cairn up`
 * cluster, namespaces x, y, z (unique names per run, labelled ns=x|y|z) with pods a, b, c in each
 * (labelled pod=a|b|c, spread over both nodes) serving TCP and UDP on ports 80 and 81. For each
 * policy case every (from, to) pair is probed over TCP/80, TCP/81, UDP/80 and UDP/81 (324 probes,
 * each source pod probing all targets at once from its own network namespace) and the 9×9
 * tables are compared with the expected ones, written by hand per case; on a mismatch the table
 * is probed again for up to PROPAGATION_MS (the enforcer applies changes within a second), then
 * expected, observed and their comparison are printed. Policies are created, changed and deleted
 * with the real kubectl, and so are the pod and namespace labels the cases change.
 *
 * Then what a table does not show: a pod created after its policy, Service traffic (policies
 * see the endpoint after the DNAT), kubelet readiness probes passing a default deny, DNS
 * blocked by a default-deny egress like any other traffic.
 *
 * Fails (never skips) without root, the network tools, kubectl or gcc; the cluster is removed
 * at the end even after a failure.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Pod } from '../../src/agent/pods/api-types.js';
import { Nft } from '../../src/net/nft.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { buildNetprobe } from '../support/netpol-netprobe.js';
import { type ProbePod, podNamespacesByIP, probeAll, probeFrom } from '../support/netpol-prober.js';
import { PROBES, Reachability, compare } from '../support/netpol-truth-table.js';
import { until } from '../support/until.js';

/** A probe that gets no answer in this long counts as blocked. */
const PROBE_TIMEOUT_MS = 1200;
/** How long a table may take to match after a change (the goal is one second; probing takes one more). */
const PROPAGATION_MS = 3000;
const SHORT = ['x', 'y', 'z'] as const;
type Short = (typeof SHORT)[number];
const POD_NAMES = ['a', 'b', 'c'];
const TEST_TIMEOUT = 60_000;

let cluster: CairnCluster;
let netprobe: string;
/** Real namespace names by short name. */
const NS = {} as Record<Short, string>;
let pods: ProbePod[] = [];
const REFS = SHORT.flatMap((n) => POD_NAMES.map((p) => `${n}/${p}`));
/** How many probe rounds each case needed, for the summary. */
const rounds: { name: string; rounds: number; ms: number }[] = [];

const ipOf = (ref: string) => pods.find((p) => p.ref === ref)!.ip;

function probePod(ns: Short, name: string, node: string, labels: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS[ns], labels },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'netprobe',
          image: cluster.busybox,
          command: ['/probe/netprobe', 'serve', '80,81', '80,81'],
          ports: [
            { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' },
            { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' },
            { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' },
            { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' },
          ],
          // The kubelet's probes come from the node, which policies always let through.
          readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1, failureThreshold: 2 },
          volumeMounts: [{ name: 'probe', mountPath: '/probe', readOnly: true }],
        },
      ],
      volumes: [{ name: 'probe', hostPath: { path: join(cluster.dir, 'netprobe'), type: 'Directory' } }],
    },
  } as Pod;
}

async function apply(...objs: object[]): Promise<void> {
  await cluster.ok(['apply', '-f', '-'], { input: objs.map((o) => JSON.stringify(o)).join('\n') });
}

function policy(ns: Short, name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: NS[ns] }, spec };
}

const nsSel = (short: Short) => ({ namespaceSelector: { matchLabels: { ns: short } } });
const podSel = (p: string) => ({ podSelector: { matchLabels: { pod: p } } });
const DENY_INGRESS = { podSelector: {}, policyTypes: ['Ingress'] };
const DENY_EGRESS = { podSelector: {}, policyTypes: ['Egress'] };

/** Probes until the tables match (for at most PROPAGATION_MS after the change), else fails printing them. */
async function expectTable(name: string, expected: Reachability, windowMs = PROPAGATION_MS): Promise<void> {
  const start = Date.now();
  for (let round = 1; ; round++) {
    const observed = await probeAll(netprobe, pods, PROBE_TIMEOUT_MS);
    const c = compare(expected, observed);
    if (!c.wrong) {
      rounds.push({ name, rounds: round, ms: Date.now() - start });
      return;
    }
    if (Date.now() - start > windowMs) {
      assert.fail(`${name}: ${c.wrong} of ${REFS.length ** 2 * PROBES.length} cells differ after ${round} rounds in ${Date.now() - start} ms\n${c.report}`);
    }
  }
}

const all = (allowed: boolean) => new Reachability(REFS, allowed);

/** Each case starts from no policies and the original labels. */
async function reset(): Promise<void> {
  await cluster.ok(['delete', 'networkpolicy', '--all', '--all-namespaces', '--wait=false']);
}

/** One case: these policies, then this table. */
async function policyCase(name: string, policies: object[], expected: Reachability): Promise<void> {
  await reset();
  if (policies.length) await apply(...policies);
  await expectTable(name, expected);
}

describe('NetworkPolicy truth tables', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'netpol' });
    await mkdir(join(cluster.dir, 'netprobe'), { recursive: true });
    netprobe = await buildNetprobe(join(cluster.dir, 'netprobe'));
    const nodes = (await cluster.ok(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/).sort();
    assert.equal(nodes.length, 2, `two nodes expected, got ${nodes.join(' ')}`);
    for (const s of SHORT) {
      NS[s] = `${s}-${cluster.name}`;
      await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS[s], labels: { ns: s } } });
    }
    // Spread so that every namespace has pods on both nodes: same-node and cross-node pairs.
    await apply(...REFS.map((ref, i) => {
      const [ns, name] = ref.split('/') as [Short, string];
      return probePod(ns, name, nodes[i % nodes.length]!, { pod: name });
    }));
    const ready = await until(
      'the nine probe pods running with an address',
      async () => {
        const list = await Promise.all(SHORT.map((s) => cluster.json<{ items: Pod[] }>(['get', 'pods', '-n', NS[s]])));
        const items = list.flatMap((l) => l.items);
        const ok = items.filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ok.length === REFS.length && items;
      },
      180_000,
      1000,
    );
    const byIP = await podNamespacesByIP(`cairn-${cluster.name}-pod-`);
    pods = ready.map((p) => {
      const short = SHORT.find((s) => NS[s] === p.metadata.namespace)!;
      const netns = byIP.get(p.status!.podIP!);
      assert.ok(netns, `no network namespace holds ${p.status!.podIP} (pod ${p.metadata.namespace}/${p.metadata.name})`);
      return { ref: `${short}/${p.metadata.name}`, ip: p.status!.podIP!, netns };
    });
    pods.sort((a, b) => REFS.indexOf(a.ref) - REFS.indexOf(b.ref));
  });

  after(async () => {
    if (rounds.length) console.log(`probe rounds per table (1 = matched at once):\n${rounds.map((r) => `  ${r.rounds} (${r.ms} ms)  ${r.name}`).join('\n')}`);
    await cluster?.down();
  });

  it('kubectl is refused policies with invalid CIDRs, an except outside its cidr, a bad endPort', { timeout: TEST_TIMEOUT }, async () => {
    const bad = [
      [{ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] }, /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: Invalid value: "10\.0\.0\.0\/33": must be a valid CIDR value/],
      [{ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] }, /spec\.egress\[0\]\.to\[0\]\.ipBlock\.except\[0\]: Invalid value: "10\.1\.0\.0\/24": must be a strict subset of `cidr`/],
      [{ ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }, /spec\.ingress\[0\]\.ports\[0\]\.endPort: Invalid value: 80: must be greater than or equal to `port`/],
      [{ ingress: [{ ports: [{ port: 'http', endPort: 80 }] }] }, /spec\.ingress\[0\]\.ports\[0\]\.endPort: Invalid value: 80: may not be specified when `port` is non-numeric/],
    ] as const;
    for (const [spec, message] of bad) {
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(policy('x', 'bad', { podSelector: {}, ...spec })) });
      assert.notEqual(r.code, 0, `accepted: ${JSON.stringify(spec)}`);
      assert.match(r.stderr, message);
    }
  });

  it('without policies every pod reaches every pod', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('no policies', [], all(true));
  });

  it('default deny ingress in x', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('deny ingress x', [policy('x', 'deny-ingress', DENY_INGRESS)], all(true).expect('*', 'x/*', false));
  });

  it('default deny egress in x', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('deny egress x', [policy('x', 'deny-egress', DENY_EGRESS)], all(true).expect('x/*', '*', false));
  });

  it('default deny all in x, and the kubelet still reaches its pods (readiness)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('deny all x', [policy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })], all(true).expect('*', 'x/*', false).expect('x/*', '*', false));
    // Two failed readiness probes a second apart would make a pod unready; give them four.
    await new Promise((r) => setTimeout(r, 4000));
    const x = await cluster.json<{ items: Pod[] }>(['get', 'pods', '-n', NS.x]);
    for (const p of x.items) {
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'True', `${p.metadata.name} became unready under a default deny: ${JSON.stringify(p.status?.conditions)}`);
    }
  });

  it('allow all ingress unions with a default deny', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('deny + allow all x', [policy('x', 'deny-ingress', DENY_INGRESS), policy('x', 'allow-all', { podSelector: {}, ingress: [{}] })], all(true));
  });

  it('allow ingress to x/a from namespace y', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a from ns y', [policy('x', 'from-y', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')] }] })], all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true));
  });

  it('allow ingress to x/a from pods b of its namespace', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a from x/b', [policy('x', 'from-b', { podSelector: podSel('a').podSelector, ingress: [{ from: [podSel('b')] }] })], all(true).expect('*', 'x/a', false).expect('x/b', 'x/a', true));
  });

  it('allow ingress from pod b in namespace y: both selectors in one peer (AND)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a from y/b (AND)', [policy('x', 'from-yb', { podSelector: podSel('a').podSelector, ingress: [{ from: [{ ...nsSel('y'), ...podSel('b') }] }] })], all(true).expect('*', 'x/a', false).expect('y/b', 'x/a', true));
  });

  it('allow ingress from namespace y or pods b (OR of peers)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a from ns y or x/b (OR)',
      [policy('x', 'from-y-or-b', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y'), podSel('b')] }] })],
      all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true).expect('x/b', 'x/a', true),
    );
  });

  it('namespaceSelector with matchExpressions NotIn', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a from ns NotIn [x]',
      [policy('x', 'not-x', { podSelector: podSel('a').podSelector, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] } }] }] })],
      all(true).expect('x/*', 'x/a', false),
    );
  });

  it('podSelector In [b, c] in every namespace (empty namespaceSelector)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/* from */b, */c',
      [policy('x', 'bc-anywhere', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] } }] }] })],
      all(true).expect('*', 'x/*', false).expect('*/b', 'x/*', true).expect('*/c', 'x/*', true),
    );
  });

  it('allow ingress from the same namespace only (empty podSelector peer)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/* from x/*', [policy('x', 'same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })], all(true).expect('*', 'x/*', false).expect('x/*', 'x/*', true));
  });

  it('ports: TCP 81 only', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a on TCP 81', [policy('x', 'tcp-81', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ port: 81 }] }] })], all(true).expect('*', 'x/a', false).expect('*', 'x/a', true, { proto: 'tcp', port: 81 }));
  });

  it('named port serve-80-tcp, resolved against the destination pod', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a on named serve-80-tcp', [policy('x', 'named-80', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }] })], all(true).expect('*', 'x/a', false).expect('*', 'x/a', true, { proto: 'tcp', port: 80 }));
  });

  it('named UDP port serve-81-udp', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a on named serve-81-udp',
      [policy('x', 'named-81-udp', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ protocol: 'UDP', port: 'serve-81-udp' }] }] })],
      all(true).expect('*', 'x/a', false).expect('*', 'x/a', true, { proto: 'udp', port: 81 }),
    );
  });

  it('a named port with the wrong protocol matches nothing', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a on serve-80-tcp as UDP', [policy('x', 'named-wrong', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ protocol: 'UDP', port: 'serve-80-tcp' }] }] })], all(true).expect('*', 'x/a', false));
  });

  it('endPort: TCP 78-80', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a on TCP 78-80', [policy('x', 'range', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ port: 78, endPort: 80 }] }] })], all(true).expect('*', 'x/a', false).expect('*', 'x/a', true, { proto: 'tcp', port: 80 }));
  });

  it('endPort: UDP 80-81', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a on UDP 80-81', [policy('x', 'udp-range', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ protocol: 'UDP', port: 80, endPort: 81 }] }] })], all(true).expect('*', 'x/a', false).expect('*', 'x/a', true, { proto: 'udp' }));
  });

  it('UDP only (a protocol without a port)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/a on UDP', [policy('x', 'udp-only', { podSelector: podSel('a').podSelector, ingress: [{ ports: [{ protocol: 'UDP' }] }] })], all(true).expect('*', 'x/a', false).expect('*', 'x/a', true, { proto: 'udp' }));
  });

  it('peers and ports together: from namespace y on TCP 80', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a from ns y on TCP 80',
      [policy('x', 'y-80', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')], ports: [{ protocol: 'TCP', port: 80 }] }] })],
      all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true, { proto: 'tcp', port: 80 }),
    );
  });

  it('two policies on one pod: their union', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a: y on TCP 80 + z on TCP 81',
      [
        policy('x', 'y-80', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')], ports: [{ port: 80 }] }] }),
        policy('x', 'z-81', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('z')], ports: [{ port: 81 }] }] }),
      ],
      all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true, { proto: 'tcp', port: 80 }).expect('z/*', 'x/a', true, { proto: 'tcp', port: 81 }),
    );
  });

  it('ingress from an ipBlock with except (pod addresses count)', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a from cluster CIDR except y/b, z/c',
      [policy('x', 'block', { podSelector: podSel('a').podSelector, ingress: [{ from: [{ ipBlock: { cidr: cluster.clusterCidr, except: [`${ipOf('y/b')}/32`, `${ipOf('z/c')}/32`] } }] }] })],
      all(true).expect('y/b', 'x/a', false).expect('z/c', 'x/a', false),
    );
  });

  it('egress to an ipBlock with except', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a to cluster CIDR except y/b',
      [policy('x', 'egress-block', { podSelector: podSel('a').podSelector, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: cluster.clusterCidr, except: [`${ipOf('y/b')}/32`] } }] }] })],
      all(true).expect('x/a', 'y/b', false),
    );
  });

  it('egress to one pod by its /32', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a to z/c only',
      [policy('x', 'egress-one', { podSelector: podSel('a').podSelector, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${ipOf('z/c')}/32` } }] }] })],
      all(true).expect('x/a', '*', false).expect('x/a', 'z/c', true),
    );
  });

  it('egress to namespace y on UDP 80', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/* to ns y on UDP 80',
      [policy('x', 'egress-y-udp', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [nsSel('y')], ports: [{ protocol: 'UDP', port: 80 }] }] })],
      all(true).expect('x/*', '*', false).expect('x/*', 'y/*', true, { proto: 'udp', port: 80 }),
    );
  });

  it('egress on a named port, resolved against the destination pods', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'x/a to named serve-81-tcp',
      [policy('x', 'egress-named', { podSelector: podSel('a').podSelector, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-81-tcp' }] }] })],
      all(true).expect('x/a', '*', false).expect('x/a', '*', true, { proto: 'tcp', port: 81 }),
    );
  });

  it('egress within the namespace only', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('x/* to x/*', [policy('x', 'egress-same-ns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: {} }] }] })], all(true).expect('x/*', '*', false).expect('x/*', 'x/*', true));
  });

  it('egress deny at the client beats an ingress allow at the server', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'y deny egress, x allow all ingress',
      [policy('y', 'deny-egress', DENY_EGRESS), policy('x', 'allow-all', { podSelector: {}, ingress: [{}] })],
      all(true).expect('y/*', '*', false),
    );
  });

  it('ingress and egress isolation on the same pods', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase(
      'y: ingress from x, egress to z',
      [policy('y', 'in-x-out-z', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [nsSel('x')] }], egress: [{ to: [nsSel('z')] }] })],
      all(true).expect('*', 'y/*', false).expect('x/*', 'y/*', true).expect('y/*', '*', false).expect('y/*', 'z/*', true),
    );
  });

  it('policy update: the allowed namespace changes from y to z', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('update: before', [policy('x', 'from-ns', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')] }] })], all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true));
    await apply(policy('x', 'from-ns', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('z')] }] }));
    await expectTable('update: after', all(true).expect('*', 'x/a', false).expect('z/*', 'x/a', true));
  });

  it('policy delete: back to everything open', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('delete: before', [policy('x', 'deny-ingress', DENY_INGRESS)], all(true).expect('*', 'x/*', false));
    await cluster.ok(['delete', 'networkpolicy', 'deny-ingress', '-n', NS.x]);
    await expectTable('delete: after', all(true));
  });

  it('a policy change reaches the data path within a second, same node and across nodes', { timeout: TEST_TIMEOUT }, async () => {
    await reset();
    await expectTable('latency: baseline', all(true));
    const xa = pods.find((p) => p.ref === 'x/a')!;
    const node = async (ref: string) => (await cluster.ok(['get', 'pod', ref.split('/')[1]!, '-n', NS[ref.split('/')[0] as Short], '-o', 'jsonpath={.spec.nodeName}'])).trim();
    const xaNode = await node('x/a');
    const sources: ProbePod[] = [];
    for (const p of pods) if (p.ref !== 'x/a' && sources.length < 2 && (sources.length === 0 ? (await node(p.ref)) === xaNode : (await node(p.ref)) !== xaNode)) sources.push(p);
    assert.equal(sources.length, 2, 'a source on the node of x/a and one on the other node');
    /** Upper bound of the time from running kubectl (its own start-up included) to the first probe seeing the change. */
    const latency = async (from: ProbePod, want: boolean, since: number) => {
      for (;;) {
        const t = Date.now();
        const ok = (await probeFrom(netprobe, from, [xa], [{ proto: 'tcp', port: 80 }], 150)).get(`tcp:${xa.ip}:80`) === 'ok';
        if (ok === want) return t - since;
        if (t - since > 5000) assert.fail(`${from.ref} -> x/a still ${ok ? 'open' : 'blocked'} 5 s after the change`);
      }
    };
    let since = Date.now();
    await apply(policy('x', 'deny-a', { podSelector: podSel('a').podSelector, policyTypes: ['Ingress'] }));
    const deny = await Promise.all(sources.map((s) => latency(s, false, since)));
    since = Date.now();
    await cluster.ok(['delete', 'networkpolicy', 'deny-a', '-n', NS.x]);
    const allow = await Promise.all(sources.map((s) => latency(s, true, since)));
    console.log(`policy change to data path (ms, same node / across nodes): deny ${deny.join(' / ')}, allow ${allow.join(' / ')}`);
    for (const ms of [...deny, ...allow]) assert.ok(ms < 1000, `a change took ${ms} ms to reach the data path`);
  });

  it('pod label change: a peer gains the allowed label, then loses it', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('peer label: before', [policy('x', 'from-b', { podSelector: podSel('a').podSelector, ingress: [{ from: [podSel('b')] }] })], all(true).expect('*', 'x/a', false).expect('x/b', 'x/a', true));
    try {
      await cluster.ok(['label', 'pod', 'c', '-n', NS.x, 'pod=b', '--overwrite']);
      await expectTable('peer label: x/c labelled pod=b', all(true).expect('*', 'x/a', false).expect('x/b', 'x/a', true).expect('x/c', 'x/a', true));
    } finally {
      await cluster.ok(['label', 'pod', 'c', '-n', NS.x, 'pod=c', '--overwrite']);
    }
    await expectTable('peer label: restored', all(true).expect('*', 'x/a', false).expect('x/b', 'x/a', true));
  });

  it('pod label change: a pod moves into a policy selection and out again', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('target label: before', [policy('x', 'deny-a', { podSelector: podSel('a').podSelector, policyTypes: ['Ingress'] })], all(true).expect('*', 'x/a', false));
    try {
      await cluster.ok(['label', 'pod', 'b', '-n', NS.x, 'pod=a', '--overwrite']);
      await expectTable('target label: x/b labelled pod=a', all(true).expect('*', 'x/a', false).expect('*', 'x/b', false));
    } finally {
      await cluster.ok(['label', 'pod', 'b', '-n', NS.x, 'pod=b', '--overwrite']);
    }
    await expectTable('target label: restored', all(true).expect('*', 'x/a', false));
  });

  it('namespace label change: z is labelled ns=y', { timeout: TEST_TIMEOUT }, async () => {
    await policyCase('ns label: before', [policy('x', 'from-y', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')] }] })], all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true));
    try {
      await cluster.ok(['label', 'namespace', NS.z, 'ns=y', '--overwrite']);
      await expectTable('ns label: z labelled ns=y', all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true).expect('z/*', 'x/a', true));
    } finally {
      await cluster.ok(['label', 'namespace', NS.z, 'ns=z', '--overwrite']);
    }
    await expectTable('ns label: restored', all(true).expect('*', 'x/a', false).expect('y/*', 'x/a', true));
  });

  it('a pod created after the policy is isolated and allowed by it as soon as it runs', { timeout: 120_000 }, async () => {
    await reset();
    await apply(
      policy('x', 'deny-d', { podSelector: podSel('d').podSelector, policyTypes: ['Ingress', 'Egress'], egress: [{ to: [podSel('a')] }] }),
      policy('x', 'a-from-d', { podSelector: podSel('a').podSelector, ingress: [{ from: [podSel('d')] }] }),
    );
    const nodes = (await cluster.ok(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/).sort();
    // On the node that does not hold x/a, so both nodes' rules are involved.
    const xaNode = (await cluster.ok(['get', 'pod', 'a', '-n', NS.x, '-o', 'jsonpath={.spec.nodeName}'])).trim();
    await apply(probePod('x', 'd', nodes.find((n) => n !== xaNode)!, { pod: 'd' }));
    const d = await until(
      'x/d running',
      async () => {
        const p = await cluster.json<Pod>(['get', 'pod', 'd', '-n', NS.x]);
        return p.status?.phase === 'Running' && p.status.podIP ? p : undefined;
      },
      90_000,
      500,
    );
    const netns = (await podNamespacesByIP(`cairn-${cluster.name}-pod-`)).get(d.status!.podIP!);
    assert.ok(netns, `no network namespace for x/d ${d.status!.podIP}`);
    const xd: ProbePod = { ref: 'x/d', ip: d.status!.podIP!, netns };
    const targets = pods.filter((p) => ['x/a', 'x/b', 'y/a'].includes(p.ref));
    const want = (from: string, to: string) => (from === 'x/d' ? to === 'x/a' : to === 'x/a' ? false : to !== 'x/d');
    await until(
      'x/d to reach only x/a, and only x/d to reach x/a',
      async () => {
        const out = await probeFrom(netprobe, xd, targets, [{ proto: 'tcp', port: 80 }], PROBE_TIMEOUT_MS);
        const back = await Promise.all(pods.filter((p) => ['x/b', 'y/a'].includes(p.ref)).map(async (p) => [p.ref, await probeFrom(netprobe, p, [...targets, xd], [{ proto: 'tcp', port: 80 }], PROBE_TIMEOUT_MS)] as const));
        const wrong = [
          ...targets.filter((t) => (out.get(`tcp:${t.ip}:80`) === 'ok') !== want('x/d', t.ref)).map((t) => `x/d -> ${t.ref}: ${out.get(`tcp:${t.ip}:80`)}`),
          ...back.flatMap(([from, o]) => [...targets, xd].filter((t) => t.ref !== from && (o.get(`tcp:${t.ip}:80`) === 'ok') !== want(from, t.ref)).map((t) => `${from} -> ${t.ref}: ${o.get(`tcp:${t.ip}:80`)}`)),
        ];
        if (wrong.length) throw new Error(wrong.join(', '));
        return true;
      },
      PROPAGATION_MS + 2 * PROBE_TIMEOUT_MS,
      100,
    );
    await cluster.ok(['delete', 'pod', 'd', '-n', NS.x, '--wait=false']);
  });

  it('Service traffic meets the policy of the endpoint it is sent to (after the DNAT)', { timeout: 120_000 }, async () => {
    await reset();
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc-a', namespace: NS.x },
      spec: { selector: { pod: 'a' }, ports: [{ name: 'http', port: 8080, targetPort: 'serve-80-tcp', protocol: 'TCP' }] },
    });
    const ip = (await cluster.ok(['get', 'service', 'svc-a', '-n', NS.x, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    // Hairpin (x/a through its own Service) is left out: upstream leaves it to the implementation.
    const clients = pods.filter((p) => p.ref !== 'x/a');
    const probeService = async () => {
      const seen = await Promise.all(clients.map(async (p) => [p.ref, (await probeFrom(netprobe, p, [{ ref: 'svc-a', ip }], [{ proto: 'tcp', port: 8080 }], PROBE_TIMEOUT_MS)).get(`tcp:${ip}:8080`)] as const));
      return new Map(seen);
    };
    await until('every pod to reach x/svc-a before any policy', async () => [...(await probeService()).values()].every((o) => o === 'ok'), 60_000, 200);
    await apply(policy('x', 'from-y', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')], ports: [{ port: 80 }] }] }));
    await until(
      'only the pods of y to reach x/svc-a',
      async () => {
        const seen = await probeService();
        const wrong = clients.filter((p) => (seen.get(p.ref) === 'ok') !== p.ref.startsWith('y/'));
        if (wrong.length) throw new Error(wrong.map((p) => `${p.ref}: ${seen.get(p.ref)}`).join(', '));
        return true;
      },
      PROPAGATION_MS + 2 * PROBE_TIMEOUT_MS,
      100,
    );
    await cluster.ok(['delete', 'service', 'svc-a', '-n', NS.x]);
  });

  it('DNS is not special: a default-deny egress blocks it, an egress rule for port 53 lets it through', { timeout: 120_000 }, async () => {
    await reset();
    const lookup = () => cluster.kubectl(['exec', '-n', NS.x, 'a', '--', 'timeout', '3', 'nslookup', 'kubernetes.default.svc.cluster.local'], { timeoutMs: 20_000 });
    const resolves = async () => {
      const r = await lookup();
      return r.code === 0 && /10\.96\.0\.1\b/.test(r.stdout);
    };
    await until('x/a to resolve kubernetes.default through the cluster DNS before any policy', resolves, 60_000, 500);
    await apply(policy('x', 'deny-egress', DENY_EGRESS));
    await until('the lookup to fail under a default-deny egress', async () => !(await resolves()), 15_000, 200);
    await apply(policy('x', 'allow-dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }] }));
    await until('the lookup to work with egress to port 53 allowed', resolves, 15_000, 200);
  });

  it('an agent killed and restarted adopts the rules it left and catches up with what changed meanwhile', { timeout: 240_000 }, async () => {
    await policyCase(
      'restart: before',
      [policy('x', 'deny-ingress', DENY_INGRESS), policy('x', 'from-y', { podSelector: podSel('a').podSelector, ingress: [{ from: [nsSel('y')] }] })],
      all(true).expect('*', 'x/*', false).expect('y/*', 'x/a', true),
    );
    const nodeName = (await cluster.ok(['get', 'pod', 'a', '-n', NS.x, '-o', 'jsonpath={.spec.nodeName}'])).trim();
    const n = nodeName.replace(/^node-/, '');
    const state = JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> };
    const pid = state.agentPids[n]!;
    process.kill(pid, 'SIGKILL');
    await until(`the agent of ${nodeName} to die`, () => !existsSync(`/proc/${pid}`) || /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), 10_000, 100);
    // The kernel keeps enforcing without the agent.
    await expectTable('restart: agent down', all(true).expect('*', 'x/*', false).expect('y/*', 'x/a', true));
    await cluster.ok(['delete', 'networkpolicy', 'from-y', '-n', NS.x]);
    const r = await cluster.cairn('up', '--data-dir', cluster.dir);
    assert.equal(r.code, 0, `cairn up after the kill failed:\n${r.stdout}${r.stderr}`);
    await expectTable('restart: agent back', all(true).expect('*', 'x/*', false), 30_000);
    // The full resync at start replaced what the old agent left: nothing of the deleted policy remains.
    const listing = await new Nft({ netns: `cairn-${cluster.name}-node-${n}` }).list();
    const ours = [...(listing?.chains ?? []), ...(listing?.sets ?? []), ...(listing?.maps ?? [])].map((c) => c.name).filter((c) => c.startsWith('policy-'));
    assert.deepEqual(ours.filter((c) => c.includes('from-y')), [], `stale objects of the deleted policy: ${ours.join(' ')}`);
  });
});
