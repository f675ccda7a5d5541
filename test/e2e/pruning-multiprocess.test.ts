/**
 * Pruning across worker processes (issue 4: "decisions depend only on the reported intermediate
 * values, so they hold with concurrency > 1 and across worker processes").
 *
 * (a) Determinism: a journal holds a constructed study history (COMPLETE, PRUNED, FAIL and RUNNING
 *     trials with curves, and the rung records each pruner would have written), one study per
 *     pruner. Two child processes open it and ask every pruner about every RUNNING trial (a fresh
 *     instance per question, through a read-only view), one in ascending and one in descending
 *     trial order; their decisions equal each other and those of this process.
 * (b) Three worker processes run ASHA on one journal (optimize with maxTrialsInStudy = 60,
 *     concurrency 2 each). Afterwards every trial is finished, none is lost or run twice, PRUNED
 *     trials stopped at a rung step, each trial's rung records match its curve, and an offline
 *     replay of the ASHA rule in journal order never contradicts what the workers decided.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPromotable } from '../../src/pruners/successive-halving.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { collect, makeTempDir, tsxLoader, type CliResult } from '../cli/helpers.js';
import {
  PRUNER_FACTORIES,
  WORKER_ASHA,
  WORKER_STEPS,
  buildHistories,
  evaluateRunning,
  historyStudyName,
  workerLoss,
  type Decisions,
} from './fixtures/pruning-history.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

function spawnFixture(script: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader, path.join(fixtures, script), ...args], {
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function runFixture(script: string, args: readonly string[]): Promise<CliResult> {
  const child = spawnFixture(script, args);
  child.stdin?.end();
  return collect(child);
}

/** Resolves when the child has printed a line "ready" (rejects if it exits first). */
function whenReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer | string): void => {
      out += chunk.toString();
      if (out.split('\n').includes('ready')) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready: ${out}`)));
  });
}

function lastJsonLine<T>(result: CliResult): T {
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('pruning-mp'));
});
afterAll(async () => {
  await cleanup();
});

describe('(a) pruning decisions across processes', () => {
  it('two child processes and this one decide the same for every pruner and RUNNING trial', async () => {
    const journal = path.join(dir, 'history.journal');
    const storage = new JournalStorage({ path: journal });
    await buildHistories(storage, 'history');
    await storage.close();

    const children = Promise.all([
      runFixture('pruning-decide.ts', [journal, 'history', 'asc']),
      runFixture('pruning-decide.ts', [journal, 'history', 'desc']),
    ]);

    const reader = new JournalStorage({ path: journal });
    let local: Decisions;
    let running: readonly FrozenTrial[];
    try {
      const studyId = await reader.getStudyIdFromName(historyStudyName('history', 'nop'));
      running = await reader.getAllTrials(studyId, { states: ['RUNNING'] });
      local = await evaluateRunning(reader, 'history', 'asc');
    } finally {
      await reader.close();
    }

    const results = await children;
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const [asc, desc] = results.map((r) => lastJsonLine<{ pid: number; order: string; decisions: Decisions }>(r));
    expect(asc.pid).not.toBe(desc.pid);
    expect(asc.pid).not.toBe(process.pid);
    expect(asc.order).toBe('asc');
    expect(desc.order).toBe('desc');
    expect(asc.decisions).toEqual(local);
    expect(desc.decisions).toEqual(local);

    // The comparison means something: every pruner was asked about all 18 RUNNING trials, and the
    // history makes each one (but nop) prune some and keep others.
    expect(running).toHaveLength(18);
    expect(Object.keys(local).sort()).toEqual(Object.keys(PRUNER_FACTORIES).sort());
    for (const [name, decisions] of Object.entries(local)) {
      const values = Object.values(decisions);
      expect(values, name).toHaveLength(18);
      if (name === 'nop') {
        expect(values.every((v) => !v)).toBe(true);
      } else {
        expect(values.filter((v) => v).length, `${name} prunes some`).toBeGreaterThan(0);
        expect(values.filter((v) => !v).length, `${name} keeps some`).toBeGreaterThan(0);
      }
    }
    // The trial reporting NaN at a rung is pruned by every rung- or percentile-based pruner.
    const nanTrial = running.find((t) => Number.isNaN(t.intermediateValues[t.lastStep as number]));
    expect(nanTrial).toBeDefined();
    for (const name of ['median', 'percentile-25', 'asha', 'threshold']) {
      expect(local[name][nanTrial!.number], name).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// (b)

const N_TRIALS = 60;
const RUNG_STEPS = [1, 3, 9]; // r * eta^k for r = 1, eta = 3, below WORKER_STEPS

interface JournalRecord {
  readonly op: string;
  readonly trialId?: number;
  readonly update?: {
    readonly intermediateValues?: Readonly<Record<string, number | string>>;
    readonly systemAttrs?: Readonly<Record<string, unknown>>;
  };
  readonly finish?: { readonly state: string; readonly intermediateValues?: Readonly<Record<string, number | string>> };
}

/**
 * For each trial id: the journal line index at which each step was first recorded, and at which
 * each ASHA rung record (`completed_rung_<k>`, by k) was written.
 */
function journalTimeline(text: string): {
  stepLine: Map<number, Map<number, number>>;
  recordLine: Map<number, Map<number, number>>;
} {
  const stepLine = new Map<number, Map<number, number>>();
  const recordLine = new Map<number, Map<number, number>>();
  const firstLine = (byTrial: Map<number, Map<number, number>>, trialId: number, key: number, index: number): void => {
    let lines = byTrial.get(trialId);
    if (lines === undefined) {
      lines = new Map();
      byTrial.set(trialId, lines);
    }
    if (!lines.has(key)) lines.set(key, index);
  };
  const lines = text.split('\n').filter((l) => l.length > 0);
  lines.forEach((line, index) => {
    const record = JSON.parse(line) as JournalRecord;
    if (record.trialId === undefined) return;
    const iv =
      record.op === 'updateTrial' ? record.update?.intermediateValues : record.op === 'finishTrial' ? record.finish?.intermediateValues : undefined;
    for (const key of Object.keys(iv ?? {})) firstLine(stepLine, record.trialId, Number(key), index);
    const attrs = record.op === 'updateTrial' ? record.update?.systemAttrs : undefined;
    for (const key of Object.keys(attrs ?? {})) {
      const match = /^completed_rung_(\d+)$/.exec(key);
      if (match !== null) firstLine(recordLine, record.trialId, Number(match[1]), index);
    }
  });
  return { stepLine, recordLine };
}

describe('(b) three ASHA workers on one journal', () => {
  it('finish every trial once, prune only at rungs, and never contradict an offline replay', async () => {
    const journal = path.join(dir, 'asha.journal');
    const setup = await createStudy({ studyName: 'asha', storage: journal, direction: 'minimize' });
    await setup.close();

    const workers = [0, 1, 2].map(() => spawnFixture('pruning-worker.ts', [journal, 'asha', String(N_TRIALS)]));
    const done = Promise.all(workers.map(collect));
    await Promise.all(workers.map(whenReady));
    for (const w of workers) w.stdin?.end('go\n');
    const results = await done;
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const ran = results.map((r) => lastJsonLine<{ pid: number; ran: number[] }>(r).ran);

    // No trial lost, none run twice; every worker took part.
    const all = ran.flat().sort((a, b) => a - b);
    expect(all).toEqual([...Array(N_TRIALS).keys()]);
    for (const r of ran) expect(r.length, 'each worker ran trials').toBeGreaterThan(0);
    // The workers overlapped: trials were started out of number order across them.
    expect(ran.some((r) => r.some((n, i) => i > 0 && n !== r[i - 1] + 1)), JSON.stringify(ran)).toBe(true);

    const study = await loadStudy({ studyName: 'asha', storage: journal });
    let trials: readonly FrozenTrial[];
    try {
      trials = await study.getTrials();
    } finally {
      await study.close();
    }
    expect(trials.map((t) => t.number)).toEqual([...Array(N_TRIALS).keys()]);

    const pruned = trials.filter((t) => t.state === 'PRUNED');
    const complete = trials.filter((t) => t.state === 'COMPLETE');
    expect(pruned.length + complete.length, 'every trial COMPLETE or PRUNED').toBe(N_TRIALS);
    expect(pruned.length).toBeGreaterThan(N_TRIALS / 2);
    expect(complete.length).toBeGreaterThan(0);

    for (const t of trials) {
      const steps = Object.keys(t.intermediateValues).map(Number).sort((a, b) => a - b);
      expect(steps, `trial ${t.number}: contiguous curve`).toEqual([...Array(steps.length).keys()]);
      const x = t.params.x as number;
      const y = t.params.y as number;
      for (const s of steps) expect(t.intermediateValues[s]).toBe(workerLoss(x, y, s));
      if (t.state === 'PRUNED') {
        expect(RUNG_STEPS, `trial ${t.number} pruned at step ${t.lastStep}`).toContain(t.lastStep);
        expect(t.values).toEqual([t.intermediateValues[t.lastStep as number]]);
      } else {
        expect(t.lastStep).toBe(WORKER_STEPS - 1);
        expect(t.values).toEqual([workerLoss(x, y, WORKER_STEPS - 1)]);
      }
    }

    // The rung a trial stopped at: the last rung step it reported (pruned there) or none.
    const stoppedAtRung = (t: FrozenTrial): number | null => (t.state === 'PRUNED' ? (t.lastStep as number) : null);

    // Static check: at every rung, the best value among all trials that reached it was not pruned there.
    for (const rung of RUNG_STEPS) {
      const reached = trials.filter((t) => t.intermediateValues[rung] !== undefined);
      expect(reached.length, `rung ${rung} reached`).toBeGreaterThan(0);
      const best = reached.reduce((a, b) => (b.intermediateValues[rung] < a.intermediateValues[rung] ? b : a));
      expect(stoppedAtRung(best), `best trial ${best.number} at rung ${rung}`).not.toBe(rung);
    }

    // Rung records: a trial is judged at every rung its reports reach (it asks after each one), and
    // records there its value at that step, also where it is pruned.
    const { stepLine, recordLine } = journalTimeline(await readFile(journal, 'utf8'));
    for (const t of trials) {
      RUNG_STEPS.forEach((rungStep, k) => {
        const reached = t.intermediateValues[rungStep] !== undefined;
        expect(t.systemAttrs[`completed_rung_${k}`], `trial ${t.number} rung ${k}`).toBe(reached ? t.intermediateValues[rungStep] : undefined);
        expect(recordLine.get(t.trialId)?.has(k) ?? false, `trial ${t.number} rung ${k} record in the journal`).toBe(reached);
      });
    }

    // Replay in journal order. A trial reported its rung value at line L, then read the trials and
    // wrote its own rung record at line W. The competitors the pruner saw are the trials whose rung
    // record was written before that read: at least those before L, at most those before W. ASHA
    // promotes iff #(strictly better) <= max(floor(n / eta) - 1, 0), n counting the trial itself. So
    // a promotion needs better(before L) <= max(floor(n_W / eta) - 1, 0) and a prune needs
    // better(before W) > max(floor(n_L / eta) - 1, 0); and with the bounds equal (no other record
    // written in between) the decision must be exactly `isPromotable`'s.
    const eta = WORKER_ASHA.reductionFactor;
    let exactChecks = 0;
    for (const [k, rung] of RUNG_STEPS.entries()) {
      const reached = trials.filter((t) => t.intermediateValues[rung] !== undefined);
      for (const t of reached) {
        const value = t.intermediateValues[rung];
        const lineL = stepLine.get(t.trialId)?.get(rung) as number;
        const lineW = recordLine.get(t.trialId)?.get(k) as number;
        expect(lineL, `trial ${t.number}: rung ${rung} reported before it was recorded`).toBeLessThan(lineW);
        const wasPruned = stoppedAtRung(t) === rung;
        const before = (line: number): number[] =>
          reached
            .filter((o) => o.trialId !== t.trialId && (recordLine.get(o.trialId)?.get(k) ?? Infinity) < line)
            .map((o) => o.intermediateValues[rung]);
        const lower = before(lineL);
        const upper = before(lineW);
        const quota = (n: number): number => Math.max(Math.floor(n / eta) - 1, 0);
        const better = (values: readonly number[]): number => values.filter((v) => v < value).length;
        const where = `trial ${t.number} ${wasPruned ? 'pruned' : 'promoted'} at rung ${rung} (competitors ${lower.length}..${upper.length})`;
        if (wasPruned) {
          expect(better(upper) > quota(lower.length + 1), where).toBe(true);
        } else {
          expect(better(lower) <= quota(upper.length + 1), where).toBe(true);
        }
        if (lower.length === upper.length) {
          exactChecks += 1;
          expect(isPromotable(value, [...lower, value], eta, 'minimize'), where).toBe(!wasPruned);
        }
      }
    }
    expect(exactChecks, 'decisions replayed exactly').toBeGreaterThan(0);
  });
});
