/**
 * Standard 5-field cron schedules and @descriptors, checked the way upstream's CronJob validation
 * does (robfig/cron ParseStandard), returning the same error texts. Only validity matters here;
 * computing the next run belongs to the CronJob controller.
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
const DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** Go's strconv.Atoi: optional sign and decimal digits only. */
function atoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n < 0) throw new Error(`negative number (${n}) not allowed: ${s}`);
  return n;
}

const intOrName = (s: string, names?: Record<string, number>) => names?.[s.toLowerCase()] ?? atoi(s);

function checkRange(expr: string, b: Bounds): void {
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
    if (s.startsWith('@')) {
      if (DESCRIPTORS.includes(s)) return undefined;
      if (s.startsWith('@every ')) {
        const d = s.slice('@every '.length);
        return durationRe.test(d) && d !== '' ? undefined : `failed to parse duration ${s}: time: invalid duration ${JSON.stringify(d)}`;
      }
      return `unrecognized descriptor: ${s}`;
    }
    const fields = s.split(/\s+/).filter(Boolean);
    if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
    fields.forEach((f, i) => {
      for (const part of f.split(',')) checkRange(part, FIELDS[i]);
    });
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
