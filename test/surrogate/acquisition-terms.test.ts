/**
 * Additive acquisition terms (AcquisitionOptions.terms; native/core/gp.h AcqParams): the
 * acquisition of a model plus those of other models over the same inputs, as GpSampler's
 * constraints use them (logEI of the objective + log PI of each constraint's model). On both
 * backends: the combined value and gradient equal the sum of the separate calls, the maximizer
 * optimizes the sum (a constraint moves the optimum into the feasible region), native and
 * TypeScript agree on the same models, and bad terms are typed errors. Native cases are skipped
 * when the addon is not built.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, KestrelError } from '../../src/errors.js';
import { loadAddon } from '../../src/binding/load.js';
import type { AcquisitionOptions, FittedGp, GpTrainingData, SurrogateBackend } from '../../src/surrogate/backend.js';
import { JsFittedGp, createJsBackend } from '../../src/surrogate/js-backend.js';
import { trainingCovariance } from '../../src/surrogate/js-kernels.js';
import { choleskyWithJitter } from '../../src/surrogate/js-linalg.js';
import { createNativeBackend } from '../../src/surrogate/native-backend.js';
import { SizeRoutedBackend } from '../../src/surrogate/select-backend.js';
import { maxAbsDiff, randomData, uniformStream, withTarget } from './helpers.js';

const available = loadAddon().addon !== null;

const FIT = { kernel: 'matern52', deterministic: false, nRestarts: 1, seed: 3, warmStart: null, numThreads: 2 } as const;

function points(seed: number, m: number, d: number, isCategorical: Uint8Array): Float64Array {
  const rnd = uniformStream(seed);
  const x = new Float64Array(m * d);
  for (let c = 0; c < m; c++) for (let j = 0; j < d; j++) x[c * d + j] = isCategorical[j] === 1 ? Math.floor(rnd() * 3) : rnd();
  return x;
}

const backends: [string, () => SurrogateBackend, boolean][] = [
  ['js', () => createJsBackend(), true],
  ['cpu', () => createNativeBackend({ device: 'cpu' }), available],
];

describe.each(backends)('acquisition terms on the %s backend', (_name, make, enabled) => {
  it.skipIf(!enabled)('value and gradient are the sums of the separate acquisitions', async () => {
    const backend = make();
    const data = randomData(11, 40, 4, [3]);
    const objective = await backend.fit(data, FIT);
    // The constraint model has fewer observations (its own n), over the same inputs.
    const cData = withTarget({ ...data, n: 30, x: data.x.subarray(0, 30 * 4), y: data.y.subarray(0, 30) }, (x) => 0.6 - x[0] - 0.3 * x[1]);
    const constraint = await backend.fit(cData, FIT);
    const second = await backend.fit(withTarget(data, (x) => Math.sin(4 * x[1])), FIT);
    const m = 37;
    const x = points(5, m, 4, data.isCategorical);
    for (const kind of ['logei', 'pi', 'ucb'] as const) {
      const own: AcquisitionOptions = { kind, incumbent: 0.8, beta: 2 };
      const combined: AcquisitionOptions = {
        ...own,
        terms: [
          { model: constraint, kind: 'pi', incumbent: -0.2, beta: 0 },
          { model: second, kind: 'logei', incumbent: 1.1, beta: 0 },
        ],
      };
      for (const withGrad of [false, true]) {
        const a = await objective.acquisition(x, m, own, withGrad);
        const b = await constraint.acquisition(x, m, { kind: 'pi', incumbent: -0.2, beta: 0 }, withGrad);
        const c = await second.acquisition(x, m, { kind: 'logei', incumbent: 1.1, beta: 0 }, withGrad);
        const sum = await objective.acquisition(x, m, combined, withGrad);
        const expected = a.value.map((v, i) => v + b.value[i] + c.value[i]);
        expect(maxAbsDiff(sum.value, expected)).toBeLessThan(1e-12 * (1 + Math.max(...expected.map(Math.abs))));
        if (withGrad) {
          const g = (a.grad as Float64Array).map((v, i) => v + (b.grad as Float64Array)[i] + (c.grad as Float64Array)[i]);
          expect(maxAbsDiff(sum.grad as Float64Array, g)).toBeLessThan(1e-10 * (1 + Math.max(...g.map(Math.abs))));
        } else {
          expect(sum.grad).toBeNull();
        }
      }
    }
    for (const model of [objective, constraint, second]) model.dispose();
  });

  it.skipIf(!enabled)('a constraint term moves the optimum into the feasible region', async () => {
    const backend = make();
    // Objective increasing in x0 (best at x0 = 1); constraint c = x0 - 0.4 <= 0, modelled as -c.
    const rnd = uniformStream(7);
    const n = 30;
    const d = 2;
    const x = new Float64Array(n * d).map(() => rnd());
    const base: GpTrainingData = { x, y: new Float64Array(n), n, d, isCategorical: new Uint8Array(d) };
    const objectiveData = withTarget(base, (p) => p[0] + 0.1 * p[1]);
    const objective = await backend.fit(objectiveData, FIT);
    const raw = Array.from({ length: n }, (_, i) => -(x[i * d] - 0.4));
    const mean = raw.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(raw.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    const constraint = await backend.fit({ ...base, y: Float64Array.from(raw, (v) => (v - mean) / sd) }, FIT);
    // The incumbent is the best feasible observation, as GpSampler sets it.
    let incumbent = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) if (raw[i] >= 0) incumbent = Math.max(incumbent, objectiveData.y[i]);
    const options = { kind: 'logei', incumbent, beta: 0, nCandidates: 512, nRestarts: 5, seed: 1, grid: new Float64Array(d), numThreads: 2 } as const;
    const free = await objective.optimizeAcquisition(options);
    expect(free.x[0]).toBeGreaterThan(0.8);
    const constrained = await objective.optimizeAcquisition({
      ...options,
      terms: [{ model: constraint, kind: 'pi', incumbent: (0 - mean) / sd, beta: 0 }],
    });
    expect(constrained.x[0]).toBeGreaterThan(0.3);
    expect(constrained.x[0]).toBeLessThan(0.45);
    // The reported value is the combined acquisition at the returned point.
    const at = await objective.acquisition(constrained.x, 1, { kind: 'logei', incumbent, beta: 0, terms: [{ model: constraint, kind: 'pi', incumbent: (0 - mean) / sd, beta: 0 }] }, false);
    expect(constrained.value).toBeCloseTo(at.value[0], 9);
    objective.dispose();
    constraint.dispose();
  });

  it.skipIf(!enabled)('bad terms are typed errors naming the term', async () => {
    const backend = make();
    const data = randomData(2, 20, 3);
    const model = await backend.fit(data, FIT);
    const other = await backend.fit(randomData(3, 20, 2), FIT);
    const catData = randomData(4, 20, 3, [2]);
    const categorical = await backend.fit(catData, FIT);
    const x = points(1, 4, 3, data.isCategorical);
    const base = { kind: 'logei', incumbent: 0, beta: 0 } as const;
    const expectOption = async (terms: unknown, option: string): Promise<void> => {
      const err = await model.acquisition(x, 4, { ...base, terms } as unknown as AcquisitionOptions, false).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe(option);
    };
    await expectOption('nope', 'terms');
    await expectOption([null], 'terms[0]');
    // A hole of a sparse array is a missing term (forEach and map skip holes: the TypeScript
    // backend then read .kind of undefined, a TypeError).
    await expectOption(new Array(1), 'terms[0]');
    await expectOption([, { model: model, kind: 'pi', incumbent: 0, beta: 0 }], 'terms[0]');
    await expectOption([{ model: other, kind: 'pi', incumbent: 0, beta: 0 }], 'terms[0].model');
    await expectOption([{ model: categorical, kind: 'pi', incumbent: 0, beta: 0 }], 'terms[0].model');
    await expectOption([{ model: {}, kind: 'pi', incumbent: 0, beta: 0 }], 'terms[0].model');
    // A bad field of a term names the term's field, not this model's option of the same name.
    await expectOption([{ model: model, kind: 'nope', incumbent: 0, beta: 0 }], 'terms[0].kind');
    await expectOption([{ model: model, kind: 'pi', incumbent: 0, beta: 0 }, { model: model, kind: 'pi', incumbent: Number.NaN, beta: 0 }], 'terms[1].incumbent');
    await expectOption([{ model: model, kind: 'ucb', incumbent: 0, beta: -1 }], 'terms[0].beta');
    await expectOption([{ model: model, kind: 'pi', incumbent: 0, beta: 0, terms: [] }], 'terms[0].terms');
    const disposed = await backend.fit(data, FIT);
    disposed.dispose();
    const err = await model.acquisition(x, 4, { ...base, terms: [{ model: disposed, kind: 'pi', incumbent: 0, beta: 0 }] }, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KestrelError);
    expect(String(err)).toMatch(/disposed/);
    // The error names the disposed term, not the (live) model being asked.
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe('terms[0].model');
    const errOpt = await model
      .optimizeAcquisition({ ...base, nCandidates: 16, nRestarts: 1, seed: 1, grid: new Float64Array(3), numThreads: 1, terms: [{ model: disposed, kind: 'pi', incumbent: 0, beta: 0 }] })
      .catch((e: unknown) => e);
    expect((errOpt as InvalidOptionError).option).toBe('terms[0].model');
    for (const m of [model, other, categorical]) m.dispose();
  });
});

describe.skipIf(!available)('acquisition terms: native against TypeScript', () => {
  /** The JS model at a native model's theta (same data). */
  function jsModelAt(native: FittedGp, data: GpTrainingData): JsFittedGp {
    const a = trainingCovariance(data, native.theta, 'matern52');
    const chol = choleskyWithJitter(a, data.n);
    if (!chol.ok) throw new Error('test data: covariance not positive definite');
    return new JsFittedGp(data, Float64Array.from(native.theta), 'matern52', false, chol.l, chol.jitter);
  }

  it('both maximize the same constrained logEI to the same value', async () => {
    const native = createNativeBackend({ device: 'cpu' });
    const js = createJsBackend();
    for (let seed = 0; seed < 6; seed++) {
      const data = randomData(100 + seed, 35, 3, seed % 2 === 0 ? [] : [2]);
      const cData = withTarget(data, (x) => x[0] + x[1] - 0.9);
      const nObjective = await native.fit(data, FIT);
      const nConstraint = await native.fit(cData, FIT);
      const jObjective = jsModelAt(nObjective, data);
      const jConstraint = jsModelAt(nConstraint, cData);
      const grid = Float64Array.from([0, 0, seed % 2 === 0 ? 0 : 3]);
      const options = { kind: 'logei', incumbent: 1.2, beta: 0, nCandidates: 256, nRestarts: 4, seed, grid, numThreads: 2 } as const;
      const a = await nObjective.optimizeAcquisition({ ...options, terms: [{ model: nConstraint, kind: 'pi', incumbent: 0.3, beta: 0 }] });
      const b = await jObjective.optimizeAcquisition({ ...options, terms: [{ model: jConstraint, kind: 'pi', incumbent: 0.3, beta: 0 }] });
      expect(Math.abs(a.value - b.value)).toBeLessThan(1e-6 * (1 + Math.abs(b.value)));
      // Native terms must be native models, and JS terms JS models.
      const mixed = await nObjective.optimizeAcquisition({ ...options, terms: [{ model: jConstraint, kind: 'pi', incumbent: 0.3, beta: 0 }] }).catch((e: unknown) => e);
      expect(mixed).toBeInstanceOf(InvalidOptionError);
      for (const m of [nObjective, nConstraint, jObjective, jConstraint]) m.dispose();
    }
  });
});

