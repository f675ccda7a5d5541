/**
 * The native backend through its public surface (src/surrogate/native-backend.ts): against
 * hand-computed posteriors and the TypeScript reference, bad inputs, the event loop during a
 * fit, handle leaks, determinism. Skipped when the addon is not built.
 */
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidOptionError, KestrelError } from '../../src/errors.js';
import { loadAddon } from '../../src/binding/load.js';
import { createNativeBackend, wrapNativeError } from '../../src/surrogate/native-backend.js';
import { createJsBackend } from '../../src/surrogate/js-backend.js';
import { addNegLogPrior } from '../../src/surrogate/hyperparameters.js';
import type { FitOptions, GpTrainingData } from '../../src/surrogate/backend.js';
import { BAD_LOG_INT_BOUNDS, uniformStream as rng } from '../surrogate/helpers.js';

const available = loadAddon().addon !== null;

function randomData(n: number, d: number, seed: number, categorical = false): GpTrainingData {
  const r = rng(seed);
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  const isCategorical = new Uint8Array(d);
  if (categorical) isCategorical[d - 1] = 1;
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < d; j++) {
      const v = isCategorical[j] === 1 ? Math.floor(r() * 3) : r();
      x[i * d + j] = v;
      f += Math.sin(3 * v + j);
    }
    y[i] = f;
  }
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  for (let i = 0; i < n; i++) y[i] = (y[i] - mean) / sd;
  return { x, y, n, d, isCategorical };
}

const fitOptions: FitOptions = { kernel: 'matern52', deterministic: false, nRestarts: 2, seed: 7, warmStart: null, numThreads: 2 };

/**
 * The native core's prior (native/core/gp.h): -log p(theta), and its gradient SUBTRACTED from
 * grad (so grad becomes the likelihood part).
 */
function nativePrior(theta: Float64Array, d: number, deterministic: boolean, grad: Float64Array): number {
  // Lengthscales: -log p = 0.1 (l^2 + l^-2) (Optuna 4.x GPSampler), t = log l.
  let value = 0;
  for (let j = 0; j < d; j++) {
    const t = theta[j];
    value += 0.1 * (Math.exp(2 * t) + Math.exp(-2 * t));
    grad[j] -= 0.2 * (Math.exp(2 * t) - Math.exp(-2 * t));
  }
  const s2 = Math.exp(theta[d]);
  value += -theta[d] + s2;
  grad[d] -= -1 + s2;
  if (!deterministic) {
    // Noise: sn2 ~ Gamma(1.1, 30) (Optuna 4.x GPSampler): -log p = -0.1 t + 30 sn2, t = log sn2.
    const sn2 = Math.exp(theta[d + 1]);
    value += -0.1 * theta[d + 1] + 30 * sn2;
    grad[d + 1] -= -0.1 + 30 * sn2;
  }
  return value;
}

