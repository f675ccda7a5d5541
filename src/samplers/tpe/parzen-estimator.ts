/**
 * The Parzen estimator of the TPE sampler: a weighted mixture of product kernels over encoded
 * coordinates (src/space/encode.ts), one kernel per observation plus one prior kernel. Optuna's
 * `_ParzenEstimator` (optuna/samplers/_tpe/parzen_estimator.py, v4), written for the encoded space.
 *
 * Notation: n observations x_i (rows of an n x d row-major Float64Array), d dims; K = n + 1
 * kernels (k = n is the prior); mixture weights w_k = omega_k / sum(omega) with omega_i the
 * observation weights and omega_n = priorWeight (w = [1] when n = 0). Per dim j, `grid[j]` is the
 * `gridSpacing` of its distribution:
 *
 * - grid = 0 (continuous; log dims are already in log space): kernel k is N(mu_k, sigma_k^2)
 *   truncated to [0, 1].
 * - grid = 0 with `logIntBounds[j]` = [a, b] (a log int, coordinate u(v) = (ln v - ln(a - 1/2)) /
 *   (ln(b + 1/2) - ln(a - 1/2)), src/util/log-int.ts): integer v owns the log cell
 *   [u(v - 1/2), u(v + 1/2)] and kernel k gives it the truncated-normal mass of that cell, as for
 *   grid cells below (Optuna's `_BatchedDiscreteTruncLogNormDistributions`); draws are snapped to
 *   the coordinate of their cell's integer.
 * - 0 < grid = g <= 1 (ints, stepped floats): the 1/g grid cells [m g, (m + 1) g] tile [0, 1] and
 *   a value is its cell's center; kernel k gives cell m the truncated-normal mass of the cell,
 *   p = (Phi(b_m) - Phi(a_m)) / (Phi((1 - mu)/sigma) - Phi(-mu/sigma)) (Optuna's
 *   `_BatchedDiscreteTruncNormDistributions`).
 * - grid = c > 1 (categorical with c choices, coordinate = choice index): kernel i puts
 *   (1 + priorWeight/K) / (1 + c priorWeight/K) on its observed choice and
 *   (priorWeight/K) / (1 + c priorWeight/K) on each other one; the prior kernel is uniform.
 *
 * In the encoded space every numeric dim spans [0, 1] (Optuna's low - step/2 .. high + step/2
 * rescaled), so the prior is mu = 1/2, sigma = 1 and the bandwidths are:
 * - univariate (Bergstra et al. 2011, "Algorithms for Hyper-Parameter Optimization", sec. 4;
 *   Optuna's rule): sort the mus together with the prior mu, pad with the end points 0 and 1;
 *   sigma_i = max(gap to the left neighbour, gap to the right neighbour); unless
 *   `considerEndpoints`, the first and last use their inner gap only;
 * - multivariate (Falkner et al. 2018, "BOHB", eq. 7 scaled as in Optuna): sigma = 0.2 n^(-1/(d+4));
 * - then the "magic clip" (Bergstra's hyperopt): sigma in [1 / min(100, 1 + K), 1]
 *   (without `considerMagicClip`, [eps, 1]).
 */
import { decodeLogInt, encodeLogInt, snapLogInt } from '../../util/log-int.js';
import { logsumexp, normalLogPdf } from '../../util/math.js';
import type { Rng } from '../../util/prng.js';
import { logGaussMass, sampleStandardTruncatedNormal } from './truncnorm.js';

const EPS = 1e-12;
const SIGMA0_MAGNITUDE = 0.2;

export interface ParzenEstimatorOptions {
  /** Encoded observations, n x d row-major. */
  readonly observations: Float64Array;
  readonly n: number;
  readonly d: number;
  /** `gridSpacing` of each dim (see the file comment). */
  readonly grid: Float64Array;
  /** Non-negative weight of each observation (length n). */
  readonly weights: ArrayLike<number>;
  readonly priorWeight: number;
  readonly considerMagicClip: boolean;
  readonly considerEndpoints: boolean;
  readonly multivariate: boolean;
  /** [low, high] of each dim that is a log int (`logIntBounds` of src/space/encode.ts), else null; default all null. */
  readonly logIntBounds?: ReadonlyArray<readonly [number, number] | null>;
}

/**
 * The distinct (mu, sigma) pairs of a discrete dim's kernels: its observations sit on cell
 * centers, so with many observations most kernels repeat one of a few pairs, and a kernel's mass
 * of a cell depends on its pair only. `of[k]` is kernel k's pair.
 */
