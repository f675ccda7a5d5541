/**
 * Work an interrupted `optimize` leaves running: objectives (never awaited), tells in flight and
 * callbacks past the 10 s drain bound. Whatever it does late must not crash the process (an
 * unhandled rejection), must not contradict what the interruption recorded, must not write to a
 * storage the user closed, must be told to the user once rather than silently, and must not reach
 * into a later `optimize` call on the same study.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { InterruptedError, TrialPrunedError } from '../../src/errors.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { barrier, heldFinishes, watchLateWork } from './fixtures/late-work.js';

const root = mkdtempSync(join(tmpdir(), 'kestrel-late-work-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const quiet = { handleSigint: false } as const;

const { unhandled, warned, warnedCodes } = watchLateWork();

/** Lets late work run to its end: turns of the event loop, no timer (in-memory and journal storage answer without one). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function summary(trials: readonly FrozenTrial[]): unknown[] {
  return trials.map((t) => [t.number, t.state, t.values, t.systemAttrs.fail_reason ?? null]);
}

describe('an objective that returns after the interruption recorded its trial', () => {
  it('leaves the trial FAIL "interrupted" and drops its value, with one warning naming a trial, however many return late', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const objectives = barrier();
    const seen: number[] = [];
    const run = study.optimize(
      async (trial) => {
        trial.suggestFloat('x', 0, 1);
        await objectives.pass(); // ignores its aborted signal: JS cannot cancel it
        return 0.25;
      },
      { concurrency: 3, nTrials: 3, signal: controller.signal, callbacks: [(_s, t) => void seen.push(t.number)], ...quiet },
    );
    await objectives.reached(3);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    objectives.open();
    await turns();
    expect(summary(await study.getTrials())).toEqual([
      [0, 'FAIL', null, 'interrupted'],
      [1, 'FAIL', null, 'interrupted'],
      [2, 'FAIL', null, 'interrupted'],
    ]);
    expect(seen).toEqual([]);
    const dropped = warned('LATE_RESULT_DROPPED');
    expect(dropped).toHaveLength(1); // once per optimize call, not one per late trial
    expect(dropped[0]).toMatch(/trial [0-2] .*returned 0\.25/);
    expect(warnedCodes().filter((c) => c !== 'LATE_RESULT_DROPPED')).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('writes nothing to a journal the user closed after optimize settled: no error escapes, and the journal replays as recorded', async () => {
    const path = join(root, 'closed.journal');
    const storage = new JournalStorage({ path });
    const study = await createStudy({ storage, studyName: 'late', sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const objectives = barrier();
    const run = study.optimize(
      async (trial) => {
        trial.suggestFloat('x', 0, 1);
        await objectives.pass();
        if (trial.number === 1) throw new TrialPrunedError(); // a late prune is a late result too
        return 1;
      },
      { concurrency: 2, nTrials: 2, signal: controller.signal, ...quiet },
    );
    await objectives.reached(2);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    await storage.close();
    objectives.open();
    await turns();
    expect(unhandled).toEqual([]);
    // Nothing claims the trials stayed RUNNING (they are FAIL), and nothing was written after close.
    expect(warned('TRIAL_RESULT_NOT_RECORDED')).toEqual([]);
    expect(warnedCodes().filter((c) => c !== 'LATE_RESULT_DROPPED')).toEqual([]);
    const reopened = new JournalStorage({ path });
    try {
      const again = await loadStudy({ storage: reopened, studyName: 'late' });
      expect(summary(await again.getTrials())).toEqual([
        [0, 'FAIL', null, 'interrupted'],
        [1, 'FAIL', null, 'interrupted'],
      ]);
    } finally {
      await reopened.close();
    }
  });
});

describe('an onTrialStart in flight when the interruption comes', () => {
  it('is waited for, so that the enqueued configuration it withdraws is back in the queue before optimize settles', async () => {
    // The drain did not wait for onTrialStart: the withdrawal after it (which enqueues again the
    // configuration of an enqueued trial that never ran) came after optimize had rejected, and
    // with the journal closed meanwhile, as a user does right after, the configuration was lost.
    const path = join(root, 'on-trial-start.journal');
    const storage = new JournalStorage({ path });
    const study = await createStudy({ storage, studyName: 'start', sampler: new RandomSampler({ seed: 1 }) });
    await study.enqueueTrial({ x: 0.5 });
    const controller = new AbortController();
    let nRun = 0;
    const run = study.optimize(
      (trial) => {
        nRun++;
        return trial.suggestFloat('x', 0, 1);
      },
      {
        nTrials: 2,
        signal: controller.signal,
        onTrialStart: async () => {
          controller.abort(); // Ctrl-C while a progress display starts the trial
          await new Promise((resolve) => setImmediate(resolve));
        },
        ...quiet,
      },
    );
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    await storage.close();
    await turns();
    expect(nRun).toBe(0);
    expect(warnedCodes()).toEqual([]);
    expect(unhandled).toEqual([]);
    const reopened = new JournalStorage({ path });
    try {
      const again = await loadStudy({ storage: reopened, studyName: 'start' });
      expect((await again.getTrials()).map((t) => [t.number, t.state, t.systemAttrs.fixed_params])).toEqual([
        [0, 'FAIL', { x: 0.5 }],
        [1, 'WAITING', { x: 0.5 }],
      ]);
    } finally {
      await reopened.close();
    }
  });
});

describe('a tell still in flight past the 10 s drain bound', () => {
  it('loses to the FAIL the interruption recorded once it ends: the value is dropped with a warning, no callback sees it', async () => {
    const finishGate = barrier();
    // A storage that answers after 10 s.
    const storage = heldFinishes(finishGate, (finish) => finish.state === 'COMPLETE');
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const seen: number[] = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 2,
      signal: controller.signal,
      callbacks: [(_s, t) => void seen.push(t.number)],
      ...quiet,
    });
    const settled = run.then(() => 'resolved', (error: unknown) => error);
    await finishGate.reached(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settled).toBeInstanceOf(InterruptedError);
    finishGate.open();
    await turns();
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', null, 'interrupted']]);
    expect(seen).toEqual([]);
    expect(warned('LATE_RESULT_DROPPED')).toEqual([expect.stringMatching(/trial 0 /)]);
    expect(unhandled).toEqual([]);
  });
});

describe('a callback of an interrupted optimize that throws', () => {
  it('past the drain bound, is reported by a warning with its message, neither lost nor unhandled', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const callbackGate = barrier();
    let secondRan = false;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 3,
      signal: controller.signal,
      callbacks: [
        async () => {
          await callbackGate.pass();
          throw new Error('late callback boom');
        },
        () => void (secondRan = true),
      ],
      ...quiet,
    });
    const settled = run.then(() => 'resolved', (error: unknown) => error);
    await callbackGate.reached(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settled).toBeInstanceOf(InterruptedError);
    callbackGate.open();
    await turns();
    expect(unhandled).toEqual([]);
    expect(secondRan).toBe(false); // none starts after optimize settled
    expect(warned('ERROR_NOT_RETHROWN')).toEqual([expect.stringMatching(/late callback boom/)]);
    expect(summary(await study.getTrials())).toEqual([[0, 'COMPLETE', [expect.any(Number)], null]]);
  });

  it('within the drain bound, still rejects with InterruptedError and reports the error by a warning rather than drop it', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const run = study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 3,
      signal: controller.signal,
      callbacks: [
        () => {
          controller.abort(); // Ctrl-C while the callback runs, which then fails
          throw new Error('callback boom during the drain');
        },
      ],
      ...quiet,
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(warned('ERROR_NOT_RETHROWN')).toEqual([expect.stringMatching(/callback boom during the drain/)]);
    expect(unhandled).toEqual([]);
  });
});

describe('optimize called again while late work of an interrupted call runs', () => {
  it('runs its own budget; the late objectives change nothing and warn once, not per trial', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const late = barrier();
    const firstSeen: number[] = [];
    const first = study.optimize(
      async (trial) => {
        trial.suggestFloat('x', 0, 1);
        await late.pass();
        return 0.5;
      },
      { concurrency: 2, nTrials: 10, signal: controller.signal, callbacks: [(_s, t) => void firstSeen.push(t.number)], ...quiet },
    );
    await late.reached(2);
    controller.abort();
    await expect(first).rejects.toBeInstanceOf(InterruptedError);

    const secondSeen: number[] = [];
    let nSecond = 0;
    await study.optimize(
      async (trial) => {
        nSecond++;
        if (nSecond === 1) {
          late.open(); // the first call's objectives return while this call runs
          await turns();
        }
        return trial.suggestFloat('x', 0, 1);
      },
      { concurrency: 2, nTrials: 3, callbacks: [(_s, t) => void secondSeen.push(t.number)], ...quiet },
    );
    await turns();
    expect(nSecond).toBe(3);
    expect(firstSeen).toEqual([]);
    expect([...secondSeen].sort()).toEqual([2, 3, 4]);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
    expect(trials.slice(2).every((t) => t.values?.[0] !== 0.5)).toBe(true);
    expect(warned('LATE_RESULT_DROPPED')).toHaveLength(1);
    expect(warnedCodes().filter((c) => c !== 'LATE_RESULT_DROPPED')).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('is not stopped by study.stop() from a callback the interrupted call left running', async () => {
    // Optuna's callbacks stop "the" optimize with study.stop(): a late one meant the call that
    // ran it, which has ended; it stopped the next call instead.
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const callbackGate = barrier();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const first = study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 5,
      signal: controller.signal,
      callbacks: [
        async (s) => {
          await callbackGate.pass();
          s.stop();
        },
      ],
      ...quiet,
    });
    const settled = first.then(() => 'resolved', (error: unknown) => error);
    await callbackGate.reached(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settled).toBeInstanceOf(InterruptedError);
    vi.useRealTimers();

    let nSecond = 0;
    await study.optimize(
      async (trial) => {
        nSecond++;
        if (nSecond === 1) {
          callbackGate.open(); // the late callback calls study.stop() now
          await turns();
        }
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 3, ...quiet },
    );
    expect(nSecond).toBe(3);
    expect(study.stopped).toBe(null);
    expect(warned('LATE_STOP_IGNORED')).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });
});

describe('the late-work warnings say what happened', () => {
  it("gives no LATE_STOP_IGNORED warning for a GridSampler's own stop from an ask that outlived the call", async () => {
    // The ask waits for its first grid point's claim past the drain bound; when that claim fails,
    // the sampler takes the last point and stops the study ('grid exhausted'). No user stop to warn of:
    // the calls running then find the grid exhausted by their own asks.
    const claimGate = barrier();
    let nClaims = 0;
    const inner = new InMemoryStorage();
    const storage = new Proxy(inner, {
      get(target, key, receiver) {
        if (key !== 'claim') return Reflect.get(target, key, receiver) as unknown;
        return async (studyId: number, claimKey: string) => {
          if (++nClaims === 1) {
            await claimGate.pass();
            return false; // another worker got the point first
          }
          return target.claim(studyId, claimKey);
        };
      },
    });
    const sampler = new GridSampler({ space: { x: [0, 1] } });
    const study = await createStudy({ storage, sampler });
    const controller = new AbortController();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = study.optimize((trial) => trial.suggestCategorical('x', [0, 1]), { signal: controller.signal, ...quiet });
    const settled = run.then(() => 'resolved', (error: unknown) => error);
    await claimGate.reached(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settled).toBeInstanceOf(InterruptedError);
    claimGate.open();
    await turns();
    expect(nClaims).toBe(2); // the late ask went on to the last point, and stopped the study
    expect(warned('LATE_STOP_IGNORED')).toEqual([]);
    expect(study.stopped).toBe(null);
    expect(unhandled).toEqual([]);
  });

  it('LATE_STOP_IGNORED does not call the ended optimize interrupted when it was not', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 1,
      // A continuation the callback left behind, run once optimize has resolved (not interrupted).
      callbacks: [(s) => void released.then(() => s.stop('late'))],
      ...quiet,
    });
    release();
    await turns();
    const messages = warned('LATE_STOP_IGNORED');
    expect(messages).toHaveLength(1);
    expect(messages[0]).not.toMatch(/interrupted/);
    expect(messages[0]).toMatch(/has ended/);
  });

  it('LATE_RESULT_DROPPED does not say the interruption recorded a trial that a stale-trial sweep had finished first', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const other = await loadStudy({ studyName: study.studyName, storage });
    const controller = new AbortController();
    const objectiveGate = barrier();
    const run = study.optimize(
      async (trial) => {
        const x = trial.suggestFloat('x', 0, 1);
        // Another worker's sweep finishes the trial, then the interruption comes.
        await other.tell(trial.number, { state: 'FAIL', failReason: 'stale: no heartbeat (test)' });
        controller.abort();
        await objectiveGate.pass();
        return x;
      },
      { nTrials: 1, signal: controller.signal, ...quiet },
    );
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    objectiveGate.open();
    await turns();
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', null, 'stale: no heartbeat (test)']]);
    const messages = warned('LATE_RESULT_DROPPED');
    expect(messages).toEqual([expect.stringMatching(/trial 0 /)]);
    expect(messages[0]).toMatch(/stale-trial sweep/);
  });
});
