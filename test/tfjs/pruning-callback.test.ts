import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InterruptedError, InvalidOptionError, TrialPrunedError } from '../../src/errors.js';
import { NopPruner, type Pruner } from '../../src/pruners/pruner.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import { selectTfBackend } from '../../src/tfjs/backend.js';
import { toTensors } from '../../src/tfjs/datasets.js';
import { fitWithPruning, pruningCallback } from '../../src/tfjs/pruning-callback.js';
import { tfObjective } from '../../src/tfjs/tf-objective.js';
import { blobs, pruneAtStep, tinyModel } from './helpers.js';

beforeAll(async () => {
  await selectTfBackend({ prefer: 'cpu' });
});

const data = blobs(40, 2);
const fitArgs = { epochs: 4, batchSize: 10, validationSplit: 0.25, verbose: 0, shuffle: false } as const;

describe('pruningCallback', () => {
  it('reports the monitored metric at step = epochs completed and records the backend', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), pruner: new NopPruner() });
    const trial = await study.ask();
    const model = tinyModel();
    const { xs, ys } = toTensors({ ...data, nClasses: 2 });
    const seenByUser: number[] = [];
    const history = await fitWithPruning({
      model, x: xs, y: ys, trial,
      // A plain config callback next to the pruning one keeps working.
      fitArgs: { ...fitArgs, callbacks: { onEpochEnd: async (epoch) => void seenByUser.push(epoch) } },
    });
    expect(seenByUser).toEqual([0, 1, 2, 3]);
    const valLoss = history.history.val_loss as number[];
    expect(valLoss).toHaveLength(4);
    await study.tell(trial, valLoss[3]);
    const stored = (await study.getTrials())[0];
    expect(stored.intermediateValues).toEqual({ 1: valLoss[0], 2: valLoss[1], 3: valLoss[2], 4: valLoss[3] });
    expect(stored.userAttrs.tfjs_backend).toBe('cpu');
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('stops the fit when the pruner says so and fitWithPruning throws TrialPrunedError', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), pruner: pruneAtStep(2) });
    const trial = await study.ask();
    const model = tinyModel();
    const { xs, ys } = toTensors({ ...data, nClasses: 2 });
    const epochs: number[] = [];
    const error = await fitWithPruning({
      model, x: xs, y: ys, trial, monitor: 'val_accuracy',
      fitArgs: { ...fitArgs, epochs: 10, callbacks: [new tf.CustomCallback({ onEpochEnd: async (e) => void epochs.push(e) })] },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrialPrunedError);
    expect((error as Error).message).toBe('trial was pruned at step 2');
    expect(epochs).toEqual([0, 1]); // stopped after the second epoch, not 10
    expect(model.stopTraining).toBe(true);
    await study.tell(trial, { state: 'PRUNED' });
    const stored = (await study.getTrials())[0];
    expect(stored.state).toBe('PRUNED');
    expect(Object.keys(stored.intermediateValues)).toEqual(['1', '2']);
    // val_accuracy is tfjs's val_acc, a fraction of the 10 validation examples.
    for (const v of Object.values(stored.intermediateValues)) expect(Math.round(v * 10)).toBeCloseTo(v * 10, 6);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('reports every `interval` epochs and names a missing monitor', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const trial = await study.ask();
    const model = tinyModel();
    const { xs, ys } = toTensors({ ...data, nClasses: 2 });
    const callback = pruningCallback(trial, { monitor: 'loss', interval: 2 });
    await model.fit(xs, ys, { ...fitArgs, callbacks: [callback] });
    expect(Object.keys(trial.intermediateValues)).toEqual(['2', '4']);
    expect(callback.pruned).toBe(false);
    expect(() => callback.throwIfPruned()).not.toThrow();

    const bad = pruningCallback(trial, { monitor: 'val_f1' });
    const error = await model.fit(xs, ys, { ...fitArgs, epochs: 1, callbacks: [bad] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/option "monitor".*val_loss.*received "val_f1"/);
    expect(() => pruningCallback(trial, { interval: 0 })).toThrow(/option "interval"/);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('refuses a val_* monitor (the default) on a fit without validation data before the first batch, leaving no tensor behind', async () => {
    // It threw at the end of the first epoch: an epoch trained for nothing, and the logs tfjs keeps
    // for that epoch stayed allocated (outside tfObjective's guard).
    const study = await createStudy({ storage: new InMemoryStorage() });
    const trial = await study.ask();
    const model = tinyModel();
    const { xs, ys } = toTensors({ ...data, nClasses: 2 });
    const before = tf.memory().numTensors;
    let batches = 0;
    const counter = new tf.CustomCallback({ onBatchEnd: async () => void batches++ });
    const noValidation = { epochs: 2, batchSize: 10, verbose: 0 };
    for (const [monitor, args] of [
      ['val_loss', noValidation],
      ['val_accuracy', noValidation],
    ] as const) {
      const callback = pruningCallback(trial, { monitor });
      const error = await model.fit(xs, ys, { ...args, callbacks: [callback, counter] }).catch((e: unknown) => e);
      expect(error, monitor).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toMatch(new RegExp(`option "monitor".*received "${monitor}"`));
    }
    expect(batches).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    // With validation data it trains; a key another callback adds to the logs can be monitored.
    await model.fit(xs, ys, { ...fitArgs, epochs: 1, callbacks: [pruningCallback(trial, { monitor: 'val_accuracy' })] });
    const addsKey = new tf.CustomCallback({ onEpochEnd: async (_e, logs) => void (logs!.f1 = 0.5) });
    await model.fit(xs, ys, { ...noValidation, epochs: 1, callbacks: [addsKey, pruningCallback(trial, { monitor: 'f1' })] });
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('a fit stopped by an interruption throws InterruptedError instead of returning as if it had finished', async () => {
    // In a trial worker process, an objective returning the truncated fit's loss was recorded
    // COMPLETE (the runner keeps what a process completes after the abort).
    for (const monitor of ['loss', 'val_loss']) {
      const controller = new AbortController();
      // Aborts the run at the second report, as Ctrl-C mid-epoch would.
      const aborter: Pruner = {
        name: 'aborter',
        prune: (_study, trial) => {
          if (Object.keys(trial.intermediateValues).length >= 2) controller.abort();
          return false;
        },
      };
      const study = await createStudy({ storage: new InMemoryStorage(), pruner: aborter });
      const epochs: number[] = [];
      const outcomes: unknown[] = [];
      const objective = tfObjective(
        async ({ trial, tf: tfm }) => {
          const model = tinyModel();
          const { xs, ys } = toTensors({ ...data, nClasses: 2, tf: tfm });
          const fitted = fitWithPruning({
            model, x: xs, y: ys, trial, monitor,
            fitArgs: { ...fitArgs, epochs: 10, callbacks: { onBatchEnd: () => void 0, onEpochEnd: async (e: number) => void epochs.push(e) } },
          });
          outcomes.push(await fitted.catch((e: unknown) => e));
          return 0;
        },
        { tf, warnOnLeak: false },
      );
      const run = await study.optimize(objective, { nTrials: 1, signal: controller.signal, handleSigint: false }).catch((e: unknown) => e);
      expect(run).toBeInstanceOf(InterruptedError);
      // The objective ran on after the interruption was recorded; wait for its fit to settle.
      await expect.poll(() => outcomes.length, { timeout: 5000 }).toBe(1);
      expect(outcomes[0]).toBeInstanceOf(InterruptedError);
      expect(epochs.length).toBeLessThan(10); // the abort stopped the fit
      const [trial] = await study.getTrials();
      expect(Object.keys(trial.intermediateValues)).toEqual(['1', '2']); // no report after the abort
    }
  });

  it('refuses fit arguments given beside fitArgs (a Keras-style epochs), before training', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const trial = await study.ask();
    const model = tinyModel();
    const { xs, ys } = toTensors({ ...data, nClasses: 2 });
    const epochs: number[] = [];
    // As model.fit(x, y, {epochs: 4, ...}) would be written; tfjs would train 1 epoch without it.
    const misplaced = { model, x: xs, y: ys, trial, monitor: 'loss', epochs: 4, fitArgs: { verbose: 0, callbacks: { onEpochEnd: async (e: number) => void epochs.push(e) } } };
    const error = await fitWithPruning(misplaced as Parameters<typeof fitWithPruning>[0]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/option "epochs".*fitArgs/);
    expect(epochs).toEqual([]);
    expect(() => pruningCallback(trial, { monitor: 'loss', intervalSteps: 2 } as never)).toThrow(/option "intervalSteps"/);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('refuses x and y of different sample counts, or that are not tensors, with an InvalidOptionError before training', async () => {
    // These reached model.fit, which threw tfjs's own ValueError (not a KestrelError).
    const study = await createStudy({ storage: new InMemoryStorage() });
    const trial = await study.ask();
    const model = tinyModel();
    const xs = tf.zeros([8, 4]);
    const ys = tf.zeros([6, 2]);
    const scalar = tf.scalar(1);
    const epochs: number[] = [];
    const fit = { verbose: 0, callbacks: { onEpochEnd: async (e: number) => void epochs.push(e) } };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ x: xs, y: ys }, 'y', /8 examples.*6 examples/],
      [{ x: [xs], y: [ys] }, 'y[0]', /8 examples.*6 examples/],
      [{ x: [xs, ys], y: xs }, 'x[1]', /8 examples.*6 examples/],
      [{ x: [[1, 2, 3, 4]], y: ys }, 'x[0]', /tensor/],
      [{ x: xs, y: null }, 'y', /tensor/],
      [{ x: [], y: ys }, 'x', /tensor/],
      [{ x: scalar, y: ys }, 'x', /rank >= 1/],
    ];
    for (const [data, key, message] of cases) {
      const error = await fitWithPruning({ model, trial, monitor: 'loss', fitArgs: fit, ...data } as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(Object.keys(data))).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(key);
      expect((error as Error).message).toMatch(message);
    }
    expect(epochs).toEqual([]);
    tf.dispose([xs, ys, scalar]);
    model.dispose();
  });

  it("refuses x whose examples do not have the model's input shape, with an InvalidOptionError before training", async () => {
    // tfjs threw its own ValueError from inside fit.
    const study = await createStudy({ storage: new InMemoryStorage() });
    const trial = await study.ask();
    const model = tinyModel(); // input [4]
    const wide = tf.zeros([8, 5]);
    const deep = tf.zeros([8, 4, 1]);
    const ys = tf.zeros([8, 2]);
    const epochs: number[] = [];
    const fit = { verbose: 0, callbacks: { onEpochEnd: async (e: number) => void epochs.push(e) } };
    for (const [x, key, message] of [
      [wide, 'x', /examples of shape \[4\].*\[5\]/],
      [deep, 'x', /examples of shape \[4\].*\[4,1\]/],
      [[ys, ys], 'x', /1 tensor.*2/],
    ] as const) {
      const error = await fitWithPruning({ model, x, y: ys, trial, monitor: 'loss', fitArgs: fit } as never).catch((e: unknown) => e);
      expect(error, String(key)).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(key);
      expect((error as Error).message).toMatch(message);
    }
    expect(epochs).toEqual([]);
    // The forms model.fit accepts still train: one tensor, a list of one, and inputs by name.
    const xs = tf.zeros([8, 4]);
    for (const x of [xs, [xs], { [model.inputNames[0]]: xs }]) {
      await fitWithPruning({ model, x, y: ys, trial, monitor: 'loss', fitArgs: { ...fit, epochs: 1 } } as never);
    }
    expect(epochs).toEqual([0, 0, 0]);
    tf.dispose([wide, deep, ys, xs]);
    model.dispose();
  });
});
