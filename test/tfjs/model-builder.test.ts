import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, SearchSpaceError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import { selectTfBackend } from '../../src/tfjs/backend.js';
import { toTensors } from '../../src/tfjs/datasets.js';
import {
  buildModel,
  getLearningRate,
  learningRateScheduler,
  scheduledLearningRate,
  suggestModelParams,
  type ModelParams,
} from '../../src/tfjs/model-builder.js';
import { blobs } from './helpers.js';

beforeAll(async () => {
  await selectTfBackend({ prefer: 'cpu' });
});

const base: ModelParams = {
  nLayers: 2,
  units: [8, 4],
  activation: 'relu',
  dropout: 0.25,
  batchNorm: true,
  optimizer: 'sgd',
  learningRate: 0.1,
  momentum: 0.9,
  lrSchedule: 'step',
  lrDecayRate: 0.5,
  lrDecayEpochs: 2,
  batchSize: 16,
  epochs: 5,
  weightDecay: 1e-3,
};

function layerKinds(model: tf.Sequential): string[] {
  return model.layers.map((l) => l.getClassName());
}

describe('buildModel', () => {
  it('builds a dense stack with batch norm, dropout, L2 and SGD with momentum', () => {
    const built = buildModel(base, { inputShape: [4], nClasses: 3, seed: 1 });
    expect(layerKinds(built.model)).toEqual([
      'Dense', 'BatchNormalization', 'Dropout', 'Dense', 'BatchNormalization', 'Dropout', 'Dense',
    ]);
    const dense = built.model.layers.filter((l) => l.getClassName() === 'Dense');
    expect(dense.map((l) => (l.getConfig() as { units: number }).units)).toEqual([8, 4, 3]);
    expect((dense[0].getConfig() as { kernelRegularizer: { config: { l2: number } } }).kernelRegularizer.config.l2).toBeCloseTo(1e-3, 9);
    expect(built.model.optimizer.getClassName()).toBe('Momentum');
    expect(getLearningRate(built.model.optimizer)).toBe(0.1);
    expect(built.fitArgs.batchSize).toBe(16);
    expect(built.fitArgs.epochs).toBe(5);
    expect(built.fitArgs.callbacks).toHaveLength(1);
    built.dispose();
  });

  it('builds a conv stack from a flat square input, with Adam and no schedule', () => {
    const params: ModelParams = { ...base, units: [4, 6], batchNorm: false, dropout: 0, optimizer: 'adam', lrSchedule: 'constant', weightDecay: 0 };
    const built = buildModel(params, { inputShape: [64], nClasses: 10, kind: 'conv', seed: 2 });
    expect(layerKinds(built.model)).toEqual(['Reshape', 'Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']);
    expect(built.model.outputs[0].shape).toEqual([null, 10]);
    expect(built.model.optimizer.getClassName()).toBe('Adam');
    expect(built.fitArgs.callbacks).toHaveLength(0);
    const out = built.model.predict(tf.zeros([2, 64])) as tf.Tensor;
    expect(out.shape).toEqual([2, 10]);
    expect(Array.from(out.sum(1).dataSync()).every((s) => Math.abs(s - 1) < 1e-5)).toBe(true); // softmax rows, tol 1e-5
    tf.dispose(out);
    built.dispose();
  });

  it('applies the learning-rate schedule at the start of each epoch', async () => {
    const { x, y } = blobs(32, 4);
    const { xs, ys } = toTensors({ x, y, nClasses: 2 });
    for (const [schedule, optimizer] of [['step', 'sgd'], ['exponential', 'rmsprop']] as const) {
      const params: ModelParams = { ...base, lrSchedule: schedule, optimizer, momentum: 0, epochs: 5 };
      const built = buildModel(params, { inputShape: [4], nClasses: 2, seed: 3 });
      const seen: number[] = [];
      await built.model.fit(xs, ys, {
        ...built.fitArgs,
        verbose: 0,
        shuffle: false,
        callbacks: [...built.fitArgs.callbacks, new tf.CustomCallback({ onEpochBegin: async () => void seen.push(getLearningRate(built.model.optimizer)) })],
      });
      const expected = [0, 1, 2, 3, 4].map((e) => scheduledLearningRate(params, e));
      expect(seen).toEqual(expected);
      built.dispose();
    }
    expect(scheduledLearningRate(base, 0)).toBe(0.1);
    expect(scheduledLearningRate(base, 3)).toBeCloseTo(0.05, 15);
    expect(scheduledLearningRate({ ...base, lrSchedule: 'exponential' }, 3)).toBeCloseTo(0.1 * 0.125, 15);
    tf.dispose([xs, ys]);
  });

  it('with a seed, draws a new dropout mask at every training step (seeded initial weights)', () => {
    // tfjs re-seeds a seeded dropout on every call: one mask for every batch of the whole training,
    // a fixed thinned network rather than dropout.
    const params: ModelParams = { ...base, nLayers: 1, units: [64], dropout: 0.5, batchNorm: false };
    const masks = (seed: number): string[] => {
      const built = buildModel(params, { inputShape: [4], nClasses: 2, seed });
      const dropout = built.model.layers.find((l) => l.getClassName() === 'Dropout')!;
      const out = [0, 1, 2].map(() =>
        tf.tidy(() => Array.from((dropout.apply(tf.ones([1, 64]), { training: true }) as tf.Tensor).dataSync(), (v) => (v > 0 ? 1 : 0)).join('')),
      );
      built.dispose();
      return out;
    };
    const m = masks(5);
    expect(new Set(m).size).toBe(3); // 3 masks of 64 units: equal ones by chance have probability ~2^-64
    const weights = (): number[] => {
      const built = buildModel(params, { inputShape: [4], nClasses: 2, seed: 5 });
      const w = Array.from(built.model.layers[0].getWeights()[0].dataSync());
      built.dispose();
      return w;
    };
    expect(weights()).toEqual(weights());
  });

  it('refuses a missing source (no trial, no params) with InvalidOptionError', () => {
    // isTrial read .suggestFloat of it: a TypeError.
    for (const source of [null, undefined, 3]) {
      expect(() => buildModel(source as never, { inputShape: [4], nClasses: 3 })).toThrow(InvalidOptionError);
      expect(() => buildModel(source as never, { inputShape: [4], nClasses: 3 })).toThrow(/option "params"/);
    }
  });

  it('scheduledLearningRate and learningRateScheduler refuse a bad schedule instead of training with a NaN rate', () => {
    // lrDecayEpochs: 0 gave lr = 0.1 * 0.5^(0 / 0) = NaN at epoch 0 (NaN weights after one step);
    // an unknown schedule gave undefined.
    const good = { learningRate: 0.1, lrSchedule: 'step', lrDecayRate: 0.5, lrDecayEpochs: 2 } as const;
    const cases: [Record<string, unknown>, string][] = [
      [{ lrDecayEpochs: 0 }, 'params.lrDecayEpochs'],
      [{ lrSchedule: 'cosine' }, 'params.lrSchedule'],
      [{ lrDecayRate: 0 }, 'params.lrDecayRate'],
      [{ learningRate: -1 }, 'params.learningRate'],
    ];
    for (const [bad, option] of cases) {
      const params = { ...good, ...bad } as never;
      expect(() => scheduledLearningRate(params, 0)).toThrow(new RegExp(`option "${option.replace('.', '\\.')}"`));
      expect(() => learningRateScheduler(tf, params)).toThrow(InvalidOptionError);
    }
    expect(() => scheduledLearningRate(good, -1)).toThrow(/option "epoch"/);
    expect(scheduledLearningRate(good, 2)).toBeCloseTo(0.05, 15);
  });

  it('validates parameters and options, naming the field', () => {
    expect(() => buildModel({ ...base, units: [8] }, { inputShape: [4], nClasses: 3 })).toThrow(/option "params.units"/);
    expect(() => buildModel({ ...base, dropout: 1 }, { inputShape: [4], nClasses: 3 })).toThrow(/option "params.dropout"/);
    expect(() => buildModel({ ...base, optimizer: 'lion' as never }, { inputShape: [4], nClasses: 3 })).toThrow(InvalidOptionError);
    expect(() => buildModel(base, { inputShape: [4], nClasses: 1 })).toThrow(/option "nClasses"/);
    expect(() => buildModel(base, { inputShape: [5], nClasses: 2, kind: 'conv' })).toThrow(/option "inputShape"/);
  });
});

