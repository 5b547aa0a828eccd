// Measuring recovery after a cut: all guest pairs are pinged in rounds until every pair
// answers, and keeps answering for STABLE_MS; the recovery time runs from the cut to the start
// of the first round of that stable stretch. Rounds wait ROUND_WAIT_S for each reply, which
// bounds the resolution while pairs still fail.
import { setTimeout as sleep } from 'node:timers/promises';
import { guestPairs, unreachablePairs } from './check-reach.js';
import type { LabState, LinkCut } from './state.js';

const ROUND_WAIT_S = 0.1;
const STABLE_MS = 1000;
const PAUSE_MS = 20;

export interface Recovered {
  /** Milliseconds from the cut until every guest pair answered again. */
  ms: number;
  /**
   * Every pair answered the very first round: the fabric recovered before measuring began,
   * and `ms` (the time from the cut to the first round) is only an upper bound.
   */
  firstRound: boolean;
}

/** How long after the cut every guest pair answered again; undefined if not within `timeoutMs` of the cut. */
export async function measureRecovery(state: LabState, cut: LinkCut, timeoutMs: number): Promise<Recovered | undefined> {
  const pairs = guestPairs(state);
  let firstGood: number | undefined;
  let round = 0;
  let goodSinceRound = 0;
  while (Date.now() - cut.at < timeoutMs) {
    const start = Date.now();
    const failed = await unreachablePairs(pairs, false, ROUND_WAIT_S);
    if (failed.length > 0) firstGood = undefined;
    else if (firstGood === undefined) {
      firstGood = start;
      goodSinceRound = round;
    }
    if (firstGood !== undefined && Date.now() - firstGood >= STABLE_MS) return { ms: firstGood - cut.at, firstRound: goodSinceRound === 0 };
    round++;
    await sleep(PAUSE_MS);
  }
  return undefined;
}
