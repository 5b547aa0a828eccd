/**
 * CronJob controller against the real server. Schedule times are made due by moving
 * status.lastScheduleTime into the past (the controller then sees the most recent missed time),
 * so every rule is checked without waiting for the clock — except one `* * * * *` CronJob that
 * runs at a real minute boundary, alongside the rest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isConflict, type Client } from '../../src/client/index.js';
import { SCHEDULED_TIMESTAMP_ANNOTATION } from '../../src/controllers/cronjob.js';
import { CRONJOBS, JOBS } from '../../src/controllers/util/workload-refs.js';
import type { KubeObject } from '../../src/util/object.js';
import { addNodes, container, eventsFor, listIn, namespace, startWorkloadCluster, waitForEvent, type WorkloadCluster } from '../support/workload-cluster.js';
import { until } from '../support/workloads.js';

interface CjStatus {
  active?: { name?: string; uid?: string }[];
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
}

function cronJob(name: string, spec: Record<string, unknown>, exitAfter: string | undefined = '200ms'): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name },
    spec: {
      jobTemplate: {
        metadata: { labels: { cron: name } },
        spec: {
          template: {
            metadata: { annotations: exitAfter ? { 'sim.cairn.io/exit-after': exitAfter } : {} },
            spec: { containers: [container('tick')], restartPolicy: 'Never', terminationGracePeriodSeconds: 1 },
          },
        },
      },
      ...spec,
    },
  };
}

const cjStatus = async (client: Client, ns: string, name: string) => ((await client.resource(CRONJOBS).get(name, ns)).status ?? {}) as CjStatus;
const jobsOf = async (client: Client, ns: string, name: string) => listIn(client, JOBS, ns, `cron=${name}`);
const minutes = (iso: string) => Date.parse(iso) / 60_000;
const jobDone = (j: KubeObject) => ((j.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True');

/** Moves lastScheduleTime back so the schedule's most recent time is due now. */
async function makeDue(client: Client, ns: string, name: string, patch: Record<string, unknown> = {}): Promise<void> {
  if (Object.keys(patch).length) await client.resource(CRONJOBS).patch(name, { spec: patch }, 'merge', { namespace: ns });
  for (;;) {
    const cj = await client.resource(CRONJOBS).get(name, ns);
    try {
      await client.resource(CRONJOBS).updateStatus({ ...cj, status: { ...((cj.status as object) ?? {}), lastScheduleTime: '2020-01-01T00:00:00Z' } });
      return;
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
}

const year = new Date().getUTCFullYear();
/** Midnight of `month` 1st this year in Tokyo, as an instant. */
const tokyoFirst = (month: number) => Date.UTC(year, month - 1, 1) - 9 * 3600_000;

describe('CronJob controller', { timeout: 150_000 }, () => {
  let c: WorkloadCluster;
  let minuteNs: string;
  before(async () => {
    c = await startWorkloadCluster({ podStartDelayMs: 100 });
    await addNodes(c, 2);
    // Runs at the next real minute boundary while the other cases go on.
    minuteNs = await namespace(c, 'cj-minute');
    await c.client.resource(CRONJOBS).create(cronJob('tick', { schedule: '* * * * *' }), { namespace: minuteNs });
  });
  after(async () => c?.stop());

  it('creates the job for the most recent scheduled time, in the time zone, then sees it complete', async () => {
    const ns = await namespace(c, 'cj-basic');
    // Schedules that are only ever due in the past this year (the current month is never one of them... unless it is January: then use last year's).
    await c.client.resource(CRONJOBS).create(cronJob('yearly', { schedule: '0 0 1 1 *', timeZone: 'Asia/Tokyo', successfulJobsHistoryLimit: 1 }), { namespace: ns });
    await makeDue(c.client, ns, 'yearly');
    const scheduled = tokyoFirst(1) <= Date.now() ? tokyoFirst(1) : Date.UTC(year - 1, 0, 1) - 9 * 3600_000;
    const name = `yearly-${scheduled / 60_000}`;
    await until('job created', async () => (await jobsOf(c.client, ns, 'yearly')).some((j) => j.metadata.name === name));
    const j = (await jobsOf(c.client, ns, 'yearly')).find((x) => x.metadata.name === name)!;
    assert.equal(j.metadata.annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION], `${scheduled === tokyoFirst(1) ? year : year - 1}-01-01T00:00:00+09:00`);
    assert.equal(j.metadata.ownerReferences?.[0]?.kind, 'CronJob');
    assert.equal(j.metadata.ownerReferences?.[0]?.controller, true);
    await waitForEvent(c.client, ns, 'yearly', `SuccessfulCreate: Created job ${name}`);
    let st = await cjStatus(c.client, ns, 'yearly');
    assert.equal(minutes(st.lastScheduleTime!), scheduled / 60_000);
    await until('job completes and leaves the active list', async () => {
      st = await cjStatus(c.client, ns, 'yearly');
      return (st.active ?? []).length === 0 && !!st.lastSuccessfulTime;
    });
    await waitForEvent(c.client, ns, 'yearly', `SawCompletedJob: Saw completed job: ${name}, status: Complete`);

    // Two more runs (other schedules); the history keeps only the latest successful one.
    for (const month of ['2', '3']) {
      await makeDue(c.client, ns, 'yearly', { schedule: `0 0 1 ${month} *`, timeZone: 'UTC' });
      await until(`job for month ${month}`, async () => {
        const jobs = await jobsOf(c.client, ns, 'yearly');
        return jobs.some((x) => x.metadata.annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION]?.startsWith(`${year}-0${month}-01T00:00:00Z`) || x.metadata.annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION]?.startsWith(`${year - 1}-0${month}-01T00:00:00Z`));
      });
    }
    await until('history trimmed to 1 successful job', async () => {
      const jobs = (await jobsOf(c.client, ns, 'yearly')).filter((x) => !x.metadata.deletionTimestamp);
      return jobs.length === 1 && jobDone(jobs[0]);
    }, 20_000);
    await waitForEvent(c.client, ns, 'yearly', `SuccessfulDelete: Deleted job ${name}`);
  });

  it('concurrencyPolicy Forbid skips a run while one is active; Replace deletes the active job', async () => {
    const ns = await namespace(c, 'cj-concurrency');
    await c.client.resource(CRONJOBS).create(cronJob('forbid', { schedule: '0 0 1 1 *', concurrencyPolicy: 'Forbid' }, undefined), { namespace: ns });
    await makeDue(c.client, ns, 'forbid');
    await until('first job active', async () => ((await cjStatus(c.client, ns, 'forbid')).active ?? []).length === 1);
    await makeDue(c.client, ns, 'forbid', { schedule: '0 0 1 2 *' });
    await waitForEvent(c.client, ns, 'forbid', 'JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is Forbid');
    assert.equal((await jobsOf(c.client, ns, 'forbid')).length, 1);

    await c.client.resource(CRONJOBS).create(cronJob('replace', { schedule: '0 0 1 1 *', concurrencyPolicy: 'Replace' }, undefined), { namespace: ns });
    await makeDue(c.client, ns, 'replace');
    await until('first job active', async () => ((await cjStatus(c.client, ns, 'replace')).active ?? []).length === 1);
    const first = (await cjStatus(c.client, ns, 'replace')).active![0];
    await makeDue(c.client, ns, 'replace', { schedule: '0 0 1 2 *' });
    await until('replaced', async () => {
      const active = (await cjStatus(c.client, ns, 'replace')).active ?? [];
      return active.length === 1 && active[0].uid !== first.uid;
    });
    await waitForEvent(c.client, ns, 'replace', `SuccessfulDelete: Deleted job ${first.name}`);
    await until('the replaced job is gone', async () => !(await jobsOf(c.client, ns, 'replace')).some((j) => j.metadata.uid === first.uid && !j.metadata.deletionTimestamp));
  });

  it('suspend and startingDeadlineSeconds hold back runs', async () => {
    const ns = await namespace(c, 'cj-hold');
    await c.client.resource(CRONJOBS).create(cronJob('paused', { schedule: '0 0 1 1 *', suspend: true }), { namespace: ns });
    await c.client.resource(CRONJOBS).create(cronJob('late', { schedule: '0 0 1 1 *', startingDeadlineSeconds: 30 }), { namespace: ns });
    await makeDue(c.client, ns, 'paused');
    await makeDue(c.client, ns, 'late');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await listIn(c.client, JOBS, ns)).length, 0);
    assert.deepEqual((await eventsFor(c.client, ns, 'paused')).filter((e) => e.startsWith('SuccessfulCreate')), []);
    // Unsuspended, the missed run starts.
    await c.client.resource(CRONJOBS).patch('paused', { spec: { suspend: false } }, 'merge', { namespace: ns });
    await until('job after resume', async () => (await jobsOf(c.client, ns, 'paused')).length === 1);
  });

  it('runs at a real minute boundary (requeued for the scheduled time, not polled)', async () => {
    await until('the every-minute job', async () => (await jobsOf(c.client, minuteNs, 'tick')).length >= 1, 75_000, 200);
    const j = (await jobsOf(c.client, minuteNs, 'tick'))[0];
    const scheduled = Date.parse(j.metadata.annotations![SCHEDULED_TIMESTAMP_ANNOTATION]);
    assert.equal(scheduled % 60_000, 0);
    assert.equal(j.metadata.name, `tick-${scheduled / 60_000}`);
    assert.ok(Date.parse(j.metadata.creationTimestamp!) - scheduled < 3000, 'created right at the scheduled time');
  });
});
