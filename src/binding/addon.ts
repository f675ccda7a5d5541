/**
 * The hand-written TypeScript type of the native addon's surface (native/addon/addon.cc).
 * Everything here is low level: kernels and acquisitions are integer codes, options are plain
 * objects, and every array argument must already have the right length (the addon re-checks and
 * throws an Error with `code: 'KESTREL_ARGUMENT'`, `argument` naming it, `expected` and
 * `received`, a description of the value). Work methods return
 * Promises resolved from AsyncWorkers; failures reject with `code` 'KESTREL_NUMERICAL',
 * 'KESTREL_NAN' or 'KESTREL_NATIVE'. Use src/surrogate/native-backend.ts, not this, from library code.
 *
 * Layout: x (n, d) row-major; square matrices column-major.
 */

/** 0 = Matern-5/2, 1 = RBF. */
export type AddonKernelCode = 0 | 1;
/** 0 = logEI, 1 = UCB, 2 = log PI, 3 = log EHVI (several models; `boxes`). */
export type AddonAcquisitionCode = 0 | 1 | 2 | 3;

/** How the loaded native addon was built (`nativeStatus().buildInfo`). */
export interface AddonBuildInfo {
  readonly version: string;
  /** Instruction set of the hot kernels chosen at run time: 'base' | 'avx2' | 'avx512'. */
  readonly isa: string;
  /** Compiled with CUDA support. */
  readonly cuda: boolean;
  readonly compiler: string;
  readonly flags: string;
  /** 'cmake-js' or 'node-gyp' (prebuilds). */
  readonly buildSystem: string;
  readonly hardwareThreads: number;
}

export interface AddonData {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly n: number;
  readonly d: number;
  /** d flags, each 0 (continuous) or 1 (categorical); other values are rejected. */
  readonly isCategorical: Uint8Array;
}

export interface AddonFitOptions {
  readonly kernel: AddonKernelCode;
  readonly deterministic: boolean;
  readonly nRestarts: number;
  /** A non-negative safe integer (used as a 64-bit seed). */
  readonly seed: number;
  readonly warmStart: Float64Array | null;
  /** [0, 4096]; 0 = all hardware threads, and more than those is capped at them. */
  readonly numThreads: number;
  /** L-BFGS-B iterations per start (default 200). */
  readonly maxIterations?: number;
}

export interface AddonAcquisitionOptions {
  readonly kind: AddonAcquisitionCode;
  readonly incumbent: number;
  readonly beta: number;
  /**
   * Acquisitions of other models over the same inputs (same d and categorical dims), added to this
   * one's value and gradient (native/core/gp.h AcqParams); undefined or null: none. Terms carry no
   * terms of their own. With terms, a CUDA handle computes on the CPU.
   */
  readonly terms?: readonly AddonAcquisitionTerm[] | null;
  /**
   * Kind 3 only (required there): the hypervolume boxes, rows [lower x k, upper x k] for this
   * model and its kind-3 terms (src/surrogate/backend.ts AcquisitionOptions.boxes). Kind 3
   * always computes on the CPU.
   */
  readonly boxes?: Float64Array;
}

export interface AddonAcquisitionTerm {
  readonly model: AddonModel;
  readonly kind: AddonAcquisitionCode;
  readonly incumbent: number;
  readonly beta: number;
}

export interface AddonOptimizeOptions extends AddonAcquisitionOptions {
  readonly nRestarts: number;
  /** Per dim: 0, an ordinal spacing in [2^-1022, 1], or a categorical dim's choice count (backend.ts). */
  readonly grid: Float64Array;
  /**
   * (d, 2) bounds of log-int dims, safe integers 1 <= low < high with distinct end coordinates
   * (backend.ts), [0, 0] elsewhere; undefined or null: none.
   */
  readonly logIntBounds?: Float64Array | null;
  /**
   * d values: NaN for a free dim, else the coordinate the dim is held at (backend.ts
   * `fixedFeatures`: in [0, 1], a choice index below grid[j] on a categorical dim); undefined or
   * null: none held.
   */
  readonly fixedFeatures?: Float64Array | null;
  readonly numThreads: number;
}

export interface AddonModelSummary {
  readonly n: number;
  readonly d: number;
  readonly theta: Float64Array;
  /** Inputs of the best observation (largest y; the first on ties), length d; empty when n = 0. */
  readonly bestX: Float64Array;
  readonly logPosterior: number;
  readonly jitter: number;
  /** The MAP fit failed numerically and the default theta was used. */
  readonly fellBack: boolean;
  readonly message: string;
  readonly evaluations: number;
}

