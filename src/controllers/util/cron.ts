/**
 * Cron schedules as the CronJob controller runs them (robfig/cron ParseStandard + SpecSchedule.Next):
 * five fields or an @descriptor, evaluated in an IANA time zone through Intl. Day-of-month and
 * day-of-week are ANDed when either is `*`/`?` and ORed otherwise, as Vixie cron.
 * Times are epoch milliseconds; schedules have minute resolution (@every has second resolution).
 */

export interface CronSchedule {
  /** The first activation strictly after `after` (ms), or undefined if none within 5 years. */
  next(after: number): number | undefined;
}

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const BOUNDS: [number, number, Record<string, number>?][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12, MONTHS],
  [0, 6, DAYS],
];

interface Field {
  set: Set<number>;
  /** The field was `*` or `?` (robfig's starBit). */
  star: boolean;
}

function num(s: string, names?: Record<string, number>): number {
  const n = names?.[s.toLowerCase()] ?? (/^[0-9]+$/.test(s) ? Number(s) : NaN);
  if (Number.isNaN(n)) throw new Error(`failed to parse int from ${s}`);
  return n;
}

function parseField(expr: string, [min, max, names]: [number, number, Record<string, number>?]): Field {
  const set = new Set<number>();
  let star = false;
  for (const part of expr.split(',')) {
    const [range, stepStr, extra] = part.split('/');
    if (extra !== undefined) throw new Error(`too many slashes: ${part}`);
    let lo: number;
    let hi: number;
    let partStar = false;
    if (range === '*' || range === '?') {
      lo = min;
      hi = max;
      partStar = true;
    } else {
      const bits = range.split('-');
      if (bits.length > 2) throw new Error(`too many hyphens: ${part}`);
      lo = num(bits[0], names);
      hi = bits.length === 2 ? num(bits[1], names) : lo;
    }
    let step = 1;
    if (stepStr !== undefined) {
      step = num(stepStr);
      if (!range.includes('-') && !partStar) hi = max;
      if (step > 1) partStar = false;
    }
    if (lo < min || hi > max || lo > hi || step === 0) throw new Error(`invalid range: ${part}`);
    for (let v = lo; v <= hi; v += step) set.add(v);
    star ||= partStar;
  }
  return { set, star };
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
    private readonly f: Field[],
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

function parseGoDuration(s: string): number {
  const re = /([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: MINUTE, h: HOUR };
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) throw new Error(`invalid duration ${s}`);
  return total;
}

/** Parses a schedule for a time zone ("UTC" when none; CRON_TZ/TZ prefixes are refused as the API does). */
export function parseCronSchedule(spec: string, timeZone = 'UTC'): CronSchedule {
  const s = spec.trim();
  if (!s) throw new Error('empty spec string');
  if (/^(CRON_)?TZ=/.test(s)) throw new Error('cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
  const clock = new ZoneClock(timeZone);
  if (s.startsWith('@every ')) {
    const ms = parseGoDuration(s.slice(7).trim());
    return new EverySchedule(Math.max(ms, 1000));
  }
  const expanded = s.startsWith('@') ? DESCRIPTORS[s] : s;
  if (!expanded) throw new Error(`unrecognized descriptor: ${s}`);
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  return new SpecSchedule(
    fields.map((f, i) => parseField(f, BOUNDS[i])),
    clock,
  );
}
