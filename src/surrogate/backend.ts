/**
 * The surrogate contract: one Gaussian-process model, fitted once, immutable, with the same
 * interface on every backend (native CPU, native CUDA, TypeScript fallback). Knows nothing of
 * trials: inputs are already encoded into the unit cube and outputs standardized by the caller.
 *
 * Notation (shared with native/include/kestrel/*.h):
 *   n  observations, d input dims, m candidates
 *   X  (n, d) row-major Float64Array in [0, 1]^d; a categorical dim holds the choice index
 *   y  (n) standardized targets, to be MAXIMIZED (the sampler flips minimization)
 *   theta = [log l_1 .. log l_d, log s2 (output scale), log sn2 (noise variance)]  (length d + 2)
 *   k(x, x') = s2 * r(x, x'), Matern-5/2 or RBF on ARD-scaled distances; categorical dims enter
 *   through the Hamming distance (1 if different, 0 if equal) scaled by their lengthscale.
 */

/** The GP's covariance kernel: Matern-5/2 (default) or RBF, both with ARD lengthscales. */
export type KernelKind = 'matern52' | 'rbf';
/** A single-model acquisition: log expected improvement, upper confidence bound, log probability of improvement. */
export type AcquisitionKind = 'logei' | 'ucb' | 'pi';

/**
 * What a surrogate's acquisition calls compute: one model's acquisition, or 'logehvi', the log
 * expected hypervolume improvement of several models, one per objective (AcquisitionOptions
 * `boxes`; GpSampler's acquisition for several objectives).
 */
export type SurrogateAcquisitionKind = AcquisitionKind | 'logehvi';
/** A surrogate backend: the native addon on the CPU or on CUDA, or the TypeScript fallback. */
export type BackendName = 'cpu' | 'cuda' | 'js';

/** Observations to fit: `x` (n, d) row-major in the unit cube, `y` (n) standardized targets to maximize. */
export interface GpTrainingData {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly n: number;
  readonly d: number;
  /** d flags; 1 = categorical dim (Hamming distance), 0 = continuous/ordinal. */
  readonly isCategorical: Uint8Array;
}

/** Options of `SurrogateBackend.fit` (MAP fit of the hyperparameters, then the model). */
export interface FitOptions {
  readonly kernel: KernelKind;
  /** Fix the noise variance tiny (noise-free objective) instead of learning it. */
  readonly deterministic: boolean;
  /**
   * Random restarts of the MAP optimization in addition to the warm start / default start. A
   * backend may spend less on them when warm-started (the native one probes them briefly for
   * n <= 128 and skips them above; see native/core/gp.h), so results may differ between backends.
   */
  readonly nRestarts: number;
  readonly seed: number;
  /** Starting theta (e.g. the previous fit's), or null for the defaults. */
  readonly warmStart: Float64Array | null;
  /**
   * Threads of the native pool, [1, 4096] (the TypeScript backend runs on one). The native
   * backend caps it at the hardware threads (std::thread::hardware_concurrency(), at least 1):
   * each call starts a pool of its own, so threads beyond the cores would only add start-up cost.
   * Results do not depend on it.
   */
  readonly numThreads: number;
  /**
   * L-BFGS-B iterations per start (default 200, which the MAP fits reach only when they do not
   * converge first); fewer makes a bounded refinement (GpSampler's provisional first fit).
   */
  readonly maxIterations?: number;
}

/** Options of `SurrogateBackend.build`. */
export interface BuildOptions {
  readonly kernel: KernelKind;
  readonly deterministic: boolean;
  /** Threads of the native pool (capped at the hardware threads, as `FitOptions.numThreads`). */
  readonly numThreads: number;
}

