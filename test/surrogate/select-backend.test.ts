import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidOptionError, NativeError, NumericalError } from '../../src/errors.js';
import type { BuildOptions, FitOptions, GpTrainingData, SurrogateBackend } from '../../src/surrogate/backend.js';
import { createJsBackend } from '../../src/surrogate/js-backend.js';
import { getSurrogateBackend, SizeRoutedBackend } from '../../src/surrogate/select-backend.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { randomData } from './helpers.js';

const FIT: FitOptions = { kernel: 'rbf', deterministic: false, nRestarts: 0, seed: 1, warmStart: null, numThreads: 1 };

let codes: (string | undefined)[] = [];
const onWarning = (w: Error & { code?: string }) => codes.push(w.code);
beforeEach(() => {
  codes = [];
  resetWarnOnce();
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

describe('getSurrogateBackend', () => {
  it("'js' gives the TypeScript backend and its models report 'js'", async () => {
    const backend = await getSurrogateBackend({ backend: 'js' });
    expect(backend.name).toBe('js');
    const model = await backend.fit(randomData(1, 8, 2), FIT);
    expect(model.backend).toBe('js');
  });

  it("'auto' gives the native CPU backend when it loads, else 'js' with a NATIVE_UNAVAILABLE warning", async () => {
    const backend = await getSurrogateBackend({ backend: 'auto', numThreads: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    if (backend.name === 'js') expect(codes).toContain('NATIVE_UNAVAILABLE');
    else expect(backend.name).toBe('cpu');
    const model = await backend.fit(randomData(2, 8, 2), FIT);
    expect(model.backend).toBe(backend.name);
  });

  it("explicit 'cpu' / 'cuda' either deliver that backend or throw BackendUnavailableError", async () => {
    for (const request of ['cpu', 'cuda'] as const) {
      const result = await getSurrogateBackend({ backend: request }).catch((e: unknown) => e);
      if (result instanceof Error) {
        expect(result).toBeInstanceOf(BackendUnavailableError);
        // Said once, not wrapped twice ("... is not available: ... is not available: ...").
        expect(result.message.split('is not available').length - 1).toBe(1);
      } else expect((result as SurrogateBackend).name).toBe(request);
    }
  });

  it('validates its options', async () => {
    await expect(getSurrogateBackend({ backend: 'gpu' as never })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(getSurrogateBackend({ backend: 'js', numThreads: 0 })).rejects.toThrow(/numThreads/);
  });
});

describe('SizeRoutedBackend', () => {
  it('sends fits with n >= threshold to the large backend', async () => {
    const calls: string[] = [];
    const tag = (name: string): SurrogateBackend => {
      const js = createJsBackend();
      return {
        name: 'js',
        fit: (data: GpTrainingData, options: FitOptions) => {
          calls.push(`${name}:${data.n}`);
          return js.fit(data, options);
        },
        build: (data: GpTrainingData, theta: Float64Array, options: BuildOptions) => {
          calls.push(`${name}:build:${data.n}`);
          return js.build(data, theta, options);
        },
        negLogPosterior: js.negLogPosterior.bind(js),
      };
    };
    const routed = new SizeRoutedBackend(tag('small'), tag('large'), 10);
    await routed.fit(randomData(3, 9, 2), FIT);
    await routed.fit(randomData(3, 10, 2), FIT);
    const theta = new Float64Array(4); // d = 2: two lengthscales, output scale, noise (logs)
    theta[3] = Math.log(1e-3);
    await routed.build(randomData(3, 9, 2), theta, FIT);
    await routed.build(randomData(3, 12, 2), theta, FIT);
    expect(calls).toEqual(['small:9', 'large:10', 'small:build:9', 'large:build:12']);
  });
});

describe('SizeRoutedBackend when the device fails', () => {
  // A CUDA fit that cannot run (device out of memory, e.g. a GPU shared with other processes or
  // workers; a device the kernels were not built for) rejects with NativeError. `auto` chose the
  // device only for speed: the fit must go to the CPU instead of failing (which GpSampler turns
  // into random sampling for every large trial).
  const failing = (error: Error): SurrogateBackend => ({
    name: 'cuda',
    fit: () => Promise.reject(error),
    build: () => Promise.reject(error),
    negLogPosterior: () => Promise.reject(error),
  });
  const oom = () =>
    new NativeError('fit (device): cudaMalloc(...) failed at native/cuda/cuda_gp.cu:117: cudaErrorMemoryAllocation: out of memory');

  it('fits and builds on the CPU backend instead, with a one-time CUDA_FALLBACK warning', async () => {
    const routed = new SizeRoutedBackend(createJsBackend(), failing(oom()), 10);
    const model = await routed.fit(randomData(3, 12, 2), FIT);
    expect(model.backend).toBe('js');
    expect(model.n).toBe(12);
    const theta = new Float64Array(4);
    theta[3] = Math.log(1e-3);
    const built = await routed.build(randomData(3, 12, 2), theta, FIT);
    expect(built.backend).toBe('js');
    await new Promise((resolve) => setImmediate(resolve));
    expect(codes.filter((c) => c === 'CUDA_FALLBACK')).toHaveLength(1);
  });

  it('still rejects numerical and argument errors of the device backend', async () => {
    const numerical = new SizeRoutedBackend(createJsBackend(), failing(new NumericalError('not positive definite')), 10);
    await expect(numerical.fit(randomData(3, 12, 2), FIT)).rejects.toBeInstanceOf(NumericalError);
    const invalid = new SizeRoutedBackend(createJsBackend(), failing(new InvalidOptionError('x', 'finite', NaN)), 10);
    await expect(invalid.fit(randomData(3, 12, 2), FIT)).rejects.toBeInstanceOf(InvalidOptionError);
  });
});
