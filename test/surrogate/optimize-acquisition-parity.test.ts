/**
 * The native acquisition maximizer (native/core/gp.cc optimize_acquisition) against the TypeScript
 * reference (src/surrogate/js-backend.ts optimizeAcquisition) on the SAME model: the native fit's
 * theta, with the JS model built at exactly that theta, the same Sobol seed and options. The two
 * use different L-BFGS-B codes, so they need not return the same x; the optimum values must agree
 * within a stated tolerance, and each optimum must be feasible (ordinal dims on cell centres,
 * categorical dims choice indices, log-int dims on their integers' coordinates). Skipped when the
 * addon is not built.
 */
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/binding/load.js';
import type { AcquisitionKind, FittedGp, GpTrainingData, OptimizeAcquisitionOptions } from '../../src/surrogate/backend.js';
import { JsFittedGp, gridCenter } from '../../src/surrogate/js-backend.js';
import { trainingCovariance } from '../../src/surrogate/js-kernels.js';
import { choleskyWithJitter } from '../../src/surrogate/js-linalg.js';
import { decodeLogInt, encodeLogInt, snapLogInt } from '../../src/util/log-int.js';
import { createNativeBackend } from '../../src/surrogate/native-backend.js';
import { randomData } from './helpers.js';
import { LOCAL_CANDIDATE_EVERY, acquisitionCandidates } from '../../src/surrogate/candidates.js';

const available = loadAddon().addon !== null;

/**
 * Tolerance on the optimum acquisition value (log-EI, UCB or PI in the standardized space):
 * |native - js| <= 1e-6 (1 + |js|). Both search the same function from the same Sobol starts (plus
 * the best observation); what differs is where their L-BFGS-B runs stop (pgtol 1e-7, ftol 1e-12).
 */
const VALUE_TOL = 1e-6;

/** The JS model at the native model's theta (same data, kernel, noise setting). */
function jsModelAt(native: FittedGp, data: GpTrainingData): JsFittedGp {
  const a = trainingCovariance(data, native.theta, 'matern52');
  const chol = choleskyWithJitter(a, data.n);
  if (!chol.ok) throw new Error('test data: covariance not positive definite');
  return new JsFittedGp(data, Float64Array.from(native.theta), 'matern52', false, chol.l, chol.jitter);
}

/** Puts ordinal dims (grid[j] > 0, not categorical) of data.x on their cell centres. */
function onGrid(data: GpTrainingData, grid: Float64Array): GpTrainingData {
  const x = Float64Array.from(data.x);
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < data.d; j++) {
      const g = grid[j];
      if (g > 0 && data.isCategorical[j] === 0) x[i * data.d + j] = gridCenter(Math.floor(x[i * data.d + j] / g), g);
    }
  }
  return { ...data, x };
}

/** Puts log-int dims (logIntBounds [low, high], not [0, 0]) of data.x on their levels. */
function onLogIntLevels(data: GpTrainingData, logIntBounds: Float64Array): GpTrainingData {
  const x = Float64Array.from(data.x);
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < data.d; j++) {
      const [low, high] = [logIntBounds[2 * j], logIntBounds[2 * j + 1]];
      if (high > 0) x[i * data.d + j] = snapLogInt(x[i * data.d + j], low, high);
    }
  }
  return { ...data, x };
}

/**
 * The integers at x's log-int dims (-1 elsewhere), with x[j] required to be that integer's
 * coordinate within 1e-12 (the native side computes it with C++'s log, which may differ from
 * Math.log in the last bit).
 */
function expectOnLogIntLevels(x: Float64Array, logIntBounds: Float64Array | undefined): number[] {
  return Array.from(x, (u, j) => {
    if (logIntBounds === undefined || !(logIntBounds[2 * j + 1] > 0)) return -1;
    const [low, high] = [logIntBounds[2 * j], logIntBounds[2 * j + 1]];
    const k = decodeLogInt(u, low, high);
    expect(Math.abs(encodeLogInt(k, low, high) - u), `dim ${j}: u = ${u}`).toBeLessThanOrEqual(1e-12);
    return k;
  });
}

function expectFeasible(x: Float64Array, grid: Float64Array, isCategorical: Uint8Array, logIntBounds?: Float64Array): void {
  expectOnLogIntLevels(x, logIntBounds);
  for (let j = 0; j < x.length; j++) {
    const g = grid[j];
    if (logIntBounds !== undefined && logIntBounds[2 * j + 1] > 0) continue;
    if (isCategorical[j] === 1) {
      expect(Number.isInteger(x[j]) && x[j] >= 0 && x[j] < g).toBe(true);
    } else if (g > 0) {
      const cells = Math.round(1 / g);
      const index = Math.floor(x[j] * cells);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(index).toBeLessThan(cells);
      expect(x[j]).toBe((index + 0.5) / cells);
    } else {
      expect(x[j]).toBeGreaterThanOrEqual(0);
      expect(x[j]).toBeLessThanOrEqual(1);
    }
  }
}

interface Case {
  readonly name: string;
  readonly data: GpTrainingData;
  readonly grid: Float64Array;
  readonly logIntBounds?: Float64Array;
}