interface DistinctKernels {
  readonly of: Int32Array;
  readonly mu: Float64Array;
  readonly sigma: Float64Array;
  readonly logZ: Float64Array;
}

/** Per-dim kernel parameters. */
type DimKernels =
  | {
      readonly kind: 'numeric';
      readonly step: number;
      readonly logInt: readonly [number, number] | null;
      readonly mu: Float64Array; readonly sigma: Float64Array; readonly logZ: Float64Array;
      /** log sigma_k (used by continuous dims, once per kernel rather than per kernel and point). */
      readonly logSigma: Float64Array;
      /** Discrete dims only: the distinct (mu, sigma) pairs (see `distinctKernels`). */
      readonly distinct: DistinctKernels | null;
    }
  | { readonly kind: 'categorical'; readonly nChoices: number; readonly logProb: Float64Array; readonly prob: Float64Array };

export class ParzenEstimator {
  readonly d: number;
  /** Number of kernels (observations + prior, or 1 without observations). */
  readonly nKernels: number;
  private readonly logWeights: Float64Array;
  private readonly cumWeights: Float64Array;
  private readonly dims: readonly DimKernels[];

  constructor(options: ParzenEstimatorOptions) {
    const { n, d, observations, grid } = options;
    this.d = d;
    const nKernels = n === 0 ? 1 : n + 1;
    this.nKernels = nKernels;
    const w = new Float64Array(nKernels);
    if (n === 0) w[0] = 1;
    else {
      for (let i = 0; i < n; i++) w[i] = options.weights[i];
      w[n] = options.priorWeight;
    }
    let total = 0;
    for (const v of w) total += v;
    if (total === Infinity) {
      // Finite weights near Number.MAX_VALUE (allowed) whose sum overflows: normalized by the
      // largest first, else every w / total is 0 and every score NaN. Other sums are untouched.
      const largest = w.reduce((a, v) => Math.max(a, v), 0);
      total = 0;
      for (let k = 0; k < nKernels; k++) {
        w[k] /= largest;
        total += w[k];
      }
    }
    this.logWeights = new Float64Array(nKernels);
    this.cumWeights = new Float64Array(nKernels);
    let acc = 0;
    for (let k = 0; k < nKernels; k++) {
      this.logWeights[k] = Math.log(w[k] / total);
      acc += w[k] / total;
      this.cumWeights[k] = acc;
    }
    const dims: DimKernels[] = [];
    for (let j = 0; j < d; j++) {
      const column = new Float64Array(n);
      for (let i = 0; i < n; i++) column[i] = observations[i * d + j];
      const logInt = options.logIntBounds?.[j] ?? null;
      dims.push(grid[j] > 1 ? categoricalKernels(column, grid[j], options) : numericKernels(column, grid[j], logInt, options));
    }
    this.dims = dims;
  }

  /** `count` draws (count x d row-major): a kernel by weight, then each dim from that kernel. */
  sample(rng: Rng, count: number): Float64Array {
    const d = this.d;
    const out = new Float64Array(count * d);
    for (let c = 0; c < count; c++) {
      const k = this.pickKernel(rng.nextFloat());
      for (let j = 0; j < d; j++) {
        const dim = this.dims[j];
        if (dim.kind === 'categorical') {
          const u = rng.nextFloat();
          let acc = 0;
          let choice = dim.nChoices - 1;
          for (let m = 0; m < dim.nChoices; m++) {
            acc += dim.prob[k * dim.nChoices + m];
            if (u < acc) {
              choice = m;
              break;
            }
          }
          out[c * d + j] = choice;
        } else {
          const mu = dim.mu[k];
          const sigma = dim.sigma[k];
          const z = sampleStandardTruncatedNormal(-mu / sigma, (1 - mu) / sigma, rng.nextFloat());
          let x = mu + sigma * z;
          x = x < 0 ? 0 : x > 1 ? 1 : x;
          if (dim.step > 0) x = cellCenter(x, dim.step);
          else if (dim.logInt !== null) x = snapLogInt(x, dim.logInt[0], dim.logInt[1]);
          out[c * d + j] = x;
        }
      }
    }
    return out;
  }

