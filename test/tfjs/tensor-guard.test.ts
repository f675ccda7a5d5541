import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import { selectTfBackend } from '../../src/tfjs/backend.js';
import { toTensors } from '../../src/tfjs/datasets.js';
import { fitWithPruning } from '../../src/tfjs/pruning-callback.js';
import { withTensorGuard, type TensorGuardReport } from '../../src/tfjs/tensor-guard.js';
import { tfObjective } from '../../src/tfjs/tf-objective.js';
import { blobs, pruneAtStep, tinyModel } from './helpers.js';

beforeAll(async () => {
  await selectTfBackend({ prefer: 'cpu' });
});

const data = blobs(32, 1);

describe('withTensorGuard', () => {
  it('disposes variables, leftover and kept tensors, and returns to the baseline', async () => {
    const baseline = tf.memory().numTensors;
    const reports: TensorGuardReport[] = [];
    const value = await withTensorGuard(
      async () => {
        const model = tinyModel();
        const { xs, ys } = toTensors({ ...data, nClasses: 2 });
        await model.fit(xs, ys, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
        tf.keep(tf.scalar(3)); // a kept tensor nobody disposes
        expect(tf.memory().numTensors).toBeGreaterThan(baseline);
        return 42;
      },
      { onReport: (r) => reports.push(r), warnOnLeak: false },
    );
    expect(value).toBe(42);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(reports).toHaveLength(1);
    expect(reports[0].nDisposedVariables).toBeGreaterThan(0);
    expect(reports[0].nLeftoverTensors).toBe(3); // xs, ys and the kept scalar
    expect(reports[0].nUnreleased).toBe(0);
  });

  it('cleans up when the function throws, and keeps tensors that existed before', async () => {
    const outside = tf.tensor1d([1, 2, 3]);
    const baseline = tf.memory().numTensors;
    await expect(
      withTensorGuard(
        async () => {
          tinyModel();
          tf.ones([5]);
          throw new Error('boom');
        },
        { warnOnLeak: false },
      ),
    ).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(baseline);
    expect(outside.isDisposed).toBe(false);
    expect(Array.from(outside.dataSync())).toEqual([1, 2, 3]);
    outside.dispose();
  });

  it('releases tensors kept inside tf.tidy, which the engine tracks in no scope: a fit whose callback throws', async () => {
    const outside = tf.keep(tf.tidy(() => tf.scalar(7))); // kept before the guard: not its to release
    const baseline = tf.memory().numTensors;
    // tfjs keeps each epoch's logs inside tf.tidy and leaves them to its History callback, which
    // frees them when the fit ends; a callback that throws ends the fit before that.
    class Boom extends tf.Callback {
      override async onEpochEnd(epoch: number): Promise<void> {
        if (epoch === 2) throw new Error('boom at epoch 2');
      }
    }
    const reports: TensorGuardReport[] = [];
    await expect(
      withTensorGuard(
        async () => {
          const model = tinyModel();
          const { xs, ys } = toTensors({ ...data, nClasses: 2 });
          tf.tidy(() => void tf.keep(tf.ones([3]))); // kept in a tidy, never disposed
          tf.keep(outside); // kept again inside: still not the guard's
          await model.fit(xs, ys, { epochs: 5, batchSize: 8, validationSplit: 0.25, verbose: 0, callbacks: [new Boom()] });
        },
        { onReport: (r) => reports.push(r), warnOnLeak: false },
      ),
    ).rejects.toThrow('boom at epoch 2');
    expect(tf.memory().numTensors).toBe(baseline);
    expect(reports[0].nUnreleased).toBe(0);
    expect(outside.isDisposed).toBe(false);
    outside.dispose();
  });

  it('runs concurrent guarded sections one at a time', async () => {
    const baseline = tf.memory().numTensors;
    const order: string[] = [];
    const section = (name: string) => async () => {
      order.push(`${name}:start`);
      const t = tf.ones([2]);
      await new Promise((r) => setImmediate(r));
      expect(t.isDisposed).toBe(false);
      order.push(`${name}:end`);
      return name;
    };
    const results = await Promise.all([
      withTensorGuard(section('a'), { warnOnLeak: false }),
      withTensorGuard(section('b'), { warnOnLeak: false }),
    ]);
    expect(results).toEqual(['a', 'b']);
    expect(order).toEqual(['a:start', 'a:end', 'b:start', 'b:end']);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('leaves alone tensors and variables that code outside the trial creates while it runs', async () => {
    const baseline = tf.memory().numTensors;
    const reports: TensorGuardReport[] = [];
    let foreign: tf.Tensor | null = null;
    let foreignVariable: tf.Variable | null = null;
    let fromTrialTimer: tf.Tensor | null = null;
    // Started before the trial (outside its async context), fires while it runs: a metrics
    // callback, a data prefetch, a dashboard.
    const outside = new Promise<void>((resolve) =>
      setTimeout(() => {
        foreign = tf.scalar(42);
        const init = tf.zeros([2]);
        foreignVariable = tf.variable(init);
        init.dispose();
        resolve();
      }, 5),
    );
    await withTensorGuard(
      async () => {
        const own = tf.ones([2, 2]);
        tinyModel();
        // a timer started by the trial belongs to it
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            fromTrialTimer = tf.ones([3]);
            resolve();
          }, 1),
        );
        await outside;
        own.dispose();
      },
      { onReport: (r) => reports.push(r), warnOnLeak: false },
    );
    const f = foreign as tf.Tensor | null;
    const v = foreignVariable as tf.Variable | null;
    expect(f?.isDisposed).toBe(false);
    expect(Array.from((f as tf.Tensor).dataSync())).toEqual([42]);
    expect(v?.isDisposed).toBe(false);
    expect((fromTrialTimer as tf.Tensor | null)?.isDisposed).toBe(true);
    expect(reports[0].nLeftoverTensors).toBe(1); // fromTrialTimer only
    expect(reports[0].nDisposedVariables).toBeGreaterThan(0); // the model's
    expect(reports[0].nUnreleased).toBe(0);
    expect(tf.memory().numTensors).toBe(baseline + 2); // the foreign scalar and variable
    tf.dispose([f as tf.Tensor, v as tf.Variable]);
  });

  it('warns with the count of leftovers', async () => {
    const warnings: string[] = [];
    const listener = (w: Error & { code?: string }): void => {
      if (w.code === 'TFJS_TENSOR_LEAK') warnings.push(w.message);
    };
    process.on('warning', listener);
    await withTensorGuard(async () => {
      tf.zeros([3]);
      tf.zeros([4]);
    });
    await new Promise((r) => setImmediate(r));
    process.off('warning', listener);
    expect(warnings).toEqual([expect.stringMatching(/left 2 tensor\(s\) undisposed/)]);
  });
});

