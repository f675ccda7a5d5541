/**
 * One GP per column of values over the same rows, kept across suggestions under GpSampler's refit
 * policy: the models of a constrained study's constraints (constraint-models.ts) and of a
 * multi-objective study's objectives under logEHVI (gp-sampler.ts).
 *
 * - Targets: column j of each row, standardized over the rows at the last fit (mean 0, variance 1;
 *   `moments` of outcome-transform.ts keeps them finite for values of any magnitude and gives a
 *   constant column scale max(1, 1e-12 |mean|)), then shifted by the prior-mean offset: 0 for
 *   'mean', the smallest standardized value for 'worst-observed' (outcome-transform.ts explains
 *   both; the GP's zero prior mean then sits at the mean, or at the worst observed value).
 * - Updates: refit (warm-started from the previous theta of the same column) while the refit
 *   policy asks for it (few rows, or the rows grew by 1/refitGrowthDivisor since the last fit),
 *   else the new rows are appended at the kept theta and scaling (O(n^2) per row), unless a new
 *   value has no finite target under that scaling, or one beyond MAX_APPENDED_TARGET (far outside
 *   the fitted range): then a refit. Another signature (search space), column count, or a row
 *   that disappeared drops the models.
 * - Large n: above `subset.size` rows a fit's likelihood evaluations cost O(n^3) each (seconds
 *   at a few thousand rows, per column), so each column's hyperparameters are fitted on a subset
 *   of `subset.size` rows (fit-subset.ts: its `subset.nBest` best rows plus a seeded sample of
 *   the rest, stable from one refit to the next), and its model is then built on every row at
 *   that theta (one factorization), as GpSampler's own model is.
 * - A new sampler (no models yet, or another signature or column count): each column starts from
 *   the fit an earlier sampler recorded in the study for it, when there is one (`stored`: the
 *   caller reads stored-fit.ts records, keyed by the column's role), as GpSampler's own model
 *   does. When every column has one, all at the same observation count, and the refit policy
 *   would not refit yet at that count (nor fit on a subset), the models are built at the recorded
 *   thetas without a fit ('restored'); otherwise each column's fit is warm-started from its
 *   record (the warm restarts), a column without one fitting cold. Each fit's thetas are returned
 *   (`fits`) for the caller to record.
 */
import type { FitOptions, FittedGp, GpTrainingData, SurrogateBackend } from '../../surrogate/backend.js';
import { MAX_APPENDED_TARGET, moments, standardizeValue, type PriorMeanKind } from '../../surrogate/outcome-transform.js';
import { deriveSeed } from '../../util/prng.js';
import { selectFitSubset } from './fit-subset.js';
import type { StoredFit } from './stored-fit.js';

/** How a column's values become targets: (v - mean) / scale - offset. */
export interface ColumnScale {
  readonly mean: number;
  readonly scale: number;
  readonly offset: number;
}

/** The target of value v under `s`. */
export function columnTarget(s: ColumnScale, v: number): number {
  return standardizeValue(v, s.mean, s.scale) - s.offset;
}

/** One column's model and the scaling its targets were built with. */
export interface ColumnModel {
  readonly model: FittedGp;
  readonly scale: ColumnScale;
}

/** One row: an id (a trial id), its encoded inputs (length d) and its value per column. */
export interface ColumnRow {
  readonly id: number;
  readonly x: Float64Array;
  readonly values: readonly number[];
}

export interface ColumnModelsInput {
  readonly backend: SurrogateBackend;
  readonly rows: readonly ColumnRow[];
  /** Columns (every row's values has this length). */
  readonly count: number;
  readonly d: number;
  readonly isCategorical: Uint8Array;
  /** Search-space signature: another one drops the models. */
  readonly signature: string;
  /** Fit options (warmStart, nRestarts and seed are set per column: `seed` is the base). */
  readonly fit: Omit<FitOptions, 'warmStart' | 'nRestarts'>;
  /** MAP restarts of a fit without / with a warm start. */
  readonly restarts: { readonly cold: number; readonly warm: number };
  /** Whether the refit policy asks for a refit at n rows given the rows at the last fit. */
  readonly refitDue: (n: number, nAtFit: number) => boolean;
  /** Column j's fit seed is deriveSeed(fit.seed, seedLabel, j). */
  readonly seedLabel: string;
  readonly priorMean: PriorMeanKind;
  /**
   * Fits above `size` rows run on a subset (see the file header): `size` rows, the `nBest` best
   * of the column among them, the rest sampled with `seed` (GpSampler's fitSubsetMax,
   * fitSubsetBest). Absent: every fit runs on all rows.
   */
  readonly subset?: { readonly size: number; readonly nBest: number; readonly seed: number };
  /**
   * Column j's (of `count`) fit recorded in the study by an earlier sampler (stored-fit.ts;
   * already validated for this column's role, dims and settings), or null; asked only when there
   * are no models to start from (see the file header). Absent: none.
   */
  readonly stored?: (column: number, count: number) => StoredFit | null;
}

