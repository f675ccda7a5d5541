/**
 * Keeps GpSampler off configurations it has already evaluated in a fully discrete space.
 *
 * On a space of ints, stepped floats and categoricals the acquisition's optimum is often a
 * configuration already evaluated (COMPLETE, or PRUNED under `usePrunedTrials`), one a RUNNING
 * trial is evaluating, or one the objective failed at: with a learned noise, logEI (and UCB, PI,
 * logEHVI) keep some value at an observed point, and once the model is sure of its optimum that
 * beats every point not tried yet. A 1-D int space of 3-8 points repeated one before covering the
 * rest in 28 of 32 seeded runs; `askBatch(8)` on 5 points after two trials gave 1, 0, 0, 0, ...
 * (the pending 0 again and again); on four ints of 1..32, 31-37 of 60 trials repeated one. A
 * repeat of a deterministic objective learns nothing. When the optimum is such a configuration,
 * alternatives are scored with the same acquisition and the best one not taken is suggested:
 * - a space of at most `maxConfigurations` configurations: every one not taken, as Ax does on
 *   discrete spaces (BoTorch's `optimize_acqf_discrete(X_avoid=observed)`); when none is left
 *   the optimum stands (a repeat is then unavoidable);
 * - a larger one: the repeated point's neighbours (one grid step or integer up and down per
 *   ordinal dim, every other choice of a categorical of at most MAX_NEIGHBOUR_CHOICES) and the
 *   acquisition search's own candidates (candidates.ts: scrambled Sobol points, local ones around
 *   the repeated point), snapped to the grid.
 * Held dims (a partially enqueued trial) keep their held values. A space with a continuous dim is
 * left alone: its optimum repeats a point only at a bound, and the best alternative there is a
 * point a hair away (on min x + 2y - z, 27-30 of 60 trials within 1e-3 of an earlier one), no
 * more informative than the repeat.
 *
 * Taken configurations: the observations (COMPLETE, or PRUNED under `usePrunedTrials`), the
 * pending points and the last failed ones, as GpSampler passes them. Keying a configuration costs
 * d encode/decode round trips and a JSON string (17-24 ms for 10,000 observations of 10 dims), so
 * the observations' keys are kept across suggestions (`ObservedConfigurations`, one per sampler,
 * reset when it moves to another study) and only the observations new since the last suggestion
 * are keyed: an observation is a finished trial, immutable, and trials are never removed, so for
 * one study and one modelled space the observations only grow. The pending and failed points
 * (RUNNING trials, which change, and at most GpSampler's last failed ones) are keyed afresh
 * on every suggestion. A space with a continuous dim keys nothing.
 *
 * Notation: d modelled dims; a configuration is one value per dim; its key is the JSON of those
 * values, each normalized by decode(encode(v)) so that two spellings of a stepped float's grid
 * point (0.3, 0.30000000000000004) are one configuration.
 */
import { decode, discreteValues, encode, gridSpacing, logIntBounds } from '../../space/encode.js';
import type { ParamValue, SearchSpace } from '../../space/types.js';
import type { AcquisitionOptions, FittedGp } from '../../surrogate/backend.js';
import { acquisitionCandidates, type CandidateOptions } from '../../surrogate/candidates.js';

/** Most configurations enumerated (and scored in one acquisition call) to replace a repeat. */
export const MAX_ENUMERATED_CONFIGURATIONS = 65536;
/**
 * Most Sobol candidates (plus their local ones) scored to replace a repeat in a larger discrete
 * space: the default `candidates`; the option's 10^6 would spend seconds snapping and keying them
 * for an alternative that only has to be a good untried point.
 */
export const MAX_ALTERNATIVE_SOBOL = 2048;
/** A categorical of at most this many choices offers every other choice as a neighbour. */
export const MAX_NEIGHBOUR_CHOICES = 64;

/** The acquisition search's candidate settings, reused for the alternatives of a larger space. */
export type GuardCandidates = Pick<CandidateOptions, 'nSobol' | 'seed' | 'isCategorical'>;

/** An observation as the guard reads it: its trial and the values it was evaluated at. */
export interface ObservedPoint {
  readonly trialId: number;
  readonly params: Readonly<Record<string, ParamValue>>;
}

/**
 * The keys of the configurations a study has observed, kept across the suggestions of one sampler
 * (see the file comment): `update` keys only the observations it has not seen, by trial id. Valid
 * for one study: the sampler calls `reset` when it moves to another (trial ids of two storages can
 * coincide). A different modelled space (another dim, range or step: the same values could key
 * alike, and the observations of one space are not those of the other) starts over.
 */
