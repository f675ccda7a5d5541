import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { crc32 } from '../../src/pruners/crc32.js';
import { HyperbandPruner, countBrackets } from '../../src/pruners/hyperband.js';
import { SuccessiveHalvingPruner } from '../../src/pruners/successive-halving.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { FakeStudy, curve, makeTrial, rungs } from './fake-study.js';
import { constants, runSequential, runTrial } from './simulate.js';

/** Trial numbers 0..limit-1 of bracket `b`. */
function numbersIn(p: HyperbandPruner, b: number, limit: number, studyName = 'study'): number[] {
  const out: number[] = [];
  for (let n = 0; n < limit; n++) if (p.bracketId(studyName, n) === b) out.push(n);
  return out;
}

describe('crc32', () => {
  it("matches zlib's crc32 (Python's binascii.crc32), UTF-8 included", () => {
    for (const text of ['', 'a', 'study_0', 'study_3', 'my-study_12345', 'étude_7', '研究_42', 'x'.repeat(1000)]) {
      expect(crc32(text), text).toBe(zlibCrc32(text));
    }
    expect(crc32('study_3')).toBe(2365204134);
  });
});

describe('HyperbandPruner brackets', () => {
  it('N = floor(log_eta(R / r)) + 1 brackets with budgets ceil(N eta^s / (s + 1))', () => {
    const p = new HyperbandPruner({ minResource: 1, maxResource: 81, reductionFactor: 3 });
    expect(p.bracketCount).toBe(5);
    // s = 4..0: ceil(5*81/5)=81, ceil(5*27/4)=34, ceil(5*9/3)=15, ceil(5*3/2)=8, ceil(5/1)=5
    expect(p.bracketBudgets()).toEqual([81, 34, 15, 8, 5]);
    expect(countBrackets(1, 243, 3)).toBe(6); // an exact power is not floored one too low
    expect(countBrackets(1, 242, 3)).toBe(5);
    expect(countBrackets(2, 3, 2)).toBe(1);
    expect(countBrackets(1, 1, 3)).toBe(1);
  });

  it('assigns a trial to a bracket from crc32(`${studyName}_${number}`), as Optuna does', () => {
    const p = new HyperbandPruner({ minResource: 1, maxResource: 81, reductionFactor: 3 });
    const cumulative = [81, 115, 130, 138, 143];
    for (let n = 0; n < 300; n++) {
      const h = zlibCrc32(`study_${n}`) % 143;
      expect(p.bracketId('study', n)).toBe(cumulative.findIndex((c) => h < c));
    }
  });

  it('is deterministic across instances and depends on the study name', () => {
    const a = new HyperbandPruner({ maxResource: 100 });
    const b = new HyperbandPruner({ maxResource: 100 });
    const ids = (p: HyperbandPruner, name: string) => Array.from({ length: 200 }, (_, n) => p.bracketId(name, n));
    expect(ids(a, 'alpha')).toEqual(ids(b, 'alpha'));
    expect(ids(a, 'alpha')).not.toEqual(ids(a, 'beta'));
  });

  it('splits trials in proportion to the budgets (within 0.02 over 20000 trials)', () => {
    const p = new HyperbandPruner({ minResource: 1, maxResource: 81, reductionFactor: 3 });
    const budgets = p.bracketBudgets() as number[];
    const total = budgets.reduce((s, x) => s + x, 0);
    const counts = new Array<number>(budgets.length).fill(0);
    const nTrials = 20000;
    for (let n = 0; n < nTrials; n++) counts[p.bracketId('balance-study', n) as number] += 1;
    for (let b = 0; b < budgets.length; b++) {
      expect(Math.abs(counts[b] / nTrials - budgets[b] / total), `bracket ${b}`).toBeLessThan(0.02);
    }
  });

  it('nBrackets keeps the most aggressive brackets with their budgets', () => {
    const p = new HyperbandPruner({ minResource: 1, maxResource: 81, reductionFactor: 3, nBrackets: 2 });
    expect(p.bracketCount).toBe(2);
    expect(p.bracketBudgets()).toEqual([81, 34]);
  });
});

