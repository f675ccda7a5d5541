/**
 * Launch bookkeeping shared by every loop that starts trials of a study (`study.optimize`, the
 * trial-process runner of `kestrel/tfjs`), so that they sweep dead workers' trials the same way.
 *
 * The study-wide budget itself (`maxTrialsInStudy`) is not here: both loops launch with
 * `study.tryAsk({maxTrialsInStudy})`, which creates a trial only while the study holds fewer
 * trials, atomically in storage.
 */
import type { Study } from './study.js';

/**
 * The most worker processes one trial-process run (`runTrialsInProcesses`, the CLI's
 * `processes: true` / `gpus`) starts at once: CPU processes (`concurrency`) or GPUs, one process
 * each. Each is a whole Node.js process (tens of MB before the objective loads, hundreds with
 * TensorFlow.js), and one trial per core is the most that helps: 256 covers the largest
 * two-socket machines, and far more (`concurrency: 1e6`) only forks until the machine gives out.
 * Run more processes across machines with `kestrel worker` on a shared journal.
 */
export const MAX_PROCESSES = 256;

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
