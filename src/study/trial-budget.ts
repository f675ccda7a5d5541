/**
 * Launch bookkeeping shared by every loop that starts trials of a study (`study.optimize` here,
 * the trial-process runner of `kestrel/tfjs`), so that they count against one budget and sweep
 * dead workers' trials the same way.
 */
import type { Study } from './study.js';

/**
 * A study-wide trial budget across workers and processes: each call claims the next free slot
 * key `optimize_slot:<k>` (k < maxTrialsInStudy) through `study.claim`, which is true for exactly
 * one caller per key, and resolves false once every slot is taken. Without a budget (null or
 * undefined) every call resolves true.
 */
export function trialSlotClaimer(study: Pick<Study, 'claim'>, maxTrialsInStudy: number | null | undefined): () => Promise<boolean> {
  let cursor = 0;
  return async () => {
    if (maxTrialsInStudy === null || maxTrialsInStudy === undefined) return true;
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
