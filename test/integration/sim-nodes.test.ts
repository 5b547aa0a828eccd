/** Simulated nodes: registration, leases, podCIDRs, the simulated kubelet's pod lifecycle. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isConflict } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { conditionOf, LEASES, NODES, pod, PODS, type SimCluster, startSimCluster, until, waitBound } from '../support/sim-cluster.js';

describe('simulated nodes', () => {
  let c: SimCluster;
  before(async () => {
    c = await startSimCluster({ nodes: 3 });
  });
  after(async () => c?.stop());

  it('registers labelled nodes with capacity, conditions, node info and leases', async () => {
    const nodes = (await c.client.resource(NODES).list({ labelSelector: 'cairn.io/simulated=true' })).items;
    assert.equal(nodes.length, 3);
    const n = nodes[0];
    assert.equal(n.metadata.labels!['kubernetes.io/hostname'], n.metadata.name);
    assert.equal(n.metadata.labels!['kubernetes.io/os'], 'linux');
    const st = n.status as { capacity: Record<string, string>; allocatable: Record<string, string>; nodeInfo: Record<string, string>; addresses: { type: string }[] };
    assert.deepEqual(st.capacity, { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' });
    assert.equal(st.nodeInfo.containerRuntimeVersion, 'simulated://1.0');
    assert.ok(st.addresses.some((a) => a.type === 'InternalIP'));
    assert.equal(conditionOf(n, 'Ready')?.status, 'True');
    const lease = await c.client.resource(LEASES).get(n.metadata.name!, 'kube-node-lease');
    assert.equal((lease.spec as { holderIdentity: string }).holderIdentity, n.metadata.name);
  });

  it('gets a distinct /24 podCIDR per node from 10.244.0.0/16', async () => {
    const cidrs = await until('podCIDRs', async () => {
      const items = (await c.client.resource(NODES).list()).items;
      const cs = items.map((n) => (n.spec as { podCIDR?: string }).podCIDR);
      return cs.every(Boolean) ? cs : undefined;
    });
    assert.equal(new Set(cidrs).size, 3);
    for (const x of cidrs) assert.match(x!, /^10\.244\.\d+\.0\/24$/);
  });

  it('runs a bound pod: Running, IP from the podCIDR, conditions and container statuses', async () => {
    await c.client.resource(PODS).create(pod('web-1'));
    const bound = await waitBound(c.client, 'web-1');
    const running = await until('running', async () => {
      const p = await c.client.resource(PODS).get('web-1', 'default');
      return (p.status as { phase?: string }).phase === 'Running' ? p : undefined;
    });
    const node = await c.client.resource(NODES).get((bound.spec as { nodeName: string }).nodeName);
    const st = running.status as {
      podIP: string;
      hostIP: string;
      startTime: string;
      containerStatuses: { ready: boolean; started: boolean; restartCount: number; containerID: string; imageID: string; state: { running?: unknown } }[];
    };
    const prefix = (node.spec as { podCIDR: string }).podCIDR.split('.').slice(0, 3).join('.') + '.';
    assert.ok(st.podIP.startsWith(prefix), `${st.podIP} in ${prefix}0/24`);
    assert.equal(st.hostIP, (node.status as { addresses: { type: string; address: string }[] }).addresses.find((a) => a.type === 'InternalIP')!.address);
    assert.ok(st.startTime);
    for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) assert.equal(conditionOf(running, t)?.status, 'True', t);
    const cs = st.containerStatuses[0];
    assert.equal(cs.ready, true);
    assert.equal(cs.started, true);
    assert.equal(cs.restartCount, 0);
    assert.ok(cs.state.running);
    assert.match(cs.containerID, /^sim:\/\//);
    assert.ok(cs.imageID);
  });

  it('honours readiness gates', async () => {
    await c.client.resource(PODS).create(pod('gated', { spec: { readinessGates: [{ conditionType: 'example.com/ready' }] } }));
    const p = await until('running', async () => {
      const x = await c.client.resource(PODS).get('gated', 'default');
      return (x.status as { phase?: string }).phase === 'Running' ? x : undefined;
    });
    assert.equal(conditionOf(p, 'ContainersReady')?.status, 'True');
    const ready = conditionOf(p, 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'ReadinessGatesNotReady');
    assert.equal(ready.message, 'corresponding condition of pod readiness gate "example.com/ready" does not exist.');
    // Someone sets the gate's condition: the pod becomes Ready.
    for (;;) {
      const cur = await c.client.resource(PODS).get('gated', 'default');
      const st = structuredClone(cur.status) as { conditions: unknown[] };
      st.conditions.push({ type: 'example.com/ready', status: 'True' });
      try {
        await c.client.resource(PODS).updateStatus({ ...cur, status: st } as KubeObject);
        break;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    await until('ready', async () => conditionOf(await c.client.resource(PODS).get('gated', 'default'), 'Ready')?.status === 'True');
  });

  it('finishes graceful deletion', async () => {
    await c.client.resource(PODS).create(pod('bye'));
    await until('running', async () => ((await c.client.resource(PODS).get('bye', 'default')).status as { phase?: string }).phase === 'Running');
    const r = (await c.client.resource(PODS).delete('bye', { namespace: 'default' })) as KubeObject;
    assert.ok(r.metadata.deletionTimestamp, 'graceful: the pod stays while the kubelet stops it');
    await until('gone', async () => {
      try {
        await c.client.resource(PODS).get('bye', 'default');
        return false;
      } catch {
        return true;
      }
    });
  });

  it('completes run-to-completion pods by annotation', async () => {
    await c.client.resource(PODS).create(pod('ok', { annotations: { 'sim.cairn.io/exit-after': '300ms' }, spec: { restartPolicy: 'Never' } }));
    await c.client.resource(PODS).create(pod('bad', { annotations: { 'sim.cairn.io/exit-after': '300ms', 'sim.cairn.io/exit-code': '3' }, spec: { restartPolicy: 'Never' } }));
    await c.client.resource(PODS).create(pod('retry', { annotations: { 'sim.cairn.io/exit-after': '300ms', 'sim.cairn.io/exit-code': '1' }, spec: { restartPolicy: 'OnFailure' } }));
    const phase = async (n: string) => ((await c.client.resource(PODS).get(n, 'default')).status as { phase?: string }).phase;
    await until('ok succeeded', async () => (await phase('ok')) === 'Succeeded');
    await until('bad failed', async () => (await phase('bad')) === 'Failed');
    const bad = await c.client.resource(PODS).get('bad', 'default');
    const term = (bad.status as { containerStatuses: { state: { terminated: { exitCode: number; reason: string } } }[] }).containerStatuses[0].state.terminated;
    assert.equal(term.exitCode, 3);
    assert.equal(term.reason, 'Error');
    assert.equal(conditionOf(bad, 'Ready')?.reason, 'PodFailed');
    await until('retry restarted', async () => {
      const p = await c.client.resource(PODS).get('retry', 'default');
      return ((p.status as { containerStatuses?: { restartCount: number }[] }).containerStatuses?.[0]?.restartCount ?? 0) >= 1;
    });
    assert.equal(await phase('retry'), 'Running');
  });

  it('stopping a node stops its lease renewals', async () => {
    c.sim.stopNode('sim-0002');
    const leases = c.client.resource(LEASES);
    const t1 = ((await leases.get('sim-0002', 'kube-node-lease')).spec as { renewTime: string }).renewTime;
    c.sim.startNode('sim-0002');
    await until('renewed', async () => ((await leases.get('sim-0002', 'kube-node-lease')).spec as { renewTime: string }).renewTime !== t1);
  });
});
