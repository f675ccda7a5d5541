import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { InvalidTrialValueError } from '../../src/errors.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import { tfObjective } from '../../src/tfjs/tf-objective.js';

describe('tfObjective with a tf module given', () => {
  it('records the backend the trial runs on, also when tfjs has not initialized one yet', async () => {
    // A fresh tfjs (no tensor made yet) has no active backend until something initializes one.
    tf.engine().reset();
    expect(tf.getBackend()).toBeFalsy();
    const seen: string[] = [];
    const study = await createStudy({ storage: new InMemoryStorage() });
    await study.optimize(
      tfObjective(
        ({ tf: t, backend }) => {
          seen.push(backend);
          return t.tidy(() => t.scalar(2).square().dataSync()[0]);
        },
        { tf, warnOnLeak: false },
      ),
      { nTrials: 1 },
    );
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('COMPLETE');
    expect(tf.getBackend()).toBeTruthy();
    expect(trial.userAttrs.tfjs_backend).toBe(tf.getBackend()); // was 'unknown'
    expect(seen).toEqual([tf.getBackend()]);
  });
});

describe('tfObjective values', () => {
  it('fails a trial that returns a tensor (or an array holding one) with InvalidTrialValueError, and the study goes on', async () => {
    // The guard disposed the returned tensor; the study then read the disposed tensor and
    // optimize rejected with tfjs's "Tensor is disposed." for an array, leaving the trial RUNNING.
    await tf.ready();
    const before = tf.memory().numTensors;
    const study = await createStudy({ storage: new InMemoryStorage() });
    const returns = [(t: typeof tf) => [t.scalar(2)], (t: typeof tf) => t.scalar(1), () => 3];
    let i = 0;
    const objective = tfObjective(({ tf: t }) => returns[i++](t) as never, { tf, warnOnLeak: false });
    const errors: unknown[] = [];
    for (let n = 0; n < returns.length; n++) {
      const trial = await study.ask();
      try {
        await study.tell(trial, { values: await objective(trial) });
      } catch (error) {
        errors.push(error);
        await study.tell(trial, { state: 'FAIL' });
      }
    }
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(InvalidTrialValueError);
      expect((error as Error).message).toMatch(/tensor.*dataSync/);
    }
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'COMPLETE']);
    expect(tf.memory().numTensors).toBe(before);
  });
});
