/**
 * k-fold cross-validation with per-fold reporting.
 *
 * Splits (scikit-learn's `KFold(shuffle=True)` / `StratifiedKFold(shuffle=True)` in spirit, with
 * Kestrel's seeded PRNG, so the same seed gives the same folds on every platform):
 * - plain: a seeded permutation of 0..n-1 dealt round-robin, so fold sizes differ by at most one;
 * - stratified: the indices of each class are permuted (seeded per class), then all classes are
 *   concatenated and dealt round-robin, continuing from fold to fold across classes. Each class is
 *   then split over the folds within one example, fold sizes differ by at most one, and each fold's
 *   class proportions match the data's to within one example per class.
 *
 * With a `trial`, after fold f (1-based) the running mean of the first f scores is reported at step f
 * and the pruner is asked; a pruned trial stops before its next fold (`TrialPrunedError`). Running
 * means of folds are comparable across trials because every trial sees the same folds (same seed).
 */
import { InvalidOptionError, TrialPrunedError } from '../errors.js';
import type { Trial } from '../trial/trial.js';
import { Rng } from '../util/prng.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';

/** One fold of `kFoldSplit`: indices of the examples to train on and to test on. */
export interface Fold {
  readonly trainIndex: readonly number[];
  readonly testIndex: readonly number[];
}

/** Options of `kFoldSplit`. */
export interface KFoldOptions {
  /** Number of examples. */
  readonly n: number;
  /** Number of folds, 2 <= k <= n. */
  readonly k: number;
  /**
   * Labels for a stratified split (length n); some class must have at least k examples (else
   * `InvalidOptionError`, as scikit-learn). Omitted: plain k-fold.
   */
  readonly y?: readonly (number | string)[];
  /** Default 0. */
  readonly seed?: number;
}

const KFOLD_KEYS = optionKeys<KFoldOptions>()(['n', 'k', 'y', 'seed']);

/** The k folds of 0..n-1 (see the file comment); test indices sorted, train = the rest, sorted. */
export function kFoldSplit(options: KFoldOptions): Fold[] {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, KFOLD_KEYS, 'kFoldSplit');
  const { n, k } = options;
  if (!Number.isInteger(n) || n < 2) throw new InvalidOptionError('n', 'an integer >= 2', n);
  if (!Number.isInteger(k) || k < 2 || k > n) throw new InvalidOptionError('k', `an integer in [2, ${n}]`, k);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError('seed', 'a safe integer', seed);
  const rng = new Rng(seed);

  let order: number[];
  if (options.y === undefined) {
    order = rng.split('kfold').permutation(n);
  } else {
    const y = options.y;
    if (!Array.isArray(y) || y.length !== n) throw new InvalidOptionError('y', `an array of ${n} labels`, y);
    const byClass = new Map<string, number[]>();
    y.forEach((label, i) => {
      const key = `${typeof label}:${String(label)}`;
      const list = byClass.get(key) ?? [];
      list.push(i);
      byClass.set(key, list);
    });
    // As scikit-learn's StratifiedKFold: when no class can reach every fold (continuous targets,
    // say: one class per value), there is nothing to stratify, and dealing the classes in sorted
    // order would make the folds ignore the seed.
    const largest = Math.max(...[...byClass.values()].map((members) => members.length));
    if (largest < k) {
      throw new InvalidOptionError(
        'y',
        `labels with at least k = ${k} examples in some class to stratify (continuous targets: no y, or stratified: false)`,
        `${byClass.size} classes of at most ${largest} examples`,
      );
    }
    // Classes in a fixed order (sorted keys), each permuted with its own stream.
    order = [];
    for (const key of [...byClass.keys()].sort()) {
      const members = byClass.get(key)!;
      const perm = rng.split(`class:${key}`).permutation(members.length);
      for (const p of perm) order.push(members[p]);
    }
  }
  const tests: number[][] = Array.from({ length: k }, () => []);
  order.forEach((index, position) => tests[position % k].push(index));
  return tests.map((test) => {
    const inTest = new Set(test);
    const train: number[] = [];
    for (let i = 0; i < n; i++) if (!inTest.has(i)) train.push(i);
    return { trainIndex: train, testIndex: [...test].sort((a, b) => a - b) };
  });
}