describe('tfObjective: tensor count returns to baseline on success, prune and error', () => {
  it('COMPLETE, PRUNED and FAIL trials all release their tensors', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), pruner: pruneAtStep(2) });
    const counts: number[] = [];
    const baseline = tf.memory().numTensors;
    const objective = tfObjective(
      async ({ trial, tf: tfm }) => {
        const mode = trial.suggestCategorical('mode', ['complete', 'prune', 'error']);
        const model = tinyModel();
        const { xs, ys } = toTensors({ ...data, nClasses: 2, tf: tfm });
        if (mode === 'error') throw new Error('training diverged');
        if (mode === 'prune') {
          await fitWithPruning({ model, x: xs, y: ys, trial, fitArgs: { epochs: 5, batchSize: 8, validationSplit: 0.25, verbose: 0, shuffle: false } });
          return 0;
        }
        const history = await model.fit(xs, ys, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
        return history.history.loss[1] as number;
      },
      { warnOnLeak: false, onTensorReport: () => counts.push(tf.memory().numTensors) },
    );
    for (const mode of ['complete', 'prune', 'error']) {
      await study.enqueueTrial({ mode });
    }
    await study.optimize(objective, { nTrials: 3 });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED', 'FAIL']);
    expect(counts).toEqual([baseline, baseline, baseline]);
    expect(tf.memory().numTensors).toBe(baseline);
    for (const t of trials) {
      expect(t.userAttrs.tfjs_backend).toBe('cpu');
      expect(t.userAttrs.tfjs_leaked_tensors).toBe(2); // xs and ys were never disposed
    }
    expect(trials[1].intermediateValues).toEqual({ 1: expect.any(Number), 2: expect.any(Number) });
    expect(trials[2].systemAttrs.fail_reason).toMatch(/training diverged/);
  });

  it('marks a trial PRUNED when a pruning callback stopped the fit even if the objective returns', async () => {
    const { pruningCallback } = await import('../../src/tfjs/pruning-callback.js');
    const study = await createStudy({ storage: new InMemoryStorage(), pruner: pruneAtStep(1) });
    const objective = tfObjective(async ({ trial }) => {
      const model = tinyModel();
      const { xs, ys } = toTensors({ ...data, nClasses: 2 });
      const history = await model.fit(xs, ys, {
        epochs: 4, batchSize: 8, verbose: 0, shuffle: false, validationSplit: 0.25,
        callbacks: [pruningCallback(trial)],
      });
      tf.dispose([xs, ys]);
      return history.epoch.length; // returns normally after the stopped fit
    });
    await study.optimize(objective, { nTrials: 1 });
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('PRUNED');
    expect(Object.keys(trial.intermediateValues)).toEqual(['1']);
    expect(trial.userAttrs.tfjs_leaked_tensors).toBeUndefined();
  });
});

describe('tfObjective options', () => {
  it('are checked when the objective is created, not by failing every trial', async () => {
    const bad: [string, Record<string, unknown>][] = [
      ['tf', { tf: {} }],
      ['onTensorReport', { onTensorReport: 5 }],
      ['prefer', { backend: { prefer: 'gpux' } }],
      ['backend', { backend: 'cpu' }],
      ['warnOnLeak', { warnOnLeak: 'no' }],
    ];
    for (const [option, options] of bad) {
      let error: unknown = null;
      try {
        tfObjective(() => 1, options as never);
      } catch (e) {
        error = e;
      }
      expect(error, option).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
    }
    // The good ones still run.
    const study = await createStudy({ storage: new InMemoryStorage() });
    await study.optimize(tfObjective(() => 1, { tf, warnOnLeak: false, onTensorReport: () => undefined, backend: { prefer: 'cpu' } }), { nTrials: 1 });
    expect((await study.getTrials())[0].state).toBe('COMPLETE');
  });
});
