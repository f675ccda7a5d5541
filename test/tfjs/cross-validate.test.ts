import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import type { Pruner } from '../../src/pruners/pruner.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import { crossValidate, kFoldSplit, trainTestSplit } from '../../src/tfjs/cross-validate.js';

/** Labels with unequal classes: 23 of class 0, 11 of class 1, 7 of class 2, shuffled deterministically. */
function labels(): number[] {
  const y = [...Array(23).fill(0), ...Array(11).fill(1), ...Array(7).fill(2)] as number[];
  return y.map((v, i) => [v, (i * 17) % 41] as const).sort((a, b) => a[1] - b[1]).map((p) => p[0]);
}

function count(values: readonly number[], of: number): number {
  return values.filter((v) => v === of).length;
}

describe('kFoldSplit', () => {
  for (const stratified of [false, true]) {
    it(`${stratified ? 'stratified' : 'plain'}: folds are disjoint, cover every index, and differ in size by <= 1`, () => {
      const y = labels();
      for (const k of [2, 3, 5, 7]) {
        const folds = kFoldSplit({ n: y.length, k, seed: 3, y: stratified ? y : undefined });
        expect(folds).toHaveLength(k);
        const all = folds.flatMap((f) => f.testIndex).sort((a, b) => a - b);
        expect(all).toEqual(y.map((_, i) => i)); // covering, and disjoint (no duplicates)
        for (const fold of folds) {
          expect([...fold.trainIndex, ...fold.testIndex].sort((a, b) => a - b)).toEqual(all);
          expect(fold.trainIndex.some((i) => fold.testIndex.includes(i))).toBe(false);
        }
        const sizes = folds.map((f) => f.testIndex.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    });
  }

  it('stratified: each class is spread over the folds within one example (proportions within +-1)', () => {
    const y = labels();
    for (const k of [2, 3, 5]) {
      const folds = kFoldSplit({ n: y.length, k, seed: 11, y });
      for (const cls of [0, 1, 2]) {
        const total = count(y, cls);
        for (const fold of folds) {
          const inFold = count(fold.testIndex.map((i) => y[i]), cls);
          const expected = (total * fold.testIndex.length) / y.length;
          expect(Math.abs(inFold - expected)).toBeLessThanOrEqual(1);
          expect(inFold === Math.floor(total / k) || inFold === Math.ceil(total / k)).toBe(true);
        }
      }
    }
  });

  it('is deterministic in the seed', () => {
    const y = labels();
    expect(kFoldSplit({ n: 41, k: 5, seed: 1, y })).toEqual(kFoldSplit({ n: 41, k: 5, seed: 1, y }));
    expect(kFoldSplit({ n: 41, k: 5, seed: 1, y })).not.toEqual(kFoldSplit({ n: 41, k: 5, seed: 2, y }));
    expect(() => kFoldSplit({ n: 4, k: 5 })).toThrow(/option "k"/);
    expect(() => kFoldSplit({ n: 4, k: 2, y: [0, 1] })).toThrow(InvalidOptionError);
  });
});

describe('stratification of continuous targets (one class per value)', () => {
  // 100 distinct values in [0, 10), in no particular order.
  const y = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) / 10 + 0.01 * (i % 7));
  const x = y.map((_, i) => i);

  it('trainTestSplit refuses to stratify (it held out the smallest values whatever the seed)', () => {
    expect(() => trainTestSplit({ x, y, testFraction: 0.2, seed: 1 })).toThrow(InvalidOptionError);
    expect(() => trainTestSplit({ x, y, testFraction: 0.2, seed: 1 })).toThrow(/option "y"/);
    expect(() => trainTestSplit({ x: [1, 2, 3, 4, 5], y: [0, 0, 1, 1, 2] })).toThrow(/class 2 with 1 example/);
    // Not stratified: a seeded random hold-out, different per seed.
    const a = trainTestSplit({ x, y, testFraction: 0.2, seed: 1, stratified: false });
    const b = trainTestSplit({ x, y, testFraction: 0.2, seed: 2, stratified: false });
    expect(a.xTest).toHaveLength(20);
    expect(a.xTest).not.toEqual(b.xTest);
  });

  it('kFoldSplit and crossValidate refuse to stratify when no class reaches k examples (the seed was ignored)', async () => {
    expect(() => kFoldSplit({ n: 100, k: 5, seed: 1, y })).toThrow(/option "y"/);
    await expect(crossValidate({ x, y, k: 5, seed: 1, train: () => 0 })).rejects.toThrow(InvalidOptionError);
    const r = await crossValidate({ x, y, k: 5, seed: 1, stratified: false, train: () => 0 });
    expect(r.scores).toHaveLength(5);
    expect(kFoldSplit({ n: 100, k: 5, seed: 1 })).not.toEqual(kFoldSplit({ n: 100, k: 5, seed: 2 }));
    // One class with k examples is enough (classes smaller than k are spread over some folds).
    expect(kFoldSplit({ n: 7, k: 3, y: [0, 0, 0, 1, 2, 3, 4] })).toHaveLength(3);
  });
});

