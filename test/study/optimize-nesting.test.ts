/**
 * `optimize` called from inside an objective (or callback) of a running `optimize` of the same
 * stored study is refused, as Optuna raises RuntimeError("Nested optimization is not supported"):
 * through the same Study object, or another one of that study on the same storage (one storage
 * object, or journals on one file).
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NestedOptimizationError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import type { Study } from '../../src/study/study.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function quietWarnings(): ReturnType<typeof vi.spyOn> {
  return vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
}

describe('nested optimize', () => {
  it('refuses optimize from inside an objective of the same study, failing only that trial', async () => {
    quietWarnings();
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    let nestedError: unknown = null;
    await study.optimize(
      async (trial) => {
        const x = trial.suggestFloat('x', 0, 1);
        if (trial.number === 1) {
          try {
            await study.optimize(() => 0, { nTrials: 1, handleSigint: false });
          } catch (error) {
            nestedError = error;
            throw error;
          }
        }
        return x;
      },
      { nTrials: 4, handleSigint: false },
    );
    expect(nestedError).toBeInstanceOf(NestedOptimizationError);
    expect(nestedError).toMatchObject({ code: 'NESTED_OPTIMIZATION' });
    expect(String((nestedError as Error).message)).toMatch(/study ".*".*objective/);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', 'COMPLETE', 'COMPLETE']);
    expect(trials[1].systemAttrs.fail_reason).toMatch(/nested optimization is not supported/);
  });

  it('refuses it from a synchronous objective and from a callback, and with concurrency > 1', async () => {
    quietWarnings();
    const study = await createStudy({ sampler: new RandomSampler({ seed: 2 }) });
    const refused: unknown[] = [];
    await study.optimize(
      async (trial) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (trial.number === 0) await study.optimize(() => 0, { nTrials: 1, handleSigint: false }).catch((e: unknown) => refused.push(e));
        return trial.number;
      },
      {
        nTrials: 4,
        concurrency: 3,
        handleSigint: false,
        callbacks: [
          async (_s, frozen) => {
            if (frozen.number === 2) await study.optimize(() => 0, { nTrials: 1, handleSigint: false }).catch((e: unknown) => refused.push(e));
          },
        ],
      },
    );
    expect(refused).toHaveLength(2);
    for (const error of refused) expect(error).toBeInstanceOf(NestedOptimizationError);
    // The refused calls created no trial; the outer run's trials all completed.
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
  });

  it('allows optimize calls on the study that run side by side, and a nested optimize of another study', async () => {
    quietWarnings();
    const study = await createStudy({ sampler: new RandomSampler({ seed: 3 }) });
    const inner = await createStudy({ sampler: new RandomSampler({ seed: 4 }) });
    const objective = async (): Promise<number> => {
      await inner.optimize((t) => t.suggestFloat('y', 0, 1), { nTrials: 1, handleSigint: false });
      return 1;
    };
    await Promise.all([
      study.optimize(objective, { nTrials: 2, handleSigint: false, catch: 'none' }),
      study.optimize(objective, { nTrials: 2, handleSigint: false, catch: 'none' }),
    ]);
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
    expect(await inner.getTrials()).toHaveLength(4);
    // After the outer run, optimize is allowed again.
    await study.optimize(() => 2, { nTrials: 1, handleSigint: false });
    expect(await study.getTrials()).toHaveLength(5);
  });

  it('refuses optimize of an outer study from an inner study objective', async () => {
    quietWarnings();
    const outer = await createStudy({ sampler: new RandomSampler({ seed: 5 }) });
    const inner = await createStudy({ sampler: new RandomSampler({ seed: 6 }) });
    await expect(
      outer.optimize(
        () =>
          inner.optimize(() => outer.optimize(() => 0, { nTrials: 1, handleSigint: false }).then(() => 0), {
            nTrials: 1,
            handleSigint: false,
            catch: 'none',
          }).then(() => 0),
        { nTrials: 1, handleSigint: false, catch: 'none' },
      ),
    ).rejects.toBeInstanceOf(NestedOptimizationError);
  });
});

describe('optimize after a run has ended', () => {
  it('allows optimize from work an objective started that outlives its run', async () => {
    quietWarnings();
    const study = await createStudy({ sampler: new RandomSampler({ seed: 5 }) });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let later: Promise<void> | null = null;
    await study.optimize(
      (trial) => {
        // A continuation made inside the trial (a cache refresh, a queued job) that runs only
        // after this optimize has returned: its call is not nested in any running optimize.
        later ??= gate.then(() => study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 1, handleSigint: false }));
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 2, handleSigint: false },
    );
    open();
    await expect(later).resolves.toBeUndefined();
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
  });
});

describe('nested optimize of the same stored study through another Study object', () => {
  /** Runs `outer.optimize` whose one trial calls `inner.optimize`; returns what that call threw, or null. */
  async function nestedError(outer: Study, inner: Study): Promise<unknown> {
    let caught: unknown = null;
    await outer.optimize(
      async (trial) => {
        try {
          await inner.optimize((t) => t.suggestFloat('y', 0, 1), { nTrials: 1, handleSigint: false });
        } catch (error) {
          caught = error;
        }
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 1, handleSigint: false },
    );
    return caught;
  }

  it('refuses it for two Study objects loaded on one storage object', async () => {
    quietWarnings();
    const storage = new InMemoryStorage();
    const outer = await createStudy({ studyName: 'shared', storage, sampler: new RandomSampler({ seed: 7 }) });
    const inner = await loadStudy({ studyName: 'shared', storage, sampler: new RandomSampler({ seed: 8 }) });
    const error = await nestedError(outer, inner);
    expect(error).toBeInstanceOf(NestedOptimizationError);
    expect(String((error as Error).message)).toMatch(/study "shared"/);
    // The refused call created no trial.
    expect((await outer.getTrials()).map((t) => t.state)).toEqual(['COMPLETE']);
  });

  it('refuses it for two storages opened on one journal file, through a symlink too', async () => {
    quietWarnings();
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-nested-'));
    try {
      const journal = join(dir, 'shared.journal');
      const outer = await createStudy({ studyName: 'shared', storage: journal, sampler: new RandomSampler({ seed: 9 }) });
      symlinkSync(journal, join(dir, 'link.journal'));
      const inners = [
        await loadStudy({ studyName: 'shared', storage: journal }),
        await loadStudy({ studyName: 'shared', storage: join(dir, 'link.journal') }),
      ];
      try {
        for (const inner of inners) expect(await nestedError(outer, inner)).toBeInstanceOf(NestedOptimizationError);
        expect((await outer.getTrials()).map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
      } finally {
        for (const inner of inners) await inner.close();
        await outer.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('allows it for another study on the same storage, and for a study of the same name in another storage', async () => {
    quietWarnings();
    const storage = new InMemoryStorage();
    const outer = await createStudy({ studyName: 'a', storage, sampler: new RandomSampler({ seed: 10 }) });
    const other = await createStudy({ studyName: 'b', storage, sampler: new RandomSampler({ seed: 11 }) });
    const sameName = await createStudy({ studyName: 'a', storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 12 }) });
    expect(await nestedError(outer, other)).toBeNull();
    expect(await nestedError(outer, sameName)).toBeNull();
    expect(await other.getTrials()).toHaveLength(1);
    expect(await sameName.getTrials()).toHaveLength(1);
  });
});
