/**
 * The TypeScript GP backend: the fallback when the native addon is unavailable and the reference
 * the native backend is tested against. Single-threaded, on Float64Array; `numThreads` is
 * accepted and ignored. Work runs on the calling thread (the Promise-returning methods keep the
 * backend interface; they do not free the event loop the way the native AsyncWorkers do).
 *
 * Notation (backend.ts): X (n, d) row-major, y (n) standardized and maximized,
 *   theta = [log l_1..d, log s2, log sn2], A = K(X, X) + (sn2 + jitter) I = L L^T,
 *   alpha = A^{-1} y, k_* = K(X, x_*) (n), v = L^{-1} k_*, u = L^{-T} v = A^{-1} k_*.
 * Posterior (Rasmussen & Williams 2006, Alg. 2.1): mean = k_*^T alpha, var = s2 - v^T v.
 * Gradients w.r.t. a continuous coordinate x_j of the candidate:
 *   d mean / d x_j = sum_i alpha_i dk_i/dx_j,  d var / d x_j = -2 sum_i u_i dk_i/dx_j,
 *   dk_i/dx_j = s2 f'(r_i^2) * 2 w_j (x_j - X_ij)  (0 for categorical dims).
 * Fit: MAP over theta by L-BFGS-B (lbfgsb.ts) from the warm start (or the default theta) and
 * `nRestarts` seeded random starts around the default; a numerical failure falls back to the
 * default theta with a coded warning, never an exception.
 * Acquisition maximization: the candidates of candidates.ts (scrambled Sobol points and local
 * ones around the best observation) scored in one batch, the best
 * `nRestarts` (and the best observation, as Optuna 4.x GPSampler does) refined by L-BFGS-B in [0, 1] (categorical dims held, ordinal and log-int dims relaxed), then
 * ordinal dims rounded onto their grid (the start itself kept when that is worse), log-int dims onto their levels (`snapLogInt` of
 * src/util/log-int.ts, the one definition of those coordinates on this side; the native search
 * uses its C++ twin native/include/kestrel/log_int.h), and every discrete dim swept
 * coordinate-wise over its values (sets up to 64; else the two neighbours), alternating with
 * L-BFGS-B on the continuous dims (at most 3 rounds, while the value improves); the best
 * feasible point is kept. Dims held by `fixedFeatures` take their value in every snap (candidates,
 * starts, search results), are pinned by equal bounds in every L-BFGS-B run and skipped by the
 * sweep, so only the free dims are searched.
 */
import { InvalidOptionError, KestrelError, NumericalError } from '../errors.js';
import { decodeLogInt, encodeLogInt, snapLogInt } from '../util/log-int.js';
import { Rng } from '../util/prng.js';
import { warnOnce } from '../util/warn.js';
import { acquisitionFromMoments, logExpectedHypervolumeImprovement } from './acquisition.js';
import { acquisitionCandidates } from './candidates.js';
import type {
  AcquisitionKind,
  AcquisitionOptions,
  AcquisitionOptimum,
  AcquisitionResult,
  AppendOptions,
  BackendName,
  BuildOptions,
  FitOptions,
  FittedGp,
  GpTrainingData,
  KernelKind,
  OptimizeAcquisitionOptions,
  Prediction,
  SurrogateBackend,
} from './backend.js';
import { currentModel, HESSIAN_STEP, NOISELESS_VARIANCE } from './backend.js';
import { addNegLogPrior, defaultTheta, thetaBounds } from './hyperparameters.js';
import {
  crossKernel,
  inverseSquaredLengthscales,
  kernelShape,
  kernelShapeDerivative,
  negLogPosteriorJs,
  negLogPosteriorHessianJs,
  scaledDistance2,
  trainingCovariance,
} from './js-kernels.js';
import { backSolveInPlace, choleskyAppend, choleskyWithJitter, forwardSolveInPlace } from './js-linalg.js';
import { minimizeLbfgsb } from './lbfgsb.js';
import {
  checkAcquisitionOptions,
  checkAppendOptions,
  checkCount,
  checkFitOptions,
  checkFloat64,
  checkInputs,
  checkOptimizeOptions,
  checkPosteriorArgs,
  checkTrainingData,
  termModels,
} from './validate.js';

/** Floor of the posterior variance, relative to s2 (keeps sd > 0 at training points). */
const MIN_VARIANCE = 1e-12;
/** Categorical dims with at most this many choices are exhausted after refinement. */
const MAX_EXHAUSTIVE_CHOICES = 64;
const FIT_MAX_ITERATIONS = 200;
const ACQ_MAX_ITERATIONS = 100;

