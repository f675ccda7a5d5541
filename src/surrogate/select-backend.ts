/**
 * Backend choice: `auto` | `cpu` | `cuda` | `js`.
 *
 * - `js`: the TypeScript backend (js-backend.ts).
 * - `cpu` / `cuda`: the native addon (native-backend.ts, loaded by a dynamic import so that this
 *   module works when the addon was never built); a request that cannot be met throws
 *   `BackendUnavailableError`.
 * - `auto`: native CPU when the addon loads, else `js` with a one-time `NATIVE_UNAVAILABLE`
 *   warning. CUDA is used per fit, only when it was built, a device our kernels can run on is
 *   present (`cudaAvailable()` probes the kernel image for its compute capability, at the first fit
 *   that would use the device, not before: the probe creates a CUDA context) and the training
 *   set has at least `CUDA_MIN_OBSERVATIONS` rows: below that the host<->device copies and kernel
 *   launches cost more than the 2-core CPU path. A fit the device cannot run (a `NativeError`:
 *   out of device memory, a device the kernels were not built for) is done on the CPU instead,
 *   with a `CUDA_FALLBACK` warning. So is a later operation on a model the device fitted
 *   (`predict`, `acquisition`, `optimizeAcquisition`, `append`) that fails with a `NativeError`:
 *   the model is rebuilt on the CPU from the same data at the same theta, the operation is redone
 *   there, and that model and the models appended to it stay on the CPU (see `SizeRoutedBackend`).
 * - An explicit `cuda` never moves work to the CPU: a failing fit, build or later model operation
 *   rejects with `NativeError` (GpSampler then samples that trial independently at random with a
 *   `GP_NUMERICAL_FALLBACK` warning and tries the device again at the next ask).
 *
 * The returned backend's `name` is what will actually run small fits (`js` when falling back);
 * every fitted model reports its own `backend`.
 */
import { BackendUnavailableError, InvalidOptionError, NativeError } from '../errors.js';
import { warnOnce } from '../util/warn.js';
import type {
  AcquisitionOptimum,
  AcquisitionOptions,
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
import { CURRENT_MODEL } from './backend.js';
import { createJsBackend } from './js-backend.js';
import { checkCount, checkTrainingData } from './validate.js';

/** The backend asked for: `'auto'` picks the best one present (see the file comment), the others exactly that one or an error. */
export type BackendRequest = 'auto' | BackendName;

/** Options of `getSurrogateBackend`. */
export interface GetSurrogateBackendOptions {
  /** 'auto' (default), 'cpu', 'cuda' or 'js' (see the file comment). */
  readonly backend?: BackendRequest;
  /** Threads of the native backend (default: available cores). */
  readonly numThreads?: number;
}

/**
 * Training-set size from which `auto` sends a fit to CUDA. Not yet benchmarked on a GPU machine
 * (this repository's CI machine has none): set from the O(n^3) crossover usually reported for
 * dense Cholesky on GPUs vs a 2-core CPU (~2k rows). Revisit with `npm run bench:surrogate`.
 */
export const CUDA_MIN_OBSERVATIONS = 2048;

const REQUESTS: readonly BackendRequest[] = ['auto', 'cpu', 'cuda', 'js'];

interface NativeBackendModule {
  createNativeBackend(options: { device: 'cpu' | 'cuda'; numThreads?: number }): SurrogateBackend;
}

function isNativeModule(value: unknown): value is NativeBackendModule {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { createNativeBackend?: unknown }).createNativeBackend === 'function'
  );
}

/** Loads the native adapter; resolves to the module or to the reason it is unavailable. */
async function loadNative(): Promise<NativeBackendModule | Error> {
  // A variable specifier keeps TypeScript from requiring the module at compile time: the
  // native adapter is optional at run time.
  const specifier = './native-backend.js';
  try {
    const mod: unknown = await import(specifier);
    if (!isNativeModule(mod)) return new Error('native-backend.js does not export createNativeBackend');
    return mod;
  } catch (cause) {
    return cause instanceof Error ? cause : new Error(String(cause));
  }
}

function tryCreate(mod: NativeBackendModule, device: 'cpu' | 'cuda', numThreads: number | undefined): SurrogateBackend | Error {
  try {
    return mod.createNativeBackend(numThreads === undefined ? { device } : { device, numThreads });
  } catch (cause) {
    return cause instanceof Error ? cause : new Error(String(cause));
  }
}