describe('acquisition terms through a size-routed backend', () => {
  it('a model the large backend fitted (wrapped for its CPU fallback) works as a term and with terms', async () => {
    const routed = new SizeRoutedBackend(createJsBackend(), () => createJsBackend(), 20);
    const big = randomData(21, 25, 2);
    const wrapped = await routed.fit(big, FIT);
    const plain = await routed.fit(withTarget({ ...big, n: 15, x: big.x.subarray(0, 30), y: big.y.subarray(0, 15) }, (x) => x[0] - 0.5), FIT);
    const x = points(9, 6, 2, big.isCategorical);
    const term = { kind: 'pi', incumbent: 0.1, beta: 0 } as const;
    const own = { kind: 'logei', incumbent: 0.5, beta: 0 } as const;
    const a = await wrapped.acquisition(x, 6, own, false);
    const b = await plain.acquisition(x, 6, term, false);
    const ab = await wrapped.acquisition(x, 6, { ...own, terms: [{ model: plain, ...term }] }, false);
    expect(maxAbsDiff(ab.value, a.value.map((v, i) => v + b.value[i]))).toBeLessThan(1e-12);
    const c = await plain.acquisition(x, 6, own, false);
    const d = await wrapped.acquisition(x, 6, term, false);
    const cd = await plain.acquisition(x, 6, { ...own, terms: [{ model: wrapped, ...term }] }, false);
    expect(maxAbsDiff(cd.value, c.value.map((v, i) => v + d.value[i]))).toBeLessThan(1e-12);
  });
});
