import { describe, expect, it, vi } from 'vitest';
import { TrialPrunedError } from '../../../src/errors.js';
import { TpeSampler } from '../../../src/samplers/tpe/tpe-sampler.js';
import { createStudy } from '../../../src/study/create-study.js';
import type { Trial } from '../../../src/trial/trial.js';
import { resetWarnOnce } from '../../../src/util/warn.js';

const branin = (x: number, y: number): number =>
  (y - (5.1 / (4 * Math.PI ** 2)) * x * x + (5 / Math.PI) * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;

describe('TpeSampler through the real Study', () => {
  it('optimizes sequentially and reproducibly, with pruned and failed trials in the history', async () => {
    const run = async (): Promise<{ best: number; xs: number[] }> => {
      const study = await createStudy({ sampler: new TpeSampler({ seed: 11 }) });
      await study.optimize(
        async (trial: Trial) => {
          const x = trial.suggestFloat('x', -5, 10);
          const y = trial.suggestFloat('y', 0, 15);
          const units = trial.suggestInt('units', 8, 512, { log: true });
          if (trial.number % 7 === 3) throw new Error('flaky objective');
          const value = branin(x, y) + Math.abs(Math.log2(units) - 6);
          await trial.report(1, value + 1);
          if (trial.number % 5 === 4) {
            await trial.report(2, value);
            throw new TrialPrunedError();
          }
          return value;
        },
        { nTrials: 50 },
      );
      const trials = await study.getTrials();
      expect(trials.filter((t) => t.state === 'FAIL').length).toBe(7);
      expect(trials.filter((t) => t.state === 'PRUNED').length).toBe(9); // 24 fails first
      return { best: await study.bestValue(), xs: trials.map((t) => t.params.x as number) };
    };
    const a = await run();
    const b = await run();
    expect(b.xs).toEqual(a.xs);
    expect(b.best).toBe(a.best);
    // Search quality is asserted in tpe-sampler.test.ts; here only that the study went through.
    expect(Number.isFinite(a.best)).toBe(true);
  });

  it('with constantLiar, spreads the trials of concurrent asks (params not yet flushed)', async () => {
    const spread = async (constantLiar: boolean): Promise<number> => {
      const study = await createStudy({ sampler: new TpeSampler({ seed: 3, constantLiar }) });
      const objective = (trial: Trial): number => (trial.suggestFloat('x', 0, 1) - 0.3) ** 2;
      await study.optimize(objective, { nTrials: 25 });
      const running: Trial[] = [];
      for (let i = 0; i < 8; i++) running.push(await study.ask());
      const xs = running.map((t) => t.suggestFloat('x', 0, 1));
      for (const t of running) await study.tell(t, (t.suggestFloat('x', 0, 1) - 0.3) ** 2);
      const m = xs.reduce((s, v) => s + v, 0) / xs.length;
      return Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / xs.length);
    };
    const lying = await spread(true);
    const honest = await spread(false);
    expect(lying, `${lying} vs ${honest}`).toBeGreaterThan(honest);
  });

  it.each([false, true])('multivariate TPE (group %s) models a parameter named __proto__ jointly', async (group) => {
    resetWarnOnce();
    const codes: (string | undefined)[] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation((_w, options) => {
      codes.push((options as { code?: string } | undefined)?.code);
    });
    try {
      const study = await createStudy({ sampler: new TpeSampler({ seed: 1, nStartupTrials: 3, multivariate: true, group }) });
      await study.optimize((t) => t.suggestFloat('__proto__', 0, 1) + t.suggestFloat('constructor', 0, 1) + t.suggestFloat('x', 0, 1), { nTrials: 8 });
      const trials = await study.getTrials();
      for (const t of trials) expect(Object.keys(t.params).sort()).toEqual(['__proto__', 'constructor', 'x']);
      expect(codes).not.toContain('TPE_INDEPENDENT_SAMPLING');
    } finally {
      spy.mockRestore();
    }
  });

  it('multivariate TPE runs concurrently through optimize', async () => {
    const study = await createStudy({ sampler: new TpeSampler({ seed: 5, multivariate: true, constantLiar: true }) });
    await study.optimize((trial: Trial) => branin(trial.suggestFloat('x', -5, 10), trial.suggestFloat('y', 0, 15)), {
      nTrials: 40,
      concurrency: 4,
    });
    expect((await study.getTrials({ states: ['COMPLETE'] })).length).toBe(40);
    expect(await study.bestValue()).toBeLessThan(3);
  });
});
