/**
 * The surrogate's boundary checks (src/surrogate/validate.ts), shared by the native and the
 * TypeScript backend, and what they mean end to end on the TypeScript backend.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import type { OptimizeAcquisitionOptions } from '../../src/surrogate/backend.js';
import { createJsBackend } from '../../src/surrogate/js-backend.js';
import { MAX_CANDIDATE_COORDINATES, checkOptimizeOptions, checkTrainingData } from '../../src/surrogate/validate.js';
import { SOBOL_MAX_DIMENSION } from '../../src/util/sobol.js';
import { randomData } from './helpers.js';

function optimizeOptions(d: number, nCandidates: number): OptimizeAcquisitionOptions {
  return { kind: 'logei', incumbent: 0, beta: 0, nCandidates, nRestarts: 1, seed: 1, grid: new Float64Array(d), numThreads: 1 };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}

describe('checkTrainingData', () => {
  it('accepts isCategorical flags 0 and 1 only, naming the flag (the native core treats any non-zero flag as categorical)', () => {
    const data = randomData(1, 5, 3, [1]);
    expect(() => checkTrainingData(data)).not.toThrow();
    for (const flag of [2, 255]) {
      const isCategorical = Uint8Array.from([0, 1, flag]);
      const err = thrown(() => checkTrainingData({ ...data, isCategorical }));
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe('data.isCategorical[2]');
      expect((err as Error).message).toBe(`option "data.isCategorical[2]": expected 0 (continuous) or 1 (categorical), received ${flag}`);
    }
  });
});

describe('checkOptimizeOptions', () => {
  it('bounds nCandidates * d, naming both in the message', () => {
    const isCat = new Uint8Array(1000);
    expect(() => checkOptimizeOptions(optimizeOptions(1000, 33_554), 1000, isCat)).not.toThrow();
    // Each value alone is in range; together they asked for 8 GB per copy of the candidates.
    const err = thrown(() => checkOptimizeOptions(optimizeOptions(1000, 1_000_000), 1000, isCat));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe('nCandidates');
    expect((err as Error).message).toBe(
      `option "nCandidates": expected nCandidates * d <= ${MAX_CANDIDATE_COORDINATES} (at most 33554 candidates at d = 1000), received 1000000`,
    );
    expect(() => checkOptimizeOptions(optimizeOptions(1, 1_000_000), 1, new Uint8Array(1))).not.toThrow();
    // The defaults (2048 candidates) fit every dimension the Sobol candidates support.
    expect(2048 * SOBOL_MAX_DIMENSION).toBeLessThanOrEqual(MAX_CANDIDATE_COORDINATES);
  });

  it('checks centers: whole rows of encoded inputs, categorical ones valid choices', () => {
    const isCat = Uint8Array.from([0, 1]);
    const base = { ...optimizeOptions(2, 16), grid: Float64Array.from([0, 3]) };
    expect(() => checkOptimizeOptions({ ...base, centers: Float64Array.from([0.2, 1, 0.9, 2]) }, 2, isCat)).not.toThrow();
    const cases: [unknown, string][] = [
      [Float64Array.from([0.2, 1, 0.9]), 'centers'],
      [new Float64Array(0), 'centers'],
      [[0.2, 1], 'centers'],
      [Float64Array.from([1.5, 1]), 'centers[0]'],
      [Float64Array.from([0.5, 0.5]), 'centers[1]'],
      [Float64Array.from([0.5, 3]), 'centers[1]'],
      [Float64Array.from([Number.NaN, 1]), 'centers[0]'],
    ];
    for (const [centers, option] of cases) {
      const err = thrown(() => checkOptimizeOptions({ ...base, centers: centers as Float64Array }, 2, isCat));
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe(option);
    }
  });

  it(`rejects more than ${SOBOL_MAX_DIMENSION} dims as "data.d", naming the real limit (not the Sobol option "dimension")`, () => {
    const d = SOBOL_MAX_DIMENSION + 1;
    const err = thrown(() => checkOptimizeOptions(optimizeOptions(d, 16), d, new Uint8Array(d)));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe('data.d');
    expect((err as Error).message).toContain(`at most ${SOBOL_MAX_DIMENSION} dims`);
    expect(() => checkOptimizeOptions(optimizeOptions(SOBOL_MAX_DIMENSION, 16), SOBOL_MAX_DIMENSION, new Uint8Array(SOBOL_MAX_DIMENSION))).not.toThrow();
  });

  it('end to end on the TypeScript backend: a model of 1112 dims fits and predicts, and its optimizeAcquisition says why it cannot', async () => {
    const d = SOBOL_MAX_DIMENSION + 1;
    const data = randomData(2, 3, d);
    const backend = createJsBackend();
    const theta = new Float64Array(d + 2);
    theta[d + 1] = -3;
    const gp = await backend.build(data, theta, { kernel: 'matern52', deterministic: false, numThreads: 1 });
    const p = await gp.predict(data.x.subarray(0, d), 1);
    expect(Number.isFinite(p.mean[0])).toBe(true);
    await expect(gp.optimizeAcquisition(optimizeOptions(d, 16))).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'data.d' });
    const bad = { ...randomData(3, 4, 2), isCategorical: Uint8Array.from([0, 2]) };
    const fitOptions = { kernel: 'matern52', deterministic: false, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 } as const;
    await expect(backend.fit(bad, fitOptions)).rejects.toMatchObject({ option: 'data.isCategorical[1]' });
    gp.dispose();
  });
});
