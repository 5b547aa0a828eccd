/**
 * Standard 5-field cron schedules and @descriptors, parsed the way upstream does (robfig/cron
 * ParseStandard), with the same error texts. One parser for both users: the CronJob validation
 * (cronScheduleError) and the CronJob controller (controllers/util/cron.ts, which computes the
 * next run from the parsed fields).
 */

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const FIELDS: Bounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 6, names: DAYS },
];
const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** One parsed field: the values it allows, and whether it was `*` or `?` (robfig's starBit). */
export interface CronField {
  set: Set<number>;
  star: boolean;
}

/** A parsed schedule: `@every <duration>` (in ms), or the five fields (minute, hour, day of month, month, day of week). */
export type ParsedCron = { everyMs: number } | { fields: CronField[] };

/** Go's strconv.Atoi: optional sign and decimal digits only. */
function atoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n < 0) throw new Error(`negative number (${n}) not allowed: ${s}`);
  return n;
}

const intOrName = (s: string, names?: Record<string, number>) => names?.[s.toLowerCase()] ?? atoi(s);

/** robfig getRange: one comma-separated part of a field, added to `into`; throws upstream's messages. */
function addRange(expr: string, b: Bounds, into: CronField): void {
  const rangeAndStep = expr.split('/');
  const lowHigh = rangeAndStep[0].split('-');
  let start: number;
  let end: number;
  if (lowHigh[0] === '*' || lowHigh[0] === '?') {
    start = b.min;
    end = b.max;
  } else {
    start = intOrName(lowHigh[0], b.names);
    if (lowHigh.length === 1) end = start;
    else if (lowHigh.length === 2) end = intOrName(lowHigh[1], b.names);
    else throw new Error(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = atoi(rangeAndStep[1]);
    if (lowHigh.length === 1) end = b.max; // "N/step" means "N-max/step"
  } else if (rangeAndStep.length > 2) throw new Error(`too many slashes: ${expr}`);
  if (start < b.min) throw new Error(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new Error(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new Error(`step of range should be a positive number: ${expr}`);
  for (let v = start; v <= end; v += step) into.set.add(v);
  // A star with a step above one no longer counts as a star.
  if ((lowHigh[0] === '*' || lowHigh[0] === '?') && step <= 1) into.star = true;
}

function parseField(field: string, b: Bounds): CronField {
  const out: CronField = { set: new Set(), star: false };
  for (const part of field.split(',')) addRange(part, b, out);
  return out;
}

function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Go-style duration for "@every": e.g. "1h30m", "90s", "1.5h". */
const durationRe = /^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$/;
const DURATION_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The duration of "@every <d>" in ms; `spec` is the whole schedule, for the message. */
function parseEvery(d: string, spec: string): number {
  if (d === '' || !durationRe.test(d)) throw new Error(`failed to parse duration ${spec}: time: invalid duration ${JSON.stringify(d)}`);
  let total = 0;
  for (const m of d.matchAll(/([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)/g)) total += (Number(m[1]) || 0) * DURATION_UNIT_MS[m[2]];
  return total;
}

/**
 * robfig ParseStandard on a schedule without a TZ=/CRON_TZ= prefix: an @descriptor, `@every
 * <duration>`, or five fields. Throws with upstream's error texts.
 */
export function parseCronSpec(spec: string): ParsedCron {
  let s = spec;
  if (s.startsWith('@')) {
    if (s.startsWith('@every ')) return { everyMs: parseEvery(s.slice('@every '.length), s) };
    const expanded = DESCRIPTORS[s];
    if (expanded === undefined) throw new Error(`unrecognized descriptor: ${s}`);
    s = expanded;
  }
  const fields = s.split(/\s+/).filter(Boolean);
  if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  return { fields: fields.map((f, i) => parseField(f, FIELDS[i])) };
}

/** Returns the parse error message, or undefined when the schedule is valid. */
export function cronScheduleError(spec: string): string | undefined {
  try {
    let s = spec;
    if (s.length === 0) return 'empty spec string';
    if (s.startsWith('TZ=') || s.startsWith('CRON_TZ=')) {
      const sp = s.indexOf(' ');
      const eq = s.indexOf('=');
      const tz = sp < 0 ? s.slice(eq + 1) : s.slice(eq + 1, sp);
      if (!isValidTimeZone(tz)) return `provided bad location ${tz}: unknown time zone ${tz}`;
      s = sp < 0 ? '' : s.slice(sp).trim();
    }
    parseCronSpec(s);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const tzPartRe = /^[A-Za-z.\-_0-9+]{1,14}$/;

/** Upstream validateTimeZone's messages; returns them in order (empty when valid). */
export function timeZoneErrors(tz: string): string[] {
  if (tz.length === 0) return ['timeZone must be nil or non-empty string'];
  for (const part of tz.split('/'))
    if (part === '.' || part === '..' || part.startsWith('-') || !tzPartRe.test(part)) return [`unknown time zone ${tz}`];
  const errs: string[] = [];
  // Go loads "Local" without error, so it gets only the explicit-zone message.
  if (tz.toLowerCase() === 'local') errs.push('timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones');
  else if (!isValidTimeZone(tz)) errs.push(`unknown time zone ${tz}`);
  return errs;
}