  /**
   * log density (log mass for discrete dims) of each of the `count` rows of `x` (count x d).
   *
   * A discrete dim (grid cells, log ints) takes few distinct values among the rows, and its K
   * per-kernel terms depend on the value only, so they are computed once per distinct value
   * (`discreteTerms`) and added for every row holding it: the same numbers in the same order as
   * computing them row by row, at a fraction of the truncated-normal evaluations; within one value,
   * kernels that share (mu, sigma) share their term (`DistinctKernels`).
   */
  logPdf(x: Float64Array, count: number): Float64Array {
    const d = this.d;
    const K = this.nKernels;
    const out = new Float64Array(count);
    const terms = new Float64Array(K);
    const memo = this.dims.map((dim) => (dim.kind === 'numeric' && (dim.step > 0 || dim.logInt !== null) ? new Map<number, Float64Array>() : null));
    for (let c = 0; c < count; c++) {
      terms.set(this.logWeights);
      for (let j = 0; j < d; j++) {
        const v = x[c * d + j];
        const dim = this.dims[j];
        const known = memo[j];
        if (dim.kind === 'categorical') {
          const m = Math.round(v);
          for (let k = 0; k < K; k++) terms[k] += dim.logProb[k * dim.nChoices + m];
        } else if (known !== null) {
          let column = known.get(v);
          if (column === undefined) {
            column = discreteTerms(dim, v);
            known.set(v, column);
          }
          for (let k = 0; k < K; k++) terms[k] += column[k];
        } else {
          for (let k = 0; k < K; k++) {
            const s = dim.sigma[k];
            terms[k] += normalLogPdf((v - dim.mu[k]) / s) - dim.logSigma[k] - dim.logZ[k];
          }
        }
      }
      out[c] = logsumexp(terms);
    }
    return out;
  }

