/**
 * Every options object of `kestrel/tfjs` refuses a name it does not know, as the core library's do:
 * `trainTestSplit({x, y, testSize: 0.5})` (scikit-learn's name) silently held out the default 20%.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { createStudy } from '../../src/study/create-study.js';
import {
  buildModel,
  crossValidate,
  detectGpus,
  detectWorkerGpus,
  fitWithPruning,
  kFoldSplit,
  loadDigits,
  loadIris,
  pruningCallback,
  runTrialsInProcesses,
  selectTfBackend,
  suggestModelParams,
  tfObjective,
  toTensors,
  trainTestSplit,
  withTensorGuard,
} from '../../src/tfjs/index.js';

describe('kestrel/tfjs options', () => {
  it.each<[string, (extra: Record<string, unknown>) => unknown, string]>([
    ['kFoldSplit', (o) => kFoldSplit({ n: 10, k: 3, ...o } as never), 'shuffle'],
    ['crossValidate', (o) => crossValidate({ x: [1, 2, 3, 4], y: [0, 1, 0, 1], k: 2, train: () => 1, ...o } as never), 'nSplits'],
    ['trainTestSplit', (o) => trainTestSplit({ x: [1, 2, 3, 4], y: [0, 1, 0, 1], ...o } as never), 'testSize'],
    ['loadDigits', (o) => loadDigits({ n: 10, ...o } as never), 'nSamples'],
    ['toTensors', (o) => toTensors({ x: [[1]], y: [0], nClasses: 2, ...o } as never), 'numClasses'],
    ['buildModel', (o) => buildModel({} as never, { inputShape: [4], nClasses: 3, ...o } as never), 'classes'],
    ['fitWithPruning', (o) => fitWithPruning({ ...o } as never), 'epochs'],
    ['withTensorGuard', (o) => withTensorGuard(() => 1, { ...o } as never), 'warnOnLeaks'],
    ['tfObjective', (o) => tfObjective(() => 1, { ...o } as never), 'prefer'],
    ['tfObjective backend', (o) => tfObjective(() => 1, { backend: { ...o } } as never), 'preferred'],
    ['selectTfBackend', (o) => selectTfBackend({ ...o } as never), 'preference'],
    ['detectGpus', (o) => detectGpus({ ...o } as never), 'timeout'],
    ['detectWorkerGpus', (o) => detectWorkerGpus({ ...o } as never), 'environment'],
  ])('%s refuses an unknown option, naming it', async (_name, call, key) => {
    let error: unknown;
    try {
      await call({ [key]: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(key);
  });

  it('suggestModelParams, pruningCallback and runTrialsInProcesses refuse an unknown option, naming it', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    expect(() => suggestModelParams(trial, { range: {} } as never)).toThrow(/option "range"/);
    expect(() => pruningCallback(trial, { patience: 2 } as never)).toThrow(/option "patience"/);
    await expect(
      runTrialsInProcesses({ study, objectiveModule: new URL(import.meta.url).pathname, nTrials: 1, nJobs: 2 } as never),
    ).rejects.toThrow(/option "nJobs"/);
    expect(await study.getTrials()).toHaveLength(1);
  });

  it('refuses a tf option that is not a TensorFlow.js module, as tfObjective does', async () => {
    // Only tfObjective checked it: the others threw TypeErrors ("tf.sequential is not a function").
    const study = await createStudy();
    const trial = await study.ask();
    const params = {
      nLayers: 1, units: [2], activation: 'relu', dropout: 0, batchNorm: false, optimizer: 'adam', learningRate: 0.1,
      momentum: 0, lrSchedule: 'constant', lrDecayRate: 1, lrDecayEpochs: 1, batchSize: 2, epochs: 1, weightDecay: 0,
    } as const;
    const model = { fit: () => Promise.resolve({}) };
    const calls: [string, (tf: unknown) => unknown][] = [
      ['buildModel', (tf) => buildModel(params, { inputShape: [4], nClasses: 2, tf } as never)],
      ['toTensors', (tf) => toTensors({ x: [[1]], y: [0], nClasses: 2, tf } as never)],
      ['pruningCallback', (tf) => pruningCallback(trial, { tf } as never)],
      ['fitWithPruning', (tf) => fitWithPruning({ model, x: [], y: [], trial, tf } as never)],
      ['withTensorGuard', (tf) => withTensorGuard(() => 1, { tf } as never)],
      ['tfObjective', (tf) => tfObjective(() => 1, { tf } as never)],
    ];
    for (const [name, call] of calls) {
      for (const tf of [{}, 'tf', null]) {
        let error: unknown;
        try {
          await call(tf);
        } catch (e) {
          error = e;
        }
        expect(error, `${name} ${JSON.stringify(tf)}`).toBeInstanceOf(InvalidOptionError);
        expect((error as InvalidOptionError).option).toBe('tf');
      }
    }
  });

  it('still accepts every documented option', () => {
    const iris = loadIris();
    expect(trainTestSplit({ x: iris.x, y: iris.y, testFraction: 0.5, stratified: true, seed: 1 }).xTest).toHaveLength(75);
    expect(kFoldSplit({ n: 10, k: 3, y: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], seed: 2 })).toHaveLength(3);
    expect(loadDigits({ n: 10, seed: 3 }).x).toHaveLength(10);
  });
});

describe('trainTestSplit stratified', () => {
  it('refuses a value that is not a boolean, as crossValidate does', () => {
    // stratified: 'false' was truthy: the split stratified, and continuous targets were refused.
    const x = [1, 2, 3, 4, 5, 6];
    const y = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    for (const stratified of ['false', 0]) {
      expect(() => trainTestSplit({ x, y, stratified } as never)).toThrow(/option "stratified": expected a boolean/);
    }
    expect(trainTestSplit({ x, y, stratified: false }).xTest).toHaveLength(1);
  });
});
