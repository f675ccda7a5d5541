import type { FrozenTrial } from './frozen-trial.js';
import type { JsonValue, StudyDirection, TrialState } from './types.js';

/**
 * What samplers and pruners may see of a study. The study implements it; samplers and pruners
 * sit below the study in the dependency graph and so depend on this interface only.
 */
export interface StudyView {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  /** Trials ordered by number, optionally filtered by state (fresh from storage). */
  getTrials(options?: { readonly states?: readonly TrialState[] }): Promise<readonly FrozenTrial[]>;
  /** True for exactly one caller per key across all workers of this study (see `Storage.claim`). */
  claim(key: string): Promise<boolean>;
  /** Asks the study to launch no new trials (e.g. a grid is exhausted); running ones finish. */
  stop(reason: string): void;
  /**
   * Merges system attributes into a running trial of this study, as a sampler does with state a
   * later sampler on the same study should continue from (GpSampler: its fitted hyperparameters,
   * `SystemAttr.gpFit`). Optional: views with no storage behind them (a pruner's bracket view,
   * a trial worker's proxy) lack it, and samplers then keep their state in memory only.
   */
  setTrialSystemAttrs?(trialId: number, attrs: Readonly<Record<string, JsonValue>>): Promise<void>;
}
