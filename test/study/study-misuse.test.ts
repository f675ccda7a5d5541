/**
 * Misuse of the Study API and hostile values from objectives: each gets a typed error or a recorded
 * FAIL, never a crash that leaves a trial RUNNING or a value silently dropped.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { createStudy } from '../../src/study/create-study.js';

describe('optimize with objectives that throw odd values', () => {
  it('records FAIL for a thrown value that cannot be converted to a string, and goes on', async () => {
    const study = await createStudy();
    class BadMessage extends Error {
      override get message(): string {
        throw new Error('getter');
      }
    }
    const thrown: unknown[] = [Object.create(null), new BadMessage(), undefined, 42];
    await study.optimize(
      (trial) => {
        throw thrown[trial.number];
      },
      { nTrials: thrown.length },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'FAIL', 'FAIL']);
    expect(trials[0].systemAttrs.fail_reason).toMatch(/null prototype/);
    expect(trials[1].systemAttrs.fail_reason).toMatch(/Error/);
    expect(trials[2].systemAttrs.fail_reason).toBe('undefined');
    expect(trials[3].systemAttrs.fail_reason).toBe('42');
  });

  it('refuses a catch entry that is not a class before running any trial', async () => {
    const study = await createStudy();
    const arrow = (() => undefined) as unknown as typeof Error;
    await expect(study.optimize(() => 1, { nTrials: 1, catch: [arrow] })).rejects.toThrow(InvalidOptionError);
    await expect(study.optimize(() => 1, { nTrials: 1, catch: [arrow] })).rejects.toThrow(/catch/);
    expect(await study.getTrials()).toHaveLength(0);
    // A bound class still works with instanceof.
    class Recoverable extends Error {}
    const Bound = Recoverable.bind(null) as unknown as typeof Error;
    await study.optimize(
      () => {
        throw new Recoverable('x');
      },
      { nTrials: 1, catch: [Bound] },
    );
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['FAIL']);
  });
});