/** Creates the TypeScript backend. */
export function createJsBackend(): SurrogateBackend {
  return new JsBackend();
}

class JsBackend implements SurrogateBackend {
  readonly name: BackendName = 'js';

  async fit(data: GpTrainingData, options: FitOptions): Promise<FittedGp> {
    checkTrainingData(data);
    checkFitOptions(options, data.d);
    return fitJs(data, options);
  }

  async build(data: GpTrainingData, theta: Float64Array, options: BuildOptions): Promise<FittedGp> {
    checkTrainingData(data);
    checkFloat64('theta', theta, data.d + 2);
    checkFitOptions({ ...options, nRestarts: 0, seed: 0, warmStart: null }, data.d);
    const model = buildModel(copyData(data), theta, options.kernel, options.deterministic);
    if (model === null) {
      throw new NumericalError('the kernel matrix is not positive definite at this theta, even with jitter');
    }
    return model;
  }

  async negLogPosterior(
    data: GpTrainingData,
    theta: Float64Array,
    kernel: KernelKind,
    deterministic: boolean,
  ): Promise<{ readonly value: number; readonly grad: Float64Array }> {
    checkPosteriorArgs(data, theta, kernel, deterministic);
    const result = negLogPosteriorJs(copyData(data), theta, kernel, deterministic);
    if (result === null) {
      throw new NumericalError('the kernel matrix is not positive definite at this theta, even with jitter');
    }
    return result;
  }

  async negLogPosteriorHessian(
    data: GpTrainingData,
    theta: Float64Array,
    kernel: KernelKind,
    deterministic: boolean,
  ): Promise<Float64Array> {
    checkPosteriorArgs(data, theta, kernel, deterministic);
    const result = negLogPosteriorHessianJs(copyData(data), theta, kernel, deterministic, HESSIAN_STEP);
    if (typeof result === 'string') throw new NumericalError(result);
    return result;
  }
}

function copyData(data: GpTrainingData): GpTrainingData {
  return {
    x: Float64Array.from(data.x),
    y: Float64Array.from(data.y),
    n: data.n,
    d: data.d,
    isCategorical: Uint8Array.from(data.isCategorical),
  };
}

/** Fits theta by MAP and factors the training covariance. Never throws for numerics unless even the default fails. */
export function fitJs(input: GpTrainingData, options: FitOptions): JsFittedGp {
  const data = copyData(input);
  const { d } = data;
  const { lower, upper } = thetaBounds(d, options.deterministic);
  const base = defaultTheta(d, options.deterministic);
  const starts: Float64Array[] = [];
  const first = options.warmStart === null ? base : Float64Array.from(options.warmStart);
  if (options.deterministic) first[d + 1] = base[d + 1];
  starts.push(first);
  const rng = new Rng(options.seed);
  for (let r = 0; r < options.nRestarts; r++) {
    const t = new Float64Array(d + 2);
    for (let j = 0; j < d; j++) t[j] = base[j] + rng.normal();
    t[d] = base[d] + 0.5 * rng.normal();
    t[d + 1] = options.deterministic ? base[d + 1] : Math.log(1e-5) + rng.nextFloat() * Math.log(1e4);
    starts.push(t);
  }
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    const r = negLogPosteriorJs(data, theta, options.kernel, options.deterministic);
    if (r === null) return Number.POSITIVE_INFINITY;
    grad.set(r.grad);
    return r.value;
  };
  let bestTheta: Float64Array | null = null;
  let bestValue = Number.POSITIVE_INFINITY;
  for (const start of starts) {
    // Each start runs once (there is no warm-start probe to continue, unlike native/core/gp.cc):
    // a start stopped by a non-finite gradient ('non_finite_gradient') ends on the finite
    // accepted point where it met it, which stays a candidate. The minimizer keeps a finite x
    // whenever f is finite; checked anyway, as a fit must never return non-finite hyperparameters.
    const res = minimizeLbfgsb(objective, start, { lower, upper, maxIterations: options.maxIterations ?? FIT_MAX_ITERATIONS, pgtol: 1e-5, ftol: 1e-9 });
    if (Number.isFinite(res.f) && res.x.every(Number.isFinite) && res.f < bestValue) {
      bestValue = res.f;
      bestTheta = res.x;
    }
  }
  if (bestTheta === null) {
    warnOnce('GP_FIT_FAILED', 'GP hyperparameter fit failed numerically; using the default hyperparameters');
    bestTheta = clampTheta(base, lower, upper);
  }
  const model = buildModel(data, bestTheta, options.kernel, options.deterministic);
  if (model !== null) return model;
  warnOnce('GP_FIT_FAILED', 'GP hyperparameter fit failed numerically; using the default hyperparameters');
  const fallback = buildModel(data, clampTheta(base, lower, upper), options.kernel, options.deterministic);
  if (fallback === null) {
    throw new NumericalError('the GP covariance is not positive definite even at the default hyperparameters');
  }
  return fallback;
}

