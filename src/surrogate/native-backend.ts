/**
 * The native surrogate backend: `SurrogateBackend` over the C++ addon (native/core through
 * native/addon). One JS object per fitted model (`NativeFittedGp`, immutable, `dispose()`); fit,
 * prediction, acquisition, acquisition maximization and append run in AsyncWorkers on the
 * native thread pool, so the event loop keeps running.
 *
 * Notation and the MAP objective are those of backend.ts / hyperparameters.ts (the C++ core,
 * native/core/gp.h, implements the same priors and bounds), so the native and TypeScript
 * backends agree to rounding at the same theta.
 *
 * Boundary checks happen twice: here (validate.ts, the same checks as the TypeScript backend,
 * throwing InvalidOptionError naming the argument) and again in the addon (lengths and
 * finiteness, so a wrong length never reaches the math even if this layer is bypassed).
 * Acquisition candidates are those of candidates.ts (scrambled Sobol points and local ones around
 * the best observation: the same points the TypeScript backend scores for the same seed), copied
 * into the addon.
 *
 * `device: 'cuda'` (native/cuda/cuda_gp.h): the MAP hyperparameter fit runs on the CPU; the fitted
 * model is then moved to the device (`toCuda`: covariance assembled, Cholesky-factored and solved
 * there), and `predict` / `acquisition` (with gradient) run there. `optimizeAcquisition` and
 * `negLogPosterior` stay on the CPU; `append` extends on the CPU and refactors on the device.
 */
import os from 'node:os';
import { BackendUnavailableError, InvalidOptionError, KestrelError, NativeError, NumericalError } from '../errors.js';
import { loadAddon } from '../binding/load.js';
import type {
  AddonAcquisitionCode,
  AddonAcquisitionTerm,
  AddonData,
  AddonKernelCode,
  AddonModel,
  KestrelAddon,
} from '../binding/addon.js';
import { acquisitionCandidates } from './candidates.js';
import { warnOnce } from '../util/warn.js';
import type {
  SurrogateAcquisitionKind,
  AcquisitionOptimum,
  AcquisitionOptions,
  AcquisitionResult,
  AcquisitionTerm,
  AppendOptions,
  BuildOptions,
  BackendName,
  FitOptions,
  FittedGp,
  GpTrainingData,
  KernelKind,
  OptimizeAcquisitionOptions,
  Prediction,
  SurrogateBackend,
} from './backend.js';
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

export interface NativeBackendOptions {
  /** 'cpu' (default) or 'cuda' (throws BackendUnavailableError unless CUDA can be used). */
  readonly device?: 'cpu' | 'cuda';
  /**
   * Threads for predict / acquisition / append (fit and optimizeAcquisition take their own),
   * [1, 4096]; default: available cores. Capped at the hardware threads
   * (std::thread::hardware_concurrency(), at least 1), as `FitOptions.numThreads` is.
   */
  readonly numThreads?: number;
}

const KERNEL_CODES: Record<KernelKind, AddonKernelCode> = { matern52: 0, rbf: 1 };

const ACQUISITION_CODES: Record<SurrogateAcquisitionKind, AddonAcquisitionCode> = { logei: 0, ucb: 1, pi: 2, logehvi: 3 };

/** Creates the native backend. @throws BackendUnavailableError when the addon (or CUDA) cannot be used. */
export function createNativeBackend(options: NativeBackendOptions = {}): SurrogateBackend {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  const device = options.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new InvalidOptionError('device', '"cpu" or "cuda"', device);
  const numThreads =
    options.numThreads === undefined ? os.availableParallelism() : checkCount('numThreads', options.numThreads, 1, 4096);
  const { addon, error } = loadAddon();
  if (addon === null) throw new BackendUnavailableError(device, error === null ? 'the addon did not load' : error.message);
  if (device === 'cuda') {
    if (!addon.buildInfo().cuda) {
      throw new BackendUnavailableError('cuda', 'the addon was built without CUDA (rebuild with KESTREL_CUDA=1 and nvcc)');
    }
    if (!addon.cudaAvailable()) throw new BackendUnavailableError('cuda', `no usable CUDA device (${addon.cudaDevice()})`);
  }
  return new NativeBackend(addon, numThreads, device);
}

/**
 * Maps an addon error onto the KestrelError hierarchy (keeping it as `cause`). An argument error
 * carries `argument`, `expected` and `received` (the addon's description of the value: a number,
 * or words such as "a typed array of length 3"), which become the InvalidOptionError's parts.
 */
export function wrapNativeError(err: unknown, operation: string): KestrelError {
  if (err instanceof KestrelError) return err;
  const record = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const message = err instanceof Error ? err.message : String(err);
  switch (record.code) {
    case 'KESTREL_ARGUMENT':
      return new InvalidOptionError(
        typeof record.argument === 'string' ? record.argument : operation,
        typeof record.expected === 'string' ? record.expected : 'a valid value',
        typeof record.received === 'string' ? receivedValue(record.received) : message,
        { cause: err },
      );
    case 'KESTREL_NUMERICAL':
      return new NumericalError(`${operation}: ${message}`, { cause: err });
    case 'KESTREL_NAN':
      return new NumericalError(`${operation}: input had NaN: ${message}`, { cause: err });
    case 'KESTREL_DISPOSED':
      return new KestrelError('INVALID_OPTION', 'this FittedGp was disposed', { cause: err });
    default:
      return new NativeError(`${operation}: ${message}`, { cause: err });
  }
}