/**
 * The surrogate backend for a request (see the file comment). Rejects with
 * `BackendUnavailableError` (code BACKEND_UNAVAILABLE) when 'cpu' or 'cuda' is asked for and this
 * machine cannot provide it (no addon; an addon built without CUDA, or no device), and with
 * `InvalidOptionError` for an unknown request or a `numThreads` outside 1-4096. 'auto' never
 * rejects for a missing addon: it falls back to 'js' with a NATIVE_UNAVAILABLE warning.
 */
export async function getSurrogateBackend(options: GetSurrogateBackendOptions = {}): Promise<SurrogateBackend> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  const request = options.backend ?? 'auto';
  if (!REQUESTS.includes(request)) throw new InvalidOptionError('backend', `one of ${REQUESTS.join(', ')}`, request);
  const numThreads = options.numThreads === undefined ? undefined : checkCount('numThreads', options.numThreads, 1, 4096);
  if (request === 'js') return createJsBackend();

  const mod = await loadNative();
  if (request === 'cpu' || request === 'cuda') {
    if (mod instanceof Error) throw new BackendUnavailableError(request, `the native addon could not be loaded (${mod.message})`);
    const backend = tryCreate(mod, request, numThreads);
    if (backend instanceof Error) {
      throw backend instanceof BackendUnavailableError ? backend : new BackendUnavailableError(request, backend.message);
    }
    return backend;
  }
  // auto
  if (mod instanceof Error) {
    warnOnce('NATIVE_UNAVAILABLE', `Kestrel's native GP addon is unavailable (${mod.message}); using the TypeScript backend`);
    return createJsBackend();
  }
  const cpu = tryCreate(mod, 'cpu', numThreads);
  if (cpu instanceof Error) {
    warnOnce('NATIVE_UNAVAILABLE', `Kestrel's native GP addon is unavailable (${cpu.message}); using the TypeScript backend`);
    return createJsBackend();
  }
  // The CUDA backend is created at the first fit that would use it: its availability check
  // probes our kernels on the card, which creates a CUDA context (device memory) that a study
  // whose fits all stay below the threshold, or a trial process sharing the GPU, should not pay.
  return new SizeRoutedBackend(cpu, () => tryCreate(mod, 'cuda', numThreads), CUDA_MIN_OBSERVATIONS);
}

/**
 * `auto` with CUDA present: small fits on the CPU, large ones on the GPU. A large fit or build
 * that the GPU rejects with a `NativeError` (the device failed: out of memory, no kernel image
 * for it, ...) is redone on the small backend, with a `CUDA_FALLBACK` warning; numerical and
 * argument errors are passed on.
 *
 * A model the GPU fitted or built is returned wrapped (`DeviceFallbackGp`): when one of its
 * operations (`predict`, `acquisition`, `optimizeAcquisition`, `append`) rejects with a
 * `NativeError`, the model is rebuilt once on the small backend from the same training data at
 * the same theta (`build`, no refit), the operation is redone there with the same arguments, and
 * every later operation of that model, and every model appended to it, runs on the small backend.
 * A rebuild that fails rejects that operation with its error, and the next operation starts over
 * (the device first). The warning is the same one-time `CUDA_FALLBACK`. A device that failed once is not avoided for
 * the next fits: a transient failure (memory another process held) should not cost the speed of
 * the GPU for the rest of the study, and a permanent one fails each fit quickly.
 */
export class SizeRoutedBackend implements SurrogateBackend {
  readonly name: BackendName;
  /** The large backend, or a factory run once at the first large fit (an Error: none; all fits stay small). */
  private large: SurrogateBackend | (() => SurrogateBackend | Error) | null;

  constructor(
    private readonly small: SurrogateBackend,
    large: SurrogateBackend | (() => SurrogateBackend | Error),
    private readonly threshold: number,
  ) {
    this.name = small.name;
    this.large = large;
  }

  async fit(data: GpTrainingData, options: FitOptions): Promise<FittedGp> {
    const large = this.isLarge(data) ? this.largeBackend() : null;
    if (large === null) return this.small.fit(data, options);
    const kept = keptData(data);
    const keptOptions = copyOptions(options);
    return this.withFallback(large, large.fit(data, options), () => this.small.fit(kept, keptOptions), kept, buildOptions(options));
  }

  async build(data: GpTrainingData, theta: Float64Array, options: BuildOptions): Promise<FittedGp> {
    const large = this.isLarge(data) ? this.largeBackend() : null;
    if (large === null) return this.small.build(data, theta, options);
    const kept = keptData(data);
    const keptTheta = theta instanceof Float64Array ? Float64Array.from(theta) : theta;
    const keptOptions = copyOptions(options);
    return this.withFallback(large, large.build(data, theta, options), () => this.small.build(kept, keptTheta, keptOptions), kept, buildOptions(options));
  }