function clampTheta(theta: Float64Array, lower: Float64Array, upper: Float64Array): Float64Array {
  const out = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) out[i] = Math.min(upper[i], Math.max(lower[i], theta[i]));
  return out;
}

function buildModel(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean): JsFittedGp | null {
  const a = trainingCovariance(data, theta, kernel);
  const chol = choleskyWithJitter(a, data.n);
  if (!chol.ok) return null;
  return new JsFittedGp(data, Float64Array.from(theta), kernel, deterministic, chol.l, chol.jitter);
}

/** One fitted model of the TypeScript backend. Immutable. */
export class JsFittedGp implements FittedGp {
  readonly backend: BackendName = 'js';
  readonly n: number;
  readonly d: number;
  readonly theta: Float64Array;
  readonly logPosterior: number;
  /** Cholesky factor of K + (sn2 + jitter) I, row-major lower (js-linalg.ts). */
  readonly factor: Float64Array;
  readonly jitter: number;
  private readonly data: GpTrainingData;
  private readonly kernel: KernelKind;
  private readonly deterministic: boolean;
  /** theta as fitted (the model's own copy; `theta` is handed out). */
  private readonly params: Float64Array;
  private readonly alpha: Float64Array;
  private readonly w: Float64Array;
  private readonly s2: number;
  private disposed = false;

  constructor(
    data: GpTrainingData,
    theta: Float64Array,
    kernel: KernelKind,
    deterministic: boolean,
    factor: Float64Array,
    jitter: number,
  ) {
    this.data = data;
    this.n = data.n;
    this.d = data.d;
    // The model computes with its own copy: `theta` is the caller's to read (or edit, e.g. into a
    // warm start); editing it once changed what a later append computed (as the native model,
    // whose `theta` is a copy from the addon, never did).
    this.params = Float64Array.from(theta);
    this.theta = Float64Array.from(theta);
    this.kernel = kernel;
    this.deterministic = deterministic;
    this.factor = factor;
    this.jitter = jitter;
    this.w = inverseSquaredLengthscales(theta, data.d);
    this.s2 = Math.exp(theta[data.d]);
    const n = data.n;
    const alpha = Float64Array.from(data.y);
    forwardSolveInPlace(factor, n, alpha);
    let nll = 0;
    for (let i = 0; i < n; i++) nll += 0.5 * alpha[i] * alpha[i] + Math.log(factor[i * n + i]);
    nll += 0.5 * n * Math.log(2 * Math.PI);
    backSolveInPlace(factor, n, alpha);
    this.alpha = alpha;
    nll += addNegLogPrior(theta, data.d, deterministic, new Float64Array(data.d + 2));
    this.logPosterior = -nll;
  }

  async predict(x: Float64Array, m: number): Promise<Prediction> {
    this.checkAlive();
    this.checkCandidates(x, m);
    const mean = new Float64Array(m);
    const variance = new Float64Array(m);
    const k = new Float64Array(this.n);
    for (let c = 0; c < m; c++) {
      this.crossInto(x, c, k);
      mean[c] = dot(k, this.alpha);
      forwardSolveInPlace(this.factor, this.n, k);
      variance[c] = Math.max(this.s2 - dot(k, k), MIN_VARIANCE * this.s2);
    }
    return { mean, variance };
  }

  async acquisition(x: Float64Array, m: number, options: AcquisitionOptions, withGrad: boolean): Promise<AcquisitionResult> {
    this.checkAlive();
    this.checkCandidates(x, m);
    checkAcquisitionOptions(options);
    this.checkTerms(options);
    if (typeof withGrad !== 'boolean') throw new InvalidOptionError('withGrad', 'a boolean', withGrad);
    const d = this.d;
    const value = new Float64Array(m);
    const grad = withGrad ? new Float64Array(m * d) : null;
    const scratch = new Scratch(this.n);
    for (let c = 0; c < m; c++) {
      value[c] = this.acquisitionAt(x, c, options, grad === null ? null : grad.subarray(c * d, c * d + d), scratch);
    }
    return { value, grad };
  }

