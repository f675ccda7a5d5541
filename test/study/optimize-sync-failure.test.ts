/**
 * optimize() on a journal whose fdatasync fails (EIO) while a trial's result is being recorded:
 * the result must surface as an error, never be reported as saved. `node:fs` is wrapped so that
 * the test can make one fdatasync fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('node:fs', async (importOriginal) =>
  (await import('../storage/sync-hooks.js')).wrapSyncs(await importOriginal<typeof import('node:fs')>()),
);
const { syncHooks: hooks, eio, resetSyncHooks } = await import('../storage/sync-hooks.js');

const { createStudy, loadStudy } = await import('../../src/study/create-study.js');
const { RandomSampler } = await import('../../src/samplers/random-sampler.js');
const { captureWarnings } = await import('../capture-warnings.js');

const root = mkdtempSync(join(tmpdir(), 'kestrel-sync-failure-'));
let nJournals = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  resetSyncHooks();
  vi.restoreAllMocks();
});

function failNextSync(): void {
  hooks.beforeSync = () => {
    hooks.beforeSync = null;
    throw eio();
  };
}


describe('optimize when the journal cannot sync a finished trial', () => {
  for (const concurrency of [1, 3]) {
    it(`rejects with STORAGE_SYNC_FAILED and never reports that trial as saved (concurrency ${concurrency})`, async () => {
      const warnings = captureWarnings();
      const path = join(root, `s${nJournals++}.journal`);
      const study = await createStudy({ studyName: 's', storage: path, sampler: new RandomSampler({ seed: 1 }) });
      const reported: number[] = [];
      const run = study.optimize(
        (trial) => {
          if (trial.number === 2) failNextSync(); // the next sync is this trial's finishTrial (or a concurrent one's)
          return trial.suggestFloat('x', 0, 1);
        },
        { nTrials: 6, concurrency, handleSigint: false, callbacks: [(_study, frozen) => void reported.push(frozen.number)] },
      );
      const error = await run.catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'STORAGE_SYNC_FAILED', message: expect.stringContaining(path) });
      expect(hooks.beforeSync).toBeNull(); // the failure was injected

      // Every trial the callbacks were told of is COMPLETE in a fresh replay of the file; the trial
      // whose sync failed is not among them, and this process's view does not show it COMPLETE.
      const trials = await study.getTrials();
      const complete = trials.filter((t) => t.state === 'COMPLETE').map((t) => t.number);
      expect(complete.sort()).toEqual([...reported].sort());
      expect(trials.length).toBeGreaterThan(complete.length);
      expect(warnings.some((w) => w.startsWith('TRIAL_RESULT_NOT_RECORDED'))).toBe(true);

      const reopened = await loadStudy({ studyName: 's', storage: path });
      const replayed = await reopened.getTrials();
      for (const number of reported) expect(replayed[number]?.state).toBe('COMPLETE');
      // The reopened journal takes writes again.
      await reopened.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 1, handleSigint: false });
      expect((await reopened.getTrials()).length).toBe(replayed.length + 1);
    });
  }
});
