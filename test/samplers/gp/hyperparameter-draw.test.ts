/**
 * hyperparameter-draw.ts: the Jacobi eigendecomposition and the Laplace draw (its covariance, the
 * eigenvalue floor, the noise held, the bounds, the seed); and GpSampler's `hyperparameterDraw`
 * option: where it applies, what it leaves at the MAP point, reproducibility, fallbacks.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError, NativeError, NumericalError } from '../../../src/errors.js';
import { GpSampler } from '../../../src/samplers/gp/gp-sampler.js';
import { LAPLACE_EIGENVALUE_FLOOR, LAPLACE_MAX_ROWS, LAPLACE_TEMPERATURE, laplaceDraw, symmetricEigen } from '../../../src/samplers/gp/hyperparameter-draw.js';
import type { ParamValue } from '../../../src/space/types.js';
import type { GpTrainingData, KernelKind } from '../../../src/surrogate/backend.js';
import { thetaBounds } from '../../../src/surrogate/hyperparameters.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import { SystemAttr } from '../../../src/trial/system-attrs.js';
import { Rng } from '../../../src/util/prng.js';
import { captureWarnings } from '../../capture-warnings.js';
import { CountingBackend } from './counting-backend.js';
import { FakeStudy } from './fake-study.js';
import { SPACE, objective, seededStudy } from './seeded-study.js';

/** A (d + 2)^2 Hessian whose block A is `block` ((d + 1)^2) and whose noise row is `noise` on the diagonal. */
function hessianWith(block: number[][], noise: number): Float64Array {
  const p = block.length;
  const q = p + 1;
  const h = new Float64Array(q * q);
  for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) h[a * q + b] = block[a][b];
  h[q * q - 1] = noise;
  return h;
}

/** A p x p symmetric matrix of standard normal entries (row-major). */
function randomSymmetric(rng: Rng, p: number): Float64Array {
  const a = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      a[i * p + j] = v;
      a[j * p + i] = v;
    }
  }
  return a;
}


afterEach(() => {
  vi.restoreAllMocks();
});