describe('HyperbandPruner decisions', () => {
  // r 1, R 9, eta 3: N 3; bracket 0 rungs 1, 3, 9; bracket 1 rungs 3, 9; bracket 2 rung 9
  const make = () => new HyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3 });

  async function ask(p: HyperbandPruner, others: FrozenTrial[], number: number, values: Record<number, number>) {
    const trial = makeTrial({ number, state: 'RUNNING', values });
    return p.prune(new FakeStudy([...others, trial]), trial);
  }

  it('compares a trial only with trials of its own bracket', async () => {
    const p = make();
    const [b0a, b0b, b0c] = numbersIn(p, 0, 200);
    const strangers = numbersIn(p, 1, 200)
      .slice(0, 4)
      .map((n) => makeTrial({ number: n, values: curve(9, () => 0), systemAttrs: rungs(0, 0) }));
    expect(await ask(p, strangers, b0c, { 0: 5, 1: 5 })).toBe(false); // alone in bracket 0
    const rival = makeTrial({ number: b0a, values: curve(9, () => 0), systemAttrs: rungs(0, 0, 0) });
    expect(await ask(p, [...strangers, rival], b0c, { 0: 5, 1: 5 })).toBe(true);
    const weakRival = makeTrial({ number: b0b, values: curve(9, () => 7), systemAttrs: rungs(7, 7, 7) });
    expect(await ask(p, [...strangers, weakRival], b0c, { 0: 5, 1: 5 })).toBe(false);
  });

  it('bracket b starts stopping at r * eta^b', async () => {
    const p = make();
    const [rivalNumber, n1] = numbersIn(p, 1, 200);
    const rival = makeTrial({ number: rivalNumber, values: curve(9, () => 0), systemAttrs: rungs(0, 0) });
    expect(await ask(p, [rival], n1, { 0: 5, 1: 5 })).toBe(false); // no rung at step 1 in bracket 1
    expect(await ask(p, [rival], n1, { 0: 5, 1: 5, 2: 5, 3: 5 })).toBe(true); // rung at 3
    const [rival2, n2] = numbersIn(p, 2, 400);
    const r2 = makeTrial({ number: rival2, values: curve(10, () => 0), systemAttrs: rungs(0) }); // reached step 9
    expect(await ask(p, [r2], n2, curve(9, () => 5))).toBe(false); // steps 0..8 never reach 9
    expect(await ask(p, [r2], n2, curve(10, () => 5))).toBe(true);
  });

  it('records the rungs a bracket judges on the trial, through the study, and judges each once', async () => {
    const p = make();
    const [n0, m0, k0] = numbersIn(p, 0, 200); // bracket 0: rungs at 1, 3, 9
    const study = new FakeStudy([]);
    expect(await runTrial(p, study, n0, [[3, 2]])).toBe('C'); // rungs 0 and 1 alone
    expect(study.trial(n0).systemAttrs).toEqual(rungs(2, 2));
    expect(await runTrial(p, study, m0, [[3, 1]])).toBe('C');
    expect(await runTrial(p, study, k0, [[3, 0.5]])).toBe('C');
    // trial n0 asked again at step 3 (or with a smaller step reported later): nothing new to judge
    const again = study.put(makeTrial({ number: n0, state: 'RUNNING', values: { 3: 2, 2: 2 } }));
    expect(await p.prune(study, again)).toBe(false);
    // a trial whose one report crosses two rungs and fails the second is recorded at both
    const [a, b, c, d, e, g] = numbersIn(p, 0, 400);
    const study2 = new FakeStudy([]);
    expect(await runTrial(p, study2, a, [[3, 0.5]])).toBe('C');
    for (const n of [b, c, d, e]) expect(await runTrial(p, study2, n, [[1, 0.9]])).toBe('P@1');
    // rung 0: n = 6, idx 1, 0.6 is the 2nd best -> passes; rung 1: [0.5, 0.6], only the best -> fails
    expect(await runTrial(p, study2, g, [[3, 0.6]])).toBe('P@3');
    expect(study2.trial(g).systemAttrs).toEqual(rungs(0.6, 0.6));
  });

  it('equals one SuccessiveHalvingPruner per bracket run on that bracket alone', async () => {
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const values = Array.from({ length: 60 }, () => Math.round(next() * 1000) / 100);
    const p = new HyperbandPruner({ minResource: 1, maxResource: 27, reductionFactor: 3 });
    const all = await runSequential(p, constants(values), 27);
    expect(all.filter((o) => o !== 'C').length).toBeGreaterThan(10);
    for (let b = 0; b < (p.bracketCount as number); b++) {
      const members = numbersIn(p, b, values.length);
      const sha = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3, minEarlyStoppingRate: b });
      const alone = await runSequential(sha, constants(members.map((n) => values[n])), 27);
      expect(members.map((n) => all[n]), `bracket ${b}`).toEqual(alone);
    }
  });

  it("maxResource 'auto': no pruning until a trial completes, then R = its last step + 1", async () => {
    const p = new HyperbandPruner({ minResource: 1, reductionFactor: 3 });
    const running = makeTrial({ number: 0, state: 'RUNNING', values: curve(5, () => 0) });
    expect(await ask(p, [running], 1, curve(5, () => 9))).toBe(false);
    expect(p.bracketCount).toBeNull();
    expect(p.bracketId('study', 1)).toBeNull();
    const done = makeTrial({ number: 0, values: curve(9, () => 0) }); // last step 8 -> R = 9 -> N = 3
    await ask(p, [done], 1, { 0: 1 });
    expect(p.bracketCount).toBe(3);
    expect(p.bracketBudgets()).toEqual(make().bracketBudgets());
  });

  it("nBrackets above the limit: a typed error with a fixed maxResource; with 'auto' clamped once R is known, with a coded warning", async () => {
    // A fixed R: the limit is known at construction, so the option is refused there.
    expect(() => new HyperbandPruner({ maxResource: 9, reductionFactor: 3, nBrackets: 4 })).toThrow(
      'option "nBrackets": expected an integer in [1, 3] for these resources (minResource 1, maxResource 9, reductionFactor 3), received 4',
    );
    // 'auto': R comes from the first completed trial, mid-study; it was clamped silently.
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const p = new HyperbandPruner({ minResource: 1, reductionFactor: 3, nBrackets: 4 });
      const done = makeTrial({ number: 0, values: curve(9, () => 0) }); // last step 8 -> R = 9 -> N = 3
      await ask(p, [done], 1, { 0: 1 });
      await ask(p, [done], 2, { 0: 1 });
      expect(p.bracketCount).toBe(3);
      expect(p.bracketBudgets()).toEqual(make().bracketBudgets());
      expect(warnings).toHaveBeenCalledTimes(1);
      expect(warnings).toHaveBeenCalledWith(
        'HyperbandPruner: nBrackets 4 is above the 3 brackets that maxResource \'auto\' (resolved to 9 from the first completed trial) allows with minResource 1 and reductionFactor 3; using 3',
        { code: 'HYPERBAND_BRACKETS_CLAMPED', type: 'KestrelWarning' },
      );
      // Within the limit: no warning.
      warnings.mockClear();
      const fits = new HyperbandPruner({ minResource: 1, reductionFactor: 3, nBrackets: 2 });
      await ask(fits, [done], 1, { 0: 1 });
      expect(fits.bracketCount).toBe(2);
      expect(warnings).not.toHaveBeenCalled();
    } finally {
      warnings.mockRestore();
      resetWarnOnce();
    }
  });

  it('reads the trials at most once per call, and not at all between rungs', async () => {
    for (const p of [make(), new HyperbandPruner({ minResource: 1, reductionFactor: 3 })]) {
      const [n0] = numbersIn(make(), 0, 100);
      const study = new FakeStudy([makeTrial({ number: 500, values: curve(9, () => 0) })]);
      for (let n = 1; n <= 9; n++) {
        const trial = study.put(makeTrial({ number: n0, state: 'RUNNING', values: curve(n, () => 1) }));
        const before = study.getTrialsCalls;
        await p.prune(study, trial);
        expect(study.getTrialsCalls - before).toBeLessThanOrEqual(1);
      }
      // bracket 0 has rungs at steps 1 and 3 in steps 0..8: two reads (the 'auto' one also reads at step 0)
      expect(study.getTrialsCalls).toBe(p.maxResource === 'auto' ? 3 : 2);
    }
  });

  it('rejects bad options', () => {
    const bad: [string, () => unknown][] = [
      ['minResource', () => new HyperbandPruner({ minResource: 0 })],
      ['maxResource', () => new HyperbandPruner({ minResource: 4, maxResource: 3 })],
      ['maxResource', () => new HyperbandPruner({ maxResource: 'max' as never })],
      ['reductionFactor', () => new HyperbandPruner({ reductionFactor: 1 })],
      ['bootstrapCount', () => new HyperbandPruner({ bootstrapCount: -1 })],
      ['nBrackets', () => new HyperbandPruner({ nBrackets: 0 })],
      ['nBrackets', () => new HyperbandPruner({ maxResource: 9, reductionFactor: 3, nBrackets: 4 })],
      ['min_resource', () => new HyperbandPruner({ min_resource: 1 } as never)],
    ];
    for (const [option, make] of bad) {
      expect(make, option).toThrow(InvalidOptionError);
      try {
        make();
      } catch (e) {
        expect((e as InvalidOptionError).option).toBe(option);
      }
    }
  });
});
