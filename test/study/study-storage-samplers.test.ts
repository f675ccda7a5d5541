import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GridExhaustedError, InvalidOptionError, StudyNotFoundError } from '../../src/errors.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { SobolSampler } from '../../src/samplers/sobol-sampler.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { createStudy, deleteStudy, getAllStudySummaries, loadStudy } from '../../src/study/create-study.js';

const dirs: string[] = [];
function tempJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-study-'));
  dirs.push(dir);
  return join(dir, 'study.journal');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('Study with the journal storage', () => {
  it('persists trials and resumes a study from a path', async () => {
    const path = tempJournal();
    const study = await createStudy({ studyName: 'resume', storage: path });
    await study.optimize((t) => t.suggestFloat('x', -1, 1) ** 2, { nTrials: 5 });
    const best = await study.bestTrial();
    await study.close();

    const again = await createStudy({ studyName: 'resume', storage: path, loadIfExists: true });
    expect(await again.getTrials()).toHaveLength(5);
    expect((await again.bestTrial()).params).toEqual(best.params);
    await again.optimize((t) => t.suggestFloat('x', -1, 1) ** 2, { nTrials: 3 });
    expect((await again.getTrials()).map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await again.close();

    const loaded = await loadStudy({ studyName: 'resume', storage: new JournalStorage({ path }) });
    expect(await loaded.getTrials({ states: ['COMPLETE'] })).toHaveLength(8);
    await loaded.storage.close();
  });

  it('reading calls on a mistyped journal path create nothing', async () => {
    const path = join(tempJournal(), '..', 'typo', 'study.journal');
    await expect(loadStudy({ studyName: 's', storage: path })).rejects.toBeInstanceOf(StudyNotFoundError);
    await expect(deleteStudy({ studyName: 's', storage: path })).rejects.toBeInstanceOf(StudyNotFoundError);
    expect(await getAllStudySummaries({ storage: path })).toEqual([]);
    expect(existsSync(join(path, '..'))).toBe(false);
  });

  it('refuses a custom storage that lacks a Storage method, naming the option', async () => {
    const partial = { createStudy: () => Promise.resolve(0) };
    await expect(createStudy({ storage: partial as never })).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'storage' });
  });

  it('names the directions it was given when they differ from the stored study', async () => {
    const path = tempJournal();
    await (await createStudy({ studyName: 'd', storage: path, direction: 'minimize' })).close();
    const error = await createStudy({ studyName: 'd', storage: path, direction: 'maximize', loadIfExists: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/\(minimize\), received "maximize"/);
  });
});

describe('Study with the grid sampler', () => {
  it('runs every grid point exactly once with concurrency and then stops', async () => {
    const sampler = new GridSampler({ space: { a: [1, 2, 3], b: ['x', 'y'] } });
    const study = await createStudy({ sampler });
    await study.optimize(
      async (trial) => {
        const a = trial.suggestInt('a', 1, 3);
        const b = trial.suggestCategorical('b', ['x', 'y']);
        await new Promise((resolve) => setImmediate(resolve));
        return a + (b === 'x' ? 0 : 10);
      },
      { concurrency: 4, nTrials: 100 },
    );
    const complete = await study.getTrials({ states: ['COMPLETE'] });
    expect(complete).toHaveLength(6);
    const keys = complete.map((t) => `${t.params.a}/${t.params.b}`);
    expect(new Set(keys).size).toBe(6);
    expect(study.stopped).toBe('grid exhausted');
    // The trial created when the grid ran out is recorded, never left RUNNING.
    const others = await study.getTrials({ states: ['RUNNING', 'WAITING'] });
    expect(others).toHaveLength(0);
    await expect(study.ask()).rejects.toBeInstanceOf(GridExhaustedError);
  });
});

describe('Study with the Sobol sampler', () => {
  it('samples the joint space quasi-randomly after the first trial, reproducibly', async () => {
    const run = async (): Promise<number[][]> => {
      const study = await createStudy({ sampler: new SobolSampler({ seed: 7 }) });
      await study.optimize(
        (trial) => {
          const x = trial.suggestFloat('x', 0, 1);
          const y = trial.suggestFloat('y', 0, 1);
          return x + y;
        },
        { nTrials: 17 },
      );
      return (await study.getTrials()).map((t) => [t.params.x as number, t.params.y as number]);
    };
    const points = await run();
    expect(await run()).toEqual(points);
    // Trials 1..16 use Sobol points 1..16 of the joint space: a (0, m, 2)-net stratifies them,
    // so each quarter of [0, 1) in x holds exactly 4 of those 16.
    const bins = [0, 0, 0, 0];
    for (const [x] of points.slice(1)) bins[Math.floor(x * 4)]++;
    expect(bins.reduce((a, b) => a + b, 0)).toBe(16);
    for (const count of bins) expect(count).toBeGreaterThanOrEqual(3);
  });
});
