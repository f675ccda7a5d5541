/**
 * Launch bookkeeping shared by every loop that starts trials of a study (`study.optimize`, the
 * trial-process runner of `kestrel/tfjs`), so that they sweep dead workers' trials the same way.
 *
 * The study-wide budget itself (`maxTrialsInStudy`) is best enforced by `study.tryAsk`, which
 * creates a trial only while the study holds fewer trials, atomically in storage; `optimize` does
 * that. `trialSlotClaimer` is the older claim-then-ask form, kept for loops that reserve a launch
 * before they ask.
 */
import type { Storage } from '../storage/storage.js';
import type { Study } from './study.js';

/** What `trialSlotClaimer` uses of a study. */
export interface SlotClaimingStudy {
  readonly studyId: number;
  readonly storage: Pick<Storage, 'getNTrials'>;
  claim(key: string): Promise<boolean>;
}

/**
 * A study-wide trial budget across workers and processes, for loops that reserve a launch before
 * asking: each call claims the next free slot key `optimize_slot:<k>` through `study.claim`
 * (true for exactly one caller per key), starting at the number of trials the study holds, so
 * trials created before (by any means) count against the budget, and resolves false once k
 * reaches maxTrialsInStudy. Without a budget (null or undefined) every call resolves true.
 * Unlike `study.tryAsk`, a reserved launch that creates no trial (an enqueued trial popped, an
 * interrupted launch) still uses its slot, and trials created concurrently by other means can
 * make the study overshoot: prefer `tryAsk`.
 */
export function trialSlotClaimer(
  study: SlotClaimingStudy,
  maxTrialsInStudy: number | null | undefined,
): () => Promise<boolean> {
  let cursor = 0;
  return async () => {
    if (maxTrialsInStudy === null || maxTrialsInStudy === undefined) return true;
    cursor = Math.max(cursor, await study.storage.getNTrials(study.studyId));
    while (cursor < maxTrialsInStudy) {
      const slot = cursor++;
      if (await study.claim(`optimize_slot:${slot}`)) return true;
    }
    return false;
  };
}

/**
 * Fails RUNNING trials whose heartbeat is older than `graceMs` (`study.failStaleTrials`), at most
 * once per `intervalMs`; a no-op without heartbeats (intervalMs null or undefined).
 */
export function staleTrialSweeper(
  study: Pick<Study, 'failStaleTrials'>,
  intervalMs: number | null | undefined,
  graceMs: number,
): () => Promise<void> {
  let lastSweep = -Infinity;
  return async () => {
    if (intervalMs === null || intervalMs === undefined || Date.now() - lastSweep < intervalMs) return;
    lastSweep = Date.now();
    await study.failStaleTrials({ graceMs });
  };
}