  /** Row of the best observation (largest y; the first on ties, as native/core GpModel::best_row); -1 when n = 0. */
  private bestRow(): number {
    if (this.n === 0) return -1;
    let best = 0;
    for (let i = 1; i < this.n; i++) if (this.data.y[i] > this.data.y[best]) best = i;
    return best;
  }

  async optimizeAcquisition(options: OptimizeAcquisitionOptions): Promise<AcquisitionOptimum> {
    this.checkAlive();
    const { d } = this;
    const bestRow = this.bestRow();
    const isCat = this.data.isCategorical;
    checkOptimizeOptions(options, d, isCat);
    this.checkTerms(options);
    const grid = options.grid;
    const logInt = options.logIntBounds;
    const fixed = options.fixedFeatures;
    const { x: candidates, count } = acquisitionCandidates({
      d,
      nSobol: options.nCandidates,
      seed: options.seed,
      center: options.centers ?? (bestRow >= 0 ? this.data.x.subarray(bestRow * d, (bestRow + 1) * d) : null),
      isCategorical: isCat,
    });
    for (let c = 0; c < count; c++) snapInPlace(candidates.subarray(c * d, c * d + d), grid, isCat, logInt, fixed);
    const scratch = new Scratch(this.n);
    const scores = new Float64Array(count);
    for (let c = 0; c < count; c++) {
      const v = this.acquisitionAt(candidates, c, options, null, scratch);
      scores[c] = Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v;
    }
    // Best candidates as starting points (distinct indices, highest first, ties by index).
    const nStarts = Math.min(options.nRestarts, count);
    const top = topIndices(scores, Math.max(nStarts, 1));
    let bestX = Float64Array.from(candidates.subarray(top[0] * d, top[0] * d + d));
    let bestValue = scores[top[0]];

    const lower = new Float64Array(d);
    const upper = new Float64Array(d);
    const gradBuf = new Float64Array(d);
    // Starting points: the best candidates, plus the best observation (as Optuna's GPSampler
    // warm-starts its local search from the best trial) when there are restarts at all.
    const starts: Float64Array[] = top.slice(0, nStarts).map((i) => Float64Array.from(candidates.subarray(i * d, i * d + d)));
    if (nStarts > 0 && bestRow >= 0) {
      starts.push(Float64Array.from(this.data.x.subarray(bestRow * d, bestRow * d + d)));
    }
    for (const start of starts) {
      snapInPlace(start, grid, isCat, logInt, fixed);
      const startValue = nanToMinusInfinity(this.acquisitionAt(start, 0, options, null, scratch));
      for (let j = 0; j < d; j++) {
        if (isCat[j] === 1 || isFixedDim(fixed, j)) {
          lower[j] = start[j];
          upper[j] = start[j];
        } else {
          lower[j] = 0;
          upper[j] = 1;
        }
      }
      const objective = (xv: Float64Array, g: Float64Array): number => {
        const v = this.acquisitionAt(xv, 0, options, gradBuf, scratch);
        for (let j = 0; j < d; j++) g[j] = lower[j] === upper[j] ? 0 : -gradBuf[j];
        return -v;
      };
      // First pass relaxes ordinal dims continuously, then snaps them; while that improves, sweep
      // the discrete dims exhaustively and re-refine the continuous dims with the discrete ones pinned.
      const first = minimizeLbfgsb(objective, start, { lower, upper, maxIterations: ACQ_MAX_ITERATIONS, pgtol: 1e-7, ftol: 1e-12 });
      let point = Float64Array.from(first.x);
      snapInPlace(point, grid, isCat, logInt, fixed);
      let value = nanToMinusInfinity(this.acquisitionAt(point, 0, options, null, scratch));
      // Snapped, the relaxed search may end below its start (it moved ordinal or log-int dims
      // between their feasible values): the rounds then continue from the start, as
      // native/core/gp.cc refine_starts does. Without this a start was dropped whenever that
      // happened, and the optimum fell back to the best candidate.
      if (value < startValue) {
        point = Float64Array.from(start);
        value = startValue;
      }
      if (this.hasDiscrete(grid, logInt, fixed)) {
        for (let round = 0; round < 3; round++) {
          const candidate = Float64Array.from(point);
          let v = this.sweepDiscrete(candidate, this.acquisitionAt(candidate, 0, options, null, scratch), grid, logInt, fixed, options, scratch);
          if (this.hasContinuous(grid, logInt, fixed)) {
            for (let j = 0; j < d; j++) {
              const pin = isDiscreteDim(grid, logInt, j) || isFixedDim(fixed, j);
              lower[j] = pin ? candidate[j] : 0;
              upper[j] = pin ? candidate[j] : 1;
            }
            const res = minimizeLbfgsb(objective, candidate, { lower, upper, maxIterations: ACQ_MAX_ITERATIONS, pgtol: 1e-7, ftol: 1e-12 });
            const refined = Float64Array.from(res.x);
            snapInPlace(refined, grid, isCat, logInt, fixed);
            const rv = this.acquisitionAt(refined, 0, options, null, scratch);
            if (rv > v) {
              v = rv;
              candidate.set(refined);
            }
          }
          if (!(v > value + 1e-12)) break;
          value = v;
          point = candidate;
        }
      }
      if (value > bestValue) {
        bestValue = value;
        bestX = point;
      }
    }
    return { x: bestX, value: bestValue };
  }

