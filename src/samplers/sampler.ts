import type { Distribution, ParamValue, Params, SearchSpace } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import type { JsonValue, TrialState } from '../trial/types.js';

/**
 * A sampler proposes parameter values. Optuna's shape:
 *
 * 1. At `study.ask()`, the study calls `beforeTrial`, then `inferRelativeSearchSpace` and
 *    `sampleRelative` (async: a model may be fitted here) for the parameters it can model jointly.
 * 2. While the objective runs, each `trial.suggest*` that is not covered by the relative sample (or
 *    by an enqueued value) calls `sampleIndependent`, synchronously.
 * 3. At `study.tell`, before the result is written, `finishSystemAttrs`; its attributes are written
 *    with the result, in the same storage write. Then, after the trial is finished, `afterTrial`.
 *
 * Only `sampleIndependent` is required. `trial` is the trial being sampled, as created in storage.
 */
export interface Sampler {
  /** A short name recorded in the study (e.g. "random", "grid", "sobol", "gp"). */
  readonly name: string;
  /**
   * True for a sampler that models one objective only (TpeSampler): `createStudy`, `loadStudy` and
   * the `Study` constructor refuse it on a study with several directions with `InvalidOptionError`
   * (option "sampler"), before any trial is created. Omitted: the sampler takes any number.
   */
  readonly singleObjective?: boolean;
  beforeTrial?(study: StudyView, trial: FrozenTrial): Promise<void>;
  /**
   * For a sampler with finitely many points to hand out (GridSampler): how many more trials it can
   * start for `study` from this process; omitted when unbounded. The study holds back a new ask
   * while the asks already in flight would take every point left, and rejects it with
   * `GridExhaustedError`, creating no trial, when none is left and no enqueued trial is waiting.
   * Asked before each new trial is created, so it may read storage (GridSampler skips the points
   * other workers or earlier runs took, `StudyView.areClaimed`); still an upper bound, as a point
   * may be taken elsewhere between this answer and `beforeTrial`.
   */
  remainingTrials?(study: StudyView): number | Promise<number>;
  inferRelativeSearchSpace?(study: StudyView, trial: FrozenTrial): Promise<SearchSpace>;
  sampleRelative?(study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params>;
  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue;
  /**
   * System attributes to record with a trial's result (NsgaIiSampler: its constraint values,
   * `SystemAttr.constraints`, as Optuna's sampler writes them in `after_trial` before the state).
   * `trial` is the trial as it will be stored: its state, values and every parameter and attribute
   * told with it. A finished trial cannot be updated, so this is how a sampler attaches data that
   * a reader must see as soon as the trial is finished. Must not throw: an error meant for the
   * caller of `tell` is thrown from `afterTrial`, after the trial is safely recorded. Not called
   * for the FAIL a refused result turns into, nor by views without a study behind them.
   */
  finishSystemAttrs?(
    study: StudyView,
    trial: FrozenTrial,
    state: 'COMPLETE' | 'PRUNED' | 'FAIL',
    values: readonly number[] | null,
  ): Promise<Readonly<Record<string, JsonValue>>>;
  afterTrial?(
    study: StudyView,
    trial: FrozenTrial,
    state: TrialState,
    values: readonly number[] | null,
  ): Promise<void>;
}
