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
 * - Updates: as the objective model (the same refit policy): refit (warm-started from the
 *   previous theta) while few observations or after the data grew by 1/refitGrowthDivisor, else
 *   the new rows are appended at the kept theta and standardization (O(n^2) per row). Pending and
 *   failed points are not fantasized here while a trial is feasible: the objective model's
 *   fantasies spread concurrent asks. With nothing feasible the objective model is not used, so
 *   the pending points are appended to the constraint models for that suggestion (`withPending`),
 *   each at the lower of its posterior mean and the worst observed target (a pessimistic liar, as
 *   the objective's failed points): their probability of feasibility collapses and concurrent asks
 *   spread out instead of all landing on the one maximum of the probability of feasibility.
 */
import type { AcquisitionTerm, FitOptions, FittedGp, GpTrainingData, SurrogateBackend } from '../../surrogate/backend.js';
import { moments, standardizeValue } from '../../surrogate/outcome-transform.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import { storedConstraints } from '../../trial/system-attrs.js';
import { deriveSeed } from '../../util/prng.js';
import { warnOnce } from '../../util/warn.js';
import { evaluateConstraints, type ConstraintsFunc } from '../constraints.js';

/** One constraint's model and the standardization it was built with. */
interface ConstraintModel {
  readonly model: FittedGp;
  /** Mean and scale of -c over the rows at the last fit: target = (-c - mean) / scale. */
  readonly mean: number;
  readonly scale: number;
}

/** The models of every constraint over the same rows, for one search space. */
interface ConstraintModelsCache {
  readonly signature: string;
  readonly count: number;
  /** Trial ids in row order. */
  readonly trialIds: readonly number[];
  readonly models: readonly ConstraintModel[];
  /** Rows at the last fit (refit policy). */
  readonly nAtFit: number;
}

/** One observation as the constraint models see it: its trial and encoded row. */
export interface ConstraintRow {
  readonly trial: FrozenTrial;
  /** The observation's encoded inputs (length d). */
  readonly x: Float64Array;
}

export interface ConstraintModelsInput {
  readonly backend: SurrogateBackend;
  /** The objective's observations (rows), in any order. */
  readonly rows: readonly ConstraintRow[];
  readonly d: number;
  readonly isCategorical: Uint8Array;
  /** Search-space signature: a different space drops the cached models. */
  readonly signature: string;
  /** Fit options (warmStart, restarts and seed are set here per constraint: `seed` is the base). */
  readonly fit: Omit<FitOptions, 'warmStart' | 'nRestarts'>;
  /** MAP restarts of a fit without / with a warm start (the objective model's). */
  readonly restarts: { readonly cold: number; readonly warm: number };
  /** Whether the refit policy asks for a refit at this many rows given the rows at the last fit. */
  readonly refitDue: (n: number, nAtFit: number) => boolean;
}

/** What a suggestion needs: acquisition terms, and which observations are feasible. */
export interface ConstraintState {
  /** log P(c_k <= 0) terms, one per constraint (empty before any trial has constraint values). */
  readonly terms: readonly AcquisitionTerm[];
  /** Trial ids of the feasible observations (every value <= 0). */
  readonly feasible: ReadonlySet<number>;
  /** Per term: the worst (lowest) target of its model's rows, in the model's standardized units. */
  readonly worst: readonly number[];
}

/**
 * Constraint values of observed trials, and the models of them (see the file header). One per
 * GpSampler; bound to one study at a time by the sampler (`reset` when it changes study).
 */
export class ConstraintModels {
  private cache: ConstraintModelsCache | null = null;
  /** Values computed here for trials stored without them, by trial id (null: invalid). */
  private readonly evaluated = new Map<number, number[] | null>();

  constructor(private readonly func: ConstraintsFunc) {}

  /** Drops every model and value (another study). */
  reset(): void {
    this.disposeCache();
    this.evaluated.clear();
  }

  /** The constraint values of a finished trial (stored, else evaluated once); null when it has none usable. */
  valuesOf(trial: FrozenTrial): readonly number[] | null {
    const stored = storedConstraints(trial.systemAttrs);
    if (stored !== undefined) {
      if (stored === null) {
        warnOnce(
          'GP_CONSTRAINTS_INVALID',
          `GpSampler: trial ${trial.number} has no valid constraint values (constraintsFunc failed at its tell); it counts as infeasible`,
        );
      }
      return stored;
    }
    if (!this.evaluated.has(trial.trialId)) {
      const { constraints, error } = evaluateConstraints(this.func, trial);
      if (error !== null) warnOnce('GP_CONSTRAINTS_INVALID', `GpSampler: ${error.message}; the trial counts as infeasible`);
      this.evaluated.set(trial.trialId, constraints);
    }
    return this.evaluated.get(trial.trialId) ?? null;
  }

  /** Fits or extends the constraint models for a suggestion (see the file header). */
  async update(input: ConstraintModelsInput): Promise<ConstraintState> {
    const { rows, d } = input;
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
    values.forEach((v, i) => {
      if (v === null) return;
      if (v.length !== count) {
        warnOnce(
          'GP_CONSTRAINTS_MISMATCH',
          `GpSampler: trial ${rows[i].trial.number} has ${v.length} constraint values, the latest trials ${count}; it counts as infeasible`,
        );
        return;
      }
      usable.push({ row: rows[i], values: v });
      if (v.every((c) => c <= 0)) feasible.add(rows[i].trial.trialId);
    });
    if (count <= 0 || usable.length === 0) {
      this.disposeCache();
      return { terms: [], feasible, worst: [] };
    }
    const previous = this.cache;
    const byId = new Map(usable.map((u) => [u.row.trial.trialId, u]));
    const valid =
      previous !== null &&
      previous.signature === input.signature &&
      previous.count === count &&
      previous.trialIds.every((id) => byId.has(id));
    const n = usable.length;
    let next: ConstraintModelsCache;
    if (valid && !input.refitDue(n, previous.nAtFit)) {
      const known = new Set(previous.trialIds);
      const fresh = usable.filter((u) => !known.has(u.row.trial.trialId));
      next = fresh.length === 0 ? previous : await this.append(previous, fresh, d);
    } else {
      next = await this.fit(input, usable, count, previous !== null && previous.signature === input.signature && previous.count === count ? previous : null);
    }
    if (next !== previous) {
      this.disposeCache();
      this.cache = next;
    }
    const terms = next.models.map((m): AcquisitionTerm => ({ model: m.model, kind: 'pi', incumbent: standardizeValue(0, m.mean, m.scale), beta: 0 }));
    const worst = next.models.map((m, k) => {
      let w = Number.POSITIVE_INFINITY;
      for (const u of usable) w = Math.min(w, standardizeValue(-u.values[k], m.mean, m.scale));
      return w;
    });
    return { terms, feasible, worst };
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

  private async fit(
    input: ConstraintModelsInput,
    usable: readonly { row: ConstraintRow; values: readonly number[] }[],
    count: number,
    warm: ConstraintModelsCache | null,
  ): Promise<ConstraintModelsCache> {
    const { d } = input;
    const n = usable.length;
    const x = new Float64Array(n * d);
    usable.forEach((u, i) => x.set(u.row.x, i * d));
    const models: ConstraintModel[] = [];
    try {
      for (let k = 0; k < count; k++) {
        const { y, mean, scale } = standardized(usable.map((u) => -u.values[k]));
        const data: GpTrainingData = { x, y, n, d, isCategorical: input.isCategorical };
        const warmStart = warm === null ? null : Float64Array.from(warm.models[k].model.theta);
        const options: FitOptions = {
          ...input.fit,
          warmStart,
          nRestarts: warmStart === null ? input.restarts.cold : input.restarts.warm,
          seed: deriveSeed(input.fit.seed, 'constraint', k) % 4294967296,
        };
        models.push({ model: await input.backend.fit(data, options), mean, scale });
      }
    } catch (err) {
      for (const m of models) m.model.dispose();
      throw err;
    }
    return { signature: input.signature, count, trialIds: usable.map((u) => u.row.trial.trialId), models, nAtFit: n };
  }

  private async append(
    previous: ConstraintModelsCache,
    fresh: readonly { row: ConstraintRow; values: readonly number[] }[],
    d: number,
  ): Promise<ConstraintModelsCache> {
    const k = fresh.length;
    const x = new Float64Array(k * d);
    fresh.forEach((u, i) => x.set(u.row.x, i * d));
    const models: ConstraintModel[] = [];
    try {
      for (let c = 0; c < previous.count; c++) {
        const { mean, scale } = previous.models[c];
        const y = Float64Array.from(fresh, (u) => standardizeValue(-u.values[c], mean, scale));
        models.push({ model: await previous.models[c].model.append(x, y, k), mean, scale });
      }
    } catch (err) {
      for (const m of models) m.model.dispose();
      throw err;
    }
    return { ...previous, trialIds: [...previous.trialIds, ...fresh.map((u) => u.row.trial.trialId)], models };
  }

  private disposeCache(): void {
    if (this.cache === null) return;
    for (const m of this.cache.models) m.model.dispose();
    this.cache = null;
  }
}

/**
 * (v - mean) / scale with the population standard deviation as scale, as the objective's targets
 * (`moments` of outcome-transform.ts: finite for values of any magnitude, 1 or about 1e-12 |mean|
 * for a constant column).
 */
function standardized(v: readonly number[]): { y: Float64Array; mean: number; scale: number } {
  const { mean, std } = moments(v);
  return { y: Float64Array.from(v, (a) => standardizeValue(a, mean, std)), mean, scale: std };
}