export class ObservedConfigurations {
  /** The modelled space the keys are of: JSON of the dims' names and distributions. */
  private signature: string | null = null;
  /** Trial ids of the observations keyed (those whose values are not of the space included). */
  private readonly keyed = new Set<number>();
  private readonly keys = new Set<string>();

  /** Forgets every key (the sampler moved to another study). */
  reset(): void {
    this.signature = null;
    this.keyed.clear();
    this.keys.clear();
  }

  /**
   * Adds the keys of the observations not keyed yet (all of them after a change of space).
   * Returns how many observations it keyed.
   */
  update(space: SearchSpace, dims: readonly string[], observations: readonly ObservedPoint[]): number {
    const signature = JSON.stringify(dims.map((name) => [name, space[name]]));
    if (signature !== this.signature) {
      this.reset();
      this.signature = signature;
    }
    let n = 0;
    for (const o of observations) {
      if (this.keyed.has(o.trialId)) continue;
      this.keyed.add(o.trialId);
      n++;
      const key = configurationKey(space, dims, o.params);
      if (key !== null) this.keys.add(key);
    }
    return n;
  }

  /** Whether a configuration of that key has been observed. */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** The number of distinct configurations observed. */
  get size(): number {
    return this.keys.size;
  }
}

export class UnevaluatedGuard {
  /** Off: a free dim is continuous (no configuration is keyed or replaced). */
  private readonly off: boolean;
  /** Per dim, the values to enumerate (a held dim: its held value alone); null: too many. */
  private readonly values: (readonly ParamValue[])[] | null;
  /** Keys of the taken configurations that are not observations (pending, failed). */
  private readonly others = new Set<string>();

  /**
   * @param held encoded values of dims held fixed (NaN for the free ones), as
   *   OptimizeAcquisitionOptions.fixedFeatures, or undefined.
   * @param observed the sampler's kept keys of the study's observations, brought up to date with
   *   `observations` here (unless a free dim is continuous: then nothing is keyed).
   * @param observations the configurations evaluated (params over `dims`), with their trial ids.
   * @param others the other taken configurations: running or failed (params over `dims`).
   * @param maxConfigurations the most configurations to enumerate (also capped by
   *   MAX_ENUMERATED_CONFIGURATIONS).
   * @param candidates the acquisition search's candidate settings.
   */
  constructor(
    private readonly space: SearchSpace,
    private readonly dims: readonly string[],
    private readonly held: Float64Array | undefined,
    private readonly observed: ObservedConfigurations,
    observations: readonly ObservedPoint[],
    others: Iterable<Readonly<Record<string, ParamValue>>>,
    maxConfigurations: number,
    private readonly candidates: GuardCandidates,
  ) {
    this.off = dims.some((name, j) => !this.isHeld(j) && gridSpacing(space[name]) === 0 && logIntBounds(space[name]) === null);
    const limit = Math.min(MAX_ENUMERATED_CONFIGURATIONS, maxConfigurations);
    let values: (readonly ParamValue[])[] | null = this.off ? null : [];
    let total = 1;
    for (let j = 0; j < dims.length && values !== null; j++) {
      const dist = space[dims[j]];
      const all = this.isHeld(j) ? [decode(dist, (held as Float64Array)[j])] : discreteValues(dist, limit);
      total *= all === null ? Infinity : all.length;
      if (all === null || total > limit) values = null;
      else values.push(all);
    }
    this.values = values;
    if (this.off) return;
    observed.update(space, dims, observations);
    for (const params of others) {
      const key = configurationKey(space, dims, params);
      if (key !== null) this.others.add(key);
    }
  }

  /** Whether the configuration of this key is taken (observed, running or failed). */
  private isTaken(key: string): boolean {
    return this.observed.has(key) || this.others.has(key);
  }

  /**
   * `x` (encoded, d coordinates), or, when it decodes to a taken configuration, the alternative
   * not taken (see the file comment) where `model`'s `acquisition` is highest (the first on ties;
   * the first one when no value is finite); `x` when there is none.
   */
  async choose(model: FittedGp, x: Float64Array, acquisition: AcquisitionOptions): Promise<Float64Array> {
    const d = this.dims.length;
    if (this.off || d === 0 || this.observed.size + this.others.size === 0) return x;
    // A custom backend's malformed optimum goes back as it is, for the sampler's check to name it.
    if (x.length !== d || !x.every(Number.isFinite)) return x;
    if (!this.isTaken(this.rowKey(x))) return x;
    const candidates = this.values === null ? this.alternatives(x) : this.enumerate(this.values);
    const m = candidates.length / d;
    if (m === 0) return x;
    const { value } = await model.acquisition(candidates, m, acquisition, false);
    let best = 0;
    for (let i = 1; i < m; i++) if (value[i] > value[best] || (Number.isNaN(value[best]) && !Number.isNaN(value[i]))) best = i;
    return candidates.slice(best * d, (best + 1) * d);
  }

