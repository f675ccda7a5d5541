/**
 * The trials this process is running, across its Study objects: `failStaleTrials` must spare a
 * trial that another Study object of the same stored study (a second `loadStudy`, a CLI session
 * beside a library call) holds live, however late its heartbeat, and the process-wide registry
 * that says so must forget a trial once it is finished, whichever way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import { studiesHoldingLiveTrials, type Study } from '../../src/study/study.js';
import { SystemAttr } from '../../src/trial/system-attrs.js';

const root = mkdtempSync(join(tmpdir(), 'kestrel-live-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

const quiet = { handleSigint: false } as const;
// Registry counts are taken against the count at a test's start (\`base\`), so that a test that
// fails and leaves its trial live does not fail the ones after it.
const GRACE_MS = 30_000;

/** Makes the trial's heartbeat a minute old, as when its owner's beats lag past the grace. */
async function staleBeat(storage: Storage, trialId: number): Promise<void> {
  await storage.updateTrial(trialId, { systemAttrs: { [SystemAttr.heartbeat]: Date.now() - 60_000 } });
}

/** A promise and the function that resolves it. */
function gate(): { readonly wait: Promise<void>; readonly open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** Two Study objects on one stored study: one storage object, or two journals on one file. */
async function twoStudies(kind: 'memory' | 'journal', name: string): Promise<readonly [Study, Study]> {
  if (kind === 'memory') {
    const storage = new InMemoryStorage();
    const a = await createStudy({ studyName: name, storage, sampler: new RandomSampler({ seed: 1 }) });
    const b = await loadStudy({ studyName: name, storage, sampler: new RandomSampler({ seed: 2 }) });
    return [a, b];
  }
  const path = join(root, `${name}.journal`);
  const a = await createStudy({ studyName: name, storage: new JournalStorage({ path }), sampler: new RandomSampler({ seed: 1 }) });
  const b = await loadStudy({ studyName: name, storage: new JournalStorage({ path }), sampler: new RandomSampler({ seed: 2 }) });
  return [a, b];
}

describe('failStaleTrials and the trials of this process', () => {
  for (const kind of ['memory', 'journal'] as const) {
    it(`spares a trial another Study object of this process is running, its heartbeat late (${kind})`, async () => {
      const base = studiesHoldingLiveTrials();
      const [a, b] = await twoStudies(kind, `slow-${kind}`);
      const inside = gate();
      const release = gate();
      const run = a.optimize(
        async (t) => {
          const x = t.suggestFloat('x', 0, 1);
          inside.open();
          await release.wait;
          return x;
        },
        { nTrials: 1, heartbeatIntervalMs: 60_000, ...quiet },
      );
      await inside.wait;
      const [running] = await b.getTrials({ states: ['RUNNING'] });
      await staleBeat(b.storage, running!.trialId);

      expect(await b.failStaleTrials({ graceMs: GRACE_MS })).toEqual([]);
      release.open();
      await run;
      expect((await b.getTrials()).map((t) => t.state)).toEqual(['COMPLETE']);
      expect(studiesHoldingLiveTrials()).toBe(base);
    });
  }

  it('spares a trial asked from another Study object until it is told, then forgets it', async () => {
    const base = studiesHoldingLiveTrials();
    const [a, b] = await twoStudies('memory', 'asked');
    const trial = await a.ask({ heartbeat: true });
    await staleBeat(a.storage, trial.trialId);
    expect(await b.failStaleTrials({ graceMs: GRACE_MS })).toEqual([]);
    expect(studiesHoldingLiveTrials()).toBe(base + 1);
    await a.tell(trial, 0.5);
    expect(studiesHoldingLiveTrials()).toBe(base);
  });

  it('still fails a stale trial that no Study object of this process is running', async () => {
    const [a, b] = await twoStudies('memory', 'orphan');
    const held = await a.ask({ heartbeat: true });
    const orphan = await a.storage.createTrial(a.studyId, {
      systemAttrs: { [SystemAttr.heartbeat]: Date.now() - 60_000 },
    });
    await staleBeat(a.storage, held.trialId);
    expect(await b.failStaleTrials({ graceMs: GRACE_MS })).toEqual([orphan.number]);
    await a.tell(held, 1);
  });

  it('does not confuse a live trial of another storage with the same trial id', async () => {
    const base = studiesHoldingLiveTrials();
    const other = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 3 }) });
    const held = await other.ask({ heartbeat: true });
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 4 }) });
    const stale = await study.storage.createTrial(study.studyId, {
      systemAttrs: { [SystemAttr.heartbeat]: Date.now() - 60_000 },
    });
    expect(stale.trialId).toBe(held.trialId);
    expect(await study.failStaleTrials({ graceMs: GRACE_MS })).toEqual([stale.number]);
    await other.tell(held, 1);
    expect(studiesHoldingLiveTrials()).toBe(base);
  });
});

describe('the registry of live trials leaks nothing', () => {
  it('forgets trials whose objective threw, whether caught or not', async () => {
    const base = studiesHoldingLiveTrials();
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const study = await createStudy({ sampler: new RandomSampler({ seed: 5 }) });
    await study.optimize(
      () => {
        throw new Error('boom');
      },
      { nTrials: 2, catch: 'all', heartbeatIntervalMs: 60_000, ...quiet },
    );
    expect(studiesHoldingLiveTrials()).toBe(base);
    await expect(
      study.optimize(
        () => {
          throw new Error('boom');
        },
        { nTrials: 1, catch: 'none', heartbeatIntervalMs: 60_000, ...quiet },
      ),
    ).rejects.toThrow('boom');
    expect(studiesHoldingLiveTrials()).toBe(base);
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'FAIL']);
  });

  it('forgets trials an interruption failed', async () => {
    const base = studiesHoldingLiveTrials();
    const study = await createStudy({ sampler: new RandomSampler({ seed: 6 }) });
    const controller = new AbortController();
    const inside = gate();
    const run = study.optimize(
      (t) => {
        t.suggestFloat('x', 0, 1);
        inside.open();
        return new Promise<number>(() => undefined); // never settles: only the interruption ends it
      },
      { nTrials: 2, concurrency: 2, signal: controller.signal, heartbeatIntervalMs: 60_000, ...quiet },
    );
    await inside.wait;
    expect(studiesHoldingLiveTrials()).toBe(base + 1);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(studiesHoldingLiveTrials()).toBe(base);
    expect((await study.getTrials()).every((t) => t.state === 'FAIL')).toBe(true);
  });

  it('forgets a trial that was pruned or withdrawn', async () => {
    const base = studiesHoldingLiveTrials();
    const study = await createStudy({ sampler: new RandomSampler({ seed: 7 }) });
    const asked = await study.ask();
    await study.tell(asked, { state: 'PRUNED' });
    expect(studiesHoldingLiveTrials()).toBe(base);
    const withdrawn = await study.ask({ heartbeat: true });
    expect(studiesHoldingLiveTrials()).toBe(base + 1);
    expect((await study.withdrawTrial(withdrawn)).state).toBe('FAIL');
    expect(studiesHoldingLiveTrials()).toBe(base);
  });
});
