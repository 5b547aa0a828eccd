/** Cron schedule evaluation for the CronJob controller: fields, descriptors, DOM/DOW, time zones, missed runs, requeue times. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobNameFor, mostRecentScheduleTime, nextRequeueMs } from '../../src/controllers/cronjob.js';
import { parseCronSchedule, ZoneClock } from '../../src/controllers/util/cron.js';

const T = (s: string) => Date.parse(s);
const iso = (t: number | undefined) => (t === undefined ? 'none' : new Date(t).toISOString());

describe('cron schedules', () => {
  it('five fields: next activation strictly after the given time', () => {
    const s = parseCronSchedule('*/15 9-17 * * 1-5');
    assert.equal(iso(s.next(T('2024-03-01T09:00:00Z'))), '2024-03-01T09:15:00.000Z'); // a Friday
    assert.equal(iso(s.next(T('2024-03-01T17:45:00Z'))), '2024-03-04T09:00:00.000Z'); // to Monday
    assert.equal(iso(parseCronSchedule('* * * * *').next(T('2024-01-01T00:00:30Z'))), '2024-01-01T00:01:00.000Z');
    assert.equal(iso(parseCronSchedule('0 0 29 2 *').next(T('2024-03-01T00:00:00Z'))), '2028-02-29T00:00:00.000Z');
    assert.equal(iso(parseCronSchedule('30 4 1,15 jan,jul *').next(T('2024-01-02T00:00:00Z'))), '2024-01-15T04:30:00.000Z');
  });

  it('descriptors', () => {
    assert.equal(iso(parseCronSchedule('@hourly').next(T('2024-01-01T10:20:00Z'))), '2024-01-01T11:00:00.000Z');
    assert.equal(iso(parseCronSchedule('@daily').next(T('2024-01-01T10:20:00Z'))), '2024-01-02T00:00:00.000Z');
    assert.equal(iso(parseCronSchedule('@weekly').next(T('2024-01-01T10:20:00Z'))), '2024-01-07T00:00:00.000Z');
    assert.equal(iso(parseCronSchedule('@monthly').next(T('2024-01-31T10:20:00Z'))), '2024-02-01T00:00:00.000Z');
    assert.equal(iso(parseCronSchedule('@yearly').next(T('2024-06-01T00:00:00Z'))), '2025-01-01T00:00:00.000Z');
    assert.equal(iso(parseCronSchedule('@every 90s').next(T('2024-01-01T00:00:00Z'))), '2024-01-01T00:01:30.000Z');
    assert.throws(() => parseCronSchedule('@fortnightly'), /unrecognized descriptor/);
    assert.throws(() => parseCronSchedule('CRON_TZ=UTC * * * * *'), /TZ/);
    assert.throws(() => parseCronSchedule('* * * *'), /expected exactly 5 fields/);
  });

  it('day of month and day of week: OR when both restricted, AND when one is *', () => {
    // The 13th or any Friday.
    const s = parseCronSchedule('0 0 13 * 5');
    assert.equal(iso(s.next(T('2024-09-01T00:00:00Z'))), '2024-09-06T00:00:00.000Z'); // Friday 6th
    assert.equal(iso(s.next(T('2024-09-07T00:00:00Z'))), '2024-09-13T00:00:00.000Z');
    // Every day of month but only Mondays.
    assert.equal(iso(parseCronSchedule('0 0 * * 1').next(T('2024-09-03T00:00:00Z'))), '2024-09-09T00:00:00.000Z');
  });

  it('time zones, including DST changes', () => {
    const tokyo = parseCronSchedule('0 9 * * *', 'Asia/Tokyo');
    assert.equal(iso(tokyo.next(T('2024-01-01T00:00:00Z'))), '2024-01-02T00:00:00.000Z'); // 09:00 JST is 00:00 UTC, strictly after
    const ny = parseCronSchedule('30 2 * * *', 'America/New_York');
    // 2024-03-10 02:30 does not exist in New York: that day is skipped.
    assert.equal(iso(ny.next(T('2024-03-09T08:00:00Z'))), '2024-03-11T06:30:00.000Z');
    // Before and after the change the wall time stays 02:30.
    assert.equal(iso(ny.next(T('2024-03-08T08:00:00Z'))), '2024-03-09T07:30:00.000Z');
    assert.equal(new ZoneClock('Asia/Tokyo').rfc3339(T('2024-12-31T15:00:00Z')), '2025-01-01T00:00:00+09:00');
    assert.equal(new ZoneClock('UTC').rfc3339(T('2024-12-31T15:00:00Z')), '2024-12-31T15:00:00Z');
  });

  it('most recent missed time, the deadline window, and the requeue time', () => {
    const s = parseCronSchedule('*/5 * * * *');
    const now = T('2024-01-01T10:12:30Z');
    const r = mostRecentScheduleTime(s, { lastScheduleTime: '2024-01-01T09:58:00Z' }, now);
    assert.equal(iso(r.mostRecent), '2024-01-01T10:10:00.000Z');
    assert.equal(r.missed, 3); // 10:00, 10:05, 10:10
    assert.equal(mostRecentScheduleTime(s, { creationTimestamp: '2024-01-01T10:11:00Z' }, now).mostRecent, undefined);
    // startingDeadlineSeconds narrows the window to the last 60 s: nothing there.
    assert.equal(mostRecentScheduleTime(s, { lastScheduleTime: '2024-01-01T09:58:00Z', startingDeadlineSeconds: 60 }, now).mostRecent, undefined);
    // Requeue: just after the next time following the most recent one.
    assert.equal(nextRequeueMs(s, { lastScheduleTime: '2024-01-01T10:10:00Z' }, now), T('2024-01-01T10:15:00Z') + 100 - now);
    // Far behind (an outage): the estimate still finds the latest time.
    const every = parseCronSchedule('* * * * *');
    const far = mostRecentScheduleTime(every, { lastScheduleTime: '2023-12-01T00:00:00Z' }, now);
    assert.equal(iso(far.mostRecent), '2024-01-01T10:12:00.000Z');
    assert.ok(far.missed > 100);
  });

  it('job names carry the scheduled minute', () => {
    assert.equal(jobNameFor('hello', T('2024-01-01T00:00:00Z')), `hello-${T('2024-01-01T00:00:00Z') / 60000}`);
  });
});
