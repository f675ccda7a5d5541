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
 * How often a running launch loop looks again for trials whose owner process has exited
 * (`study.failOrphanedTrials`): a read of the RUNNING trials and a look at the process table.
 */
export const ORPHAN_SWEEP_INTERVAL_MS = 10_000;

/**
 * Called before each launch: records as FAIL the RUNNING trials whose owner process is gone
 * (`study.failOrphanedTrials`) at the first call and then at most once per
 * `ORPHAN_SWEEP_INTERVAL_MS`, and, with heartbeats (`intervalMs` not null or undefined), those whose
 * heartbeat is older than `graceMs` (`study.failStaleTrials`), at most once per `intervalMs`.
 */
export function staleTrialSweeper(
  study: Pick<Study, 'failStaleTrials' | 'failOrphanedTrials'>,
  intervalMs: number | null | undefined,
  graceMs: number,
): () => Promise<void> {
  let lastSweep = -Infinity;
  let lastOrphanSweep = -Infinity;
  return async () => {
    if (Date.now() - lastOrphanSweep >= ORPHAN_SWEEP_INTERVAL_MS) {
      lastOrphanSweep = Date.now();
      await study.failOrphanedTrials();
    }
    if (intervalMs === null || intervalMs === undefined || Date.now() - lastSweep < intervalMs) return;
    lastSweep = Date.now();
    await study.failStaleTrials({ graceMs });
  };
}