/** One fitted native model. Immutable; `dispose()` frees its memory (pending work keeps its own reference). */
export interface AddonModel {
  summary(): AddonModelSummary;
  /** The Cholesky factor L, (n, n) column-major, lower. */
  factor(): Float64Array;
  predict(x: Float64Array, m: number, numThreads: number): Promise<{ mean: Float64Array; variance: Float64Array }>;
  acquisition(
    x: Float64Array,
    m: number,
    options: AddonAcquisitionOptions,
    withGrad: boolean,
    numThreads: number,
  ): Promise<{ value: Float64Array; grad: Float64Array | null }>;
  optimizeAcquisition(
    candidates: Float64Array,
    nCandidates: number,
    options: AddonOptimizeOptions,
  ): Promise<{ x: Float64Array; value: number }>;
  /** `noiseless`: the rows' noise is kNoiselessVariance x s2 (src/surrogate/backend.ts AppendOptions); such a model has no device copy. */
  append(x: Float64Array, y: Float64Array, k: number, numThreads: number, noiseless?: boolean): Promise<AddonModel>;
  /**
   * A new handle over the same CPU fit whose predict / acquisition run on the CUDA device
   * (native/cuda/cuda_gp.h). Rejects when the addon was built without CUDA or no device exists.
   * Each call makes a new device copy (about 8 n^2 bytes of GPU memory), held until this handle is
   * disposed or collected, and reported as external memory (externalMemory()).
   */
  toCuda(kernel: AddonKernelCode): Promise<AddonModel>;
  /** Where predict / acquisition of this handle run. */
  device(): 'cpu' | 'cuda';
  dispose(): void;
  disposed(): boolean;
}

export interface KestrelAddon {
  buildInfo(): AddonBuildInfo;
  /**
   * Bytes the live models of this environment (not disposed, not yet collected) report to the
   * JS engine as external memory (each model's inputs and solves, its factor's store, and a
   * `toCuda` handle's device copy: the factor and inputs it keeps in GPU memory, plus its small
   * host state), so that the GC sees them. Device bytes count too: a dropped device handle keeps
   * its GPU memory until it is collected, and the engine schedules collection by this figure. Each
   * native block counts once however many handles hold it: models appended in place share one
   * store, and a `toCuda` handle shares its CPU model. dispose() or the handle's finalizer lets go
   * of its blocks; a block is taken back when its last handle lets go. For tests.
   */
  externalMemory(): number;
  /**
   * Compiled with CUDA, a device is present, and our kernels can run on it: the build's fatbin has
   * SASS or PTX for its compute capability (probed once per process with cudaFuncGetAttributes on
   * one of our kernels). Never throws without a driver.
   */
  cudaAvailable(): boolean;
  /**
   * The device name and compute capability ("NVIDIA H100 80GB HBM3 (sm_90)"), or why CUDA is not
   * usable: "built without CUDA", "no CUDA device", a failing runtime call, or, for a card the
   * build has no kernel image for, "<name> (sm_50): no kernel image for compute capability 5.0 (...)".
   */
  cudaDevice(): string;
  fit(data: AddonData, options: AddonFitOptions): Promise<AddonModel>;
  /** The model factored at `theta` (bounded jitter), no optimization. Rejects when it cannot be factored. */
  build(
    data: AddonData,
    options: { theta: Float64Array; kernel: AddonKernelCode; deterministic: boolean; numThreads: number },
  ): Promise<AddonModel>;
  negLogPosterior(
    data: AddonData,
    options: { theta: Float64Array; kernel: AddonKernelCode; deterministic: boolean; numThreads: number },
  ): Promise<{ value: number; grad: Float64Array }>;
  /** (d + 2)^2 row-major Hessian of the negative log posterior at `theta` (native/core/gp.h neg_log_posterior_hessian). */
  negLogPosteriorHessian(
    data: AddonData,
    options: { theta: Float64Array; kernel: AddonKernelCode; deterministic: boolean; numThreads: number },
  ): Promise<Float64Array>;
  /**
   * Cholesky of a (n, n) column-major matrix (lower triangle read). With `jitter`, bounded jitter
   * escalation; `factor` is null on failure, with `index` the failing pivot (or column of a NaN).
   * `factorMs`: wall time of the factorization itself (with its jitter retries and the NaN scan),
   * without the copies in and out of JavaScript.
   */
  cholesky(a: Float64Array, n: number, numThreads: number, jitter?: boolean): Promise<AddonCholeskyResult>;
  /** The device mirror of `cholesky` (same result). Rejects without CUDA or a device. */
  cudaCholesky(a: Float64Array, n: number, jitter?: boolean): Promise<AddonCholeskyResult>;
}

export interface AddonCholeskyResult {
  readonly factor: Float64Array | null;
  readonly index: number;
  readonly hadNan: boolean;
  readonly jitter: number;
  readonly factorMs: number;
}

/** Names the loader checks on the loaded module before trusting it. */
export const ADDON_FUNCTIONS: readonly (keyof KestrelAddon)[] = [
  'buildInfo',
  'externalMemory',
  'cudaAvailable',
  'cudaDevice',
  'fit',
  'build',
  'negLogPosterior',
  'negLogPosteriorHessian',
  'cholesky',
  'cudaCholesky',
];
