import { describe, expect, it } from 'vitest';
import { boxCountBound, nonDominatedBoxes } from '../../../src/samplers/gp/hypervolume-boxes.js';
import { STORED_FRONT_SIZE_VERSION, findStoredFrontSize, storedFrontSizeRecord } from '../../../src/samplers/gp/stored-front-size.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import { SystemAttr } from '../../../src/trial/system-attrs.js';
import type { JsonValue } from '../../../src/trial/types.js';

/** A COMPLETE trial number `n` holding `record` under `gp_front_size` (none when undefined). */
function trial(n: number, record?: JsonValue): FrozenTrial {
  return new FrozenTrial({
    trialId: 100 + n,
    number: n,
    state: 'COMPLETE',
    values: [1, 2, 3, 4, 5],
    params: {},
    distributions: {},
    userAttrs: {},
    systemAttrs: record === undefined ? {} : { [SystemAttr.gpFrontSize]: record },
    intermediateValues: {},
    datetimeStart: 0,
    datetimeComplete: 0,
  });
}

describe('the recorded size at which a thinned Pareto front fitted (stored-front-size.ts)', () => {
  it('round-trips a record through JSON text and takes the latest valid one', () => {
    const record = storedFrontSizeRecord(5, 2048, 80);
    expect(record).toEqual({ version: STORED_FRONT_SIZE_VERSION, objectives: 5, maxBoxes: 2048, size: 80 });
    const text = JSON.parse(JSON.stringify(record)) as JsonValue;
    const trials = [trial(0), trial(1, storedFrontSizeRecord(5, 2048, 160)), trial(2, text), trial(3)];
    expect(findStoredFrontSize(trials, 5, 2048)).toBe(80);
    // Latest by trial number, not by position in the list.
    expect(findStoredFrontSize([trials[2], trials[1], trials[3]], 5, 2048)).toBe(80);
    expect(findStoredFrontSize([trial(0), trial(1)], 5, 2048)).toBeNull();
    expect(findStoredFrontSize([], 5, 2048)).toBeNull();
  });

  it('ignores (never throws on) a corrupt record, or one of another objective count, box limit or version', () => {
    const valid = storedFrontSizeRecord(5, 2048, 40) as Record<string, JsonValue>;
    const corrupt: JsonValue[] = [
      null,
      80,
      '80',
      [5, 2048, 80],
      {},
      { ...valid, version: STORED_FRONT_SIZE_VERSION + 1 },
      { ...valid, version: '1' },
      { ...valid, objectives: 4 },
      { ...valid, maxBoxes: 1024 },
      { ...valid, size: 0 },
      { ...valid, size: -40 },
      { ...valid, size: 40.5 },
      { ...valid, size: '40' },
      { ...valid, size: null },
      { ...valid, size: 1e300 },
      // A front of 2 * 2 + 1 points in five objectives always fits 2,048 boxes (boxCountBound), so
      // no decomposition of twice that size could have failed: not a size a sampler records.
      { ...valid, size: 2 },
      { version: valid.version, objectives: valid.objectives, maxBoxes: valid.maxBoxes },
    ];
    for (const value of corrupt) {
      // Behind the valid record of trial 1: the corrupt one on trial 2 is skipped.
      expect(findStoredFrontSize([trial(1, valid), trial(2, value)], 5, 2048), JSON.stringify(value)).toBe(40);
      expect(findStoredFrontSize([trial(2, value)], 5, 2048), JSON.stringify(value)).toBeNull();
    }
    // The smallest size that can be recorded for five objectives is 3 (2 * 3 + 1 = 7 > 5).
    expect(findStoredFrontSize([trial(2, { ...valid, size: 3 })], 5, 2048)).toBe(3);
    // Two objectives: P + 1 boxes, so only a front of over 2,047 points fails; half of 2,048 is the smallest size.
    expect(findStoredFrontSize([trial(2, storedFrontSizeRecord(2, 2048, 1023))], 2, 2048)).toBeNull();
    expect(findStoredFrontSize([trial(2, storedFrontSizeRecord(2, 2048, 1024))], 2, 2048)).toBe(1024);
  });
});

describe('boxCountBound', () => {
  it('bounds the box count of nonDominatedBoxes, exactly for two objectives', () => {
    let state = 7;
    const rnd = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 4294967296;
    };
    for (const [k, sizes] of [[2, [1, 5, 40]], [3, [1, 4, 12, 30]], [4, [1, 3, 8, 20]], [5, [1, 2, 5, 12]]] as const) {
      for (const p of sizes) {
        // Points of the positive unit sphere (all non-dominated), and the same with a coarse grid
        // of values (ties in every objective).
        for (const levels of [0, 3]) {
          const points = new Float64Array(p * k);
          for (let i = 0; i < p; i++) {
            const v = Array.from({ length: k }, () => rnd() + 1e-3);
            const norm = Math.hypot(...v);
            v.forEach((x, j) => (points[i * k + j] = levels === 0 ? x / norm : Math.ceil((levels * x) / norm)));
          }
          const boxes = nonDominatedBoxes(points, p, k, new Float64Array(k), Infinity) as Float64Array;
          const count = boxes.length / (2 * k);
          expect(count, `k = ${k}, p = ${p}, levels ${levels}`).toBeLessThanOrEqual(boxCountBound(p, k));
          if (k === 2 && levels === 0) expect(count).toBe(boxCountBound(p, k));
        }
      }
    }
    expect(boxCountBound(0, 5)).toBe(1);
    expect(boxCountBound(5, 5)).toBe(1296);
    expect(boxCountBound(7, 1)).toBe(1);
  });
});