  /**
   * Whether `data` goes to the large backend. Anything that is not training data with a numeric
   * `n` (null, a number, ...) stays small, where the backend's input check rejects it as
   * InvalidOptionError.
   */
  private isLarge(data: GpTrainingData): boolean {
    return typeof data === 'object' && data !== null && typeof data.n === 'number' && data.n >= this.threshold;
  }

  /** The large backend, created on first use; null when it cannot be (then never tried again). */
  private largeBackend(): SurrogateBackend | null {
    if (typeof this.large === 'function') {
      const created = this.large();
      this.large = created instanceof Error ? null : created;
    }
    return this.large;
  }

  private async withFallback(
    large: SurrogateBackend,
    onDevice: Promise<FittedGp>,
    onCpu: () => Promise<FittedGp>,
    data: GpTrainingData,
    options: BuildOptions,
  ): Promise<FittedGp> {
    let model: FittedGp;
    try {
      model = await onDevice;
    } catch (err) {
      if (!(err instanceof NativeError)) throw err;
      warnCudaFallback(large.name, this.small.name, err);
      return onCpu();
    }
    return new DeviceFallbackGp(model, data, options, this.small);
  }

  negLogPosterior(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean) {
    return ((this.isLarge(data) ? this.largeBackend() : null) ?? this.small).negLogPosterior(data, theta, kernel, deterministic);
  }

  negLogPosteriorHessian(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean): Promise<Float64Array> {
    const large = this.isLarge(data) ? this.largeBackend() : null;
    const backend = large?.negLogPosteriorHessian === undefined ? this.small : large;
    if (backend.negLogPosteriorHessian === undefined) {
      return Promise.reject(new BackendUnavailableError(backend.name, 'it has no negLogPosteriorHessian'));
    }
    return backend.negLogPosteriorHessian(data, theta, kernel, deterministic);
  }
}

/**
 * One warning per distinct device error, whether a fit or a later model operation hit it (a
 * device error message names its expression and file:line, so a repeated out-of-memory warns once).
 */
function warnCudaFallback(from: BackendName, to: BackendName, err: NativeError): void {
  warnOnce('CUDA_FALLBACK', `the ${from} backend failed (${err.message}); running on the ${to} backend instead`);
}

function buildOptions(options: BuildOptions): BuildOptions {
  return { kernel: options.kernel, deterministic: options.deterministic, numThreads: options.numThreads };
}

/**
 * The training data of a large fit or build, checked and copied when it is called (the CPU redo
 * of a failed device fit and the fallback rebuild read it later, after the caller may have
 * reused its buffers; the backends copy their inputs at the call as well).
 */
function keptData(data: GpTrainingData): GpTrainingData {
  checkTrainingData(data);
  return copyData(data);
}

/** A copy the caller cannot change afterwards (the fallback rebuild reads it later). */
function copyData(data: GpTrainingData): GpTrainingData {
  return {
    x: Float64Array.from(data.x.subarray(0, data.n * data.d)),
    y: Float64Array.from(data.y.subarray(0, data.n)),
    n: data.n,
    d: data.d,
    isCategorical: Uint8Array.from(data.isCategorical),
  };
}

/** A copy of a Float64Array argument; anything else as it is, for the model's own check to reject. */
function copyArray<T>(value: T): T {
  return (value instanceof Float64Array ? Float64Array.from(value) : value) as T;
}

/**
 * A copy of an operation's options object (its arrays and acquisition terms included), for a CPU
 * redo that reads them later; anything else as it is, for the backend's own check to reject.
 */
function copyOptions<T>(options: T): T {
  if (typeof options !== 'object' || options === null) return options;
  const copy: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const key of ['warmStart', 'grid', 'logIntBounds', 'centers', 'boxes', 'fixedFeatures']) if (key in copy) copy[key] = copyArray(copy[key]);
  if (Array.isArray(copy.terms)) copy.terms = copy.terms.map((term: unknown) => (typeof term === 'object' && term !== null ? { ...term } : term));
  return copy as T;
}

/**
 * A model fitted on the device, which moves to the CPU when the device fails under it (see
 * `SizeRoutedBackend`). Keeps a copy of its training data (O(n d)) for that rebuild.
 */
class DeviceFallbackGp implements FittedGp {
  readonly n: number;
  readonly d: number;
  /** The caller's copy to read (FittedGp.theta); the rebuild uses `params`. */
  readonly theta: Float64Array;
  readonly logPosterior: number;
  /** theta as fitted, the model's own copy: the CPU rebuild's theta. */
  private readonly params: Float64Array;
  /** The rebuilt model once the device failed (one build shared by concurrent callers). */
  private onCpu: Promise<FittedGp> | null = null;
  private cpuModel: FittedGp | null = null;
  private disposed = false;