  async append(x: Float64Array, y: Float64Array, k: number, options: AppendOptions = {}): Promise<FittedGp> {
    this.checkAlive();
    checkCount('k', k, 1);
    const d = this.d;
    checkFloat64('x', x, k * d);
    checkFloat64('y', y, k);
    checkInputs('x', x, k, d, this.data.isCategorical);
    return this.appendSync(Float64Array.from(x), Float64Array.from(y), k, checkAppendOptions(options).noiseless === true);
  }

  /** The synchronous core of `append` (inputs already validated and copied). */
  appendSync(x: Float64Array, y: Float64Array, k: number, noiseless = false): JsFittedGp {
    const { n, d } = this;
    const isCat = this.data.isCategorical;
    const sn2 = noiseless ? NOISELESS_VARIANCE * this.s2 : Math.exp(this.params[d + 1]);
    const cross = crossKernel(x, k, this.data.x, n, d, this.params, this.kernel, isCat);
    const corner = crossKernel(x, k, x, k, d, this.params, this.kernel, isCat);
    for (let r = 0; r < k; r++) corner[r * k + r] += sn2 + this.jitter;
    const xAll = new Float64Array((n + k) * d);
    xAll.set(this.data.x);
    xAll.set(x, n * d);
    const yAll = new Float64Array(n + k);
    yAll.set(this.data.y);
    yAll.set(y, n);
    const data: GpTrainingData = { x: xAll, y: yAll, n: n + k, d, isCategorical: isCat };
    const factor = choleskyAppend(this.factor, n, cross, corner, k);
    if (factor !== null) return new JsFittedGp(data, this.params, this.kernel, this.deterministic, factor, this.jitter);
    // The Schur complement lost definiteness (e.g. a duplicate point with tiny noise): refactor with jitter.
    const rebuilt = buildModel(data, this.params, this.kernel, this.deterministic);
    if (rebuilt === null) throw new NumericalError('appending observations made the GP covariance indefinite');
    return rebuilt;
  }

  dispose(): void {
    this.disposed = true;
  }

  /** Training inputs (copy). */
  trainingInputs(): Float64Array {
    return Float64Array.from(this.data.x);
  }

  private checkAlive(): void {
    if (this.disposed) throw new KestrelError('INVALID_OPTION', 'this FittedGp was disposed');
  }

  private checkCandidates(x: Float64Array, m: number): void {
    checkCount('m', m, 0);
    checkFloat64('x', x, m * this.d);
    checkInputs('x', x, m, this.d, this.data.isCategorical);
  }

  private crossInto(x: Float64Array, c: number, out: Float64Array): void {
    const { n, d } = this;
    const isCat = this.data.isCategorical;
    for (let i = 0; i < n; i++) {
      out[i] = this.s2 * kernelShape(this.kernel, scaledDistance2(x, c, this.data.x, i, d, this.w, isCat));
    }
  }

