/**
 * Keeps GpSampler off configurations it has already evaluated in a small, fully discrete space.
 *
 * On a space of ints, stepped floats and categoricals the acquisition's optimum is often a
 * configuration already evaluated (COMPLETE, or PRUNED under `usePrunedTrials`), one a RUNNING
 * trial is evaluating, or one the objective failed at: with a learned noise, logEI (and UCB, PI,
 * logEHVI) keep some value at an observed point, and on a handful of points that beats the points
 * not tried yet. A 1-D int space of 3-8 points repeated one before covering the rest in 28 of 32
 * seeded runs, and `askBatch(8)` on 3 points gave 0, 2, 0, 2 before 1. A repeat of a deterministic
 * objective learns nothing. As Ax does on a discrete space (BoTorch's
 * `optimize_acqf_discrete(X_avoid=observed)`), when the optimum is such a configuration and the
 * space holds at most `maxConfigurations` of them, every configuration not yet taken is scored
 * with the same acquisition and the best is suggested instead; when none is left the optimum
 * stands (a repeat is then unavoidable). A space with a continuous dim is left alone: its optimum
 * repeats a point only at a bound, where a continuous neighbour is no more informative.
 *
 * Notation: d modelled dims; a configuration is one value per dim; its key is the JSON of those
 * values, each normalized by decode(encode(v)) so that two spellings of a stepped float's grid
 * point (0.3, 0.30000000000000004) are one configuration.
 */
import { decode, discreteValues, encode } from '../../space/encode.js';
import type { ParamValue, SearchSpace } from '../../space/types.js';
import type { AcquisitionOptions, FittedGp } from '../../surrogate/backend.js';

/** Most configurations enumerated (and scored in one acquisition call) to replace a repeat. */
export const MAX_ENUMERATED_CONFIGURATIONS = 65536;

export class UnevaluatedGuard {
  /** Per dim, the values to enumerate (a held dim: its held value alone); null: guard off. */
  private readonly values: (readonly ParamValue[])[] | null;
  private readonly taken = new Set<string>();

  /**
   * @param held encoded values of dims held fixed (NaN for the free ones), as
   *   OptimizeAcquisitionOptions.fixedFeatures, or undefined.
   * @param taken the configurations already evaluated, running or failed (params over `dims`).
   * @param maxConfigurations the most configurations to enumerate (also capped by
   *   MAX_ENUMERATED_CONFIGURATIONS).
   */
  constructor(
    private readonly space: SearchSpace,
    private readonly dims: readonly string[],
    held: Float64Array | undefined,
    taken: Iterable<Readonly<Record<string, ParamValue>>>,
    maxConfigurations: number,
  ) {
    const limit = Math.min(MAX_ENUMERATED_CONFIGURATIONS, maxConfigurations);
    let values: (readonly ParamValue[])[] | null = [];
    let total = 1;
    for (let j = 0; j < dims.length && values !== null; j++) {
      const dist = space[dims[j]];
      const all = held !== undefined && !Number.isNaN(held[j]) ? [decode(dist, held[j])] : discreteValues(dist, limit);
      total *= all === null ? Infinity : all.length;
      if (all === null || total > limit) values = null;
      else values.push(all);
    }
    this.values = values;
    if (values === null) return;
    for (const params of taken) {
      const key = this.paramsKey(params);
      if (key !== null) this.taken.add(key);
    }
  }

  /**
   * `x` (encoded, d coordinates), or, when it decodes to a taken configuration and some
   * configuration is not taken, the untaken one where `model`'s `acquisition` is highest (the
   * first in enumeration order on ties; the first untaken one when no value is finite).
   */
  async choose(model: FittedGp, x: Float64Array, acquisition: AcquisitionOptions): Promise<Float64Array> {
    const values = this.values;
    if (values === null || values.length === 0 || this.taken.size === 0) return x;
    const optimum = this.dims.map((name, j) => decode(this.space[name], x[j]));
    if (!this.taken.has(JSON.stringify(optimum))) return x;
    const d = this.dims.length;
    const rows: number[] = [];
    const index = new Array<number>(d).fill(0);
    const config = new Array<ParamValue>(d);
    for (;;) {
      for (let j = 0; j < d; j++) config[j] = values[j][index[j]];
      if (!this.taken.has(JSON.stringify(config))) {
        for (let j = 0; j < d; j++) rows.push(encode(this.space[this.dims[j]], config[j], this.dims[j]));
      }
      let j = d - 1;
      while (j >= 0 && ++index[j] === values[j].length) index[j--] = 0;
      if (j < 0) break;
    }
    const m = rows.length / d;
    if (m === 0) return x;
    const candidates = Float64Array.from(rows);
    const { value } = await model.acquisition(candidates, m, acquisition, false);
    let best = 0;
    for (let i = 1; i < m; i++) if (value[i] > value[best] || (Number.isNaN(value[best]) && !Number.isNaN(value[i]))) best = i;
    return candidates.slice(best * d, (best + 1) * d);
  }

  /** The key of a configuration over the dims, or null when a value is not one of its dim's. */
  private paramsKey(params: Readonly<Record<string, ParamValue>>): string | null {
    const out: ParamValue[] = [];
    for (const name of this.dims) {
      const dist = this.space[name];
      if (!Object.prototype.hasOwnProperty.call(params, name)) return null;
      try {
        out.push(decode(dist, encode(dist, params[name], name)));
      } catch {
        return null; // not a value of this distribution (the trial ran elsewhere or failed on it)
      }
    }
    return JSON.stringify(out);
  }
}
