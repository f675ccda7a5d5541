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
  /**
   * Whether each key has been claimed (by any worker), claiming nothing; null when the storage
   * cannot tell (`Storage.areClaimed` is optional). Optional: views without storage lack it.
   */
  areClaimed?(keys: readonly string[]): Promise<readonly boolean[] | null>;
  /** Asks the study to launch no new trials (e.g. a grid is exhausted); running ones finish. */
  stop(reason: string): void;
  /**
   * Merges system attributes into a running trial of this study, as samplers and pruners do with
   * state later ones on the same study should see (GpSampler: its fitted hyperparameters,
   * `SystemAttr.gpFit`; SuccessiveHalvingPruner: the rungs a trial was judged at,
   * `completed_rung_<k>`). Optional: views with no storage behind them (a trial worker's proxy, a
   * hand-written view) lack it, and samplers and pruners then keep their state in memory only;
   * Hyperband's bracket view forwards it when the study has it.
   */
  setTrialSystemAttrs?(trialId: number, attrs: Readonly<Record<string, JsonValue>>): Promise<void>;
}