  /** This model's acquisition at point c of x plus that of every term (`checkTerms` ran first). */
  private acquisitionAt(
    x: Float64Array,
    c: number,
    options: AcquisitionOptions,
    grad: Float64Array | null,
    scratch: Scratch,
  ): number {
    let value = options.kind === 'logehvi' ? this.hypervolumeAt(x, c, options, grad, scratch) : this.ownAcquisitionAt(x, c, options, grad, scratch);
    const terms = options.terms;
    if (terms === undefined) return value;
    const termGrad = grad === null ? null : scratch.gradientBuffer(this.d);
    for (let i = 0; i < terms.length; i++) {
      if (terms[i].kind === 'logehvi') continue; // an objective of hypervolumeAt
      const model = currentModel(terms[i].model) as JsFittedGp;
      value += model.ownAcquisitionAt(x, c, terms[i], termGrad, scratch.forTerm(i, model.n));
      if (grad !== null && termGrad !== null) for (let j = 0; j < this.d; j++) grad[j] += termGrad[j];
    }
    return value;
  }

  /** Checks the acquisition terms: live JavaScript models over the same inputs (else InvalidOptionError naming terms[i].model). */
  private checkTerms(options: AcquisitionOptions): void {
    termModels(options, JsFittedGp, this, (m) => m.data.isCategorical, this.data.isCategorical).forEach((model, i) => {
      if (model.disposed) throw new InvalidOptionError(`terms[${i}].model`, 'a live model', 'a disposed model');
    });
  }

  /** This model's own acquisition value at row c of x (terms ignored; not 'logehvi'); writes d value / d x into grad when given. */
  private ownAcquisitionAt(
    x: Float64Array,
    c: number,
    options: AcquisitionOptions,
    grad: Float64Array | null,
    scratch: Scratch,
  ): number {
    const rawVar = this.momentsAt(x, c, grad !== null, scratch);
    const mean = scratch.mean;
    const floor = MIN_VARIANCE * this.s2;
    const variance = rawVar > floor ? rawVar : floor;
    const sd = Math.sqrt(variance);
    const out = scratch.out;
    acquisitionFromMoments(options.kind as AcquisitionKind, mean, sd, options.incumbent, options.beta, out);
    if (grad !== null) this.momentGradientAt(x, c, out[1], rawVar > floor ? out[2] / (2 * sd) : 0, grad, scratch);
    return out[0];
  }

  /**
   * log EHVI at row c of x over this model (objective 0) and the 'logehvi' terms' models
   * (AcquisitionOptions.boxes); writes d value / d x into grad when given.
   */
  private hypervolumeAt(
    x: Float64Array,
    c: number,
    options: AcquisitionOptions,
    grad: Float64Array | null,
    scratch: Scratch,
  ): number {
    const models: { model: JsFittedGp; scratch: Scratch }[] = [{ model: this, scratch }];
    (options.terms ?? []).forEach((term, i) => {
      if (term.kind !== 'logehvi') return;
      const model = currentModel(term.model) as JsFittedGp;
      models.push({ model, scratch: scratch.forTerm(i, model.n) });
    });
    const k = models.length;
    const mean = new Float64Array(k);
    const sd = new Float64Array(k);
    const raw = new Float64Array(k);
    models.forEach((m, j) => {
      raw[j] = m.model.momentsAt(x, c, grad !== null, m.scratch);
      mean[j] = m.scratch.mean;
      const floor = MIN_VARIANCE * m.model.s2;
      sd[j] = Math.sqrt(raw[j] > floor ? raw[j] : floor);
    });
    const dMean = new Float64Array(k);
    const dSd = new Float64Array(k);
    const value = logExpectedHypervolumeImprovement(options.boxes as Float64Array, mean, sd, dMean, dSd);
    if (grad !== null) {
      const part = new Float64Array(this.d);
      models.forEach((m, j) => {
        const floor = MIN_VARIANCE * m.model.s2;
        const dVar = raw[j] > floor ? dSd[j] / (2 * sd[j]) : 0;
        m.model.momentGradientAt(x, c, dMean[j], dVar, j === 0 ? grad : part, m.scratch);
        if (j > 0) for (let i = 0; i < this.d; i++) grad[i] += part[i];
      });
    }
    return value;
  }