describe('symmetricEigen', () => {
  it('reconstructs a symmetric matrix as V diag(values) V^T with V orthonormal, within 1e-12', () => {
    const p = 7;
    const a = randomSymmetric(new Rng(4), p);
    const { values, vectors } = symmetricEigen(a, p);
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) {
        let rebuilt = 0;
        let gram = 0;
        for (let k = 0; k < p; k++) {
          rebuilt += vectors[i * p + k] * values[k] * vectors[j * p + k];
          gram += vectors[k * p + i] * vectors[k * p + j];
        }
        expect(Math.abs(rebuilt - a[i * p + j])).toBeLessThan(1e-12);
        expect(Math.abs(gram - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  it('is scale-free: a matrix times 1e160 or 1e-160 decomposes as well (its convergence test does not overflow)', () => {
    // The test compared sums of squared entries: above ~1e154 both overflowed to Infinity
    // (Infinity <= Infinity: "converged" before any rotation), below ~1e-162 both were 0, and the
    // diagonal came back as the eigenvalues.
    const p = 6;
    const base = randomSymmetric(new Rng(9), p);
    for (const factor of [1e160, 1e-160]) {
      const a = base.map((v) => v * factor);
      const { values, vectors } = symmetricEigen(a, p);
      for (let i = 0; i < p; i++) {
        for (let j = 0; j < p; j++) {
          let rebuilt = 0;
          for (let k = 0; k < p; k++) rebuilt += vectors[i * p + k] * (values[k] / factor) * vectors[j * p + k];
          expect(Math.abs(rebuilt - base[i * p + j]), `factor ${factor}, entry ${i},${j}`).toBeLessThan(1e-12);
        }
      }
    }
  });
});

describe('laplaceDraw', () => {
  const d = 2;
  const theta = Float64Array.from([-1, -0.5, 0.2, Math.log(0.01)]);

  it('draws block A with covariance t H_AA^-1 (4000 draws: within 10% entrywise of the largest), the noise held', () => {
    // H_AA with eigenvalues well above the floor: its inverse is the covariance unscaled.
    const block = [
      [40, 12, 0],
      [12, 25, -5],
      [0, -5, 10],
    ];
    const h = hessianWith(block, 123);
    const rng = new Rng(11);
    const draws: Float64Array[] = [];
    for (let s = 0; s < 4000; s++) draws.push(laplaceDraw(theta, h, d, false, rng));
    for (const t of draws) expect(t[d + 1]).toBe(theta[d + 1]);
    // Expected covariance: t * inverse(block), by Cramer's rule on the 3 x 3.
    const m = block;
    const det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    const cof = (i: number, j: number): number => {
      const r = [0, 1, 2].filter((k) => k !== j);
      const c = [0, 1, 2].filter((k) => k !== i);
      return (-1) ** (i + j) * (m[r[0]][c[0]] * m[r[1]][c[1]] - m[r[0]][c[1]] * m[r[1]][c[0]]);
    };
    let largest = 0;
    for (let i = 0; i < 3; i++) largest = Math.max(largest, (LAPLACE_TEMPERATURE * cof(i, i)) / det);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let c = 0;
        for (const t of draws) c += (t[i] - theta[i]) * (t[j] - theta[j]);
        c /= draws.length;
        expect(Math.abs(c - (LAPLACE_TEMPERATURE * cof(i, j)) / det), `cov[${i}][${j}]`).toBeLessThan(0.1 * largest);
      }
    }
  });

  it('floors small and negative eigenvalues: each coordinate spreads by sqrt(t / floor) at most', () => {
    const h = hessianWith(
      [
        [-3, 0, 0],
        [0, 1e-6, 0],
        [0, 0, 0],
      ],
      0,
    );
    const rng = new Rng(2);
    const sums = [0, 0, 0];
    const n = 4000;
    for (let s = 0; s < n; s++) {
      const t = laplaceDraw(Float64Array.from([0, 0, 0, -3]), h, d, false, rng);
      for (let i = 0; i < 3; i++) sums[i] += t[i] * t[i];
    }
    const expected = LAPLACE_TEMPERATURE / LAPLACE_EIGENVALUE_FLOOR;
    for (let i = 0; i < 3; i++) expect(Math.abs(sums[i] / n - expected), `var[${i}]`).toBeLessThan(0.1 * expected);
  });

  it('rejects a Hessian with a non-finite entry in block A with NumericalError naming it, never a NaN theta', () => {
    // A NaN off the diagonal made every Jacobi rotation NaN: the draw was NaN in every coordinate,
    // which the model build then refused as an invalid theta (not the MAP fallback).
    for (const [i, j, v] of [
      [0, 1, Number.NaN],
      [2, 2, Number.NaN],
      [1, 2, Number.POSITIVE_INFINITY],
    ] as const) {
      const block = [
        [5, 0, 0],
        [0, 5, 0],
        [0, 0, 5],
      ];
      block[i][j] = v;
      block[j][i] = v;
      const h = hessianWith(block, 1);
      expect(() => laplaceDraw(Float64Array.from([0, 0, 0, -3]), h, d, false, new Rng(1))).toThrow(NumericalError);
      expect(() => laplaceDraw(Float64Array.from([0, 0, 0, -3]), h, d, false, new Rng(1))).toThrow(`H[${Math.min(i, j)}][${Math.max(i, j)}]`);
    }
    // The noise row is not drawn from: a non-finite entry there does not matter.
    const h = hessianWith(
      [
        [5, 0, 0],
        [0, 5, 0],
        [0, 0, 5],
      ],
      Number.NaN,
    );
    expect(Array.from(laplaceDraw(Float64Array.from([0, 0, 0, -3]), h, d, false, new Rng(1))).every(Number.isFinite)).toBe(true);
  });

  it('clamps into the bounds and gives the same draw for the same seed', () => {
    const { lower, upper } = thetaBounds(d, true);
    const atBound = Float64Array.from([upper[0], lower[1], upper[2], lower[3]]);
    const h = hessianWith(
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      0,
    );
    for (let s = 0; s < 50; s++) {
      const t = laplaceDraw(atBound, h, d, true, new Rng(s));
      for (let j = 0; j < d + 2; j++) {
        expect(t[j]).toBeGreaterThanOrEqual(lower[j]);
        expect(t[j]).toBeLessThanOrEqual(upper[j]);
      }
      expect(Array.from(laplaceDraw(atBound, h, d, true, new Rng(s)))).toEqual(Array.from(t));
    }
  });
});

/** `steps` sequential suggestions on the seeded 2-D study (14 trials done), with the sampler's options. */
async function run(options: ConstructorParameters<typeof GpSampler>[0], steps: number, study = seededStudy(14)) {
  const backend = new CountingBackend();
  const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, ...options });
  const params: Record<string, ParamValue>[] = [];
  const thetas: Float64Array[] = [];
  for (let s = 0; s < steps; s++) {
    const trial = await study.ask(sampler, SPACE);
    params.push({ ...trial.params });
    thetas.push(Float64Array.from(sampler.lastModelUpdate?.theta ?? []));
    await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
  }
  return { backend, params, thetas, study };
}

