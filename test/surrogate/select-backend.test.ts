import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidOptionError, NativeError, NumericalError } from '../../src/errors.js';
import type { BuildOptions, FitOptions, FittedGp, GpTrainingData, OptimizeAcquisitionOptions, SurrogateBackend } from '../../src/surrogate/backend.js';
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

  it('routes negLogPosteriorHessian by size, to the small backend when the large one lacks it', async () => {
    const js = createJsBackend();
    const calls: string[] = [];
    const withHessian = (name: string): SurrogateBackend => ({
      name: 'js',
      fit: js.fit.bind(js),
      build: js.build.bind(js),
      negLogPosterior: js.negLogPosterior.bind(js),
      negLogPosteriorHessian: (data, theta, kernel, deterministic) => {
        calls.push(`${name}:${data.n}`);
        return (js.negLogPosteriorHessian as NonNullable<SurrogateBackend['negLogPosteriorHessian']>).call(js, data, theta, kernel, deterministic);
      },
    });
    const theta = Float64Array.from([0, 0, 0, Math.log(1e-3)]);
    const routed = new SizeRoutedBackend(withHessian('small'), withHessian('large'), 10);
    await routed.negLogPosteriorHessian(randomData(3, 9, 2), theta, 'matern52', false);
    await routed.negLogPosteriorHessian(randomData(3, 12, 2), theta, 'matern52', false);
    expect(calls).toEqual(['small:9', 'large:12']);
    const without: SurrogateBackend = { name: 'js', fit: js.fit.bind(js), build: js.build.bind(js), negLogPosterior: js.negLogPosterior.bind(js) };
    const fallback = new SizeRoutedBackend(withHessian('small'), without, 10);
    const h = await fallback.negLogPosteriorHessian(randomData(3, 12, 2), theta, 'matern52', false);
    expect(calls.at(-1)).toBe('small:12');
    expect(h.length).toBe(16);
    await expect(new SizeRoutedBackend(without, without, 10).negLogPosteriorHessian(randomData(3, 12, 2), theta, 'matern52', false)).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
    });
  });

  it("creates the large backend at the first large fit only (its CUDA probe makes a context), once", async () => {
    let created = 0;
    const routed = new SizeRoutedBackend(createJsBackend(), () => {
      created++;
      return createJsBackend();
    }, 10);
    await routed.fit(randomData(3, 9, 2), FIT);
    expect(created).toBe(0);
    await routed.fit(randomData(3, 10, 2), FIT);
    await routed.fit(randomData(3, 11, 2), FIT);
    expect(created).toBe(1);
    // A large backend that cannot be created (no device, no kernel image) leaves every fit small,
    // silently (as 'auto' on a machine without CUDA), and is not retried.
    let tries = 0;
    const none = new SizeRoutedBackend(createJsBackend(), () => {
      tries++;
      return new BackendUnavailableError('cuda', 'no CUDA device');
    }, 10);
    const model = await none.fit(randomData(3, 12, 2), FIT);
    await none.fit(randomData(3, 13, 2), FIT);
    expect(model.backend).toBe('js');
    expect(tries).toBe(1);
    expect(codes).toEqual([]);
  });

  it('passes data that is not an object to the small backend, which rejects it as InvalidOptionError', async () => {
    let created = 0;
    const routed = new SizeRoutedBackend(createJsBackend(), () => {
      created++;
      return createJsBackend();
    }, 10);
    const theta = new Float64Array(4);
    for (const bad of [null, undefined, 7, 'data']) {
      await expect(routed.fit(bad as never, FIT)).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(routed.build(bad as never, theta, { kernel: 'matern52', deterministic: false, numThreads: 1 })).rejects.toBeInstanceOf(InvalidOptionError);
      await expect((async () => routed.negLogPosterior(bad as never, theta, 'matern52', false))()).rejects.toBeInstanceOf(InvalidOptionError);
    }
    expect(created).toBe(0);
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

type Op = 'predict' | 'acquisition' | 'optimizeAcquisition' | 'append';
const deviceError = () =>
  new NativeError('predict (device): cudaMalloc(...) failed at native/cuda/cuda_gp.cu:117: cudaErrorMemoryAllocation: out of memory');
/** A device backend whose models fail the operations in `failing` (shared, so a test can change it). */
const flakyDevice = (failing: Set<Op>, disposed: string[] = []): SurrogateBackend => {
  const js = createJsBackend();
  const wrap = (model: FittedGp): FittedGp => ({
    backend: 'cuda',
    n: model.n,
    d: model.d,
    theta: model.theta,
    logPosterior: model.logPosterior,
    predict: (x, m) => (failing.has('predict') ? Promise.reject(deviceError()) : model.predict(x, m)),
    acquisition: (x, m, o, g) => (failing.has('acquisition') ? Promise.reject(deviceError()) : model.acquisition(x, m, o, g)),
    optimizeAcquisition: (o) => (failing.has('optimizeAcquisition') ? Promise.reject(deviceError()) : model.optimizeAcquisition(o)),
    append: async (x, y, k) => (failing.has('append') ? Promise.reject(deviceError()) : wrap(await model.append(x, y, k))),
    dispose: () => {
      disposed.push(`cuda:${model.n}`);
      model.dispose();
    },
  });
  return {
    name: 'cuda',
    fit: async (data, options) => wrap(await js.fit(data, options)),
    build: async (data, theta, options) => wrap(await js.build(data, theta, options)),
    negLogPosterior: js.negLogPosterior.bind(js),
  };
};

describe('SizeRoutedBackend when the device fails after the fit', () => {
  // The fit succeeded on the device, but a later operation on that model (the device ran out of
  // memory because another process took it, say) rejects with NativeError. Under 'auto' the step
  // is redone on the CPU at the model's theta, and the model stays there.
  const BUILD: BuildOptions = { kernel: FIT.kernel, deterministic: FIT.deterministic, numThreads: 1 };
  const probe = randomData(11, 5, 2).x; // 5 points in [0, 1]^2
  const OPTIMIZE: OptimizeAcquisitionOptions = {
    kind: 'ucb',
    incumbent: 0,
    beta: 2,
    nCandidates: 64,
    nRestarts: 2,
    seed: 3,
    grid: new Float64Array(2),
    numThreads: 1,
  };

  it('redoes predict, acquisition and optimizeAcquisition on the CPU at the same theta, with one CUDA_FALLBACK warning', async () => {
    const failing = new Set<Op>();
    const routed = new SizeRoutedBackend(createJsBackend(), flakyDevice(failing, []), 10);
    const data = randomData(3, 12, 2);
    const model = await routed.fit(data, FIT);
    expect(model.backend).toBe('cuda');
    const onDevice = await model.predict(probe, 5);
    failing.add('predict').add('acquisition').add('optimizeAcquisition');
    const reference = await createJsBackend().build(data, model.theta, BUILD);
    const expected = await reference.predict(probe, 5);
    const got = await model.predict(probe, 5);
    expect(model.backend).toBe('js');
    expect(Array.from(got.mean)).toEqual(Array.from(expected.mean));
    expect(Array.from(got.variance)).toEqual(Array.from(expected.variance));
    // Same model, same theta: the CPU rebuild agrees with the device model it replaces (1e-9).
    got.mean.forEach((v, i) => expect(Math.abs(v - onDevice.mean[i])).toBeLessThan(1e-9));
    const acq = await model.acquisition(probe, 5, OPTIMIZE, true);
    const acqExpected = await reference.acquisition(probe, 5, OPTIMIZE, true);
    expect(Array.from(acq.value)).toEqual(Array.from(acqExpected.value));
    const optimum = await model.optimizeAcquisition(OPTIMIZE);
    expect(Array.from(optimum.x)).toEqual(Array.from((await reference.optimizeAcquisition(OPTIMIZE)).x));
    await new Promise((resolve) => setImmediate(resolve));
    expect(codes.filter((c) => c === 'CUDA_FALLBACK')).toHaveLength(1);
  });

  it('a failing append continues on the CPU, and so do the models appended to it', async () => {
    const failing = new Set<Op>(['append']);
    const routed = new SizeRoutedBackend(createJsBackend(), flakyDevice(failing, []), 10);
    const data = randomData(4, 12, 2);
    const model = await routed.fit(data, FIT);
    const extra = randomData(5, 3, 2);
    const appended = await model.append(extra.x, extra.y, 3);
    expect(appended.backend).toBe('js');
    expect(appended.n).toBe(15);
    const reference = await (await createJsBackend().build(data, model.theta, BUILD)).append(extra.x, extra.y, 3);
    expect(Array.from((await appended.predict(probe, 5)).mean)).toEqual(Array.from((await reference.predict(probe, 5)).mean));
    // The device works again: this model stays on the CPU anyway.
    failing.clear();
    expect((await model.append(extra.x, extra.y, 3)).backend).toBe('js');
    await new Promise((resolve) => setImmediate(resolve));
    expect(codes.filter((c) => c === 'CUDA_FALLBACK')).toHaveLength(1);
  });

  it('a model appended on the device is rebuilt on the CPU from all its rows', async () => {
    const failing = new Set<Op>();
    const routed = new SizeRoutedBackend(createJsBackend(), flakyDevice(failing, []), 10);
    const data = randomData(6, 12, 2);
    const model = await routed.fit(data, FIT);
    const extra = randomData(7, 4, 2);
    const appended = await model.append(extra.x, extra.y, 4);
    expect(appended.backend).toBe('cuda');
    failing.add('predict');
    const got = await appended.predict(probe, 5);
    expect(appended.backend).toBe('js');
    const all = randomData(6, 16, 2);
    all.x.set(data.x);
    all.x.set(extra.x, 24);
    all.y.set(data.y);
    all.y.set(extra.y, 12);
    const expected = await (await createJsBackend().build(all, model.theta, BUILD)).predict(probe, 5);
    expect(Array.from(got.mean)).toEqual(Array.from(expected.mean));
  });

  it('passes on errors that are not device failures, and dispose frees the device model', async () => {
    const disposed: string[] = [];
    const js = createJsBackend();
    const invalid: SurrogateBackend = {
      name: 'cuda',
      fit: async (data, options) => {
        const model = await js.fit(data, options);
        return { ...model, backend: 'cuda', n: model.n, d: model.d, theta: model.theta, logPosterior: model.logPosterior,
          predict: () => Promise.reject(new InvalidOptionError('x', 'finite', NaN)),
          acquisition: model.acquisition.bind(model), optimizeAcquisition: model.optimizeAcquisition.bind(model),
          append: model.append.bind(model), dispose: () => disposed.push('invalid') };
      },
      build: js.build.bind(js),
      negLogPosterior: js.negLogPosterior.bind(js),
    };
    const model = await new SizeRoutedBackend(createJsBackend(), invalid, 10).fit(randomData(8, 12, 2), FIT);
    await expect(model.predict(probe, 5)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(model.backend).toBe('cuda');
    model.dispose();
    expect(disposed).toEqual(['invalid']);
    const flaky = await new SizeRoutedBackend(createJsBackend(), flakyDevice(new Set(['predict']), disposed), 10).fit(randomData(8, 12, 2), FIT);
    await flaky.predict(probe, 5);
    flaky.dispose();
    expect(disposed).toEqual(['invalid', 'cuda:12']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(codes).not.toContain('NATIVE_UNAVAILABLE');
  });

  it('a CPU rebuild that failed is tried again at the next operation', async () => {
    // A transient failure of the rebuild (host memory short at the moment the device ran out,
    // say) made every later operation of the model reject with it, so GpSampler sampled at random
    // until its refit policy replaced the cached model (up to n / refitGrowthDivisor trials).
    const js = createJsBackend();
    let failBuilds = 1;
    const cpu: SurrogateBackend = {
      name: 'js',
      fit: js.fit.bind(js),
      build: (data, theta, options) =>
        failBuilds-- > 0 ? Promise.reject(new NativeError('build: std::bad_alloc')) : js.build(data, theta, options),
      negLogPosterior: js.negLogPosterior.bind(js),
    };
    const data = randomData(9, 12, 2);
    const model = await new SizeRoutedBackend(cpu, flakyDevice(new Set(['predict', 'append']), []), 10).fit(data, FIT);
    await expect(model.predict(probe, 5)).rejects.toThrow(/std::bad_alloc/);
    const expected = await (await js.build(data, model.theta, BUILD)).predict(probe, 5);
    expect(Array.from((await model.predict(probe, 5)).mean)).toEqual(Array.from(expected.mean));
    expect(model.backend).toBe('js');
    failBuilds = 1;
    const other = await new SizeRoutedBackend(cpu, flakyDevice(new Set(['predict', 'append']), []), 10).fit(data, FIT);
    const extra = randomData(10, 2, 2);
    await expect(other.append(extra.x, extra.y, 2)).rejects.toThrow(/std::bad_alloc/);
    expect((await other.append(extra.x, extra.y, 2)).n).toBe(14);
  });

  it('a model disposed while a device operation is in flight is not rebuilt on the CPU when that operation fails', async () => {
    // The rebuild of a disposed model was never disposed (native memory of n^2 doubles kept until
    // GC), and the operation succeeded on a model its owner had already freed.
    const js = createJsBackend();
    const live = new Set<FittedGp>();
    const cpu: SurrogateBackend = {
      name: 'js',
      fit: js.fit.bind(js),
      build: async (data, theta, options) => {
        const model = await js.build(data, theta, options);
        live.add(model);
        const free = model.dispose.bind(model);
        model.dispose = () => {
          live.delete(model);
          free();
        };
        return model;
      },
      negLogPosterior: js.negLogPosterior.bind(js),
    };
    let release = (): void => undefined;
    const slow: SurrogateBackend = {
      name: 'cuda',
      fit: async (data, options) => {
        const model = await js.fit(data, options);
        return { backend: 'cuda', n: model.n, d: model.d, theta: model.theta, logPosterior: model.logPosterior,
          predict: async () => {
            await new Promise<void>((resolve) => (release = resolve));
            throw deviceError();
          },
          acquisition: model.acquisition.bind(model), optimizeAcquisition: model.optimizeAcquisition.bind(model),
          append: model.append.bind(model), dispose: () => model.dispose() };
      },
      build: js.build.bind(js),
      negLogPosterior: js.negLogPosterior.bind(js),
    };
    const model = await new SizeRoutedBackend(cpu, slow, 10).fit(randomData(8, 12, 2), FIT);
    const pending = model.predict(probe, 5);
    await new Promise((resolve) => setImmediate(resolve));
    model.dispose();
    release();
    await expect(pending).rejects.toBeInstanceOf(NativeError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(live.size).toBe(0);
  });
});

describe('DeviceFallbackGp keeps its own copies for the CPU rebuild', () => {
  const BUILD: BuildOptions = { kernel: FIT.kernel, deterministic: FIT.deterministic, numThreads: 1 };
  const probe = randomData(12, 5, 2).x;

  it('editing the model\'s theta changes nothing the rebuild computes (FittedGp.theta is the caller\'s to read)', async () => {
    // The wrapper handed out the array it later rebuilt from: a caller that edited model.theta
    // (into a warm start, say) changed the model the CPU fallback computed with.
    const failing = new Set<Op>();
    const data = randomData(13, 12, 2);
    const model = await new SizeRoutedBackend(createJsBackend(), flakyDevice(failing), 10).fit(data, FIT);
    const theta = Float64Array.from(model.theta);
    const expected = await (await createJsBackend().build(data, theta, BUILD)).predict(probe, 5);
    model.theta.fill(0);
    failing.add('predict');
    const got = await model.predict(probe, 5);
    expect(model.backend).toBe('js');
    expect(Array.from(got.mean)).toEqual(Array.from(expected.mean));
  });

  it('append copies its inputs when called: a buffer reused before the append resolves changes nothing', async () => {
    // The appended rows were read for the rebuild's data only after the device append resolved,
    // so a caller reusing its buffers meanwhile made the CPU rebuild a model of other data.
    const failing = new Set<Op>();
    const data = randomData(14, 12, 2);
    const model = await new SizeRoutedBackend(createJsBackend(), flakyDevice(failing), 10).fit(data, FIT);
    const extra = randomData(15, 3, 2);
    const x = Float64Array.from(extra.x);
    const y = Float64Array.from(extra.y);
    const pending = model.append(x, y, 3);
    x.fill(0.5);
    y.fill(0);
    const appended = await pending;
    const onDevice = await appended.predict(probe, 5);
    failing.add('predict');
    const got = await appended.predict(probe, 5);
    expect(appended.backend).toBe('js');
    got.mean.forEach((v, i) => expect(Math.abs(v - onDevice.mean[i])).toBeLessThan(1e-9));
  });

  it('an operation redone on the CPU computes with its inputs as they were when it was called', async () => {
    // The redo after a device failure read the caller's arrays and options only after the device
    // rejected (and the rebuild resolved): a caller that reused its buffers once the call returned,
    // as the backends allow (they copy their inputs when called), got the answer for other inputs.
    const data = randomData(18, 12, 2);
    const extra = randomData(19, 3, 2);
    const options: OptimizeAcquisitionOptions = { kind: 'ucb', incumbent: 0, beta: 2, nCandidates: 64, nRestarts: 2, seed: 3, grid: new Float64Array(2), numThreads: 1 };
    const reference = await createJsBackend().build(data, (await createJsBackend().fit(data, FIT)).theta, BUILD);
    const expectedPredict = await reference.predict(probe, 5);
    const expectedAcquisition = await reference.acquisition(probe, 5, options, true);
    const expectedOptimum = await reference.optimizeAcquisition(options);
    const expectedAppend = await (await reference.append(extra.x, extra.y, 3)).predict(probe, 5);
    const device = flakyDevice(new Set<Op>(['predict', 'acquisition', 'optimizeAcquisition', 'append']));
    const fresh = () => new SizeRoutedBackend(createJsBackend(), device, 10).fit(data, FIT);

    const x = Float64Array.from(probe);
    const predicted = (await fresh()).predict(x, 5);
    x.fill(0.5);
    expect(Array.from((await predicted).mean)).toEqual(Array.from(expectedPredict.mean));

    x.set(probe);
    const scored = (await fresh()).acquisition(x, 5, options, true);
    x.fill(0.5);
    expect(Array.from((await scored).value)).toEqual(Array.from(expectedAcquisition.value));

    const grid = new Float64Array(2);
    const optimized = (await fresh()).optimizeAcquisition({ ...options, grid });
    grid.fill(0.5);
    expect(Array.from((await optimized).x)).toEqual(Array.from(expectedOptimum.x));

    const xs = Float64Array.from(extra.x);
    const ys = Float64Array.from(extra.y);
    const appended = (await fresh()).append(xs, ys, 3);
    xs.fill(0.5);
    ys.fill(0);
    expect(Array.from((await (await appended).predict(probe, 5)).mean)).toEqual(Array.from(expectedAppend.mean));
  });
});

describe('SizeRoutedBackend passes fixedFeatures through', () => {
  it('the CPU redo of optimizeAcquisition holds the dims as they were held when it was called', async () => {
    const data = randomData(18, 12, 2);
    const BUILD: BuildOptions = { kernel: FIT.kernel, deterministic: FIT.deterministic, numThreads: 1 };
    const fixedFeatures = Float64Array.from([0.3, Number.NaN]);
    const options: OptimizeAcquisitionOptions = { kind: 'ucb', incumbent: 0, beta: 2, nCandidates: 64, nRestarts: 2, seed: 3, grid: new Float64Array(2), fixedFeatures, numThreads: 1 };
    const reference = await createJsBackend().build(data, (await createJsBackend().fit(data, FIT)).theta, BUILD);
    const expected = await reference.optimizeAcquisition({ ...options, fixedFeatures: Float64Array.from(fixedFeatures) });
    expect(expected.x[0]).toBe(0.3);
    const model = await new SizeRoutedBackend(createJsBackend(), flakyDevice(new Set<Op>(['optimizeAcquisition'])), 10).fit(data, FIT);
    const optimized = model.optimizeAcquisition(options);
    fixedFeatures[0] = 0.9; // reused by the caller once the call returned
    expect(Array.from((await optimized).x)).toEqual(Array.from(expected.x));
  });
});

describe('SizeRoutedBackend copies the training data when a large fit is called', () => {
  it('a buffer reused before the device fit resolves changes neither the rebuild nor the CPU redo', async () => {
    // The data kept for a CPU rebuild (and the CPU redo of a failed device fit) was copied only
    // after the device fit resolved, so a caller reusing its buffers meanwhile made the fallback
    // a model of other data than the device's.
    const js = createJsBackend();
    let fail = false;
    const device: SurrogateBackend = {
      name: 'cuda',
      fit: async (data, options) => {
        const model = await js.fit(data, options);
        return { backend: 'cuda', n: model.n, d: model.d, theta: model.theta, logPosterior: model.logPosterior,
          predict: (x, m) => (fail ? Promise.reject(new NativeError('predict (device): out of memory')) : model.predict(x, m)),
          acquisition: model.acquisition.bind(model), optimizeAcquisition: model.optimizeAcquisition.bind(model),
          append: model.append.bind(model), dispose: () => model.dispose() };
      },
      build: js.build.bind(js),
      negLogPosterior: js.negLogPosterior.bind(js),
    };
    const data = randomData(16, 12, 2);
    const probe = randomData(17, 5, 2).x;
    const pending = new SizeRoutedBackend(createJsBackend(), device, 10).fit(data, FIT);
    data.x.fill(0.5);
    data.y.fill(0);
    const model = await pending;
    const onDevice = await model.predict(probe, 5);
    fail = true;
    const got = await model.predict(probe, 5);
    expect(model.backend).toBe('js');
    got.mean.forEach((v, i) => expect(Math.abs(v - onDevice.mean[i])).toBeLessThan(1e-9));
  });

  it('the CPU redo of a failed device fit uses the fit options as they were when it was called', async () => {
    // The redo read the caller's options (and its warm start's array) only after the device fit
    // rejected, so a caller that reused them once the call returned got a fit from other options.
    const failing: SurrogateBackend = {
      name: 'cuda',
      fit: () => Promise.reject(new NativeError('fit (device): out of memory')),
      build: () => Promise.reject(new NativeError('build (device): out of memory')),
      negLogPosterior: () => Promise.reject(new NativeError('negLogPosterior (device): out of memory')),
    };
    const data = randomData(20, 12, 2);
    const warmStart = Float64Array.from([0.5, -0.5, 0.2, Math.log(1e-3)]);
    const options = { ...FIT, warmStart, maxIterations: 2 };
    const expected = await createJsBackend().fit(data, { ...options, warmStart: Float64Array.from(warmStart) });
    const pending = new SizeRoutedBackend(createJsBackend(), failing, 10).fit(data, options);
    warmStart.fill(-1);
    options.maxIterations = 50;
    const model = await pending;
    expect(model.backend).toBe('js');
    expect(Array.from(model.theta)).toEqual(Array.from(expected.theta));
  });
});