/** Options of `FittedGp.acquisition`: which acquisition, its incumbent and beta, and added terms. */
export interface AcquisitionOptions {
  readonly kind: SurrogateAcquisitionKind;
  /** Incumbent for logEI / PI in the standardized, maximized space. */
  readonly incumbent: number;
  /** UCB exploration weight (mean + sqrt(beta) * sd). */
  readonly beta: number;
  /**
   * Acquisitions of other models added to this one's value and gradient wherever it is evaluated
   * (scoring, local searches, discrete sweeps): each term's model must come from the same backend
   * and be over the same inputs (same d and categorical dims; the same encoding), and carries no
   * terms of its own. GpSampler's constraints: 'pi' of a model of the negated, standardized
   * constraint values with the standardized zero as incumbent is log P(c(x) <= 0), so logEI plus
   * those terms is the constrained logEI of Gardner et al. (2014), as Optuna 4.x GPSampler.
   * On the `cuda` backend, a call with terms runs on the CPU copies of the models (as
   * optimizeAcquisition always does). The native maximizer's large-n budget counts the terms'
   * work too (native/core/gp.h, acquisition_budget).
   */
  readonly terms?: readonly AcquisitionTerm[];
  /**
   * With kind 'logehvi' (required there, ignored otherwise): this model is objective 0 and every
   * term of kind 'logehvi' one more objective, in order (their incumbent and beta are unused);
   * the value is log EHVI, the log of the expected hypervolume improvement of independent
   * posteriors over the region the Pareto front leaves undominated, given as these disjoint
   * boxes in each model's (maximized) target units: rows of 2k values [lower_0 .. lower_{k-1},
   * upper_0 .. upper_{k-1}] for k objectives (at most 16), lowers finite, each upper above its
   * lower (+Infinity allowed). The expectation is exact: a sum over boxes of products of
   * per-objective Gaussian integrals (kestrel/acquisition.h; BoTorch's analytic
   * ExpectedHypervolumeImprovement), taken in log space with Ament et al.'s stable log h. Terms
   * of other kinds still add (constraints: log EHVI + sum log P(c <= 0)).
   * src/samplers/gp/hypervolume-boxes.ts builds the boxes.
   */
  readonly boxes?: Float64Array;
}

/**
 * A model wrapper (select-backend.ts's DeviceFallbackGp) names the model that computes for it now
 * under this key, so that a backend can use a wrapped model as an acquisition term.
 */
export const CURRENT_MODEL: unique symbol = Symbol('kestrel.currentModel');

/** The model that computes for `model`: itself, or what a wrapper names under CURRENT_MODEL. */
export function currentModel(model: FittedGp): FittedGp {
  let m = model;
  for (;;) {
    const inner = (m as Partial<Record<typeof CURRENT_MODEL, () => FittedGp>>)[CURRENT_MODEL];
    if (typeof inner !== 'function') return m;
    m = inner.call(m);
  }
}

/** One additive acquisition term: `kind` of `model` (its own incumbent and beta). */
export interface AcquisitionTerm {
  readonly model: FittedGp;
  readonly kind: SurrogateAcquisitionKind;
  readonly incumbent: number;
  readonly beta: number;
}

