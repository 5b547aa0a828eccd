/**
 * Go's formatting of the values that appear in the kubelet's user-facing messages (events,
 * waiting messages), so Cairn's read the same: a time.Duration's String() and %q quoting.
 */

/**
 * time.Duration.String() for a duration in milliseconds: `0s`, `500ms`, `1.5s`, `10s`,
 * `1m20s`, `5m0s`, `1h0m0s`.
 */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  const sign = neg ? '-' : '';
  if (rest < 1000) {
    // Below a second Go picks the largest unit that keeps the value ≥ 1 (ms, µs, ns).
    if (rest >= 1) return `${sign}${trimFraction(rest)}ms`;
    if (rest >= 0.001) return `${sign}${trimFraction(rest * 1000)}µs`;
    return `${sign}${Math.round(rest * 1e6)}ns`;
  }
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = `${trimFraction(rest / 1000)}s`;
  if (hours) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

/** A number with up to nine fractional digits and no trailing zeros, as Go prints durations. */
function trimFraction(n: number): string {
  return n.toFixed(9).replace(/\.?0+$/, '');
}

/** Go's %q for a string. JSON's quoting is the same for the text these messages carry. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
