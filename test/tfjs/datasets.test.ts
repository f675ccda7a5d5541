import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { selectTfBackend } from '../../src/tfjs/backend.js';
import { loadDigits, loadIris, toTensors } from '../../src/tfjs/datasets.js';

beforeAll(async () => {
  await selectTfBackend({ prefer: 'cpu' });
});

describe('datasets', () => {
  it('loadDigits: class-balanced 28x28 images in [0, 1], deterministic in the seed', () => {
    const a = loadDigits({ n: 205, seed: 4 });
    expect(a.x).toHaveLength(205);
    expect(a.nClasses).toBe(10);
    expect(a.inputShape).toEqual([784]);
    for (let c = 0; c < 10; c++) {
      const n = a.y.filter((v) => v === c).length;
      expect(n === 20 || n === 21).toBe(true);
    }
    for (const row of a.x.slice(0, 20)) {
      expect(row).toHaveLength(784);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...row)).toBeLessThanOrEqual(1);
      expect(Math.max(...row)).toBeGreaterThan(0.5); // an actual stroke
    }
    const b = loadDigits({ n: 205, seed: 4 });
    expect(b.y).toEqual(a.y);
    expect(b.x[7]).toEqual(a.x[7]);
    expect(loadDigits({ n: 205, seed: 5 }).y).not.toEqual(a.y);
    expect(() => loadDigits({ n: 5 })).toThrow(/option "n"/);
  });

  it('loadDigits: above 10 x the scarcest digit, takes every image of scarce digits, never repeats one, stays seeded', () => {
    // The package holds 863 fives: a quota of 900 per digit used to read past the end of the fives,
    // which mnist's get() answers with a Math.random image (duplicates, and a different set per call).
    const supply = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
    const a = loadDigits({ n: 9000, seed: 0 });
    const b = loadDigits({ n: 9000, seed: 0 });
    expect(a.x).toHaveLength(9000);
    expect(b.y).toEqual(a.y);
    expect(b.x.every((row, i) => row.every((v, j) => v === a.x[i][j]))).toBe(true);
    const counts = supply.map((_, c) => a.y.filter((v) => v === c).length);
    expect(counts[5]).toBe(863);
    for (let c = 0; c < 10; c++) {
      expect(counts[c]).toBeLessThanOrEqual(supply[c]);
      if (c !== 5) expect(counts[c] === 904 || counts[c] === 905).toBe(true); // (9000 - 863) / 9, within one
      const images = a.x.filter((_, i) => a.y[i] === c).map((row) => row.join(','));
      expect(new Set(images).size).toBe(images.length);
    }
    const all = loadDigits({ n: 10000, seed: 1 });
    expect(supply.map((_, c) => all.y.filter((v) => v === c).length)).toEqual(supply);
    expect(new Set(all.x.map((row) => row.join(','))).size).toBeGreaterThan(9900); // the data set's own duplicates only
  });

  it('loadIris: 150 flowers, 4 features, 50 per species', () => {
    const iris = loadIris();
    expect(iris.x).toHaveLength(150);
    expect(iris.x[0]).toHaveLength(4);
    expect([0, 1, 2].map((c) => iris.y.filter((v) => v === c).length)).toEqual([50, 50, 50]);
  });

  it('toTensors: features and one-hot labels, leaving no intermediate tensors', () => {
    const before = tf.memory().numTensors;
    const { xs, ys } = toTensors({ x: [[1, 2, 3, 4], [5, 6, 7, 8]], y: [2, 0], nClasses: 3, inputShape: [2, 2] });
    expect(xs.shape).toEqual([2, 2, 2]);
    expect(ys.arraySync()).toEqual([[0, 0, 1], [1, 0, 0]]);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([xs, ys]);
    expect(() => toTensors({ x: [[1]], y: [3], nClasses: 3 })).toThrow(/option "y\[0\]"/);
  });

  it('toTensors: a row that is not an array, or a bad inputShape, is an InvalidOptionError naming it', () => {
    // These threw tfjs's plain Error or a TypeError, or blamed inputShape for a bad row.
    const before = tf.memory().numTensors;
    const cases: [Record<string, unknown>, string][] = [
      [{ x: [null, [3, 4]] }, 'x[0]'],
      [{ x: [[3, 4], null] }, 'x[1]'],
      [{ x: [1, 2] }, 'x[0]'],
      [{ inputShape: [-1, -2] }, 'inputShape'],
      [{ inputShape: [0.5, 4] }, 'inputShape'],
      [{ inputShape: 2 }, 'inputShape'],
    ];
    for (const [options, key] of cases) {
      let error: unknown;
      try {
        toTensors({ x: [[1, 2], [3, 4]], y: [0, 1], nClasses: 2, ...options } as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(key);
    }
    expect(tf.memory().numTensors).toBe(before);
    const { xs, ys } = toTensors({ x: [new Float32Array([1, 2]), [3, 4]] as never, y: [0, 1], nClasses: 2, inputShape: [2, 1] });
    expect(xs.shape).toEqual([2, 2, 1]);
    tf.dispose([xs, ys]);
  });

  it('toTensors: a NaN, infinite or non-number feature is an InvalidOptionError naming its row and column', () => {
    // These became NaN in the tensor (a string too), so every loss of the fit was NaN.
    const before = tf.memory().numTensors;
    const cases: [unknown[][], string][] = [
      [[[1, 2], [3, NaN]], 'x[1][1]'],
      [[[Infinity, 2], [3, 4]], 'x[0][0]'],
      [[[1, -Infinity], [3, 4]], 'x[0][1]'],
      [[[1, 2], ['3', 4]], 'x[1][0]'],
      [[[1, null], [3, 4]], 'x[0][1]'],
      [[[1, 2], new Float32Array([3, NaN]) as never], 'x[1][1]'],
    ];
    for (const [x, key] of cases) {
      let error: unknown;
      try {
        toTensors({ x: x as never, y: [0, 1], nClasses: 2 });
      } catch (e) {
        error = e;
      }
      expect(error, key).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(key);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