  /**
   * Posterior mean (into scratch.mean) and raw variance s2 - v'v (returned, before the floor) at
   * row c of x; scratch keeps L^{-1} k_* and, with withGrad, the kernel slopes for
   * momentGradientAt.
   */
  private momentsAt(x: Float64Array, c: number, withGrad: boolean, scratch: Scratch): number {
    const { n, d } = this;
    const isCat = this.data.isCategorical;
    const tx = this.data.x;
    const k = scratch.k;
    const dshape = scratch.dshape;
    for (let i = 0; i < n; i++) {
      const r2 = scaledDistance2(x, c, tx, i, d, this.w, isCat);
      k[i] = this.s2 * kernelShape(this.kernel, r2);
      if (withGrad) dshape[i] = this.s2 * kernelShapeDerivative(this.kernel, r2);
    }
    scratch.mean = dot(k, this.alpha);
    forwardSolveInPlace(this.factor, n, k);
    return this.s2 - dot(k, k);
  }

  /** grad (d) = dMean d mean/dx + dVar d var/dx at the point of the last momentsAt(withGrad) on scratch; 0 on categorical dims. */
  private momentGradientAt(x: Float64Array, c: number, dMean: number, dVar: number, grad: Float64Array, scratch: Scratch): void {
    const { n, d } = this;
    const isCat = this.data.isCategorical;
    const tx = this.data.x;
    const k = scratch.k;
    const dshape = scratch.dshape;
    // u = A^{-1} k_* (k now holds v = L^{-1} k_*).
    backSolveInPlace(this.factor, n, k);
    const oc = c * d;
    for (let j = 0; j < d; j++) {
      if (isCat[j] === 1) {
        grad[j] = 0;
        continue;
      }
      const xj = x[oc + j];
      let gm = 0;
      let gv = 0;
      for (let i = 0; i < n; i++) {
        const dk = dshape[i] * 2 * this.w[j] * (xj - tx[i * d + j]);
        gm += this.alpha[i] * dk;
        gv += k[i] * dk;
      }
      grad[j] = dMean * gm + dVar * -2 * gv;
    }
  }

  /** A free (not fixed) discrete dim: something for the sweep. */
  private hasDiscrete(grid: Float64Array, logInt: Float64Array | undefined, fixed: Float64Array | undefined): boolean {
    for (let j = 0; j < this.d; j++) if (isDiscreteDim(grid, logInt, j) && !isFixedDim(fixed, j)) return true;
    return false;
  }

  /** A free (not fixed) continuous dim: something for the re-refinement. */
  private hasContinuous(grid: Float64Array, logInt: Float64Array | undefined, fixed: Float64Array | undefined): boolean {
    for (let j = 0; j < this.d; j++) if (!isDiscreteDim(grid, logInt, j) && !isFixedDim(fixed, j)) return true;
    return false;
  }

  /**
   * One coordinate pass over the discrete dims: every choice of a categorical dim, every grid
   * point of an ordinal dim, every level of a log-int dim (sets of at most
   * MAX_EXHAUSTIVE_CHOICES values; larger ordinal grids and log-int ranges try the two
   * neighbours). Keeps each improvement; returns the final value.
   */
  private sweepDiscrete(
    point: Float64Array,
    value: number,
    grid: Float64Array,
    logInt: Float64Array | undefined,
    fixed: Float64Array | undefined,
    options: AcquisitionOptions,
    scratch: Scratch,
  ): number {
    const isCat = this.data.isCategorical;
    let best = value;
    for (let j = 0; j < this.d; j++) {
      const g = grid[j];
      if (!isDiscreteDim(grid, logInt, j) || isFixedDim(fixed, j)) continue;
      const keep = point[j];
      let bestChoice = keep;
      const tryValue = (u: number): void => {
        if (u === keep) return;
        point[j] = u;
        const v = this.acquisitionAt(point, 0, options, null, scratch);
        if (v > best) {
          best = v;
          bestChoice = u;
        }
      };
      if (logInt !== undefined && isLogIntDim(logInt, j)) {
        const a = logInt[2 * j];
        const b = logInt[2 * j + 1];
        const levels = b - a + 1;
        if (levels <= MAX_EXHAUSTIVE_CHOICES) {
          // Counted, not `k++` up to b: a k of 2^53 or more would never pass b (k + 1 === k).
          for (let i = 0; i < levels; i++) tryValue(encodeLogInt(a + i, a, b));
        } else {
          const k = decodeLogInt(keep, a, b);
          if (k > a) tryValue(encodeLogInt(k - 1, a, b));
          if (k < b) tryValue(encodeLogInt(k + 1, a, b));
        }
      } else if (isCat[j] === 1) {
        if (g <= MAX_EXHAUSTIVE_CHOICES) for (let choice = 0; choice < g; choice++) tryValue(choice);
      } else {
        const cells = Math.max(1, Math.round(1 / g));
        if (cells <= MAX_EXHAUSTIVE_CHOICES) {
          for (let idx = 0; idx < cells; idx++) tryValue(gridCenter(idx, g));
        } else {
          const idx = Math.floor(keep * cells);
          tryValue(gridCenter(idx - 1, g));
          tryValue(gridCenter(idx + 1, g));
        }
      }
      point[j] = bestChoice;
    }
    return best;
  }
}

