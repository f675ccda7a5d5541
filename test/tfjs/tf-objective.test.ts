import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
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
