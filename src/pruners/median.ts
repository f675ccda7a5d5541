import { checkOptionsObject } from './options.js';
import { PercentilePruner } from './percentile.js';

/** Options of `new MedianPruner(...)`, Optuna's defaults; an unknown name throws `InvalidOptionError`. */
export interface MedianPrunerOptions {
  /** No pruning until this many trials are COMPLETE. Default 5. */
  readonly nStartupTrials?: number;
  /** No pruning while the trial's last step is below this. Default 0. */
  readonly nWarmupSteps?: number;
  /** Pruning checks every `intervalSteps` steps after the warm-up. Default 1. */
  readonly intervalSteps?: number;
  /** No pruning when fewer COMPLETE trials than this reported a value at the current step. Default 1. */
  readonly nMinTrials?: number;
}

const OPTION_KEYS = ['nStartupTrials', 'nWarmupSteps', 'intervalSteps', 'nMinTrials'] as const;

/**
 * Prunes a trial whose best intermediate value so far is worse than the median of the COMPLETE
 * trials' values at the same step: `PercentilePruner` with `percentile: 50`, as in Optuna. See
 * `PercentilePruner` for the exact rule.
 */
export class MedianPruner extends PercentilePruner {
  override readonly name: string = 'median';

  constructor(options: MedianPrunerOptions = {}) {
    checkOptionsObject(options, OPTION_KEYS, 'MedianPruner');
    super({ ...options, percentile: 50 });
  }
}