/** What an update did: 'fit', 'append', 'reuse', or 'restored' (built at the recorded thetas). */
export type ColumnUpdateKind = 'fit' | 'append' | 'reuse' | 'restored';

/** A column's newly fitted theta and the rows it was fitted at (to record in the study). */
export interface ColumnFit {
  readonly column: number;
  readonly nAtFit: number;
  readonly theta: Float64Array;
}

interface ColumnModelsCache {
  readonly signature: string;
  readonly count: number;
  /** Row ids in row order. */
  readonly ids: readonly number[];
  readonly models: readonly ColumnModel[];
  /** Rows at the last fit. */
  readonly nAtFit: number;
  /** Row ids the first column's hyperparameters were fitted on at the last fit (all, or its subset). */
  readonly fitIds: readonly number[];
}

/** The models of every column (see the file header); `reset` drops them. */
export class ColumnModels {
  private cache: ColumnModelsCache | null = null;

  /**
   * Fits or extends the models for these rows: one model per column, in column order, what was
   * done ('fit': hyperparameters fitted, on every row or above `subset.size` on a subset and the
   * model built on every row; 'append': rows added at the kept theta; 'reuse': no new row;
   * 'restored': built at the thetas recorded in the study), for a fit the row ids the first
   * column's hyperparameters were fitted on, and the fitted thetas (`fits`, empty but for a fit).
   */
  async update(input: ColumnModelsInput): Promise<{
    readonly models: readonly ColumnModel[];
    readonly kind: ColumnUpdateKind;
    readonly fitIds: readonly number[];
    readonly fits: readonly ColumnFit[];
  }> {
    const { rows, count } = input;
    const previous = this.cache;
    const byId = new Set(rows.map((r) => r.id));
    const sameKind = previous !== null && previous.signature === input.signature && previous.count === count;
    const valid = sameKind && previous.ids.every((id) => byId.has(id));
    let next: ColumnModelsCache;
    let kind: ColumnUpdateKind = 'fit';
    if (valid && !input.refitDue(rows.length, previous.nAtFit)) {
      const known = new Set(previous.ids);
      const fresh = rows.filter((r) => !known.has(r.id));
      const appended = fresh.length === 0 ? previous : await this.append(previous, fresh, input.d);
      // null: a fresh value has no finite target under the kept scaling (refit with its own).
      next = appended ?? (await this.fit(input, previous, null));
      kind = appended === null ? 'fit' : fresh.length === 0 ? 'reuse' : 'append';
    } else if (sameKind) {
      next = await this.fit(input, previous, null);
    } else {
      // No models of these columns: start from the fits recorded in the study, if any.
      const stored = Array.from({ length: count }, (_, j) => input.stored?.(j, count) ?? null);
      const restored = await this.restore(input, stored);
      next = restored ?? (await this.fit(input, null, stored));
      if (restored !== null) kind = 'restored';
    }
    if (next !== previous) {
      this.reset();
      this.cache = next;
    }
    const fits = kind === 'fit' ? next.models.map((m, column): ColumnFit => ({ column, nAtFit: next.nAtFit, theta: Float64Array.from(m.model.theta) })) : [];
    return { models: next.models, kind, fitIds: kind === 'fit' ? next.fitIds : [], fits };
  }

  /** Disposes every model. */
  reset(): void {
    if (this.cache === null) return;
    for (const m of this.cache.models) m.model.dispose();
    this.cache = null;
  }

  /**
   * The models built at the recorded thetas (see the file header), or null when some column has
   * no record, the records' observation counts differ, the refit policy would refit (or fit on a
   * subset) at this many rows, or a build fails (the fit then starts from the same thetas).
   */
  private async restore(input: ColumnModelsInput, stored: readonly (StoredFit | null)[]): Promise<ColumnModelsCache | null> {
    const { rows, d } = input;
    const n = rows.length;
    const first = stored[0];
    if (first === undefined || first === null || stored.some((s) => s === null || s.nAtFit !== first.nAtFit)) return null;
    const nAtFit = first.nAtFit;
    if (n < nAtFit || input.refitDue(n, nAtFit) || (input.subset !== undefined && n > input.subset.size)) return null;
    const x = new Float64Array(n * d);
    rows.forEach((r, i) => x.set(r.x, i * d));
    const models: ColumnModel[] = [];
    try {
      for (let j = 0; j < input.count; j++) {
        const { scale, y } = columnTargets(rows, j, input.priorMean);
        const theta = (stored[j] as StoredFit).theta;
        const model = await input.backend.build({ x, y, n, d, isCategorical: input.isCategorical }, Float64Array.from(theta), {
          kernel: input.fit.kernel,
          deterministic: input.fit.deterministic,
          numThreads: input.fit.numThreads,
        });
        models.push({ model, scale });
      }
    } catch {
      for (const m of models) m.model.dispose();
      return null;
    }
    return { signature: input.signature, count: input.count, ids: rows.map((r) => r.id), models, nAtFit, fitIds: [] };
  }