describe('crossValidate', () => {
  it('returns mean, population std and the fold scores', async () => {
    const y = labels();
    const x = y.map((_, i) => i);
    const result = await crossValidate({
      x, y, k: 4, seed: 5,
      // Score = fraction of class-0 test examples: deterministic given the folds.
      train: (fold) => count(fold.yTest, 0) / fold.yTest.length,
    });
    const folds = kFoldSplit({ n: y.length, k: 4, seed: 5, y });
    const expected = folds.map((f) => count(f.testIndex.map((i) => y[i]), 0) / f.testIndex.length);
    expect(result.scores).toEqual(expected);
    const mean = expected.reduce((s, v) => s + v, 0) / 4;
    expect(result.mean).toBeCloseTo(mean, 14);
    expect(result.std).toBeCloseTo(Math.sqrt(expected.reduce((s, v) => s + (v - mean) ** 2, 0) / 4), 14);
  });

  it('reports running means per fold and stops a pruned trial after the bad fold', async () => {
    // Prunes once the running mean exceeds 10.
    const pruner: Pruner = {
      name: 'mean-above-10',
      prune: (_s, trial) => Object.values(trial.intermediateValues).some((v) => v > 10),
    };
    const study = await createStudy({ storage: new InMemoryStorage(), pruner });
    const y = labels();
    const x = y.map((_, i) => i);
    const scoresByFold = [4, 30, 1, 1, 1];
    const trained: number[] = [];
    await study.optimize(
      async (trial) => {
        const r = await crossValidate({ x, y, k: 5, trial, train: (_f, i) => (trained.push(i), scoresByFold[i]) });
        return r.mean;
      },
      { nTrials: 1 },
    );
    const [t] = await study.getTrials();
    expect(t.state).toBe('PRUNED');
    expect(trained).toEqual([0, 1]); // folds 3..5 never ran
    expect(t.intermediateValues).toEqual({ 1: 4, 2: 17 });
  });

  it('refuses a train function that reports to the same trial (per-epoch steps would collide with the fold steps)', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const y = labels();
    const x = y.map((_, i) => i);
    await expect(
      study.optimize(
        async (trial) => {
          // As pruningCallback(trial) inside each fold's fit would: epochs 0..2 reported as steps.
          const r = await crossValidate({
            x,
            y,
            k: 3,
            trial,
            train: async () => {
              for (let epoch = 0; epoch < 3; epoch++) await trial.report(epoch, 0.5);
              return 0.5;
            },
          });
          return r.mean;
        },
        { nTrials: 1, catch: 'none' },
      ),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(/crossValidate reports .* per fold.*steps 0, 1, 2/s) });
    const [t] = await study.getTrials();
    expect(t.state).toBe('FAIL');
  });
});

describe('trainTestSplit', () => {
  it('holds out a stratified fraction, disjoint from the training part', () => {
    const y = labels();
    const x = y.map((_, i) => i);
    const split = trainTestSplit({ x, y, testFraction: 0.3, seed: 2 });
    expect(split.xTest).toHaveLength(12);
    expect([...split.xTrain, ...split.xTest].sort((a, b) => a - b)).toEqual(x);
    for (const cls of [0, 1, 2]) {
      expect(Math.abs(count(split.yTest, cls) - (count(y, cls) * 12) / 41)).toBeLessThanOrEqual(1);
    }
    expect(split.xTrain.map((i) => y[i])).toEqual(split.yTrain);
  });
});
