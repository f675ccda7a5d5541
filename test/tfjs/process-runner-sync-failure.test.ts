/**
 * runTrialsInProcesses on a journal whose fdatasync fails (EIO) while a trial's result is being
 * recorded. The trial processes never write the journal (the parent records everything they send),
 * so the failure happens in the parent, where `node:fs` is wrapped so that one fdatasync fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('node:fs', async (importOriginal) =>
  (await import('../storage/sync-hooks.js')).wrapSyncs(await importOriginal<typeof import('node:fs')>()),
);
const { syncHooks: hooks, eio, resetSyncHooks } = await import('../storage/sync-hooks.js');

const { createStudy, loadStudy } = await import('../../src/study/create-study.js');
const { RandomSampler } = await import('../../src/samplers/random-sampler.js');
const { runTrialsInProcesses } = await import('../../src/tfjs/process-runner.js');
const { currentProcessIdentity } = await import('../../src/util/process-identity.js');

const crashModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-objective.ts');
const root = mkdtempSync(path.join(tmpdir(), 'kestrel-runner-sync-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  resetSyncHooks();
  vi.restoreAllMocks();
});

describe('runTrialsInProcesses when the journal cannot sync a finished trial', () => {
  it('rejects with STORAGE_SYNC_FAILED, reports no trial it could not record, launches no more, and the reopened journal works', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const journal = path.join(root, 'study.journal');
    const study = await createStudy({ studyName: 's', storage: journal, sampler: new RandomSampler({ seed: 2 }) });
    let nSyncs = 0;
    hooks.beforeSync = () => {
      nSyncs++;
      // The third finished trial's sync fails.
      if (nSyncs === 3) throw eio();
    };
    const reported: number[] = [];
    const failed = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'withSpace',
      space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 8, concurrency: 2, trialsPerProcess: 10,
      callbacks: [(_s, trial) => void reported.push(trial.number)],
    }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED', cause: expect.objectContaining({ code: 'EIO' }) });
    expect((failed as Error).message).toContain(journal);
    hooks.beforeSync = null;
    const view = await study.getTrials();
    // Every trial reported is COMPLETE in this study's view; the one whose sync failed is not reported.
    const complete = view.filter((t) => t.state === 'COMPLETE').map((t) => t.number);
    expect([...reported].sort((a, b) => a - b)).toEqual(complete);
    expect(reported).toHaveLength(2);
    // No trial is launched after the failure: at most the two slots' trials beyond those reported.
    expect(view.length).toBeLessThanOrEqual(4);
    // Each trial left RUNNING is named by a TRIAL_RESULT_NOT_RECORDED warning, worded as optimize's.
    const notRecorded = warnings.mock.calls
      .filter((c) => (c[1] as { code?: string } | undefined)?.code === 'TRIAL_RESULT_NOT_RECORDED')
      .map((c) => String(c[0]));
    for (const message of notRecorded) expect(message).toMatch(/^trial \d+ stays RUNNING: neither its result nor a failure could be recorded: .*EIO/);
    const running = view.filter((t) => t.state === 'RUNNING').map((t) => t.number);
    expect(running.length).toBeGreaterThan(0);
    expect(notRecorded.map((m) => Number(/^trial (\d+)/.exec(m)?.[1])).sort((a, b) => a - b)).toEqual(running);
    await study.close();

    const reopened = await loadStudy({ studyName: 's', storage: journal });
    const trial = await reopened.ask();
    await reopened.tell(trial, 1);
    expect((await reopened.getTrials()).at(-1)?.state).toBe('COMPLETE');
    await reopened.close();
  });

  it('stops the trials still running in worker processes, and leaves them RUNNING for the sweeps of a reopened study', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const journal = path.join(root, 'running.journal');
    const study = await createStudy({ studyName: 's', storage: journal, sampler: new RandomSampler({ seed: 2 }) });
    let armed = false;
    hooks.beforeSync = () => {
      if (!armed) return;
      armed = false;
      throw eio();
    };
    // Trial 0 starts its objective once trial 1 runs its own (which never returns unless aborted);
    // trial 0's finish is the sync that fails.
    let trial1Started!: () => void;
    const trial1Running = new Promise<void>((resolve) => (trial1Started = resolve));
    const startedAt = Date.now();
    const failed = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'firstReturnsOthersHang',
      space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 2, concurrency: 2,
      heartbeat: { intervalMs: 60_000, graceMs: 120_000 },
      onTrialStart: async (trial) => {
        if (trial.number === 0) return trial1Running;
        armed = true;
        trial1Started();
      },
    }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'STORAGE_SYNC_FAILED' });
    // Aborted, not run to its end (it would never end) nor killed only after a long wait: the abort
    // grace is 3 s (10 s of margin for a loaded machine).
    expect(Date.now() - startedAt).toBeLessThan(13_000);
    hooks.beforeSync = null;
    await study.close().catch(() => undefined);

    const reopened = await loadStudy({ studyName: 's', storage: journal });
    const trial1 = (await reopened.getTrials()).find((t) => t.number === 1)!;
    // Nothing could record it: RUNNING, owned by this process, so that once this process is gone
    // the next run's orphan sweep fails it ("stale: the process that ran it ... has exited").
    expect(trial1.state).toBe('RUNNING');
    expect(trial1.systemAttrs.owner_process).toEqual(currentProcessIdentity());
    // No Study object of this process holds it as running any more: its heartbeat sweep fails it
    // once the heartbeat is older than the grace.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 121_000 });
    try {
      expect(await reopened.failStaleTrials({ graceMs: 120_000 })).toEqual([1]);
    } finally {
      vi.useRealTimers();
    }
    await reopened.close();
  }, 30_000);
});