  /**
   * Fits every column: column j warm-started from `warm`'s model j (the previous models of these
   * columns), else from `stored[j]` (a record in the study), else cold.
   */
  private async fit(input: ColumnModelsInput, warm: ColumnModelsCache | null, stored: readonly (StoredFit | null)[] | null): Promise<ColumnModelsCache> {
    const { rows, d } = input;
    const n = rows.length;
    const x = new Float64Array(n * d);
    rows.forEach((r, i) => x.set(r.x, i * d));
    const models: ColumnModel[] = [];
    let fitIds: readonly number[] = rows.map((r) => r.id);
    try {
      for (let j = 0; j < input.count; j++) {
        const { scale, y } = columnTargets(rows, j, input.priorMean);
        const data: GpTrainingData = { x, y, n, d, isCategorical: input.isCategorical };
        const from = warm === null ? (stored?.[j]?.theta ?? null) : warm.models[j].model.theta;
        const warmStart = from === null ? null : Float64Array.from(from);
        const options: FitOptions = {
          ...input.fit,
          warmStart,
          nRestarts: warmStart === null ? input.restarts.cold : input.restarts.warm,
          seed: deriveSeed(input.fit.seed, input.seedLabel, j) % 4294967296,
        };
        const subset = input.subset;
        if (subset === undefined || n <= subset.size) {
          models.push({ model: await input.backend.fit(data, options), scale });
          continue;
        }
        // Theta from a subset of the rows, then the model of every row at it.
        const ids = rows.map((r) => r.id);
        const chosen = selectFitSubset({ trialIds: ids, values: y, size: subset.size, nBest: subset.nBest, seed: deriveSeed(subset.seed, input.seedLabel, j) });
        if (j === 0) fitIds = chosen;
        const position = new Map(ids.map((id, i) => [id, i]));
        const m = chosen.length;
        const sx = new Float64Array(m * d);
        const sy = new Float64Array(m);
        chosen.forEach((id, i) => {
          const row = position.get(id) as number;
          sx.set(x.subarray(row * d, row * d + d), i * d);
          sy[i] = y[row];
        });
        const fitted = await input.backend.fit({ x: sx, y: sy, n: m, d, isCategorical: input.isCategorical }, options);
        try {
          const model = await input.backend.build(data, Float64Array.from(fitted.theta), {
            kernel: input.fit.kernel,
            deterministic: input.fit.deterministic,
            numThreads: input.fit.numThreads,
          });
          models.push({ model, scale });
        } finally {
          fitted.dispose();
        }
      }
    } catch (err) {
      for (const m of models) m.model.dispose();
      throw err;
    }
    return { signature: input.signature, count: input.count, ids: rows.map((r) => r.id), models, nAtFit: n, fitIds };
  }

  /**
   * The previous models with `fresh` appended, or null when a fresh value has no finite target
   * under the kept scaling (a value far outside the fitted rows' range, e.g. 1.7e308 beside values
   * of 1e-6: the backend would reject it), or one beyond MAX_APPENDED_TARGET (1e306 beside values
   * below 1: appended, the model predicted NaN); the caller then refits, whose scaling keeps every
   * target finite (`moments`).
   */
  private async append(previous: ColumnModelsCache, fresh: readonly ColumnRow[], d: number): Promise<ColumnModelsCache | null> {
    const k = fresh.length;
    const x = new Float64Array(k * d);
    fresh.forEach((r, i) => x.set(r.x, i * d));
    const targets = previous.models.map(({ scale }, j) => Float64Array.from(fresh, (r) => columnTarget(scale, r.values[j])));
    if (targets.some((y) => y.some((v) => !(Math.abs(v) <= MAX_APPENDED_TARGET)))) return null;
    const models: ColumnModel[] = [];
    try {
      for (let j = 0; j < previous.count; j++) {
        const { scale } = previous.models[j];
        const y = targets[j];
        models.push({ model: await previous.models[j].model.append(x, y, k), scale });
      }
    } catch (err) {
      for (const m of models) m.model.dispose();
      throw err;
    }
    return { ...previous, ids: [...previous.ids, ...fresh.map((r) => r.id)], models };
  }
}

/** Column j's scaling over `rows` (see the file header) and its targets. */
function columnTargets(rows: readonly ColumnRow[], j: number, priorMean: PriorMeanKind): { scale: ColumnScale; y: Float64Array } {
  const column = rows.map((r) => r.values[j]);
  const { mean, std } = moments(column);
  let offset = 0;
  if (priorMean === 'worst-observed') {
    offset = Number.POSITIVE_INFINITY;
    for (const v of column) offset = Math.min(offset, standardizeValue(v, mean, std));
  }
  const scale: ColumnScale = { mean, scale: std, offset };
  return { scale, y: Float64Array.from(column, (v) => columnTarget(scale, v)) };
}
