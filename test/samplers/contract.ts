/**
 * The contract every sampler must meet. Usage, in a `*.test.ts` file:
 *
 *     runSamplerContract('random', (seed) => new RandomSampler({ seed }));
 *     runSamplerContract('gp', (seed) => new GpSampler({ seed }), { nTrials: 15 });
 *
 * It drives the sampler through `FakeStudy` (the same hook order as `Study.ask`/`tell`).
 */
import { describe, expect, it } from 'vitest';
import {
  categoricalDistribution,
  contains,
  floatDistribution,
  intDistribution,
} from '../../src/space/distributions.js';
import type { Distribution, ParamValue } from '../../src/space/types.js';
import type { Sampler } from '../../src/samplers/sampler.js';
import { FakeStudy, ask, runTrial, suggestAll, tell } from './fake-study.js';

export interface SamplerContractOptions {
  /** Trials per run (default 30). Lower it for slow model-based samplers. */
  readonly nTrials?: number;
  /**
   * Values depend only on (seed, trial number, name), not on which trials completed first
   * (true for random-style samplers; default false).
   */
  readonly orderIndependent?: boolean;
}

/** A space with every distribution kind, including single-valued ones. */
export const CONTRACT_SPACE: Readonly<Record<string, Distribution>> = {
  x: floatDistribution('x', -5, 5),
  lr: floatDistribution('lr', 1e-5, 1e-1, { log: true }),
  frac: floatDistribution('frac', 0, 1, { step: 0.1 }),
  depth: intDistribution('depth', 1, 12),
  width: intDistribution('width', 16, 256, { step: 16 }),
  batch: intDistribution('batch', 1, 1024, { log: true }),
  opt: categoricalDistribution('opt', ['adam', 'sgd', 'rmsprop']),
  mixed: categoricalDistribution('mixed', [1, 'two', true, null]),
  fixedFloat: floatDistribution('fixedFloat', 2.5, 2.5),
  fixedCat: categoricalDistribution('fixedCat', ['only']),
};

function quadratic(params: Readonly<Record<string, ParamValue>>): number {
  const x = params.x as number;
  return x * x + Math.log10(params.lr as number) ** 2 / 10;
}

async function runStudy(
  sampler: Sampler,
  nTrials: number,
  space: Readonly<Record<string, Distribution>> = CONTRACT_SPACE,
): Promise<Record<string, ParamValue>[]> {
  const study = new FakeStudy();
  const out: Record<string, ParamValue>[] = [];
  for (let i = 0; i < nTrials; i++) out.push({ ...(await runTrial(sampler, study, space, quadratic)).params });
  return out;
}

export function runSamplerContract(
  name: string,
  makeSampler: (seed: number) => Sampler,
  options: SamplerContractOptions = {},
): void {
  const nTrials = options.nTrials ?? 30;

  describe(`sampler contract: ${name}`, () => {
    it('has a non-empty name', () => {
      expect(typeof makeSampler(1).name).toBe('string');
      expect(makeSampler(1).name.length).toBeGreaterThan(0);
    });

    it('samples only values contained in their distributions, for every kind', async () => {
      const trials = await runStudy(makeSampler(1), nTrials);
      for (const params of trials) {
        for (const [param, dist] of Object.entries(CONTRACT_SPACE)) {
          expect(contains(dist, params[param]), `${param} = ${JSON.stringify(params[param])}`).toBe(true);
        }
        expect(params.fixedFloat).toBe(2.5);
        expect(params.fixedCat).toBe('only');
      }
    });

    it('gives different values to different trial numbers', async () => {
      const trials = await runStudy(makeSampler(2), nTrials);
      const xs = new Set(trials.map((p) => p.x));
      expect(xs.size).toBeGreaterThanOrEqual(Math.ceil(nTrials * 0.9));
    });

    it('explores the whole range (continuous dims reach both outer quarters, all 3 choices seen)', async () => {
      const trials = await runStudy(makeSampler(3), Math.max(nTrials, 12));
      const xs = trials.map((p) => p.x as number);
      expect(Math.min(...xs)).toBeLessThan(-2.5);
      expect(Math.max(...xs)).toBeGreaterThan(2.5);
      expect(new Set(trials.map((p) => p.opt)).size).toBe(3);
    });

    it('is reproducible: same seed, same values', async () => {
      const a = await runStudy(makeSampler(4), nTrials);
      const b = await runStudy(makeSampler(4), nTrials);
      expect(b).toEqual(a);
    });

    it('depends on the seed: different seeds, different values', async () => {
      const a = await runStudy(makeSampler(5), nTrials);
      const b = await runStudy(makeSampler(6), nTrials);
      expect(b.map((p) => p.x)).not.toEqual(a.map((p) => p.x));
    });

    it('handles a dynamic (conditional) space: parameters that appear in some trials only', async () => {
      const sampler = makeSampler(7);
      const study = new FakeStudy();
      const always = { kind: categoricalDistribution('kind', ['a', 'b']) };
      for (let i = 0; i < nTrials; i++) {
        const asked = await ask(sampler, study);
        const first = suggestAll(sampler, study, asked, always);
        const extra: Record<string, Distribution> =
          first.kind === 'a'
            ? { aOnly: floatDistribution('aOnly', 0, 1) }
            : { bOnly: intDistribution('bOnly', -3, 3) };
        const rest = suggestAll(sampler, study, asked, extra);
        await tell(sampler, study, asked, { ...first, ...rest }, { ...always, ...extra }, i);
      }
      expect(study.trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    });

    it('samples concurrently running trials (asked before any is told) without error', async () => {
      const sampler = makeSampler(8);
      const study = new FakeStudy();
      // Warm up with a few completed trials so relative samplers have a space.
      for (let i = 0; i < 3; i++) await runTrial(sampler, study, CONTRACT_SPACE, quadratic);
      const asked = await Promise.all([ask(sampler, study), ask(sampler, study), ask(sampler, study)]);
      const params = asked.map((a) => suggestAll(sampler, study, a, CONTRACT_SPACE));
      expect(new Set(params.map((p) => p.x)).size).toBe(3);
      for (let i = asked.length - 1; i >= 0; i--) {
        await tell(sampler, study, asked[i], params[i], CONTRACT_SPACE, quadratic(params[i]));
      }
    });

    if (options.orderIndependent === true) {
      it('is independent of completion order (values depend on seed, trial number and name only)', async () => {
        const inOrder = await runStudy(makeSampler(9), 6);
        const sampler = makeSampler(9);
        const study = new FakeStudy();
        const asked = [];
        for (let i = 0; i < 6; i++) asked.push(await ask(sampler, study));
        const params = [...asked].reverse().map((a) => suggestAll(sampler, study, a, CONTRACT_SPACE)).reverse();
        expect(params).toEqual(inOrder);
      });
    }
  });
}