function cases(): Case[] {
  const continuous = randomData(11, 30, 3);
  const mixedGrid = Float64Array.from([0, 1 / 5, 1 / 100, 3]);
  const mixed = onGrid(randomData(12, 40, 4, [3]), mixedGrid);
  const logIntGrid = Float64Array.from([0, 0, 0, 1 / 5]);
  const logIntBounds = Float64Array.from([0, 0, 1, 1000, 2, 40, 0, 0]);
  // Data seed 14: on data seeds 0-19 x 3 kinds the two searches agree within VALUE_TOL 60 times.
  // (Seed 13, PI, once disagreed: the JS search dropped a start whose relaxed pass snapped below
  // it, where the native one keeps the start; js-backend.test.ts has that case.)
  const logInt = onLogIntLevels(onGrid(randomData(14, 40, 4), logIntGrid), logIntBounds);
  return [
    { name: 'continuous 3-D', data: continuous, grid: new Float64Array(3) },
    { name: 'mixed: continuous, 5-cell and 100-cell ordinal, 3-choice categorical', data: mixed, grid: mixedGrid },
    {
      name: 'log ints: continuous, log int [1, 1000] (neighbour moves), log int [2, 40] (39 levels, exhausted), 5-cell ordinal',
      data: logInt,
      grid: logIntGrid,
      logIntBounds,
    },
  ];
}

describe.skipIf(!available)('native vs JS optimizeAcquisition on the same model', () => {
  const backend = available ? createNativeBackend({ device: 'cpu', numThreads: 2 }) : null!;

  for (const { name, data, grid, logIntBounds } of cases()) {
    for (const kind of ['logei', 'ucb', 'pi'] as AcquisitionKind[]) {
      it(`${name}, ${kind}: optimum values agree within ${VALUE_TOL} (1 + |v|), both feasible`, async () => {
        const native = await backend.fit(data, {
          kernel: 'matern52',
          deterministic: false,
          nRestarts: 1,
          seed: 5,
          warmStart: null,
          numThreads: 2,
        });
        const js = jsModelAt(native, data);
        const yMax = Math.max(...data.y);
        const options: OptimizeAcquisitionOptions = {
          kind,
          incumbent: yMax,
          beta: 2,
          nCandidates: 512,
          nRestarts: 5,
          seed: 17,
          grid,
          logIntBounds,
          numThreads: 2,
        };
        const a = await native.optimizeAcquisition(options);
        const b = await js.optimizeAcquisition(options);
        expectFeasible(a.x, grid, data.isCategorical, logIntBounds);
        expectFeasible(b.x, grid, data.isCategorical, logIntBounds);
        // Same search on the discrete dims: the same integers.
        expect(expectOnLogIntLevels(a.x, logIntBounds)).toEqual(expectOnLogIntLevels(b.x, logIntBounds));
        // Same function: the JS model reproduces the native optimum's value (1e-9 relative).
        const cross = await js.acquisition(a.x, 1, options, false);
        expect(Math.abs(cross.value[0] - a.value)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(a.value)));
        expect(Math.abs(a.value - b.value)).toBeLessThanOrEqual(VALUE_TOL * (1 + Math.abs(b.value)));
        // Both are at least as good as the best observation's snapped value (a start of both).
        let best = 0;
        for (let i = 1; i < data.n; i++) if (data.y[i] > data.y[best]) best = i;
        const atBest = await js.acquisition(data.x.subarray(best * data.d, best * data.d + data.d), 1, options, false);
        expect(a.value).toBeGreaterThanOrEqual(atBest.value[0] - 1e-9 * (1 + Math.abs(atBest.value[0])));
        expect(b.value).toBeGreaterThanOrEqual(atBest.value[0] - 1e-9 * (1 + Math.abs(atBest.value[0])));
        native.dispose();
      });
    }

  }

  it('scores the same candidates: without restarts both return the same one, a local candidate beside a peaked best observation', async () => {
    const base = randomData(11, 30, 3);
    const y = Float64Array.from(base.y);
    let best = 0;
    for (let i = 1; i < base.n; i++) if (y[i] > y[best]) best = i;
    y[best] += 3; // a peak: the posterior mean's maximum sits within a few hundredths of it
    const data = { ...base, y };
    const grid = new Float64Array(3);
    const native = await backend.fit(data, { kernel: 'matern52', deterministic: false, nRestarts: 1, seed: 5, warmStart: null, numThreads: 2 });
    const js = jsModelAt(native, data);
    const options: OptimizeAcquisitionOptions = { kind: 'ucb', incumbent: 0, beta: 0, nCandidates: 512, nRestarts: 0, seed: 23, grid, numThreads: 2 };
    const a = await native.optimizeAcquisition(options);
    const b = await js.optimizeAcquisition(options);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Math.abs(a.value - b.value)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(b.value)));
    // The winner's place in candidates.ts's list: a local one (every LOCAL_CANDIDATE_EVERY + 1-th).
    const center = data.x.subarray(best * data.d, (best + 1) * data.d);
    const { x: all, count } = acquisitionCandidates({ d: data.d, nSobol: 512, seed: 23, center, isCategorical: data.isCategorical });
    let winner = -1;
    for (let c = 0; c < count && winner < 0; c++) if (all.subarray(c * 3, c * 3 + 3).every((v, j) => v === a.x[j])) winner = c;
    expect(winner).toBeGreaterThanOrEqual(0);
    expect((winner + 1) % (LOCAL_CANDIDATE_EVERY + 1)).toBe(0);
    native.dispose();
  });
});
