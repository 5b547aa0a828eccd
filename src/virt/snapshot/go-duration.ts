/**
 * metav1.Duration as KubeVirt's snapshot API carries it (failureDeadline, unfreezeTimeout): Go's
 * time.ParseDuration syntax ("5m0s", "1h30m", "90s", "1.5h", "0") and its String() form.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export class GoDurationError extends Error {
  override name = 'GoDurationError';
}

/** Milliseconds; GoDurationError for what Go's ParseDuration refuses. */
export function parseGoDuration(text: string): number {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (!m) throw new GoDurationError(`time: invalid duration "${text}"`);
  let ms = 0;
  for (const part of text.slice(m[1].length).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(part[1]) * UNIT_MS[part[2]];
  return m[1] === '-' ? -ms : ms;
}

/** Go's Duration.String() for whole milliseconds ("5m0s", "1h0m0s", "1.5s", "0s"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = `${Number((rest / 1000).toFixed(3))}s`;
  return `${sign}${h ? `${h}h${m}m` : m ? `${m}m` : ''}${s}`;
}
