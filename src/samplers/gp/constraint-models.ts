/**
 * GpSampler's constraint models (`constraintsFunc`): one GP per constraint, whose log probability
 * of feasibility is added to the objective's logEI, the constrained logEI of Gardner, Kusner, Xu,
 * Weinberger & Cunningham (2014), "Bayesian optimization with inequality constraints", as Optuna
 * 4.x's GPSampler computes it:
 *
 *   a(x) = logEI(x; best feasible observation) + sum_k log P(c_k(x) <= 0),
 *
 * and, while no observation is feasible, the second sum alone (the probability of feasibility).
 *
 * - Values: the constraint values stored on each observed trial (`SystemAttr.constraints`, written
 *   at tell by the sampler's finishSystemAttrs); a trial finished without them (told through a
 *   view that does not record them, or by another sampler) is evaluated here with `constraintsFunc`
 *   once. A trial whose values are missing, invalid (null: the function failed) or of another
 *   count than the latest trial's is infeasible and left out of the constraint models (the
 *   objective model still uses it), with a one-time warning.
 * - Model k: a GP on the observations that have values, target -c_k standardized (mean 0,
 *   variance 1, as the objective's targets: finite for values of any magnitude; a constant column
 *   keeps scale max(1, 1e-12 |mean|)), so that P(c_k <= 0) = P(target > t_k) with
 *   t_k = the standardized zero: the surrogate's log-PI with incumbent t_k (an acquisition term,
 *   src/surrogate/backend.ts). The kernel and noise settings are the objective model's.
 * - Updates (column-models.ts): as the objective model (the same refit policy): refit
 *   (warm-started from the previous theta) while few observations or after the data grew by
 *   1/refitGrowthDivisor, else the new rows are appended at the kept theta and standardization
 *   (O(n^2) per row); above fitSubsetMax rows theta is fitted on a subset and the model built on
 *   every row. A new sampler starts each constraint's model from the fit an earlier sampler
 *   recorded in the study for that constraint (`stored`; stored-fit.ts), built at it without a
 *   fit while no refit is due. Pending and failed points are not fantasized here while a trial is feasible: the objective model's
 *   fantasies spread concurrent asks. With nothing feasible the objective model is not used, so
 *   the pending points are appended to the constraint models for that suggestion (`withPending`),
 *   each at the lower of its posterior mean and the worst observed target (a pessimistic liar, as
 *   the objective's failed points): their probability of feasibility collapses and concurrent asks
 *   spread out instead of all landing on the one maximum of the probability of feasibility.
 */
import type { AcquisitionTerm, FittedGp } from '../../surrogate/backend.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import { storedConstraints } from '../../trial/system-attrs.js';
import { warnOnce } from '../../util/warn.js';
import { evaluateConstraints, type ConstraintsFunc } from '../constraints.js';
import { ColumnModels, columnTarget, type ColumnFit, type ColumnModelsInput } from './column-models.js';

/** One observation as the constraint models see it: its trial and encoded row. */
export interface ConstraintRow {
  readonly trial: FrozenTrial;
  /** The observation's encoded inputs (length d). */
  readonly x: Float64Array;
}

/** ColumnModels' input (column-models.ts) with the constraint models' rows; the columns are theirs. */
export type ConstraintModelsInput = Omit<ColumnModelsInput, 'rows' | 'count' | 'seedLabel' | 'priorMean'> & {
  /** The objective's observations (rows), in any order. */
  readonly rows: readonly ConstraintRow[];
};

/** What a suggestion needs: acquisition terms, and which observations are feasible. */
export interface ConstraintState {
  /** log P(c_k <= 0) terms, one per constraint (empty before any trial has constraint values). */
  readonly terms: readonly AcquisitionTerm[];
  /** Trial ids of the feasible observations (every value <= 0). */
  readonly feasible: ReadonlySet<number>;
  /** Per term: the worst (lowest) target of its model's rows, in the model's standardized units. */
  readonly worst: readonly number[];
  /** The constraints' newly fitted thetas (`column` = constraint index; empty unless this update fitted), to record. */
  readonly fits: readonly ColumnFit[];
}

/**
 * Constraint values of observed trials, and the models of them (see the file header). One per
 * GpSampler; bound to one study at a time by the sampler (`reset` when it changes study).
 */
export class ConstraintModels {
  private readonly models = new ColumnModels();
  /** Values computed here for trials stored without them, by trial id (null: invalid). */
  private readonly evaluated = new Map<number, number[] | null>();
  /**
   * A GP_CONSTRAINTS_INVALID warning was given for this study: the rest are not (each named its
   * trial, so warnOnce gave one per trial: 30 imported trials the function cannot judge, 30
   * lines at one ask). A failure at a trial's own tell also rejects that tell, naming it.
   */
  private warnedInvalid = false;