/** The data of one fold, as handed to `train`. */
export interface FoldData<X, Y> {
  readonly xTrain: X[];
  readonly yTrain: Y[];
  readonly xTest: X[];
  readonly yTest: Y[];
  readonly trainIndex: readonly number[];
  readonly testIndex: readonly number[];
}

/** Options of `crossValidate`: the data, the folds, and `train`, which scores one fold. */
export interface CrossValidateOptions<X, Y extends number | string> {
  readonly x: readonly X[];
  readonly y: readonly Y[];
  /** Number of folds (default 5). */
  readonly k?: number;
  /** Stratify by `y` (default true: classification; some class needs >= k examples). Set false for continuous targets. */
  readonly stratified?: boolean;
  readonly seed?: number;
  /** Trains on a fold's training part and returns its score on the test part. */
  readonly train: (fold: FoldData<X, Y>, foldIndex: number) => Promise<number> | number;
  /** Report per-fold running means to this trial and stop when pruned. */
  readonly trial?: Trial;
}

/** What `crossValidate` returns: the fold scores, their mean and standard deviation. */
export interface CrossValidateResult {
  readonly mean: number;
  /** Population standard deviation of the fold scores (ddof = 0, as numpy's default). */
  readonly std: number;
  readonly scores: readonly number[];
}

const CROSS_VALIDATE_KEYS = optionKeys<CrossValidateOptions<unknown, number>>()(['x', 'y', 'k', 'stratified', 'seed', 'train', 'trial']);

/** Runs `train` on each fold (one at a time) and returns the mean and std of the scores. */
export async function crossValidate<X, Y extends number | string>(options: CrossValidateOptions<X, Y>): Promise<CrossValidateResult> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, CROSS_VALIDATE_KEYS, 'crossValidate');
  const { x, y, train, trial } = options;
  if (!Array.isArray(x) || x.length < 2) throw new InvalidOptionError('x', 'an array of at least 2 examples', x);
  if (!Array.isArray(y) || y.length !== x.length) throw new InvalidOptionError('y', `an array of ${x.length} labels`, y);
  if (typeof train !== 'function') throw new InvalidOptionError('train', 'a function (fold, foldIndex) => score', train);
  if (trial !== undefined && (trial === null || typeof trial.report !== 'function')) {
    throw new InvalidOptionError('trial', 'a live Trial', trial);
  }
  const stratified = options.stratified ?? true;
  if (typeof stratified !== 'boolean') throw new InvalidOptionError('stratified', 'a boolean', stratified);
  const folds = kFoldSplit({ n: x.length, k: options.k ?? 5, seed: options.seed, y: stratified ? y : undefined });

  const scores: number[] = [];
  // Steps the trial held before (a caller's own reports): only steps appearing during the folds
  // are checked against the ones reported here.
  const earlier = trial === undefined ? null : new Set(Object.keys(trial.intermediateValues));
  for (let f = 0; f < folds.length; f++) {
    const { trainIndex, testIndex } = folds[f];
    const score = await train(
      {
        xTrain: trainIndex.map((i) => x[i]),
        yTrain: trainIndex.map((i) => y[i]),
        xTest: testIndex.map((i) => x[i]),
        yTest: testIndex.map((i) => y[i]),
        trainIndex,
        testIndex,
      },
      f,
    );
    if (typeof score !== 'number') throw new InvalidOptionError('train', 'a function returning a number', `a ${typeof score} for fold ${f}`);
    scores.push(score);
    if (trial !== undefined) {
      const step = f + 1;
      checkNoForeignReports(trial, earlier as Set<string>, f);
      await trial.report(step, mean(scores));
      if (f + 1 < folds.length && (await trial.shouldPrune())) {
        throw new TrialPrunedError(`trial was pruned after fold ${step} of ${folds.length}`);
      }
    }
  }
  const m = mean(scores);
  const variance = scores.reduce((s, v) => s + (v - m) ** 2, 0) / scores.length;
  return { mean: m, std: Math.sqrt(variance), scores };
}

/**
 * Refuses reports to the trial made during the folds by anyone but crossValidate (a fold's fit
 * with `pruningCallback(trial)`, say): their per-epoch steps would collide with the fold steps 1..k,
 * later reports of a step would be dropped (DUPLICATE_REPORT_STEP) and the pruner would judge a
 * mixed curve.
 */
