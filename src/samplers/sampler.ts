import type { Distribution, ParamValue, Params, SearchSpace } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import type { TrialState } from '../trial/types.js';

/**
 * A sampler proposes parameter values. Optuna's shape:
 *
 * 1. At `study.ask()`, the study calls `beforeTrial`, then `inferRelativeSearchSpace` and
 *    `sampleRelative` (async: a model may be fitted here) for the parameters it can model jointly.
 * 2. While the objective runs, each `trial.suggest*` that is not covered by the relative sample (or
 *    by an enqueued value) calls `sampleIndependent`, synchronously.
 * 3. After the trial finishes, `afterTrial`.
 *
 * Only `sampleIndependent` is required. `trial` is the trial being sampled, as created in storage.
 */
export interface Sampler {
  /** A short name recorded in the study (e.g. "random", "grid", "sobol", "gp"). */
  readonly name: string;
  beforeTrial?(study: StudyView, trial: FrozenTrial): Promise<void>;
  /**
   * For a sampler with finitely many points to hand out (GridSampler): how many more trials it can
   * start for `study` from this process; omitted when unbounded. The study holds back a new ask
   * while the asks already in flight would take every point left, and rejects it with
   * `GridExhaustedError`, creating no trial, when none is left and no enqueued trial is waiting.
   * An upper bound: points taken by other processes are found out in `beforeTrial`.
   */
  remainingTrials?(study: StudyView): number;
  inferRelativeSearchSpace?(study: StudyView, trial: FrozenTrial): Promise<SearchSpace>;
  sampleRelative?(study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params>;
  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue;
  afterTrial?(
    study: StudyView,
    trial: FrozenTrial,
    state: TrialState,
    values: readonly number[] | null,
  ): Promise<void>;
}
