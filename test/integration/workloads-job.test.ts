/**
 * Job controller against the real server with simulated nodes running the pods to completion
 * (sim.cairn.io/exit-after / exit-code): completions and parallelism, the job-tracking finalizer,
 * backoffLimit with backoff between retries, activeDeadlineSeconds, Indexed completion,
 * suspend/resume, ttlSecondsAfterFinished, status, conditions and events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isNotFound, type Client } from '../../src/client/index.js';
import { COMPLETION_INDEX, JOB_TRACKING_FINALIZER, type JobStatus } from '../../src/controllers/job.js';
import { JOBS, PODS } from '../../src/controllers/util/workload-refs.js';
import type { KubeObject } from '../../src/util/object.js';
import { addNodes, container, listIn, namespace, startWorkloadCluster, waitForEvent, type WorkloadCluster } from '../support/workload-cluster.js';
import { until } from '../support/workloads.js';

function job(name: string, spec: Record<string, unknown>, sim: { exitAfter?: string; exitCode?: number } = { exitAfter: '200ms', exitCode: 0 }, restartPolicy = 'Never'): KubeObject {
  const annotations: Record<string, string> = {};
  if (sim.exitAfter) annotations['sim.cairn.io/exit-after'] = sim.exitAfter;
  if (sim.exitCode !== undefined) annotations['sim.cairn.io/exit-code'] = String(sim.exitCode);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: { template: { metadata: { annotations }, spec: { containers: [container('work')], restartPolicy, terminationGracePeriodSeconds: 1 } }, ...spec },
  };
}

const getJob = (client: Client, ns: string, name: string) => client.resource(JOBS).get(name, ns);
const statusOf = (j: KubeObject) => (j.status ?? {}) as JobStatus;
const cond = (j: KubeObject, type: string) => statusOf(j).conditions?.find((c) => c.type === type && c.status === 'True');
const jobPods = async (client: Client, ns: string, name: string) => listIn(client, PODS, ns, `batch.kubernetes.io/job-name=${name}`);
const phase = (p: KubeObject) => (p.status as { phase?: string } | undefined)?.phase;

async function finished(client: Client, ns: string, name: string, type: 'Complete' | 'Failed', ms = 30_000): Promise<KubeObject> {
  let last: KubeObject | undefined;
  await until(`job ${name} ${type}`, async () => {
    last = await getJob(client, ns, name);
    return !!cond(last, type);
  }, ms, 50).catch((e) => {
    throw new Error(`${(e as Error).message}; last status ${JSON.stringify(last?.status)}`);
  });
  return last!;
}

describe('Job controller', { timeout: 120_000 }, () => {
  let c: WorkloadCluster;
  before(async () => {
    c = await startWorkloadCluster({ podStartDelayMs: 100 });
    await addNodes(c, 3);
  });
  after(async () => c?.stop());

  it('runs completions with at most parallelism pods at a time, tracking them with the finalizer', async () => {
    const ns = await namespace(c, 'job-basic');
    let maxActive = 0;
    let sawFinalizer = false;
    let stop = false;
    const watcher = (async () => {
      while (!stop) {
        const pods = await jobPods(c.client, ns, 'pi');
        maxActive = Math.max(maxActive, pods.filter((p) => phase(p) !== 'Succeeded' && phase(p) !== 'Failed' && !p.metadata.deletionTimestamp).length);
        sawFinalizer ||= pods.some((p) => p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await c.client.resource(JOBS).create(job('pi', { completions: 5, parallelism: 2 }), { namespace: ns });
    const j = await finished(c.client, ns, 'pi', 'Complete');
    stop = true;
    await watcher;
    assert.ok(maxActive <= 2, `at most 2 active (saw ${maxActive})`);
    assert.ok(sawFinalizer, 'running pods carry the job-tracking finalizer');
    const st = statusOf(j);
    assert.equal(st.succeeded, 5);
    assert.equal(st.failed ?? 0, 0);
    assert.equal(st.active ?? 0, 0);
    assert.ok(st.startTime && st.completionTime);
    assert.equal(cond(j, 'SuccessCriteriaMet')?.reason, 'CompletionsReached');
    assert.equal(cond(j, 'Complete')?.reason, 'CompletionsReached');
    assert.equal(cond(j, 'Complete')?.message, 'Reached expected number of succeeded pods');
    assert.deepEqual(st.uncountedTerminatedPods ?? {}, {});
    const pods = await jobPods(c.client, ns, 'pi');
    assert.equal(pods.filter((p) => phase(p) === 'Succeeded').length, 5);
    assert.ok(pods.every((p) => !p.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)), 'finalizers removed once counted');
    assert.ok(pods.every((p) => p.metadata.ownerReferences?.[0]?.kind === 'Job' && p.metadata.labels?.['controller-uid'] === j.metadata.uid));
    await waitForEvent(c.client, ns, 'pi', /^SuccessfulCreate: Created pod: pi-/);
    await waitForEvent(c.client, ns, 'pi', 'Completed: Job completed');
  });

  it('fails after backoffLimit failed pods, with a growing delay between retries', async () => {
    const ns = await namespace(c, 'job-backoff');
    let firstFailedAt = 0;
    let secondSeenAt = 0;
    let stop = false;
    const watcher = (async () => {
      while (!stop) {
        const pods = await jobPods(c.client, ns, 'flaky');
        if (!firstFailedAt && pods.some((p) => phase(p) === 'Failed')) firstFailedAt = Date.now();
        if (!secondSeenAt && pods.length >= 2) secondSeenAt = Date.now();
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await c.client.resource(JOBS).create(job('flaky', { backoffLimit: 1 }, { exitAfter: '100ms', exitCode: 3 }), { namespace: ns });
    const j = await finished(c.client, ns, 'flaky', 'Failed');
    stop = true;
    await watcher;
    assert.ok(secondSeenAt - firstFailedAt >= 800, `the retry waited for the backoff (${secondSeenAt - firstFailedAt} ms)`);
    const st = statusOf(j);
    assert.equal(st.failed, 2);
    assert.equal(st.succeeded ?? 0, 0);
    assert.equal(cond(j, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(cond(j, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(cond(j, 'Failed')?.message, 'Job has reached the specified backoff limit');
    assert.equal(st.completionTime, undefined);
    const pods = (await jobPods(c.client, ns, 'flaky')).sort((a, b) => (a.metadata.creationTimestamp! < b.metadata.creationTimestamp! ? -1 : 1));
    assert.equal(pods.length, 2);
    assert.ok(pods.every((p) => phase(p) === 'Failed'));
    await waitForEvent(c.client, ns, 'flaky', 'BackoffLimitExceeded: Job has reached the specified backoff limit');
  });

  it('fails with DeadlineExceeded after activeDeadlineSeconds, deleting the running pods', async () => {
    const ns = await namespace(c, 'job-deadline');
    await c.client.resource(JOBS).create(job('slow', { activeDeadlineSeconds: 1, parallelism: 2, completions: 2 }, {}), { namespace: ns });
    const j = await finished(c.client, ns, 'slow', 'Failed', 15_000);
    assert.equal(cond(j, 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(cond(j, 'Failed')?.message, 'Job was active longer than specified deadline');
    const started = Date.parse(statusOf(j).startTime!);
    assert.ok(Date.parse(cond(j, 'FailureTarget')!.lastTransitionTime!) - started >= 1000);
    await until('pods gone', async () => (await jobPods(c.client, ns, 'slow')).every((p) => p.metadata.deletionTimestamp) || (await jobPods(c.client, ns, 'slow')).length === 0);
    await waitForEvent(c.client, ns, 'slow', 'DeadlineExceeded: Job was active longer than specified deadline');
  });

  it('Indexed: one success per index, index in annotation, label, env and hostname; completedIndexes', async () => {
    const ns = await namespace(c, 'job-indexed');
    await c.client.resource(JOBS).create(job('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' }), { namespace: ns });
    const j = await finished(c.client, ns, 'idx', 'Complete');
    assert.equal(statusOf(j).completedIndexes, '0-2');
    assert.equal(statusOf(j).succeeded, 3);
    const pods = await jobPods(c.client, ns, 'idx');
    assert.deepEqual(pods.map((p) => p.metadata.annotations?.[COMPLETION_INDEX]).sort(), ['0', '1', '2']);
    for (const p of pods) {
      const i = p.metadata.annotations![COMPLETION_INDEX];
      assert.equal(p.metadata.labels?.[COMPLETION_INDEX], i);
      assert.ok(p.metadata.name!.startsWith(`idx-${i}-`));
      const spec = p.spec as { hostname?: string; containers: { env?: { name: string }[] }[] };
      assert.equal(spec.hostname, `idx-${i}`);
      assert.ok(spec.containers[0].env?.some((e) => e.name === 'JOB_COMPLETION_INDEX'));
    }
  });

  it('suspend: no pods while suspended; resume starts them (and resets startTime); suspending again deletes them', async () => {
    const ns = await namespace(c, 'job-suspend');
    await c.client.resource(JOBS).create(job('sus', { suspend: true, parallelism: 2, completions: 2 }, {}), { namespace: ns });
    await until('Suspended condition', async () => !!cond(await getJob(c.client, ns, 'sus'), 'Suspended'));
    let j = await getJob(c.client, ns, 'sus');
    assert.equal(cond(j, 'Suspended')?.reason, 'JobSuspended');
    assert.equal(statusOf(j).startTime, undefined);
    assert.equal((await jobPods(c.client, ns, 'sus')).length, 0);
    await c.client.resource(JOBS).patch('sus', { spec: { suspend: false } }, 'merge', { namespace: ns });
    await until('2 pods running', async () => (await jobPods(c.client, ns, 'sus')).filter((p) => phase(p) === 'Running').length === 2);
    j = await getJob(c.client, ns, 'sus');
    assert.ok(statusOf(j).startTime);
    assert.equal(statusOf(j).conditions?.find((x) => x.type === 'Suspended')?.status, 'False');
    await waitForEvent(c.client, ns, 'sus', 'Resumed: Job resumed');
    await c.client.resource(JOBS).patch('sus', { spec: { suspend: true } }, 'merge', { namespace: ns });
    await until('pods deleted on suspend', async () => (await jobPods(c.client, ns, 'sus')).length === 0);
    j = await getJob(c.client, ns, 'sus');
    assert.equal(statusOf(j).failed ?? 0, 0, 'pods deleted by suspension are not failures');
    await waitForEvent(c.client, ns, 'sus', 'Suspended: Job suspended');
  });

  it('ttlSecondsAfterFinished deletes the finished Job, and its pods go with it', async () => {
    const ns = await namespace(c, 'job-ttl');
    await c.client.resource(JOBS).create(job('brief', { ttlSecondsAfterFinished: 1 }), { namespace: ns });
    const j = await finished(c.client, ns, 'brief', 'Complete');
    const done = Date.parse(statusOf(j).completionTime!);
    await until('job deleted', async () => {
      try {
        await getJob(c.client, ns, 'brief');
        return false;
      } catch (e) {
        if (isNotFound(e)) return true;
        throw e;
      }
    }, 15_000);
    assert.ok(Date.now() - done >= 1000);
    await until('pods collected', async () => (await jobPods(c.client, ns, 'brief')).length === 0, 15_000);
  });
});