function checkNoForeignReports(trial: Trial, earlier: ReadonlySet<string>, foldsDone: number): void {
  const foreign = Object.keys(trial.intermediateValues)
    .filter((key) => !earlier.has(key) && !(Number(key) >= 1 && Number(key) <= foldsDone))
    .map(Number)
    .sort((a, b) => a - b);
  if (foreign.length === 0) return;
  throw new InvalidOptionError(
    'trial',
    'a trial only crossValidate reports to: crossValidate reports the running mean per fold at steps 1..k, so ' +
      "give the trial either to crossValidate or to the folds' training (pruningCallback), not both",
    `one that the training of fold ${foldsDone + 1} also reported to, at steps ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}`,
  );
}

/** Options of `trainTestSplit`. */
export interface TrainTestSplitOptions<X, Y extends number | string> {
  readonly x: readonly X[];
  readonly y: readonly Y[];
  /** Fraction of examples held out, in (0, 1) (default 0.2). */
  readonly testFraction?: number;
  /** Stratify by y (default true; every class needs >= 2 examples). Set false for continuous targets. */
  readonly stratified?: boolean;
  readonly seed?: number;
}

const TRAIN_TEST_SPLIT_KEYS = optionKeys<TrainTestSplitOptions<unknown, number>>()(['x', 'y', 'testFraction', 'stratified', 'seed']);

/** One seeded hold-out split (stratified by default), in seeded order. */
export function trainTestSplit<X, Y extends number | string>(options: TrainTestSplitOptions<X, Y>): Omit<FoldData<X, Y>, 'trainIndex' | 'testIndex'> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, TRAIN_TEST_SPLIT_KEYS, 'trainTestSplit');
  const { x, y } = options;
  if (!Array.isArray(x) || x.length < 2) throw new InvalidOptionError('x', 'an array of at least 2 examples', x);
  if (!Array.isArray(y) || y.length !== x.length) throw new InvalidOptionError('y', `an array of ${x.length} labels`, y);
  const fraction = options.testFraction ?? 0.2;
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) throw new InvalidOptionError('testFraction', 'a number in (0, 1)', fraction);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError('seed', 'a safe integer', seed);
  const n = x.length;
  const nTest = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const rng = new Rng(seed);
  let order: number[];
  const stratified = options.stratified ?? true;
  if (typeof stratified !== 'boolean') throw new InvalidOptionError('stratified', 'a boolean', stratified);
  if (stratified) {
    // Classes interleaved proportionally: sort by (rank within class / class size), so any prefix
    // holds each class in proportion to within one.
    const byClass = new Map<string, number[]>();
    y.forEach((label, i) => {
      const key = `${typeof label}:${String(label)}`;
      const list = byClass.get(key) ?? [];
      list.push(i);
      byClass.set(key, list);
    });
    // As scikit-learn's train_test_split: a class of one example cannot be split. Such classes all
    // share the key 0.5 and would be ordered by label, so continuous targets (one class per value)
    // would put the smallest values in the test set whatever the seed.
    for (const [key, members] of byClass) {
      if (members.length < 2) {
        throw new InvalidOptionError(
          'y',
          'labels with at least 2 examples in every class to stratify (continuous targets: stratified: false)',
          `class ${key.slice(key.indexOf(':') + 1)} with 1 example`,
        );
      }
    }
    const keyed: [number, number, number][] = [];
    let classRank = 0;
    for (const key of [...byClass.keys()].sort()) {
      const members = byClass.get(key)!;
      const perm = rng.split(`class:${key}`).permutation(members.length);
      perm.forEach((p, rank) => keyed.push([(rank + 0.5) / members.length, classRank, members[p]]));
      classRank++;
    }
    keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    order = keyed.map((entry) => entry[2]);
  } else {
    order = rng.split('split').permutation(n);
  }
  const test = order.slice(0, nTest);
  const trainIdx = rng.split('train-order').shuffle(order.slice(nTest));
  return {
    xTrain: trainIdx.map((i) => x[i]),
    yTrain: trainIdx.map((i) => y[i]),
    xTest: test.map((i) => x[i]),
    yTest: test.map((i) => y[i]),
  };
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}