/** Dense solve (Gaussian elimination with partial pivoting) for the hand-computed posterior. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

describe.skipIf(!available)('native backend', () => {
  const backend = available ? createNativeBackend({ device: 'cpu', numThreads: 2 }) : null!;

  it('matches a hand-computed posterior (RBF, 3 points, 1-D)', async () => {
    const data: GpTrainingData = {
      x: Float64Array.from([0.1, 0.5, 0.8]),
      y: Float64Array.from([-1, 0.5, 1.2]),
      n: 3,
      d: 1,
      isCategorical: new Uint8Array(1),
    };
    const gp = await backend.fit(data, { ...fitOptions, kernel: 'rbf' });
    const [logL, logS2, logSn2] = gp.theta;
    const l = Math.exp(logL);
    const s2 = Math.exp(logS2);
    const sn2 = Math.exp(logSn2);
    const k = (a: number, b: number): number => s2 * Math.exp(-0.5 * ((a - b) / l) ** 2);
    const xs = [0.1, 0.5, 0.8];
    const a = xs.map((xi, i) => xs.map((xj, j) => k(xi, xj) + (i === j ? sn2 : 0)));
    const alpha = solve(a, [-1, 0.5, 1.2]);
    const query = Float64Array.from([0.0, 0.3, 0.95]);
    const pred = await gp.predict(query, 3);
    for (let c = 0; c < 3; c++) {
      const ks = xs.map((xi) => k(query[c], xi));
      const mean = ks.reduce((s, v, i) => s + v * alpha[i], 0);
      const v = solve(a, ks);
      const variance = s2 - ks.reduce((s, kv, i) => s + kv * v[i], 0);
      expect(Math.abs(pred.mean[c] - mean)).toBeLessThan(1e-10);
      expect(Math.abs(pred.variance[c] - variance)).toBeLessThan(1e-10);
    }
    gp.dispose();
  });

  it('marginal likelihood equals the TypeScript reference within 1e-9 (value and gradient, priors removed)', async () => {
    const js = createJsBackend();
    for (const [kernel, deterministic] of [['matern52', false], ['rbf', true]] as const) {
      const data = randomData(40, 3, 11, true);
      const theta = Float64Array.from([Math.log(0.4), Math.log(0.8), Math.log(1.2), Math.log(1.1), Math.log(deterministic ? 1e-6 : 0.01)]);
      const a = await backend.negLogPosterior(data, theta, kernel, deterministic);
      const b = await js.negLogPosterior(data, theta, kernel, deterministic);
      // Each side minus its own prior: the likelihood parts must agree whatever the priors are.
      const ga = Float64Array.from(a.grad);
      const gb = Float64Array.from(b.grad);
      const pa = nativePrior(theta, 3, deterministic, ga);
      const negGb = new Float64Array(theta.length);
      const pb = addNegLogPrior(theta, 3, deterministic, negGb);
      for (let p = 0; p < theta.length; p++) gb[p] -= negGb[p];
      const va = a.value - pa;
      const vb = b.value - pb;
      expect(Math.abs(va - vb)).toBeLessThan(1e-9 * Math.max(1, Math.abs(vb)));
      for (let p = 0; p < theta.length; p++) expect(Math.abs(ga[p] - gb[p])).toBeLessThan(1e-7 * Math.max(1, Math.abs(gb[p])));
    }
  });

  it('its MAP fit is at least as good as the TypeScript fit under the native objective (1e-3)', async () => {
    const data = randomData(30, 2, 5);
    const gp = await backend.fit(data, fitOptions);
    const ref = await createJsBackend().fit(data, fitOptions);
    const atRef = await backend.negLogPosterior(data, ref.theta, 'matern52', false);
    expect(gp.logPosterior).toBeGreaterThan(-atRef.value - 1e-3);
    gp.dispose();
  });

  it('learns a noise below 1e-6 for smooth noise-free data and near the true level for noisy data, on both backends', async () => {
    // The 1e-8 floor and Optuna's Gamma(1.1, 30) noise prior (src/surrogate/hyperparameters.ts)
    // let a smooth objective's noise fall below the former 1e-6 floor; with noise added it stays.
    const clean = randomData(80, 3, 21);
    const noise = rng(22);
    const noisy = { ...clean, y: clean.y.map((v) => v + 0.1 * Math.sqrt(-2 * Math.log(1 - noise())) * Math.cos(2 * Math.PI * noise())) };
    for (const b of [backend, createJsBackend()]) {
      const smooth = await b.fit(clean, fitOptions);
      expect(Math.exp(smooth.theta[4])).toBeLessThan(1e-6);
      const rough = await b.fit(noisy, fitOptions);
      // true noise variance 0.01 of targets whose variance is ~1
      expect(Math.exp(rough.theta[4])).toBeGreaterThan(0.002);
      expect(Math.exp(rough.theta[4])).toBeLessThan(0.05);
      smooth.dispose();
      rough.dispose();
    }
  });

  it('maxIterations bounds the MAP search, on both backends', async () => {
    const data = randomData(60, 3, 11);
    for (const b of [backend, createJsBackend()]) {
      const cold = { ...fitOptions, nRestarts: 0 };
      const full = await b.fit(data, cold);
      const one = await b.fit(data, { ...cold, maxIterations: 1 });
      const five = await b.fit(data, { ...cold, maxIterations: 5, warmStart: Float64Array.from(one.theta) });
      expect(one.logPosterior).toBeLessThan(full.logPosterior - 1);
      expect(five.logPosterior).toBeGreaterThan(one.logPosterior);
      await expect(b.fit(data, { ...cold, maxIterations: 0 })).rejects.toMatchObject({ option: 'maxIterations' });
      for (const m of [full, one, five]) m.dispose();
    }
    const { addon } = loadAddon();
    expect(() => addon!.fit({ ...data }, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1, maxIterations: -2 })).toThrow(/maxIterations/);
  });

  it('is reproducible: same seed, same result, for any thread count', async () => {
    const data = randomData(50, 3, 3, true);
    const a = await backend.fit(data, fitOptions);
    const b = await backend.fit(data, { ...fitOptions, numThreads: 1 });
    expect(Array.from(a.theta)).toEqual(Array.from(b.theta));
    const opts = { kind: 'logei' as const, incumbent: 1, beta: 2, nCandidates: 512, nRestarts: 4, seed: 3, grid: Float64Array.from([0, 0.1, 3]), numThreads: 2 };
    const o1 = await a.optimizeAcquisition(opts);
    const o2 = await b.optimizeAcquisition({ ...opts, numThreads: 1 });
    expect(Array.from(o1.x)).toEqual(Array.from(o2.x));
    expect(o1.value).toBe(o2.value);
    // Feasible: ordinal dim on a centre (i + 1/2) * 0.1 of its 10 cells, categorical an index.
    expect(Math.abs(o1.x[1] * 10 - 0.5 - Math.round(o1.x[1] * 10 - 0.5))).toBeLessThan(1e-12);
    expect([0, 1, 2]).toContain(o1.x[2]);
    a.dispose();
    b.dispose();
  });

  it('acquisition gradients match central differences (tolerance 1e-4 relative)', async () => {
    const data = randomData(25, 2, 9);
    const gp = await backend.fit(data, fitOptions);
    const x = Float64Array.from([0.3, 0.6]);
    for (const kind of ['logei', 'ucb', 'pi'] as const) {
      const opts = { kind, incumbent: 1.1, beta: 2 };
      const res = await gp.acquisition(x, 1, opts, true);
      for (let j = 0; j < 2; j++) {
        const h = 1e-6;
        const xp = Float64Array.from(x);
        const xm = Float64Array.from(x);
        xp[j] += h;
        xm[j] -= h;
        const fd = ((await gp.acquisition(xp, 1, opts, false)).value[0] - (await gp.acquisition(xm, 1, opts, false)).value[0]) / (2 * h);
        expect(Math.abs(res.grad![j] - fd)).toBeLessThan(1e-4 * (1 + Math.abs(fd)));
      }
    }
    gp.dispose();
  });

  it('append extends the model (n + k, theta unchanged, interpolates the new points)', async () => {
    const data = randomData(30, 2, 13);
    const gp = await backend.fit(data, { ...fitOptions, deterministic: true });
    const extra = randomData(5, 2, 14);
    const next = await gp.append(extra.x, extra.y, 5);
    expect(next.n).toBe(35);
    expect(Array.from(next.theta)).toEqual(Array.from(gp.theta));
    const pred = await next.predict(extra.x, 5);
    for (let i = 0; i < 5; i++) expect(Math.abs(pred.mean[i] - extra.y[i])).toBeLessThan(0.05);
    gp.dispose();
    next.dispose();
  });

  it('build at a fitted theta reproduces the fit and equals the TypeScript build (1e-9)', async () => {
    const data = randomData(60, 3, 21, true);
    const gp = await backend.fit(data, fitOptions);
    const options = { kernel: fitOptions.kernel, deterministic: false, numThreads: 2 };
    const built = await backend.build(data, gp.theta, options);
    const reference = await createJsBackend().build(data, gp.theta, options);
    expect(built.n).toBe(60);
    expect(Array.from(built.theta)).toEqual(Array.from(gp.theta));
    expect(Math.abs(built.logPosterior - gp.logPosterior)).toBeLessThan(1e-9 * Math.abs(gp.logPosterior));
    const probe = randomData(25, 3, 22, true);
    const [a, b, c] = await Promise.all([gp.predict(probe.x, 25), built.predict(probe.x, 25), reference.predict(probe.x, 25)]);
    for (let i = 0; i < 25; i++) {
      expect(b.mean[i]).toBeCloseTo(a.mean[i], 12);
      expect(b.variance[i]).toBeCloseTo(a.variance[i], 12);
      expect(Math.abs(c.mean[i] - b.mean[i])).toBeLessThan(1e-9);
      expect(Math.abs(c.variance[i] - b.variance[i])).toBeLessThan(1e-9);
    }
    await expect(backend.build(data, new Float64Array(4), options)).rejects.toThrow(/theta/);
    for (const m of [gp, built, reference]) m.dispose();
  });

  it('rejects bad inputs with InvalidOptionError naming the argument, never crashes', async () => {
    const data = randomData(10, 2, 1);
    await expect(backend.fit({ ...data, x: new Float64Array(19) }, fitOptions)).rejects.toMatchObject({ option: 'data.x' });
    const nan = Float64Array.from(data.y);
    nan[3] = Number.NaN;
    await expect(backend.fit({ ...data, y: nan }, fitOptions)).rejects.toBeInstanceOf(InvalidOptionError);
    const gp = await backend.fit(data, fitOptions);
    await expect(gp.predict(new Float64Array(3), 2)).rejects.toMatchObject({ option: 'x' });
    await expect(gp.predict(Float64Array.from([0.5, 2]), 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(gp.append(new Float64Array(2), new Float64Array(2), 1)).rejects.toMatchObject({ option: 'y' });
    // The addon's own checks, bypassing the TypeScript layer.
    const { addon } = loadAddon();
    expect(() => addon!.fit({ ...data, x: new Float64Array(3) }, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 })).toThrow(
      /argument "data.x": expected a Float64Array of length 20/,
    );
    expect(() => addon!.fit({ ...data, n: 1.5 }, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 })).toThrow(/data.n/);
    gp.dispose();
    await expect(gp.predict(Float64Array.from([0.5, 0.5]), 1)).rejects.toBeInstanceOf(KestrelError);
  });

  /**
   * One 3-D model (dim 2 categorical, 3 choices) fitted through the backend and straight through
   * the addon, with matching acquisition options and candidates, for the option checks below.
   */
  async function optionCheckModels() {
    const base = randomData(12, 3, 4, true);
    const gp = await backend.fit(base, fitOptions);
    const grid = Float64Array.from([0, 0.25, 3]);
    const options = { kind: 'logei' as const, incumbent: 0, beta: 0, nCandidates: 8, nRestarts: 1, seed: 1, grid, numThreads: 1 };
    const { addon } = loadAddon();
    const raw = await addon!.fit({ ...base }, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 });
    const candidates = new Float64Array(8 * 3).fill(0.5);
    return { gp, raw, grid, options, candidates };
  }

  it('rejects a bad logIntBounds with an InvalidOptionError naming it, in the TypeScript layer and in the addon itself', async () => {
    const { gp, raw, grid, options, candidates } = await optionCheckModels();
    for (const { why, value, option } of BAD_LOG_INT_BOUNDS) {
      await expectRefusedInBothLayers(
        why,
        option,
        () => gp.optimizeAcquisition({ ...options, logIntBounds: value as Float64Array }),
        () => raw.optimizeAcquisition(candidates, 8, { kind: 0, incumbent: 0, beta: 0, nRestarts: 1, grid, logIntBounds: value as Float64Array, numThreads: 1 }),
      );
    }
    // [0, 0] marks a dim that is not a log int; null and undefined mean none.
    for (const logIntBounds of [new Float64Array(6), Float64Array.from([1, 1000, 0, 0, 0, 0]), null, undefined]) {
      const o = await raw.optimizeAcquisition(candidates, 8, { kind: 0, incumbent: 0, beta: 0, nRestarts: 1, grid, logIntBounds, numThreads: 1 });
      expect(o.x).toHaveLength(3);
    }
    raw.dispose();
    gp.dispose();
  });

  it('rejects a bad fixedFeatures with an InvalidOptionError naming it, in the TypeScript layer and in the addon itself', async () => {
    const { gp, raw, grid, options, candidates } = await optionCheckModels();
    const nan = Number.NaN;
    const bad: [string, unknown, string][] = [
      ['a wrong length', new Float64Array(2), 'fixedFeatures'],
      ['not a Float64Array', [nan, nan, nan], 'fixedFeatures'],
      ['below 0', Float64Array.from([-0.1, nan, nan]), 'fixedFeatures[0]'],
      ['Infinity', Float64Array.from([nan, Infinity, nan]), 'fixedFeatures[1]'],
      ['a fractional choice', Float64Array.from([nan, nan, 0.5]), 'fixedFeatures[2]'],
      ['a choice beyond the count', Float64Array.from([nan, nan, 3]), 'fixedFeatures[2]'],
    ];
    for (const [why, value, option] of bad) {
      await expectRefusedInBothLayers(
        why,
        option,
        () => gp.optimizeAcquisition({ ...options, fixedFeatures: value as Float64Array }),
        () => raw.optimizeAcquisition(candidates, 8, { kind: 0, incumbent: 0, beta: 0, nRestarts: 1, grid, fixedFeatures: value as Float64Array, numThreads: 1 }),
      );
    }
    // NaN marks a free dim; null and undefined hold nothing; a held dim keeps its value.
    for (const fixedFeatures of [Float64Array.from([nan, nan, nan]), null, undefined]) {
      const o = await raw.optimizeAcquisition(candidates, 8, { kind: 0, incumbent: 0, beta: 0, nRestarts: 1, grid, fixedFeatures, numThreads: 1 });
      expect(o.x).toHaveLength(3);
    }
    const held = await raw.optimizeAcquisition(candidates, 8, { kind: 0, incumbent: 0, beta: 0, nRestarts: 1, grid, fixedFeatures: Float64Array.from([0.3, nan, 1]), numThreads: 1 });
    expect([held.x[0], held.x[2]]).toEqual([0.3, 1]);
    raw.dispose();
    gp.dispose();
  });

  it('rejects a subnormal grid spacing (1/g infinite: the optimum was 0, no cell centre), in the TypeScript layer and in the addon', async () => {
    const base = randomData(6, 1, 14);
    const gp = await backend.fit(base, fitOptions);
    const options = { kind: 'logei' as const, incumbent: 0, beta: 0, nCandidates: 4, nRestarts: 1, seed: 0, numThreads: 1 };
    const { addon } = loadAddon();
    const raw = await addon!.fit({ ...base }, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 });
    const candidates = new Float64Array(4).fill(0.5);
    for (const g of [1e-310, Number.MIN_VALUE]) {
      const grid = Float64Array.from([g]);
      await expect(gp.optimizeAcquisition({ ...options, grid }), `grid ${g}`).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'grid[0]' });
      let thrown: unknown = null;
      try {
        await raw.optimizeAcquisition(candidates, 4, { kind: 0, incumbent: 0, beta: 0, nRestarts: 1, grid, numThreads: 1 });
      } catch (e) {
        thrown = e;
      }
      expect(wrapNativeError(thrown, 'optimizeAcquisition'), `addon, grid ${g}`).toMatchObject({ code: 'INVALID_OPTION', option: 'grid[0]' });
    }
    const smallest = await gp.optimizeAcquisition({ ...options, grid: Float64Array.from([2 ** -1022]) });
    expect(Number.isFinite(smallest.x[0]) && smallest.x[0] >= 0 && smallest.x[0] <= 1).toBe(true);
    raw.dispose();
    gp.dispose();
  });

  it('rejects isCategorical flags other than 0 and 1, in the TypeScript layer and in the addon (data.isCategorical[j])', async () => {
    const data = { ...randomData(10, 2, 3), isCategorical: Uint8Array.from([0, 2]) };
    await expect(backend.fit(data, fitOptions)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'data.isCategorical[1]' });
    await expect(backend.build(data, new Float64Array(4), fitOptions)).rejects.toMatchObject({ option: 'data.isCategorical[1]' });
    // The core treats any non-zero flag as categorical: the addon itself refuses them too.
    const { addon } = loadAddon();
    let thrown: unknown = null;
    try {
      await addon!.fit(data, { kernel: 0, deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: 'KESTREL_ARGUMENT', argument: 'data.isCategorical[1]', received: '2' });
    const wrapped = wrapNativeError(thrown, 'fit');
    expect(wrapped.message).toBe('option "data.isCategorical[1]": expected 0 (continuous) or 1 (categorical), received 2');
  });

  it('keeps the categorical flags the model was fitted with, even if the caller reuses the array before the fit resolves', async () => {
    // The handle copied data.isCategorical only after the fit resolved, while the addon copied it
    // at the call: a caller that reused the array meanwhile got a handle whose checks and local
    // candidates disagreed with its native model (a categorical dim taken for a continuous one).
    const grid = Float64Array.from([0, 0, 3]);
    const probe = Float64Array.from([0.5, 0.5, 2]);
    for (const make of [(d: GpTrainingData) => backend.fit(d, fitOptions), (d: GpTrainingData) => backend.build(d, Float64Array.from([0, 0, 0, 0, Math.log(1e-3)]), fitOptions)]) {
      const data = randomData(12, 3, 5, true);
      const pending = make(data);
      data.isCategorical.fill(0);
      const gp = await pending;
      const optimum = await gp.optimizeAcquisition({ kind: 'ucb', incumbent: 0, beta: 1, nCandidates: 64, nRestarts: 1, seed: 1, grid, numThreads: 1 });
      expect([0, 1, 2]).toContain(optimum.x[2]);
      expect((await gp.predict(probe, 1)).mean[0]).toEqual(expect.any(Number));
      gp.dispose();
    }
  });

  it('accepts any non-negative safe integer seed, as validate.ts does; an addon argument error is not pasted whole as "received"', async () => {
    const data = randomData(12, 2, 4);
    const fits = await Promise.all([2 ** 32, Number.MAX_SAFE_INTEGER].map((seed) => backend.fit(data, { ...fitOptions, seed })));
    for (const gp of fits) {
      expect(Number.isFinite(gp.logPosterior)).toBe(true);
      gp.dispose();
    }
    await expect(backend.fit(data, { ...fitOptions, seed: 2 ** 53 })).rejects.toMatchObject({ option: 'seed' });
    const { addon } = loadAddon();
    let thrown: unknown = null;
    try {
      await addon!.fit(data, { kernel: 0, deterministic: false, nRestarts: 0, seed: 2 ** 53, warmStart: null, numThreads: 1 });
    } catch (e) {
      thrown = e;
    }
    const wrapped = wrapNativeError(thrown, 'fit');
    expect(wrapped).toBeInstanceOf(InvalidOptionError);
    expect(wrapped.message).toBe('option "seed": expected an integer in [0, 9007199254740991], received 9007199254740992');
  });

  it('optimizeAcquisition on more than 1111 dims is an InvalidOptionError naming data.d and the Sobol limit; nCandidates * d is bounded', async () => {
    const d = 1112;
    const data = randomData(3, d, 6);
    const theta = new Float64Array(d + 2);
    theta[d + 1] = -3;
    const gp = await backend.build(data, theta, { kernel: 'matern52', deterministic: false, numThreads: 1 });
    const options = { kind: 'logei' as const, incumbent: 0, beta: 0, nCandidates: 16, nRestarts: 1, seed: 1, grid: new Float64Array(d), numThreads: 1 };
    const error = await gp.optimizeAcquisition(options).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('data.d');
    expect((error as Error).message).toContain('at most 1111 dims');
    gp.dispose();
    const small = await backend.fit(randomData(8, 40, 7), fitOptions);
    const tooMany = { ...options, nCandidates: 1_000_000, grid: new Float64Array(40) };
    await expect(small.optimizeAcquisition(tooMany)).rejects.toMatchObject({ option: 'nCandidates' });
    small.dispose();
  });

  it('builds at a finite but extreme lengthscale (w = inf) like the TypeScript backend: the far-away covariance is 0, not NaN', async () => {
    const data = randomData(8, 2, 5);
    const theta = Float64Array.from([-400, 0, 0, Math.log(1e-3)]);
    const options = { kernel: 'matern52' as const, deterministic: false, numThreads: 1 };
    const native = await backend.build(data, theta, options);
    const reference = await createJsBackend().build(data, theta, options);
    const q = Float64Array.from([0.123456789, 0.3]); // no training point shares coordinate 0
    const [a, b] = await Promise.all([native.predict(q, 1), reference.predict(q, 1)]);
    expect(Number.isFinite(a.mean[0]) && Number.isFinite(a.variance[0])).toBe(true);
    expect(Math.abs(a.mean[0] - b.mean[0])).toBeLessThan(1e-12);
    expect(Math.abs(a.variance[0] - b.variance[0])).toBeLessThan(1e-12);
    native.dispose();
    reference.dispose();
  });

  it('keeps the event loop running while a fit runs', async () => {
    const data = randomData(500, 8, 21);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 1);
    const start = performance.now();
    const gp = await backend.fit(data, { ...fitOptions, nRestarts: 3 });
    const elapsed = performance.now() - start;
    clearInterval(timer);
    gp.dispose();
    // The fit takes tens of ms or more; a blocked loop would see at most one tick.
    expect(elapsed).toBeGreaterThan(20);
    expect(ticks).toBeGreaterThanOrEqual(3);
  });

  it('does not leak handles over 10,000 fits (RSS growth < 64 MiB)', async () => {
    const data = randomData(4, 1, 2);
    const opts: FitOptions = { ...fitOptions, nRestarts: 0, numThreads: 1 };
    for (let i = 0; i < 500; i++) (await backend.fit(data, opts)).dispose();
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 10_000; i++) {
      const gp = await backend.fit(data, opts);
      gp.dispose();
    }
    global.gc?.();
    const growth = process.memoryUsage().rss - before;
    expect(growth).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses an explicit cuda request it cannot meet', () => {
    const { addon } = loadAddon();
    if (addon!.buildInfo().cuda && addon!.cudaAvailable()) return;
    expect(() => createNativeBackend({ device: 'cuda' })).toThrow(BackendUnavailableError);
  });
});

/**
 * One bad optimizeAcquisition option is an InvalidOptionError naming `option` from the TypeScript
 * layer (`viaBackend`) and, bypassing its checks, from the addon itself (`viaAddon`: a coded
 * error, thrown synchronously or rejected, never a crash).
 */
async function expectRefusedInBothLayers(why: string, option: string, viaBackend: () => Promise<unknown>, viaAddon: () => unknown): Promise<void> {
  const error = await viaBackend().then(() => null, (e: unknown) => e);
  expect(error, why).toBeInstanceOf(InvalidOptionError);
  expect((error as InvalidOptionError).option, why).toBe(option);
  let thrown: unknown = null;
  try {
    await viaAddon();
  } catch (e) {
    thrown = e;
  }
  const wrapped = wrapNativeError(thrown, 'optimizeAcquisition');
  expect(wrapped, why).toBeInstanceOf(InvalidOptionError);
  expect((wrapped as InvalidOptionError).option, why).toBe(option);
}