  private pickKernel(u: number): number {
    const cw = this.cumWeights;
    // Binary search for the first k with u < cw[k].
    let lo = 0;
    let hi = cw.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (u < cw[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/**
 * The K per-kernel log-mass terms, log P_k(cell of v) - log Z_k, of the discrete numeric dim `dim`
 * (grid cells when `step` > 0, else log-int cells) at the encoded value v.
 */
function discreteTerms(dim: Extract<DimKernels, { kind: 'numeric' }>, v: number): Float64Array {
  const kernels = dim.distinct ?? { of: null, mu: dim.mu, sigma: dim.sigma, logZ: dim.logZ };
  const { mu, sigma, logZ } = kernels;
  const nDistinct = mu.length;
  const terms = new Float64Array(nDistinct);
  if (dim.step > 0) {
    const half = dim.step / 2;
    for (let u = 0; u < nDistinct; u++) {
      const s = sigma[u];
      terms[u] = logGaussMass((v - half - mu[u]) / s, (v + half - mu[u]) / s) - logZ[u];
    }
  } else if (dim.logInt !== null) {
    const [a, b] = dim.logInt;
    const value = decodeLogInt(v, a, b);
    const lo = value === a ? 0 : encodeLogInt(value - 0.5, a, b);
    const hi = value === b ? 1 : encodeLogInt(value + 0.5, a, b);
    for (let u = 0; u < nDistinct; u++) {
      const s = sigma[u];
      terms[u] = logGaussMass((lo - mu[u]) / s, (hi - mu[u]) / s) - logZ[u];
    }
  }
  const of = kernels.of;
  if (of === null) return terms;
  const out = new Float64Array(of.length);
  for (let k = 0; k < of.length; k++) out[k] = terms[of[k]];
  return out;
}

/**
 * The distinct (mu, sigma) pairs among the kernels, in first-seen order, with their log Z. A -0
 * mu is kept apart from 0 (a Map key would merge them), so every kernel's numbers stay the ones it
 * would compute alone.
 */
function distinctKernels(mu: Float64Array, sigma: Float64Array): DistinctKernels {
  const K = mu.length;
  const of = new Int32Array(K);
  const index = new Map<number, Map<number, number>>();
  const uMu: number[] = [];
  const uSigma: number[] = [];
  for (let k = 0; k < K; k++) {
    const m = mu[k];
    const s = sigma[k];
    const keyed = !Object.is(m, -0) && !Object.is(s, -0);
    let bySigma = keyed ? index.get(m) : undefined;
    let u = bySigma?.get(s);
    if (u === undefined) {
      u = uMu.length;
      uMu.push(m);
      uSigma.push(s);
      if (keyed) {
        if (bySigma === undefined) {
          bySigma = new Map();
          index.set(m, bySigma);
        }
        bySigma.set(s, u);
      }
    }
    of[k] = u;
  }
  const logZ = new Float64Array(uMu.length);
  for (let u = 0; u < uMu.length; u++) logZ[u] = logGaussMass(-uMu[u] / uSigma[u], (1 - uMu[u]) / uSigma[u]);
  return { of, mu: Float64Array.from(uMu), sigma: Float64Array.from(uSigma), logZ };
}

/** The center of the grid cell of width `step` that holds x in [0, 1]. */
export function cellCenter(x: number, step: number): number {
  const nCells = Math.max(1, Math.round(1 / step));
  let m = Math.floor(x / step);
  if (m < 0) m = 0;
  if (m > nCells - 1) m = nCells - 1;
  return (m + 0.5) * step;
}

function numericKernels(
  mus: Float64Array,
  step: number,
  logInt: readonly [number, number] | null,
  options: ParzenEstimatorOptions,
): DimKernels {
  const n = mus.length;
  const nKernels = n === 0 ? 1 : n + 1;
  const sigmas = new Float64Array(n);
  if (n > 0) {
    if (options.multivariate) {
      sigmas.fill(SIGMA0_MAGNITUDE * Math.max(n, 1) ** (-1 / (options.d + 4)));
    } else {
      univariateBandwidths(mus, options.considerEndpoints, sigmas);
    }
    const maxSigma = 1;
    const minSigma = options.considerMagicClip ? 1 / Math.min(100, 1 + nKernels) : EPS;
    for (let i = 0; i < n; i++) sigmas[i] = Math.min(maxSigma, Math.max(minSigma, sigmas[i]));
  }
  const mu = new Float64Array(nKernels);
  const sigma = new Float64Array(nKernels);
  mu.set(mus);
  sigma.set(sigmas);
  mu[nKernels - 1] = 0.5;
  sigma[nKernels - 1] = 1;
  const logZ = new Float64Array(nKernels);
  const distinct = step > 0 || logInt !== null ? distinctKernels(mu, sigma) : null;
  if (distinct !== null) for (let k = 0; k < nKernels; k++) logZ[k] = distinct.logZ[distinct.of[k]];
  else for (let k = 0; k < nKernels; k++) logZ[k] = logGaussMass(-mu[k] / sigma[k], (1 - mu[k]) / sigma[k]);
  const logSigma = sigma.map(Math.log);
  return { kind: 'numeric', step, logInt, mu, sigma, logZ, logSigma, distinct };
}

/** Optuna's univariate bandwidth rule over the mus and the prior mu 1/2, end points 0 and 1. */
function univariateBandwidths(mus: Float64Array, considerEndpoints: boolean, out: Float64Array): void {
  const n = mus.length;
  const withPrior = Array.from(mus);
  withPrior.push(0.5);
  const order = withPrior.map((_, i) => i).sort((p, q) => withPrior[p] - withPrior[q] || p - q);
  const padded = new Float64Array(n + 3);
  padded[0] = 0;
  for (let r = 0; r <= n; r++) padded[r + 1] = withPrior[order[r]];
  padded[n + 2] = 1;
  const sorted = new Float64Array(n + 1);
  for (let r = 0; r <= n; r++) sorted[r] = Math.max(padded[r + 1] - padded[r], padded[r + 2] - padded[r + 1]);
  if (!considerEndpoints && padded.length >= 4) {
    sorted[0] = padded[2] - padded[1];
    sorted[n] = padded[n + 1] - padded[n];
  }
  for (let r = 0; r <= n; r++) if (order[r] < n) out[order[r]] = sorted[r];
}

function categoricalKernels(observed: Float64Array, nChoicesRaw: number, options: ParzenEstimatorOptions): DimKernels {
  const nChoices = Math.round(nChoicesRaw);
  const n = observed.length;
  const nKernels = n === 0 ? 1 : n + 1;
  const prob = new Float64Array(nKernels * nChoices);
  if (n === 0) prob.fill(1 / nChoices);
  else {
    const base = options.priorWeight / nKernels;
    for (let k = 0; k < nKernels; k++) {
      const row = k * nChoices;
      for (let m = 0; m < nChoices; m++) prob[row + m] = base;
      if (k < n) prob[row + Math.round(observed[k])] += 1;
      let total = 0;
      for (let m = 0; m < nChoices; m++) total += prob[row + m];
      for (let m = 0; m < nChoices; m++) prob[row + m] /= total;
    }
  }
  const logProb = prob.map(Math.log);
  return { kind: 'categorical', nChoices, logProb, prob };
}