/** The addon's description of a received value: a number when it is one, else the words. */
function receivedValue(description: string): unknown {
  const value = Number(description);
  return description.trim() !== '' && !Number.isNaN(value) ? value : description;
}

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw wrapNativeError(err, operation);
  }
}

function toAddonData(data: GpTrainingData): AddonData {
  return { x: data.x, y: data.y, n: data.n, d: data.d, isCategorical: data.isCategorical };
}

class NativeBackend implements SurrogateBackend {
  readonly name: BackendName;

  constructor(
    private readonly addon: KestrelAddon,
    private readonly numThreads: number,
    private readonly device: 'cpu' | 'cuda',
  ) {
    this.name = device;
  }

  async fit(data: GpTrainingData, options: FitOptions): Promise<FittedGp> {
    checkTrainingData(data);
    checkFitOptions(options, data.d);
    const { kernel } = options;
    const isCategorical = Uint8Array.from(data.isCategorical);
    const model = await call('fit', () =>
      this.addon.fit(toAddonData(data), {
        kernel: KERNEL_CODES[options.kernel],
        deterministic: options.deterministic,
        nRestarts: options.nRestarts,
        seed: options.seed,
        warmStart: options.warmStart,
        numThreads: options.numThreads,
        ...(options.maxIterations === undefined ? {} : { maxIterations: options.maxIterations }),
      }),
    );
    const fitted = await this.wrap(model, kernel, isCategorical);
    if (fitted.fellBack) {
      warnOnce('GP_FIT_FAILED', `GP hyperparameter fit failed numerically (${fitted.fallbackReason}); using the default hyperparameters`);
    }
    return fitted;
  }

  async build(data: GpTrainingData, theta: Float64Array, options: BuildOptions): Promise<FittedGp> {
    checkTrainingData(data);
    checkFloat64('theta', theta, data.d + 2);
    checkFitOptions({ ...options, nRestarts: 0, seed: 0, warmStart: null }, data.d);
    const { kernel } = options;
    const isCategorical = Uint8Array.from(data.isCategorical);
    const model = await call('build', () =>
      this.addon.build(toAddonData(data), {
        theta,
        kernel: KERNEL_CODES[options.kernel],
        deterministic: options.deterministic,
        numThreads: options.numThreads,
      }),
    );
    return this.wrap(model, kernel, isCategorical);
  }

  /**
   * A fitted-model handle for this backend (moved to the device first when it is CUDA).
   * `kernel` and `isCategorical` are the model's own, taken when the fit or build was called (as
   * the addon copies its inputs then): read after it resolved, a caller's reused array got in.
   */
  private async wrap(model: AddonModel, kernel: KernelKind, isCategorical: Uint8Array): Promise<NativeFittedGp> {
    return new NativeFittedGp(
      this.device === 'cuda' ? await this.toDevice(model, kernel) : model,
      isCategorical,
      this.numThreads,
      this.device,
    );
  }

  /** Moves a CPU fit to the device; the CPU handle is disposed (the device handle shares its fit). */
  private async toDevice(model: AddonModel, kernel: KernelKind): Promise<AddonModel> {
    try {
      return await call('fit (device)', () => model.toCuda(KERNEL_CODES[kernel]));
    } finally {
      model.dispose();
    }
  }

  async negLogPosterior(
    data: GpTrainingData,
    theta: Float64Array,
    kernel: KernelKind,
    deterministic: boolean,
  ): Promise<{ readonly value: number; readonly grad: Float64Array }> {
    checkPosteriorArgs(data, theta, kernel, deterministic);
    return call('negLogPosterior', () =>
      this.addon.negLogPosterior(toAddonData(data), {
        theta,
        kernel: KERNEL_CODES[kernel],
        deterministic,
        numThreads: this.numThreads,
      }),
    );
  }

  async negLogPosteriorHessian(
    data: GpTrainingData,
    theta: Float64Array,
    kernel: KernelKind,
    deterministic: boolean,
  ): Promise<Float64Array> {
    checkPosteriorArgs(data, theta, kernel, deterministic);
    return call('negLogPosteriorHessian', () =>
      this.addon.negLogPosteriorHessian(toAddonData(data), {
        theta,
        kernel: KERNEL_CODES[kernel],
        deterministic,
        numThreads: this.numThreads,
      }),
    );
  }
}