/** Options of `FittedGp.optimizeAcquisition`: Sobol candidates scored, then the best refined by L-BFGS-B. */
export interface OptimizeAcquisitionOptions extends AcquisitionOptions {
  /**
   * Scrambled-Sobol candidates scored in one batch, an integer in [1, 10^6] with nCandidates * d
   * at most 2^25 (required: GpSampler passes its `candidates` option, 2048 by default); one local
   * candidate around the best observation follows every tenth of them (candidates.ts).
   */
  readonly nCandidates: number;
  /** Best candidates refined by L-BFGS-B (required; GpSampler passes its `restarts`, 10 by default). */
  readonly nRestarts: number;
  readonly seed: number;
  /**
   * Per dim: 0 = continuous; a spacing in [2^-1022, 1] (`MIN_GRID_SPACING` of validate.ts: a
   * normal double, so that 1/g is finite) = the spacing of an ordinal grid in the unit cube (int/step
   * dims are rounded onto it); for categorical dims, the number of choices (values 0..k-1).
   * An ordinal grid with spacing g has round(1/g) cells [i g, (i + 1) g) and its feasible points
   * are the cell centers (i + 1/2) g: that is where src/space/encode.ts puts int and stepped
   * values (`gridSpacing` returns 1/(number of values)), so a point is rounded to its cell center.
   */
  readonly grid: Float64Array;
  /**
   * Log-scaled integer dims (optional; absent = none): 2 d values, (d, 2) row-major, per dim
   * either [low, high], safe integers with 1 <= low < high <= Number.MAX_SAFE_INTEGER whose
   * coordinates are distinct in double precision (ln(high + 1/2) > ln(low - 1/2); a pair such as
   * [2^53 - 4, 2^53 - 2] fails it, and its coordinates would be NaN), or [0, 0] for any other dim. A log-int dim
   * has grid 0 and is not categorical; its feasible points are exactly the b - a + 1 coordinates
   * `encodeLogInt(k, low, high)` of src/util/log-int.ts (k = low .. high; GpSampler fills this
   * from `logIntBounds`), so it is searched like an ordinal dim: a point is snapped to the
   * coordinate of the integer it decodes to, the sweep tries every level (at most 64 of them) or
   * the neighbouring integers, and the returned optimum is one of those coordinates. Without it a
   * log int would be searched as a continuous dim, whose optimum can sit between observed
   * coordinates and decode to an integer already observed.
   */
  readonly logIntBounds?: Float64Array;
  /**
   * The points the local candidates go around (optional): rows of d encoded inputs, taken in
   * turn; default the model's best observation (candidates.ts). GpSampler's logEHVI passes the
   * Pareto front's points, where the gaps between them are.
   */
  readonly centers?: Float64Array;
  /**
   * Dims held fixed (optional; absent = none; BoTorch's `optimize_acqf(fixed_features=...)`):
   * d values, NaN for a free dim, else the encoded coordinate the dim is held at (in [0, 1]; for
   * a categorical dim a choice index below its `grid` count), snapped onto the dim's grid or
   * log-int levels like any point. The model stays the one over all d dims; candidates, starting
   * points and local searches hold those coordinates, the discrete sweep skips those dims, and the
   * returned optimum carries them: the acquisition is maximized over the free dims only.
   * GpSampler passes the encoded values of a partially enqueued trial (`Study.enqueueTrial`).
   * Every backend supports it: `cuda` models maximize on their CPU copy (as optimizeAcquisition
   * always does there), and select-backend.ts's device-fallback wrapper passes it on (copied at
   * the call, like the other arrays). A bad value rejects with InvalidOptionError naming
   * `fixedFeatures` or `fixedFeatures[j]`.
   */
  readonly fixedFeatures?: Float64Array;
  /** Threads of the native pool (capped at the hardware threads, as `FitOptions.numThreads`). */
  readonly numThreads: number;
}

/** Posterior mean and variance at m points (`FittedGp.predict`), in the standardized target space. */
export interface Prediction {
  readonly mean: Float64Array;
  readonly variance: Float64Array;
}

/** Acquisition values at m points, and their gradients when asked (`FittedGp.acquisition`). */
export interface AcquisitionResult {
  /** m values. */
  readonly value: Float64Array;
  /** (m, d) row-major gradient with respect to x, when requested. */
  readonly grad: Float64Array | null;
}

/** The maximizer found by `FittedGp.optimizeAcquisition` and its acquisition value. */
export interface AcquisitionOptimum {
  /**
   * The best point, length d, feasible on `grid` and `logIntBounds` (categorical indices
   * integral), holding the (snapped) `fixedFeatures`.
   */
  readonly x: Float64Array;
  readonly value: number;
}

