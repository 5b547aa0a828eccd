/**
 * Cron schedules as the CronJob controller runs them (robfig/cron ParseStandard + SpecSchedule.Next):
 * five fields or an @descriptor, evaluated in an IANA time zone through Intl. Day-of-month and
 * day-of-week are ANDed when either is `*`/`?` and ORed otherwise, as Vixie cron.
 * Times are epoch milliseconds; schedules have minute resolution (@every has second resolution).
 * Parsing is the CronJob kind's (kinds/batch/cron-schedule.ts), so the controller runs exactly
 * what validation admitted.
 */
import { type CronField, parseCronSpec } from '../../kinds/batch/cron-schedule.js';

export interface CronSchedule {
  /** The first activation strictly after `after` (ms), or undefined if none within 5 years. */
  next(after: number): number | undefined;
}

/** Wall-clock parts of an instant in a time zone. */
export class ZoneClock {
  private static readonly cache = new Map<string, Intl.DateTimeFormat>();
  private readonly fmt: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    let f = ZoneClock.cache.get(timeZone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      ZoneClock.cache.set(timeZone, f);
    }
    this.fmt = f;
  }

  /** The wall time at `t`, as a UTC timestamp with the same fields (seconds kept, ms dropped). */
  wall(t: number): number {
    const p: Record<string, number> = {};
    for (const { type, value } of this.fmt.formatToParts(new Date(t))) if (type !== 'literal') p[type] = Number(value);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour === 24 ? 0 : p.hour, p.minute, p.second);
  }

  /** Offset from UTC at `t`, in ms (wall - instant). */
  offset(t: number): number {
    return this.wall(t) - Math.floor(t / 1000) * 1000;
  }

  /** The instant of a wall time (the later offset wins in a gap, the earlier instant in a fold). */
  instant(wall: number): number {
    let t = wall - this.offset(wall);
    t = wall - this.offset(t);
    return t;
  }

  /** RFC 3339 with the zone's offset, as Go's time.RFC3339 prints a time in a location. */
  rfc3339(t: number): string {
    const w = this.wall(t);
    const off = Math.round((w - Math.floor(t / 1000) * 1000) / 60000);
    const base = new Date(w).toISOString().replace(/\.\d{3}Z$/, '');
    if (off === 0) return `${base}Z`;
    const sign = off < 0 ? '-' : '+';
    const a = Math.abs(off);
    return `${base}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  }
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const FIVE_YEARS = 5 * 366 * DAY;

class SpecSchedule implements CronSchedule {
  constructor(
    private readonly f: CronField[],
    private readonly clock: ZoneClock,
  ) {}

  private dayMatches(w: Date): boolean {
    const [, , dom, , dow] = this.f;
    const domOk = dom.set.has(w.getUTCDate());
    const dowOk = dow.set.has(w.getUTCDay());
    return dom.star || dow.star ? domOk && dowOk : domOk || dowOk;
  }

  next(after: number): number | undefined {
    const [min, hour, , month] = this.f;
    // Search in wall-clock space (UTC arithmetic, no DST), from the minute after `after`.
    let w = Math.floor(this.clock.wall(after) / MINUTE) * MINUTE + MINUTE;
    const limit = w + FIVE_YEARS;
    while (w < limit) {
      const d = new Date(w);
      if (!month.set.has(d.getUTCMonth() + 1)) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
        continue;
      }
      if (!this.dayMatches(d)) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
        continue;
      }
      if (!hour.set.has(d.getUTCHours())) {
        w = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
        continue;
      }
      if (!min.set.has(d.getUTCMinutes())) {
        w += MINUTE;
        continue;
      }
      const t = this.clock.instant(w);
      // A wall time that does not exist (DST gap) or came round again (fold) is skipped.
      if (t > after && this.clock.wall(t) === w) return t;
      w += MINUTE;
    }
    return undefined;
  }
}

class EverySchedule implements CronSchedule {
  constructor(private readonly ms: number) {}
  next(after: number): number {
    // robfig ConstantDelaySchedule: rounded to the second.
    return Math.floor((after + this.ms) / 1000) * 1000;
  }
}

/** Parses a schedule for a time zone ("UTC" when none; CRON_TZ/TZ prefixes are refused as the API does). */
export function parseCronSchedule(spec: string, timeZone = 'UTC'): CronSchedule {
  const s = spec.trim();
  if (!s) throw new Error('empty spec string');
  if (/^(CRON_)?TZ=/.test(s)) throw new Error('cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
  const clock = new ZoneClock(timeZone);
  const parsed = parseCronSpec(s);
  if ('everyMs' in parsed) return new EverySchedule(Math.max(parsed.everyMs, 1000));
  return new SpecSchedule(parsed.fields, clock);
}