describe('GpSampler hyperparameterDraw', () => {
  it('rejects an unknown value with InvalidOptionError naming the option', () => {
    expect(() => new GpSampler({ hyperparameterDraw: 'mcmc' as 'map' })).toThrow(InvalidOptionError);
    expect(() => new GpSampler({ hyperparameterDraw: 'mcmc' as 'map' })).toThrow(/hyperparameterDraw/);
  });

  it("'map' computes no Hessian and builds no other model", async () => {
    const { backend } = await run({ hyperparameterDraw: 'map' }, 3);
    expect(backend.hessians).toEqual([]);
    expect(backend.builds).toEqual([]);
  });

  it("the default is 'laplace': the same suggestions, Hessians and drawn models as asking for it", async () => {
    const byDefault = await run({}, 3);
    const laplace = await run({ hyperparameterDraw: 'laplace' }, 3);
    expect(byDefault.backend.hessians.length).toBe(3);
    expect(byDefault.params).toEqual(laplace.params);
    expect(byDefault.backend.builds.map((b) => Array.from(b.theta))).toEqual(laplace.backend.builds.map((b) => Array.from(b.theta)));
  });

  it("'laplace': one Hessian at the MAP theta per suggestion, the acquisition on a model built at a drawn theta with the noise kept", async () => {
    const { backend, thetas } = await run({ hyperparameterDraw: 'laplace' }, 3);
    expect(backend.hessians.length).toBe(3);
    expect(backend.builds.length).toBe(3);
    for (let s = 0; s < 3; s++) {
      const map = thetas[s];
      expect(Array.from(backend.hessians[s].theta)).toEqual(Array.from(map));
      const drawn = backend.builds[s].theta;
      expect(drawn[3]).toBe(map[3]);
      expect(Array.from(drawn.subarray(0, 3))).not.toEqual(Array.from(map.subarray(0, 3)));
      expect(backend.builds[s].n).toBe(14 + s);
    }
    // Per suggestion: fit, Hessian, build, then the acquisition (of the drawn model).
    expect(backend.events.slice(0, 4)).toEqual(['fit', 'hessian', 'build', 'acquisition']);
  });

  it("'laplace' records the MAP fit (gp_fit), as 'map' does, and suggests elsewhere", async () => {
    const map = await run({ hyperparameterDraw: 'map' }, 1);
    const laplace = await run({ hyperparameterDraw: 'laplace' }, 1);
    const recorded = (study: FakeStudy): unknown => study.trials.map((t) => t.systemAttrs[SystemAttr.gpFit]).find((v) => v !== undefined);
    expect(recorded(laplace.study)).toBeDefined();
    expect(recorded(laplace.study)).toEqual(recorded(map.study));
    expect(laplace.params[0]).not.toEqual(map.params[0]);
  });

  it("'laplace' is reproducible for a fixed seed, and another seed draws differently", async () => {
    const a = await run({ hyperparameterDraw: 'laplace' }, 3);
    const b = await run({ hyperparameterDraw: 'laplace' }, 3);
    expect(b.params).toEqual(a.params);
    expect(b.backend.builds.map((x) => Array.from(x.theta))).toEqual(a.backend.builds.map((x) => Array.from(x.theta)));
    const c = await run({ hyperparameterDraw: 'laplace', seed: 6 }, 1);
    expect(Array.from(c.backend.builds[0].theta)).not.toEqual(Array.from(a.backend.builds[0].theta));
  });

  it("'laplace' with a pending trial appends its fantasy to the drawn model, and each ask of a batch draws its own theta", async () => {
    const backend = new CountingBackend();
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, hyperparameterDraw: 'laplace' });
    const study = seededStudy(14);
    const first = await study.ask(sampler, SPACE);
    const second = await study.ask(sampler, SPACE);
    expect(backend.builds.length).toBe(2);
    expect(Array.from(backend.builds[1].theta)).not.toEqual(Array.from(backend.builds[0].theta));
    // The second ask fantasizes the first (RUNNING): one append of one row, after its build.
    expect(backend.appendTargets.length).toBe(1);
    expect(backend.appendTargets[0].length).toBe(1);
    expect(second.params).not.toEqual(first.params);
  });

  it("'laplace' with deterministic: true keeps the noise pinned in the drawn theta", async () => {
    const { backend, thetas } = await run({ hyperparameterDraw: 'laplace', deterministic: true }, 2);
    for (let s = 0; s < 2; s++) expect(backend.builds[s].theta[3]).toBe(thetas[s][3]);
  });

  it('several objectives and constraints keep the MAP model', async () => {
    const backend = new CountingBackend();
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, hyperparameterDraw: 'laplace' });
    const study = new FakeStudy(['minimize', 'minimize']);
    for (let i = 0; i < 8; i++) {
      const t = await study.ask(sampler, SPACE);
      const p = t.params as Record<string, number>;
      study.trials[t.number] = new FrozenTrial({
        ...study.trials[t.number].toJSON(),
        state: 'COMPLETE',
        values: [objective(p), (p.a - 0.8) ** 2 + p.b],
        datetimeComplete: t.number + 0.5,
      });
    }
    expect(backend.fitSizes.length).toBeGreaterThan(0);
    expect(backend.hessians).toEqual([]);

    const constrained = new CountingBackend();
    const withConstraints = new GpSampler({
      seed: 5,
      nStartupTrials: 4,
      candidates: 64,
      restarts: 2,
      backend: constrained,
      hyperparameterDraw: 'laplace',
      constraintsFunc: (t) => [(t.params.a as number) - 0.9],
    });
    const single = seededStudy(14);
    const trial = await single.ask(withConstraints, SPACE);
    await single.tell(withConstraints, trial, 'COMPLETE', 1);
    expect(constrained.fitSizes.length).toBeGreaterThan(0);
    expect(constrained.hessians).toEqual([]);
  });

  it('falls back to the MAP model with one GP_HYPERPARAMETER_DRAW_FALLBACK warning when the Hessian fails numerically', async () => {
    const warnings = captureWarnings();
    const backend = new CountingBackend();
    // Two failures with different messages (the native ones name a pivot or a column): still
    // one warning. Its message held the error's, and warnOnce keys on code and message.
    backend.failHessians.set(1, new NumericalError('negLogPosteriorHessian: not positive definite next to this theta (pivot 3)'));
    backend.failHessians.set(2, new NumericalError('negLogPosteriorHessian: not positive definite next to this theta (pivot 11)'));
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, hyperparameterDraw: 'laplace' });
    const study = seededStudy(14);
    for (let s = 0; s < 3; s++) {
      const trial = await study.ask(sampler, SPACE);
      await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
    }
    expect(backend.hessians.length).toBe(3);
    expect(backend.builds.length).toBe(1);
    expect(warnings.filter((w) => w.startsWith('GP_HYPERPARAMETER_DRAW_FALLBACK ')).length).toBe(1);
  });

  it('a native failure of the draw falls back to the MAP model (its suggestion), not to random sampling, with one warning', async () => {
    // The draw is an add-on to the MAP model: a NativeError (what the addon's unexpected
    // exceptions become) failed the suggestion and the trial was sampled at random
    // (GP_NUMERICAL_FALLBACK), now that the draw is the default.
    const warnings = captureWarnings();
    const map = await run({ hyperparameterDraw: 'map' }, 1);
    const backend = new CountingBackend();
    backend.failHessians.set(1, new NativeError('negLogPosteriorHessian: std::bad_alloc'));
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, hyperparameterDraw: 'laplace' });
    const trial = await seededStudy(14).ask(sampler, SPACE);
    expect(trial.params).toEqual(map.params[0]);
    expect(warnings.map((w) => w.split(' ')[0])).toEqual(['GP_HYPERPARAMETER_DRAW_FALLBACK']);
    // The warning names what failed (a constant message hid a persistent addon error).
    expect(warnings[0]).toContain('std::bad_alloc');
  });

  it('a Hessian with a NaN entry falls back to the MAP model (its suggestion) with one GP_HYPERPARAMETER_DRAW_FALLBACK warning', async () => {
    // A custom backend whose Hessian has a NaN off the diagonal of block A. The draw was NaN, the
    // build refused it with InvalidOptionError, and the suggestion fell to random sampling.
    class NanHessianBackend extends CountingBackend {
      override async negLogPosteriorHessian(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean): Promise<Float64Array> {
        const h = Float64Array.from(await super.negLogPosteriorHessian(data, theta, kernel, deterministic));
        const q = data.d + 2;
        h[1] = Number.NaN;
        h[q] = Number.NaN;
        return h;
      }
    }
    const warnings = captureWarnings();
    const map = await run({ hyperparameterDraw: 'map' }, 2);
    const backend = new NanHessianBackend();
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, hyperparameterDraw: 'laplace' });
    const study = seededStudy(14);
    const params: Record<string, ParamValue>[] = [];
    for (let s = 0; s < 2; s++) {
      const trial = await study.ask(sampler, SPACE);
      params.push({ ...trial.params });
      await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
    }
    expect(backend.hessians.length).toBe(2);
    expect(backend.builds).toEqual([]);
    expect(params).toEqual(map.params);
    expect(warnings.filter((w) => w.startsWith('GP_HYPERPARAMETER_DRAW_FALLBACK ')).length).toBe(1);
    expect(warnings.filter((w) => w.startsWith('GP_NUMERICAL_FALLBACK '))).toEqual([]);
  });

  it('keeps the MAP model above LAPLACE_MAX_ROWS observations', async () => {
    const { backend } = await run({ hyperparameterDraw: 'laplace' }, 2, seededStudy(LAPLACE_MAX_ROWS));
    // The first suggestion models LAPLACE_MAX_ROWS rows (drawn), the second one more (MAP).
    expect(backend.hessians.map((h) => h.n)).toEqual([LAPLACE_MAX_ROWS]);
    expect(backend.builds.length).toBe(1);
  });

  it('a backend without negLogPosteriorHessian keeps the MAP model', async () => {
    const inner = new CountingBackend();
    const backend = { name: 'js' as const, fit: inner.fit.bind(inner), build: inner.build.bind(inner), negLogPosterior: inner.negLogPosterior.bind(inner) };
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, hyperparameterDraw: 'laplace' });
    const study = seededStudy(14);
    const trial = await study.ask(sampler, SPACE);
    expect(Object.keys(trial.params).sort()).toEqual(['a', 'b']);
    expect(inner.builds).toEqual([]);
  });
});