  constructor(
    private readonly device: FittedGp,
    private readonly data: GpTrainingData,
    private readonly options: BuildOptions,
    private readonly cpu: SurrogateBackend,
  ) {
    this.n = device.n;
    this.d = device.d;
    this.params = Float64Array.from(device.theta);
    this.theta = Float64Array.from(device.theta);
    this.logPosterior = device.logPosterior;
  }

  /** The model computing now (the device's, or its CPU rebuild once the device failed): for acquisition terms. */
  [CURRENT_MODEL](): FittedGp {
    return this.cpuModel ?? this.device;
  }

  /** 'cuda' until the device failed under this model, then the CPU backend's name. */
  get backend(): BackendName {
    return this.cpuModel?.backend ?? this.device.backend;
  }

  // The arguments are copied when called (copyArray, copyOptions), as the backends copy theirs: the
  // CPU redo after a device failure runs later, after the caller may have reused its buffers.
  predict(x: Float64Array, m: number): Promise<Prediction> {
    const xc = copyArray(x);
    return this.run((model) => model.predict(xc, m));
  }

  acquisition(x: Float64Array, m: number, options: AcquisitionOptions, withGrad: boolean): Promise<AcquisitionResult> {
    const xc = copyArray(x);
    const oc = copyOptions(options);
    return this.run((model) => model.acquisition(xc, m, oc, withGrad));
  }

  optimizeAcquisition(options: OptimizeAcquisitionOptions): Promise<AcquisitionOptimum> {
    const oc = copyOptions(options);
    return this.run((model) => model.optimizeAcquisition(oc));
  }

  async append(x: Float64Array, y: Float64Array, k: number, options?: AppendOptions): Promise<FittedGp> {
    // The rows (for the device append's CPU redo and a later rebuild) are copied now, as the
    // backends copy their inputs when called: read after an await, a buffer the caller reused
    // meanwhile got in. The device append checked them: a redo or a rebuild reads exactly k rows.
    const xk = copyArray(x);
    const yk = copyArray(y);
    const ok = copyOptions(options);
    if (this.onCpu !== null) return (await this.onCpu).append(xk, yk, k, ok);
    const d = this.d;
    let appended: FittedGp;
    try {
      appended = await this.device.append(xk, yk, k, ok);
    } catch (err) {
      if (!(err instanceof NativeError)) throw err;
      return (await this.fallBack(err)).append(xk, yk, k, ok);
    }
    // A noiseless append computes on the CPU already (AppendOptions): nothing left to fall back from.
    if (ok?.noiseless === true) return appended;
    const n = this.data.n + k;
    const xs = new Float64Array(n * d);
    xs.set(this.data.x);
    xs.set(xk, this.data.n * d);
    const ys = new Float64Array(n);
    ys.set(this.data.y);
    ys.set(yk, this.data.n);
    return new DeviceFallbackGp(appended, { x: xs, y: ys, n, d, isCategorical: this.data.isCategorical }, this.options, this.cpu);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.device.dispose();
    // A rebuild still in flight is disposed when it lands.
    this.onCpu?.then((model) => model.dispose(), () => undefined);
  }

  private async run<T>(op: (model: FittedGp) => Promise<T>): Promise<T> {
    if (this.onCpu !== null) return op(await this.onCpu);
    try {
      return await op(this.device);
    } catch (err) {
      if (!(err instanceof NativeError)) throw err;
      return op(await this.fallBack(err));
    }
  }

  /**
   * The CPU rebuild, started at the first device failure. A model disposed meanwhile (an
   * operation was in flight when its owner freed it) is not rebuilt: that build would never be
   * disposed; the device error is passed on.
   */
  private fallBack(err: NativeError): Promise<FittedGp> {
    if (this.onCpu === null) {
      if (this.disposed) return Promise.reject(err);
      warnCudaFallback(this.device.backend, this.cpu.name, err);
      // A rebuild that failed is forgotten, so that the next operation tries again (the device
      // first): kept, its error would fail every later operation of the model.
      const rebuild: Promise<FittedGp> = this.cpu.build(this.data, this.params, this.options).then(
        (model) => {
          this.cpuModel = model;
          return model;
        },
        (error: unknown) => {
          if (this.onCpu === rebuild) this.onCpu = null;
          throw error;
        },
      );
      this.onCpu = rebuild;
    }
    return this.onCpu;
  }
}