describe('suggestModelParams', () => {
  it('suggests from default ranges, conditionally, and keeps fixed values out of the trial', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 9 }) });
    for (let i = 0; i < 8; i++) {
      const trial = await study.ask();
      const params = suggestModelParams(trial, { ranges: { nLayers: { low: 1, high: 2 }, batchSize: 32, epochs: 3 } });
      expect(params.units).toHaveLength(params.nLayers);
      expect(params.batchSize).toBe(32);
      expect(params.epochs).toBe(3);
      const names = Object.keys(trial.params);
      expect(names).not.toContain('batchSize');
      expect(names).not.toContain('epochs');
      expect(names.includes('momentum')).toBe(params.optimizer === 'sgd');
      expect(names.includes('lrDecayEpochs')).toBe(params.lrSchedule === 'step');
      expect(names.includes('lrDecayRate')).toBe(params.lrSchedule !== 'constant');
      for (let l = 0; l < params.nLayers; l++) expect(trial.params[`units${l}`]).toBe(params.units[l]);
      expect(params.learningRate).toBeGreaterThanOrEqual(1e-4);
      expect(params.learningRate).toBeLessThanOrEqual(1e-1);
      await study.tell(trial, 0);
    }
  });

  it('refuses a ranges key it does not know, instead of silently using the default range', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const trial = await study.ask();
    // Optuna-style or misspelt names: the default learning-rate range would be tuned instead.
    for (const ranges of [{ learningrate: { low: 1e-3, high: 1e-2 } }, { learning_rate: 0.01 }, { lr: 0.01 }]) {
      expect(() => suggestModelParams(trial, { ranges: ranges as never })).toThrow(InvalidOptionError);
      expect(() => buildModel(trial, { inputShape: [4], nClasses: 2, ranges: ranges as never })).toThrow(/option "(learningrate|learning_rate|lr)"/);
    }
    expect(() => suggestModelParams(trial, { ranges: null as never })).toThrow(/option "ranges"/);
    expect(Object.keys(trial.params)).toEqual([]);
  });

  it('checks every choice and range bound of ranges up front, naming the ranges entry', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const cases: [Record<string, unknown>, RegExp][] = [
      // A choice outside the domain would fail only the trials that draw it.
      [{ activation: ['relu', 'gelu'] }, /option "ranges\.activation"/],
      [{ optimizer: ['adamw', 'sgd'] }, /option "ranges\.optimizer"/],
      [{ batchSize: [32, 0] }, /option "ranges\.batchSize"/],
      [{ dropout: { low: 0, high: 1 } }, /option "ranges\.dropout"/],
      [{ learningRate: { low: -1, high: 1 } }, /option "ranges\.learningRate"/],
      [{ momentum: { low: 0.5, high: 1.5 } }, /option "ranges\.momentum"/],
      // Fixed values and ranges of the wrong shape name the ranges entry, not params.
      [{ activation: 'gelu' }, /option "ranges\.activation"/],
      [{ batchSize: { low: 16, high: 128 } }, /option "ranges\.batchSize"/],
      [{ nLayers: 0 }, /option "ranges\.nLayers"/],
      [{ units: [16, 32] }, /option "ranges\.units"/],
    ];
    for (const [ranges, message] of cases) {
      for (let i = 0; i < 4; i++) {
        const trial = await study.ask();
        expect(() => suggestModelParams(trial, { ranges: ranges as never })).toThrow(message);
        await study.tell(trial, { state: 'FAIL' });
      }
    }
  });

  it('checks the bounds, log and step of conditional ranges up front, not only in the trials that draw them', async () => {
    // momentum is suggested only with sgd, lrDecayRate only with a schedule, lrDecayEpochs only with
    // 'step': a bad range there failed only those trials, and the others ran as if it were fine.
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ optimizer: ['adam', 'sgd'], momentum: { low: 0.9, high: 0.1 } }, /parameter "momentum": low \(0.9\) must be <= high/],
      [{ optimizer: ['adam', 'sgd'], momentum: { low: 0, high: 0.9, log: true } }, /parameter "momentum": log: true needs low > 0/],
      [{ lrSchedule: ['constant', 'exponential'], lrDecayRate: { low: 0.9, high: 0.5 } }, /parameter "lrDecayRate"/],
      [{ lrSchedule: ['constant', 'step'], lrDecayEpochs: { low: 1, high: 10, step: 2 } }, /parameter "lrDecayEpochs": step 2 does not divide/],
      [{ nLayers: { low: 1, high: 2 }, units: { low: 64, high: 16 } }, /parameter "units"/],
    ];
    for (const [ranges, message] of cases) {
      for (let i = 0; i < 6; i++) {
        const trial = await study.ask();
        expect(() => suggestModelParams(trial, { ranges: ranges as never })).toThrow(SearchSpaceError);
        expect(() => suggestModelParams(trial, { ranges: ranges as never })).toThrow(message);
        expect(Object.keys(trial.params)).toEqual([]);
        await study.tell(trial, { state: 'FAIL' });
      }
    }
  });

  it('refuses a key a range does not know, instead of ignoring it', async () => {
    // {low, high, logg: true} was tuned on a linear scale, {low, high, step} on a continuous one,
    // where trial.suggestInt / suggestFloat themselves refuse such keys.
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const trial = await study.ask();
    const cases: [Record<string, unknown>, string][] = [
      [{ units: { low: 16, high: 256, logg: true } }, 'logg'],
      [{ learningRate: { low: 1e-3, high: 1e-1, step: 1e-3 } }, 'step'],
      [{ lrDecayEpochs: { low: 1, high: 9, Step: 2 } }, 'Step'],
    ];
    for (const [ranges, key] of cases) {
      expect(() => suggestModelParams(trial, { ranges: ranges as never })).toThrow(InvalidOptionError);
      expect(() => suggestModelParams(trial, { ranges: ranges as never })).toThrow(new RegExp(`option "${key}"`));
    }
    expect(Object.keys(trial.params)).toEqual([]);
    expect(suggestModelParams(trial, { ranges: { units: { low: 16, high: 256, log: true }, lrDecayEpochs: { low: 1, high: 9, step: 2 } } }).nLayers).toBeGreaterThan(0);
  });

  it('builds straight from a trial (conv: filters<i>)', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const trial = await study.ask();
    const built = buildModel(trial, { inputShape: [8, 8, 1], nClasses: 2, kind: 'conv', ranges: { nLayers: 1, filters: { low: 2, high: 4 } } });
    expect(Object.keys(trial.params)).toContain('filters0');
    expect(built.params.units[0]).toBe(trial.params.filters0);
    built.dispose();
  });
});

describe('BuiltModel.dispose', () => {
  it('releases the model and its optimizer state for every optimizer', async () => {
    const { x, y } = blobs(16, 5);
    const { xs, ys } = toTensors({ x, y, nClasses: 2 });
    const before = tf.memory().numTensors;
    for (const [optimizer, momentum] of [['sgd', 0], ['sgd', 0.9], ['adam', 0], ['rmsprop', 0]] as const) {
      const built = buildModel({ ...base, optimizer, momentum, batchNorm: false }, { inputShape: [4], nClasses: 2, seed: 1 });
      await built.model.fit(xs, ys, { ...built.fitArgs, epochs: 2, verbose: 0, shuffle: false });
      built.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([xs, ys]);
  });
});