  /** Every configuration of a small space that is not taken (encoded rows). */
  private enumerate(values: readonly (readonly ParamValue[])[]): Float64Array {
    const d = this.dims.length;
    const rows: number[] = [];
    const index = new Array<number>(d).fill(0);
    const config = new Array<ParamValue>(d);
    for (;;) {
      for (let j = 0; j < d; j++) config[j] = values[j][index[j]];
      if (!this.isTaken(JSON.stringify(config))) {
        for (let j = 0; j < d; j++) rows.push(encode(this.space[this.dims[j]], config[j], this.dims[j]));
      }
      let j = d - 1;
      while (j >= 0 && ++index[j] === values[j].length) index[j--] = 0;
      if (j < 0) break;
    }
    return Float64Array.from(rows);
  }

  /**
   * A larger space's alternatives to the repeated point `x`: its neighbours, then the search's
   * candidates, each snapped to the grid (held dims at their values), less the taken
   * configurations and duplicates (encoded rows).
   */
  private alternatives(x: Float64Array): Float64Array {
    const d = this.dims.length;
    const rows: number[] = [];
    const seen = new Set<string>();
    const row = new Float64Array(d);
    const add = (source: ArrayLike<number>, offset: number): void => {
      for (let j = 0; j < d; j++) {
        const dist = this.space[this.dims[j]];
        const u = this.isHeld(j) ? (this.held as Float64Array)[j] : source[offset + j];
        row[j] = encode(dist, decode(dist, u), this.dims[j]);
      }
      const key = this.rowKey(row);
      if (this.isTaken(key) || seen.has(key)) return;
      seen.add(key);
      for (let j = 0; j < d; j++) rows.push(row[j]);
    };
    const neighbour = Float64Array.from(x);
    for (let j = 0; j < d; j++) {
      if (this.isHeld(j)) continue;
      const dist = this.space[this.dims[j]];
      const g = gridSpacing(dist);
      const bounds = logIntBounds(dist);
      const steps: number[] = [];
      if (bounds !== null) {
        const k = decode(dist, x[j]) as number;
        for (const v of [k - 1, k + 1]) if (v >= bounds[0] && v <= bounds[1]) steps.push(encode(dist, v, this.dims[j]));
      } else if (g > 1) {
        if (g <= MAX_NEIGHBOUR_CHOICES) for (let c = 0; c < g; c++) steps.push(c);
      } else {
        steps.push(x[j] - g, x[j] + g);
      }
      for (const u of steps) {
        neighbour[j] = u;
        add(neighbour, 0);
      }
      neighbour[j] = x[j];
    }
    const { nSobol, seed, isCategorical } = this.candidates;
    const raw = acquisitionCandidates({ d, nSobol: Math.min(nSobol, MAX_ALTERNATIVE_SOBOL), seed, center: x, isCategorical }).x;
    for (let i = 0; i < raw.length / d; i++) add(raw, i * d);
    return Float64Array.from(rows);
  }

  private isHeld(j: number): boolean {
    return this.held !== undefined && !Number.isNaN(this.held[j]);
  }

  /** The key of the configuration an encoded row decodes to. */
  private rowKey(x: ArrayLike<number>): string {
    return JSON.stringify(
      this.dims.map((name, j) => {
        const dist = this.space[name];
        return decode(dist, encode(dist, decode(dist, x[j]), name));
      }),
    );
  }
}

/** The key of a configuration over `dims`, or null when a value is not one of its dim's. */
function configurationKey(space: SearchSpace, dims: readonly string[], params: Readonly<Record<string, ParamValue>>): string | null {
  const out: ParamValue[] = [];
  for (const name of dims) {
    const dist = space[name];
    if (!Object.prototype.hasOwnProperty.call(params, name)) return null;
    try {
      out.push(decode(dist, encode(dist, params[name], name)));
    } catch {
      return null; // not a value of this distribution (the trial ran elsewhere or failed on it)
    }
  }
  return JSON.stringify(out);
}