/** One fitted GP. Immutable: `append` returns a new model; `dispose` frees native memory. */
export interface FittedGp {
  readonly backend: BackendName;
  readonly n: number;
  readonly d: number;
  /** Fitted log-space hyperparameters (length d + 2): the model's copy to read; editing it changes nothing the model computes. */
  readonly theta: Float64Array;
  /** Log marginal likelihood (plus log prior) at theta. */
  readonly logPosterior: number;
  predict(x: Float64Array, m: number): Promise<Prediction>;
  acquisition(x: Float64Array, m: number, options: AcquisitionOptions, withGrad: boolean): Promise<AcquisitionResult>;
  optimizeAcquisition(options: OptimizeAcquisitionOptions): Promise<AcquisitionOptimum>;
  /** Adds k observations with unchanged theta by extending the Cholesky factor (O(n^2 k)). */
  append(x: Float64Array, y: Float64Array, k: number, options?: AppendOptions): Promise<FittedGp>;
  /**
   * Frees the model's native memory now (host, and GPU memory for a CUDA model). A model dropped
   * without it is freed when the GC collects it; the native backend reports those bytes, device
   * ones included, to the engine as external memory, so that collection comes soon.
   */
  dispose(): void;
}

/** Options of `FittedGp.append`. */
export interface AppendOptions {
  /**
   * The new rows observe the latent function itself (noise variance NOISELESS_VARIANCE x the
   * output scale instead of the model's noise; default false): a kriging-believer fantasy of a
   * pending point, appended at the posterior mean, then leaves next to no variance there (as a
   * joint acquisition over the pending point would), where a noisy one leaves about the noise.
   * Should the extension fail numerically (two noiseless rows at one point), the model is rebuilt
   * with its noise on every row. A native model appended this way computes on the CPU.
   */
  readonly noiseless?: boolean;
}

/** Noise variance of a noiseless appended row, relative to the output scale (native/core/gp.h kNoiselessVariance). */
export const NOISELESS_VARIANCE = 1e-8;

/**
 * A way to fit GPs (`getSurrogateBackend`): each call returns a new immutable `FittedGp`. A custom
 * one may be passed as `GpSampler`'s `backend` option.
 */
export interface SurrogateBackend {
  readonly name: BackendName;
  fit(data: GpTrainingData, options: FitOptions): Promise<FittedGp>;
  /**
   * The model of `data` at the given theta, without optimizing it (one factorization, bounded
   * jitter): what GpSampler's large-n refit policy uses to rebuild the full model at a subset's
   * theta. Rejects with a NumericalError when the covariance cannot be factored.
   */
  build(data: GpTrainingData, theta: Float64Array, options: BuildOptions): Promise<FittedGp>;
  /**
   * Negative log posterior and its gradient at theta (for tests and benchmarks of the marginal
   * likelihood itself).
   */
  negLogPosterior(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean):
    Promise<{ readonly value: number; readonly grad: Float64Array }>;
  /**
   * Hessian of the negative log posterior with respect to theta at theta: (d + 2) x (d + 2),
   * row-major and symmetric, by central differences of the analytic gradient,
   * H_ab = (g_b(theta + h e_a) - g_b(theta - h e_a)) / 2h with h = HESSIAN_STEP, symmetrized;
   * truncation error O(h^2). When `deterministic`, the noise row and column (index d + 1) are
   * zero: that coordinate is pinned. One call (the native backend: one AsyncWorker whose 2(d + 2)
   * gradient evaluations, 2(d + 1) when `deterministic`, share the thread pool). What GpSampler's
   * `hyperparameterDraw: 'laplace'` draws from (the Laplace approximation of the hyperparameter
   * posterior). Rejects as `negLogPosterior` does: InvalidOptionError for bad data, theta or
   * kernel, NumericalError when an evaluation next to theta cannot be factored; also
   * NumericalError when a gradient next to theta or an entry of the result is not finite (the
   * value can be finite while its gradient overflows, e.g. targets of magnitude 1e152), so a
   * resolved matrix is always finite. Optional for custom backends: GpSampler uses the MAP model
   * where it is missing.
   */
  negLogPosteriorHessian?(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean):
    Promise<Float64Array>;
}

/** Central-difference step of `SurrogateBackend.negLogPosteriorHessian`, in log units of theta (native/core/gp.h kHessianStep). */
export const HESSIAN_STEP = 1e-4;