  constructor(private readonly func: ConstraintsFunc) {}

  /** Drops every model and value (another study). */
  reset(): void {
    this.models.reset();
    this.evaluated.clear();
    this.warnedInvalid = false;
  }

  private warnInvalid(message: string): void {
    if (this.warnedInvalid) return;
    this.warnedInvalid = true;
    warnOnce('GP_CONSTRAINTS_INVALID', `${message} (further such trials are not reported)`);
  }

  /** The constraint values of a finished trial (stored, else evaluated once); null when it has none usable. */
  valuesOf(trial: FrozenTrial): readonly number[] | null {
    const stored = storedConstraints(trial.systemAttrs);
    if (stored !== undefined) {
      if (stored === null) {
        this.warnInvalid(`GpSampler: trial ${trial.number} has no valid constraint values (constraintsFunc failed at its tell); it counts as infeasible`);
      }
      return stored;
    }
    if (!this.evaluated.has(trial.trialId)) {
      const { constraints, error } = evaluateConstraints(this.func, trial);
      if (error !== null) this.warnInvalid(`GpSampler: ${error.message}; the trial counts as infeasible`);
      this.evaluated.set(trial.trialId, constraints);
    }
    return this.evaluated.get(trial.trialId) ?? null;
  }

  /** Fits or extends the constraint models for a suggestion (see the file header). */
  async update(input: ConstraintModelsInput): Promise<ConstraintState> {
    const { rows } = input;
    // Values per row; the count is the latest trial's (by number) with valid values.
    const values = rows.map((r) => this.valuesOf(r.trial));
    let count = -1;
    let latest = -1;
    values.forEach((v, i) => {
      if (v !== null && rows[i].trial.number > latest) {
        latest = rows[i].trial.number;
        count = v.length;
      }
    });
    const feasible = new Set<number>();
    const usable: { row: ConstraintRow; values: readonly number[] }[] = [];
    let mismatched: { number: number; length: number } | null = null;
    values.forEach((v, i) => {
      if (v === null) return;
      if (v.length !== count) {
        if (mismatched === null || rows[i].trial.number < mismatched.number) mismatched = { number: rows[i].trial.number, length: v.length };
        return;
      }
      usable.push({ row: rows[i], values: v });
      if (v.every((c) => c <= 0)) feasible.add(rows[i].trial.trialId);
    });
    // One warning, not one per trial (a constraint added mid-study made every earlier trial one:
    // hundreds of lines at one ask). The message names the earliest such trial, which stays the
    // same from ask to ask, so warnOnce keeps it to one.
    if (mismatched !== null) {
      const { number, length } = mismatched as { number: number; length: number };
      warnOnce(
        'GP_CONSTRAINTS_MISMATCH',
        `GpSampler: trials with another number of constraint values than the latest trials' ${count} ` +
          `(the first: trial ${number}, with ${length}) count as infeasible`,
      );
    }
    if (count <= 0 || usable.length === 0) {
      this.models.reset();
      return { terms: [], feasible, worst: [], fits: [] };
    }
    // Model k's target: -c_k standardized (prior mean at the mean), so P(c_k <= 0) = P(target > t_k).
    const { models, fits } = await this.models.update({
      ...input,
      rows: usable.map((u) => ({ id: u.row.trial.trialId, x: u.row.x, values: u.values.map((c) => -c) })),
      count,
      seedLabel: 'constraint',
      priorMean: 'mean',
    });
    const terms = models.map((m): AcquisitionTerm => ({ model: m.model, kind: 'pi', incumbent: columnTarget(m.scale, 0), beta: 0 }));
    const worst = models.map((m, k) => {
      let w = Number.POSITIVE_INFINITY;
      for (const u of usable) w = Math.min(w, columnTarget(m.scale, -u.values[k]));
      return w;
    });
    return { terms, feasible, worst, fits };
  }

  /**
   * The terms of `state` with `k` pending points `x` (row-major, k x d) appended to every model,
   * each at the lower of its posterior mean and the model's worst observed target (see the file
   * header); the caller disposes the returned models (`dispose`), never the cached ones.
   */
  async withPending(state: ConstraintState, x: Float64Array, k: number): Promise<{ terms: AcquisitionTerm[]; dispose: () => void }> {
    const appended: FittedGp[] = [];
    const dispose = (): void => {
      for (const m of appended) m.dispose();
    };
    try {
      const terms: AcquisitionTerm[] = [];
      for (let c = 0; c < state.terms.length; c++) {
        const term = state.terms[c];
        const y = Float64Array.from((await term.model.predict(x, k)).mean, (mu) => Math.min(mu, state.worst[c]));
        const model = await term.model.append(x, y, k);
        appended.push(model);
        terms.push({ ...term, model });
      }
      return { terms, dispose };
    } catch (err) {
      dispose();
      throw err;
    }
  }
}
