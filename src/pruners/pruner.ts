import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';

/**
 * A pruner decides, from reported intermediate values, whether a running trial should stop.
 * Decisions depend only on what storage holds (intermediate values, and rung records that ASHA /
 * Hyperband write on the trials they judge), so they agree across concurrent trials and workers;
 * on a view that cannot write system attributes, ASHA keeps its records in memory instead.
 * `trial` is the running trial with its intermediate values up to the latest report.
 */
export interface Pruner {
  readonly name: string;
  prune(study: StudyView, trial: FrozenTrial): Promise<boolean> | boolean;
}

/** Never prunes. The default. */
export class NopPruner implements Pruner {
  readonly name = 'nop';

  prune(): boolean {
    return false;
  }
}