/** One fitted native GP. Immutable: `append` returns a new model; `dispose` frees native memory. */
export class NativeFittedGp implements FittedGp {
  readonly backend: BackendName;
  readonly n: number;
  readonly d: number;
  readonly theta: Float64Array;
  /** Inputs of the best observation (the centre of the local acquisition candidates). */
  private readonly bestX: Float64Array;
  readonly logPosterior: number;
  /** Jitter added to the diagonal of the training covariance. */
  readonly jitter: number;
  /** The MAP fit failed numerically and the default theta was used. */
  readonly fellBack: boolean;
  readonly fallbackReason: string;

  constructor(
    private readonly model: AddonModel,
    private readonly isCategorical: Uint8Array,
    private readonly numThreads: number,
    device: 'cpu' | 'cuda' = 'cpu',
  ) {
    this.backend = device;
    const summary = model.summary();
    this.n = summary.n;
    this.d = summary.d;
    this.theta = summary.theta;
    this.bestX = summary.bestX;
    this.logPosterior = summary.logPosterior;
    this.jitter = summary.jitter;
    this.fellBack = summary.fellBack;
    this.fallbackReason = summary.message;
  }

  /**
   * The Cholesky factor L of K + (sn2 + jitter) I, (n, n) column-major lower (for tests); on
   * the `cuda` backend the device's own factor.
   */
  factor(): Float64Array {
    this.checkAlive();
    return this.model.factor();
  }

  async predict(x: Float64Array, m: number): Promise<Prediction> {
    this.checkAlive();
    this.checkCandidates(x, m);
    return call('predict', () => this.model.predict(x, m, this.numThreads));
  }

  async acquisition(x: Float64Array, m: number, options: AcquisitionOptions, withGrad: boolean): Promise<AcquisitionResult> {
    this.checkAlive();
    this.checkCandidates(x, m);
    checkAcquisitionOptions(options);
    if (typeof withGrad !== 'boolean') throw new InvalidOptionError('withGrad', 'a boolean', withGrad);
    return call('acquisition', () =>
      this.model.acquisition(
        x,
        m,
        {
          kind: ACQUISITION_CODES[options.kind],
          incumbent: options.incumbent,
          beta: options.beta,
          terms: this.addonTerms(options),
          ...(options.kind === 'logehvi' ? { boxes: options.boxes } : {}),
        },
        withGrad,
        this.numThreads,
      ),
    );
  }

  async optimizeAcquisition(options: OptimizeAcquisitionOptions): Promise<AcquisitionOptimum> {
    this.checkAlive();
    checkOptimizeOptions(options, this.d, this.isCategorical);
    const terms = this.addonTerms(options);
    const { x: candidates, count } = acquisitionCandidates({
      d: this.d,
      nSobol: options.nCandidates,
      seed: options.seed,
      center: options.centers ?? (this.bestX.length === this.d ? this.bestX : null),
      isCategorical: this.isCategorical,
    });
    return call('optimizeAcquisition', () =>
      this.model.optimizeAcquisition(candidates, count, {
        kind: ACQUISITION_CODES[options.kind],
        incumbent: options.incumbent,
        beta: options.beta,
        terms,
        ...(options.kind === 'logehvi' ? { boxes: options.boxes } : {}),
        nRestarts: options.nRestarts,
        grid: options.grid,
        logIntBounds: options.logIntBounds ?? null,
        fixedFeatures: options.fixedFeatures ?? null,
        numThreads: options.numThreads,
      }),
    );
  }

  async append(x: Float64Array, y: Float64Array, k: number, options: AppendOptions = {}): Promise<FittedGp> {
    this.checkAlive();
    checkCount('k', k, 1);
    checkFloat64('x', x, k * this.d);
    checkFloat64('y', y, k);
    checkInputs('x', x, k, this.d, this.isCategorical);
    const noiseless = checkAppendOptions(options).noiseless === true;
    const next = await call('append', () => this.model.append(x, y, k, this.numThreads, noiseless));
    return new NativeFittedGp(next, this.isCategorical, this.numThreads, this.backend === 'cuda' && !noiseless ? 'cuda' : 'cpu');
  }

  dispose(): void {
    this.model.dispose();
  }

  /** The acquisition terms as addon handles (each a live native model over the same inputs; a disposed one is an InvalidOptionError naming terms[i].model). */
  private addonTerms(options: AcquisitionOptions): AddonAcquisitionTerm[] {
    const models = termModels(options, NativeFittedGp, this, (m) => m.isCategorical, this.isCategorical);
    return models.map((model, i) => {
      if (model.model.disposed()) throw new InvalidOptionError(`terms[${i}].model`, 'a live model', 'a disposed model');
      const term = (options.terms as readonly AcquisitionTerm[])[i];
      return { model: model.model, kind: ACQUISITION_CODES[term.kind], incumbent: term.incumbent, beta: term.beta };
    });
  }

  private checkAlive(): void {
    if (this.model.disposed()) throw new KestrelError('INVALID_OPTION', 'this FittedGp was disposed');
  }

  private checkCandidates(x: Float64Array, m: number): void {
    checkCount('m', m, 0);
    checkFloat64('x', x, m * this.d);
    checkInputs('x', x, m, this.d, this.isCategorical);
  }
}