class Scratch {
  readonly k: Float64Array;
  readonly dshape: Float64Array;
  readonly out = new Float64Array(3);
  /** The posterior mean of the last momentsAt call. */
  mean = 0;
  /** Buffers of the acquisition terms' models (by term index), and their gradient. */
  private readonly terms: Scratch[] = [];
  private termGradient: Float64Array | null = null;
  constructor(n: number) {
    this.k = new Float64Array(n);
    this.dshape = new Float64Array(n);
  }
  forTerm(i: number, n: number): Scratch {
    let s = this.terms[i];
    if (s === undefined || s.k.length !== n) s = this.terms[i] = new Scratch(n);
    return s;
  }
  gradientBuffer(d: number): Float64Array {
    if (this.termGradient === null || this.termGradient.length !== d) this.termGradient = new Float64Array(d);
    return this.termGradient;
  }
}

/** A log-int dim of OptimizeAcquisitionOptions.logIntBounds ([low, high], not [0, 0]). */
function isLogIntDim(logInt: Float64Array, j: number): boolean {
  return logInt[2 * j + 1] > 0;
}

/** Categorical, ordinal or log-int: swept, and pinned while the continuous dims are re-refined. */
function isDiscreteDim(grid: Float64Array, logInt: Float64Array | undefined, j: number): boolean {
  return grid[j] > 0 || (logInt !== undefined && isLogIntDim(logInt, j));
}

/** A dim held by OptimizeAcquisitionOptions.fixedFeatures (not NaN there). */
function isFixedDim(fixed: Float64Array | undefined, j: number): boolean {
  return fixed !== undefined && !Number.isNaN(fixed[j]);
}

/**
 * Makes a unit-cube point feasible: a dim held by `fixed` (not NaN there) takes that value first,
 * then is snapped like the rest; categorical dims become a choice index floor(u * k) (or are
 * kept when already integral indices); an ordinal dim with spacing g is snapped to the center of
 * its cell, (floor(u / g) + 1/2) g, which is exactly where src/space/encode.ts puts int and
 * stepped values (cells [i g, (i + 1) g), i = 0 .. round(1/g) - 1); a log-int dim (`logIntBounds`)
 * to the coordinate of the integer it decodes to (`snapLogInt`).
 */
export function snapInPlace(
  point: Float64Array,
  grid: Float64Array,
  isCategorical: Uint8Array,
  logIntBounds?: Float64Array,
  fixed?: Float64Array,
): void {
  for (let j = 0; j < point.length; j++) {
    const g = grid[j];
    const u = isFixedDim(fixed, j) ? (fixed as Float64Array)[j] : point[j];
    if (logIntBounds !== undefined && isLogIntDim(logIntBounds, j)) {
      point[j] = snapLogInt(u, logIntBounds[2 * j], logIntBounds[2 * j + 1]);
    } else if (isCategorical[j] === 1) {
      point[j] = Number.isInteger(u) && u >= 0 && u < g ? u : Math.min(g - 1, Math.max(0, Math.floor(u * g)));
    } else if (g > 0) {
      point[j] = gridCenter(Math.floor(u / g), g);
    } else {
      point[j] = Math.min(1, Math.max(0, u));
    }
  }
}

/** Center of ordinal cell `index` (clamped to the valid cells) for spacing g. */
export function gridCenter(index: number, g: number): number {
  const cells = Math.max(1, Math.round(1 / g));
  const i = index < 0 ? 0 : index >= cells ? cells - 1 : index;
  return (i + 0.5) / cells;
}

/** An acquisition value for comparisons: NaN (a failed evaluation) ranks below every number. */
function nanToMinusInfinity(v: number): number {
  return Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v;
}

/** Indices of the k largest scores, highest first (ties broken by the lower index). O(m k). */
function topIndices(scores: Float64Array, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (top.length === k && !(v > scores[top[k - 1]])) continue;
    let pos = top.length === k ? k - 1 : top.length;
    while (pos > 0 && v > scores[top[pos - 1]]) pos--;
    top.splice(pos, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
