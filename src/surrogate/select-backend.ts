/**
 * Backend choice: `auto` | `cpu` | `cuda` | `js`.
 *
 * - `js`: the TypeScript backend (js-backend.ts).
 * - `cpu` / `cuda`: the native addon (native-backend.ts, loaded by a dynamic import so that this
 *   module works when the addon was never built); a request that cannot be met throws
 *   `BackendUnavailableError`.
 * - `auto`: native CPU when the addon loads, else `js` with a one-time `NATIVE_UNAVAILABLE`
 *   warning. CUDA is used per fit, only when it was built, a device is present and the training
 *   set has at least `CUDA_MIN_OBSERVATIONS` rows: below that the host<->device copies and kernel
 *   launches cost more than the 2-core CPU path. A fit the device cannot run (a `NativeError`:
 *   out of device memory, a device the kernels were not built for) is done on the CPU instead,
 *   with a `CUDA_FALLBACK` warning.
 *
 * The returned backend's `name` is what will actually run small fits (`js` when falling back);
 * every fitted model reports its own `backend`.
 */
import { BackendUnavailableError, InvalidOptionError, NativeError } from '../errors.js';
import { warnOnce } from '../util/warn.js';
import type { BackendName, BuildOptions, FitOptions, FittedGp, GpTrainingData, KernelKind, SurrogateBackend } from './backend.js';
import { createJsBackend } from './js-backend.js';
import { checkCount } from './validate.js';

export type BackendRequest = 'auto' | BackendName;

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
  const cuda = tryCreate(mod, 'cuda', numThreads);
  return cuda instanceof Error ? cpu : new SizeRoutedBackend(cpu, cuda, CUDA_MIN_OBSERVATIONS);
}

/**
 * `auto` with CUDA present: small fits on the CPU, large ones on the GPU. A large fit or build
 * that the GPU rejects with a `NativeError` (the device failed: out of memory, no kernel image
 * for it, ...) is redone on the small backend, with a `CUDA_FALLBACK` warning; numerical and
 * argument errors are passed on.
 */
export class SizeRoutedBackend implements SurrogateBackend {
  readonly name: BackendName;

  constructor(
    private readonly small: SurrogateBackend,
    private readonly large: SurrogateBackend,
    private readonly threshold: number,
  ) {
    this.name = small.name;
  }

  fit(data: GpTrainingData, options: FitOptions): Promise<FittedGp> {
    if (data.n < this.threshold) return this.small.fit(data, options);
    return this.withFallback(this.large.fit(data, options), () => this.small.fit(data, options));
  }

  build(data: GpTrainingData, theta: Float64Array, options: BuildOptions): Promise<FittedGp> {
    if (data.n < this.threshold) return this.small.build(data, theta, options);
    return this.withFallback(this.large.build(data, theta, options), () => this.small.build(data, theta, options));
  }

  private async withFallback(onDevice: Promise<FittedGp>, onCpu: () => Promise<FittedGp>): Promise<FittedGp> {
    try {
      return await onDevice;
    } catch (err) {
      if (!(err instanceof NativeError)) throw err;
      warnOnce('CUDA_FALLBACK', `the ${this.large.name} backend failed (${err.message}); fitting on the ${this.small.name} backend instead`);
      return onCpu();
    }
  }

  negLogPosterior(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean) {
    return (data.n >= this.threshold ? this.large : this.small).negLogPosterior(data, theta, kernel, deterministic);
  }
}
