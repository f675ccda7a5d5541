import { describe, expect, it } from 'vitest';
import { createStudy, loadStudy } from '../../../src/study/create-study.js';
import type { Trial } from '../../../src/trial/trial.js';
import { ConstraintsFuncError, InvalidOptionError, KestrelError } from '../../../src/errors.js';
import { NsgaIiSampler, type NsgaIiSamplerOptions } from '../../../src/samplers/genetic/nsga-ii-sampler.js';
import { categoricalDistribution, contains, floatDistribution, intDistribution } from '../../../src/space/distributions.js';
import type { Distribution, ParamValue } from '../../../src/space/types.js';
import type { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import { CONTRACT_SPACE, runSamplerContract } from '../contract.js';
import { FakeStudy, ask, suggestAll, tell, type AskedTrial } from '../fake-study.js';
import { DirectedStudy, runVectorTrial } from './helpers.js';

// BLX-alpha makes every crossover child's float new, as the contract's distinctness check expects
// (uniform crossover and SBX copy parent genes, so equal values across trials are by design there;
// their feasibility is checked below).
runSamplerContract('nsga2 (blxalpha, population 8)', (seed) => new NsgaIiSampler({ seed, populationSize: 8, crossover: 'blxalpha' }));

const CATEGORIES = Array.from({ length: 40 }, (_, i) => `c${i}`);
/** A float, an int and a categorical with many choices, so inherited values are recognizable. */
const SPACE: Record<string, Distribution> = {
  x: floatDistribution('x', 0, 1),
  k: intDistribution('k', 0, 1000),
  c: categoricalDistribution('c', CATEGORIES),
};
const score = (p: Readonly<Record<string, ParamValue>>): number =>
  (p.x as number) + (p.k as number) / 1000 + CATEGORIES.indexOf(p.c as string) / 40;

describe('NsgaIiSampler options', () => {
  const bad: [keyof NsgaIiSamplerOptions, unknown][] = [
    ['seed', 1.5],
    ['populationSize', 1],
    ['populationSize', 2.5],
    ['mutationProb', 1.5],
    ['mutationProb', Number.NaN],
    ['crossover', 'spx'],
    ['crossoverProb', -0.1],
    ['swappingProb', '0.5'],
    ['blxAlpha', -1],
    ['sbxEta', 0],
    ['constraintsFunc', 3],
  ];
  for (const [option, value] of bad) {
    it(`rejects ${option} = ${String(value)}, naming the option`, () => {
      let error: unknown = null;
      try {
        new NsgaIiSampler({ [option]: value } as NsgaIiSamplerOptions);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
      expect((error as Error).message).toContain('expected');
    });
  }

  it('rejects a non-object options argument and accepts the documented defaults', () => {
    expect(() => new NsgaIiSampler(3 as unknown as NsgaIiSamplerOptions)).toThrow(InvalidOptionError);
    const sampler = new NsgaIiSampler({ seed: 1, mutationProb: null, crossover: 'sbx', sbxEta: null });
    expect(sampler.name).toBe('nsga2');
    expect(sampler.populationSize).toBe(50);
    expect(new NsgaIiSampler({ seed: 1, populationSize: 7 }).generationOf(13)).toBe(1);
    expect(new NsgaIiSampler({ seed: 1, populationSize: 7 }).generationOf(14)).toBe(2);
  });
});

describe('NsgaIiSampler generations', () => {
  it('samples generation 0 independently at random and breeds from trial number populationSize on', async () => {
    const sampler = new NsgaIiSampler({ seed: 1, populationSize: 5 });
    const study = new FakeStudy();
    for (let i = 0; i < 12; i++) {
      const asked = await ask(sampler, study);
      expect(Object.keys(asked.relative).length > 0, `trial ${i}`).toBe(i >= 5);
      await runVectorTrialAfterAsk(sampler, study, asked, SPACE);
    }
  });

  it('breeds generation 2 only from the elite of generations 0 and 1 (minimize; no mutation)', async () => {
    const N = 6;
    const sampler = new NsgaIiSampler({ seed: 2, populationSize: N, mutationProb: 0 });
    const study = new FakeStudy();
    for (let i = 0; i < 2 * N; i++) await runVectorTrial(sampler, study, SPACE, (p) => [score(p)]);
    const elite = [...study.trials].sort((a, b) => (a.values as number[])[0] - (b.values as number[])[0]).slice(0, N);
    const worst = [...study.trials].sort((a, b) => (a.values as number[])[0] - (b.values as number[])[0]).slice(N);
    for (let i = 0; i < N; i++) {
      const child = (await runVectorTrial(sampler, study, SPACE, (p) => [score(p)])).params;
      // Uniform crossover copies genes: every gene comes from an elite parent.
      for (const name of ['x', 'k', 'c']) {
        expect(elite.map((t) => t.params[name]), `${name} of child ${i}`).toContain(child[name]);
      }
    }
    // The discarded half cannot be reached: it shares no gene value with the elite (sanity of the test).
    expect(worst.some((t) => !elite.some((e) => e.params.x === t.params.x))).toBe(true);
  });

  it('respects maximize: the elite is the largest values', async () => {
    const N = 5;
    const sampler = new NsgaIiSampler({ seed: 3, populationSize: N, mutationProb: 0 });
    const study = new DirectedStudy(['maximize']);
    for (let i = 0; i < 2 * N; i++) await runVectorTrial(sampler, study, SPACE, (p) => [score(p)]);
    const elite = [...study.trials].sort((a, b) => (b.values as number[])[0] - (a.values as number[])[0]).slice(0, N);
    for (let i = 0; i < N; i++) {
      const child = (await runVectorTrial(sampler, study, SPACE, (p) => [score(p)])).params;
      expect(elite.map((t) => t.params.x)).toContain(child.x);
      expect(elite.map((t) => t.params.c)).toContain(child.c);
    }
  });

  it('excludes FAIL and PRUNED trials from the parents', async () => {
    const N = 6;
    const sampler = new NsgaIiSampler({ seed: 4, populationSize: N, mutationProb: 0 });
    const study = new FakeStudy();
    const complete: FrozenTrial[] = [];
    for (let i = 0; i < N; i++) {
      const state = i % 3 === 0 ? 'FAIL' : i % 3 === 1 ? 'PRUNED' : 'COMPLETE';
      const t = await runVectorTrial(sampler, study, SPACE, (p) => [score(p)], state);
      if (state === 'COMPLETE') complete.push(t);
    }
    for (let i = 0; i < N; i++) {
      const child = (await runVectorTrial(sampler, study, SPACE, (p) => [score(p)])).params;
      expect(complete.map((t) => t.params.x)).toContain(child.x);
      expect(complete.map((t) => t.params.k)).toContain(child.k);
    }
  });

  it('keeps the non-dominated trials of a 2-objective study as parents', async () => {
    const N = 6;
    const sampler = new NsgaIiSampler({ seed: 5, populationSize: N, mutationProb: 0 });
    const study = new DirectedStudy(['minimize', 'maximize']);
    const objective = (p: Readonly<Record<string, ParamValue>>): number[] => [p.x as number, p.k as number];
    for (let i = 0; i < 2 * N; i++) await runVectorTrial(sampler, study, SPACE, objective);
    const front = study.trials.filter(
      (t) => !study.trials.some((o) => (o.params.x as number) <= (t.params.x as number) && (o.params.k as number) >= (t.params.k as number) && o !== t && (o.params.x !== t.params.x || o.params.k !== t.params.k)),
    );
    expect(front.length).toBeGreaterThan(0);
    expect(front.length).toBeLessThanOrEqual(N);
    // With crossoverProb 0 each child copies one tournament winner. The asked trials stay RUNNING
    // (not parents), so all 60 children (generations 2..11) are bred from the same elite; every
    // front member (rank 0, never beaten on rank) must appear, and only elite members may.
    const copier = new NsgaIiSampler({ seed: 5, populationSize: N, mutationProb: 0, crossoverProb: 0 });
    const seen = new Set<ParamValue>();
    for (let i = 0; i < 60; i++) seen.add((await ask(copier, study)).relative.x);
    for (const t of front) expect(seen.has(t.params.x), `front member x=${String(t.params.x)}`).toBe(true);
    expect(seen.size).toBeLessThanOrEqual(N);
  });
});

describe('NsgaIiSampler crowding', () => {
  it('cuts an overfull front by crowding distance: the extremes of the front survive', async () => {
    const N = 4;
    const sampler = new NsgaIiSampler({ seed: 14, populationSize: N });
    const study = new DirectedStudy(['minimize', 'minimize']);
    // (x, 1 - x): all 2N trials of generations 0-1 are mutually non-dominated, one front of 8.
    const objective = (p: Readonly<Record<string, ParamValue>>): number[] => [p.x as number, 1 - (p.x as number)];
    for (let i = 0; i < 2 * N; i++) await runVectorTrial(sampler, study, SPACE, objective);
    const xs = study.trials.map((t) => t.params.x as number);
    const copier = new NsgaIiSampler({ seed: 14, populationSize: N, mutationProb: 0, crossoverProb: 0 });
    const seen = new Set<ParamValue>();
    for (let i = 0; i < 80; i++) seen.add((await ask(copier, study)).relative.x);
    expect(seen.size).toBe(N);
    expect(seen.has(Math.min(...xs))).toBe(true);
    expect(seen.has(Math.max(...xs))).toBe(true);
  });
});

describe('NsgaIiSampler constraints', () => {
  const constraintsFunc = (t: FrozenTrial): number[] => [(t.params.x as number) - 0.5];

  it('prefers feasible parents over better infeasible ones (constrained domination)', async () => {
    const N = 4;
    const run = async (withConstraints: boolean): Promise<{ children: number[]; study: FakeStudy }> => {
      const sampler = new NsgaIiSampler({ seed: 6, populationSize: N, mutationProb: 0, ...(withConstraints ? { constraintsFunc } : {}) });
      const study = new FakeStudy();
      // Minimizing -x wants x large; the constraint wants x <= 0.5.
      for (let i = 0; i < 2 * N; i++) await runVectorTrial(sampler, study, SPACE, (p) => [-(p.x as number)]);
      const children: number[] = [];
      for (let i = 0; i < N; i++) children.push((await runVectorTrial(sampler, study, SPACE, (p) => [-(p.x as number)])).params.x as number);
      return { children, study };
    };
    const constrained = await run(true);
    const feasible = constrained.study.trials.slice(0, 2 * N).filter((t) => (t.params.x as number) <= 0.5);
    expect(feasible.length, 'this seed must give at least N feasible trials in generations 0-1').toBeGreaterThanOrEqual(N);
    for (const x of constrained.children) expect(x).toBeLessThanOrEqual(0.5);
    const plain = await run(false);
    expect(plain.children.some((x) => x > 0.5)).toBe(true);
  });

  it('rejects constraint values that are not an array of numbers, at tell', async () => {
    const sampler = new NsgaIiSampler({ seed: 7, constraintsFunc: () => [Number.NaN] });
    await expect(runVectorTrial(sampler, new FakeStudy(), SPACE, () => [0])).rejects.toThrow(ConstraintsFuncError);
    const throwing = new NsgaIiSampler({
      seed: 7,
      constraintsFunc: () => {
        throw new Error('boom');
      },
    });
    const error = await runVectorTrial(throwing, new FakeStudy(), SPACE, () => [0]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KestrelError);
    expect((error as KestrelError).code).toBe('CONSTRAINTS_FUNC_ERROR');
    expect((error as Error).message).toContain('boom');
  });

  it('after invalid constraint values, ranks that trial last and keeps asking (error at tell, warning when lazy)', async () => {
    // An invalid value used to be re-evaluated, and rethrown, by every later ask: the study
    // could not go on (each ask created a FAIL trial), nor be resumed with this sampler.
    const constraintsFunc = (t: FrozenTrial): number[] => [t.number === 1 ? Number.NaN : (t.values![0] as number) - 0.5];
    const study = await createStudy({
      directions: ['minimize', 'minimize'],
      sampler: new NsgaIiSampler({ seed: 1, populationSize: 2, constraintsFunc }),
    });
    const objective = (trial: Trial): number[] => {
      const x = trial.suggestFloat('x', 0, 1);
      return [x, 1 - x];
    };
    await expect(study.optimize(objective, { nTrials: 8, handleSigint: false })).rejects.toThrow(/constraintsFunc.*trial 1/);
    await study.optimize(objective, { nTrials: 6, handleSigint: false });
    expect((await study.getTrials()).map((t) => t.state)).toEqual(Array(8).fill('COMPLETE'));
    // A sampler that meets the trial lazily (a resumed process) warns instead of throwing.
    const resumed = new NsgaIiSampler({ seed: 1, populationSize: 2, constraintsFunc });
    const again = await loadStudy({ studyName: study.studyName, storage: study.storage, sampler: resumed });
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    await again.optimize(objective, { nTrials: 2, handleSigint: false });
    expect((await warned).message).toMatch(/trial 1.*counts as infeasible/);
    expect((await again.getTrials()).map((t) => t.state)).toEqual(Array(10).fill('COMPLETE'));
  });

  it('evaluates constraints lazily for trials finished elsewhere (another worker)', async () => {
    const N = 4;
    let calls = 0;
    const counting = (t: FrozenTrial): number[] => {
      calls++;
      return constraintsFunc(t);
    };
    const worker = new NsgaIiSampler({ seed: 8, populationSize: N });
    const study = new FakeStudy();
    for (let i = 0; i < N; i++) await runVectorTrial(worker, study, SPACE, (p) => [-(p.x as number)]);
    const other = new NsgaIiSampler({ seed: 8, populationSize: N, constraintsFunc: counting, mutationProb: 0 });
    await runVectorTrial(other, study, SPACE, (p) => [-(p.x as number)]);
    await runVectorTrial(other, study, SPACE, (p) => [-(p.x as number)]);
    // N lazily in the first relative sample, 1 at each tell; cached afterwards.
    expect(calls).toBe(N + 2);
  });
});

describe('NsgaIiSampler suggestions', () => {
  for (const crossover of ['uniform', 'blxalpha', 'sbx'] as const) {
    it(`keeps every suggestion feasible for every kind (${crossover}, 2 objectives, 60 trials)`, async () => {
      const sampler = new NsgaIiSampler({ seed: 9, populationSize: 8, crossover, mutationProb: 0.05 });
      const study = new DirectedStudy(['minimize', 'maximize']);
      for (let i = 0; i < 60; i++) {
        const t = await runVectorTrial(sampler, study, CONTRACT_SPACE, (p) => [(p.x as number) ** 2, p.depth as number]);
        for (const [name, dist] of Object.entries(CONTRACT_SPACE)) {
          expect(contains(dist, t.params[name]), `${name} = ${JSON.stringify(t.params[name])}`).toBe(true);
        }
      }
    });
  }

  it('mutates at mutationProb: 1 redraws every gene, 0 none (uniform crossover copies)', async () => {
    const parentsAndChildren = async (mutationProb: number): Promise<{ parents: Set<ParamValue>; children: ParamValue[] }> => {
      const sampler = new NsgaIiSampler({ seed: 10, populationSize: 5, mutationProb });
      const study = new FakeStudy();
      for (let i = 0; i < 5; i++) await runVectorTrial(sampler, study, SPACE, (p) => [score(p)]);
      const parents = new Set(study.trials.map((t) => t.params.x));
      const children: ParamValue[] = [];
      for (let i = 0; i < 5; i++) children.push((await runVectorTrial(sampler, study, SPACE, (p) => [score(p)])).params.x);
      return { parents, children };
    };
    const none = await parentsAndChildren(0);
    expect(none.children.every((x) => none.parents.has(x))).toBe(true);
    const all = await parentsAndChildren(1);
    expect(all.children.every((x) => !all.parents.has(x))).toBe(true);
  });

  it('breeds a parameter named __proto__ like any other (the child is an own key, not a prototype write)', async () => {
    // params['__proto__'] = v set the prototype instead (a number: ignored), so the bred value was
    // lost and every child's __proto__ was drawn independently at random.
    const study = await createStudy({ sampler: new NsgaIiSampler({ seed: 4, populationSize: 4, mutationProb: 0 }) });
    await study.optimize((t: Trial) => t.suggestFloat('__proto__', 0, 1) + t.suggestFloat('x', 0, 1), { nTrials: 12 });
    const trials = await study.getTrials();
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    const parents = new Set(trials.slice(0, 4).map((t) => Object.getOwnPropertyDescriptor(t.params, '__proto__')?.value));
    for (const child of trials.slice(4, 8)) {
      expect(parents.has(Object.getOwnPropertyDescriptor(child.params, '__proto__')?.value), `trial ${child.number}`).toBe(true);
    }
  });

  it('is reproducible for a seed across generations, and the seed matters', async () => {
    const run = async (seed: number): Promise<ParamValue[]> => {
      const sampler = new NsgaIiSampler({ seed, populationSize: 5, crossover: 'sbx' });
      const study = new DirectedStudy(['minimize', 'minimize']);
      const xs: ParamValue[] = [];
      for (let i = 0; i < 25; i++) xs.push((await runVectorTrial(sampler, study, SPACE, (p) => [score(p), -(p.x as number)])).params.x);
      return xs;
    };
    expect(await run(11)).toEqual(await run(11));
    expect(await run(12)).not.toEqual(await run(11));
  });
});

describe('NsgaIiSampler cost per ask', () => {
  it('does not re-read the values and distributions of trials an earlier ask already evaluated', async () => {
    // Each ask used to rebuild every individual and the intersection space from all COMPLETE
    // trials, so a 5,000-trial study took ~3 ms per ask at the end (quadratic in total).
    const sampler = new NsgaIiSampler({ seed: 5, populationSize: 4 });
    const study = new DirectedStudy(['minimize', 'maximize']);
    const objective = (p: Readonly<Record<string, ParamValue>>): number[] => [score(p), p.x as number];
    for (let i = 0; i < 30; i++) await runVectorTrial(sampler, study, SPACE, objective);
    let reads = 0;
    const watched = (t: FrozenTrial): FrozenTrial =>
      new Proxy(t, {
        get(target, key, receiver) {
          if (key === 'values' || key === 'distributions') reads++;
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    const plain = study.getTrials.bind(study);
    // Asks of trials 28 and 29 (generation 7) evaluated generations 0-6, trials 0-27.
    study.getTrials = async (options) => (await plain(options)).map((t) => (t.number < 28 ? watched(t) : t));
    for (let i = 0; i < 6; i++) await runVectorTrial(sampler, study, SPACE, objective);
    expect(reads, 'reads of values/distributions of trials 0-27, evaluated before').toBe(0);
    expect(study.trials.filter((t) => t.state === 'COMPLETE')).toHaveLength(36);
  });
});

describe('NsgaIiSampler through the real Study', () => {
  it('keeps what it derived from one study out of another study it serves (trial ids repeat)', async () => {
    // The constraint cache was keyed by trial id alone: study B's trial 0 got study A's penalty
    // without constraintsFunc being called for it.
    const seen: string[] = [];
    const sampler = new NsgaIiSampler({
      seed: 3,
      populationSize: 2,
      constraintsFunc: (t) => {
        seen.push(`${t.userAttrs.study as string}#${t.number}`);
        return [t.values![0] - 0.5];
      },
    });
    for (const name of ['a', 'b']) {
      const study = await createStudy({ studyName: name, directions: ['minimize', 'minimize'], sampler });
      await study.optimize(
        (trial) => {
          trial.setUserAttr('study', name);
          const x = trial.suggestFloat('x', 0, 1);
          return [x, 1 - x];
        },
        { nTrials: 4, handleSigint: false },
      );
    }
    expect(seen).toEqual(['a#0', 'a#1', 'a#2', 'a#3', 'b#0', 'b#1', 'b#2', 'b#3']);
  });

  it('runs a 2-objective study, sequentially and with 4 concurrent trials, every value feasible', async () => {
    for (const concurrency of [1, 4]) {
      const study = await createStudy({
        directions: ['minimize', 'minimize'],
        sampler: new NsgaIiSampler({ seed: 13, populationSize: 8, crossover: 'sbx' }),
      });
      const objective = async (trial: Trial): Promise<number[]> => {
        const x = trial.suggestFloat('x', 0, 1);
        const k = trial.suggestInt('k', 1, 64, { log: true });
        const c = trial.suggestCategorical('c', ['a', 'b', 'c']);
        await Promise.resolve();
        return [x + (c === 'a' ? 0 : 0.5), 1 - x + Math.log2(k) / 10];
      };
      await study.optimize(objective, { nTrials: 40, concurrency, handleSigint: false });
      const trials = await study.getTrials({ states: ['COMPLETE'] });
      expect(trials).toHaveLength(40);
      for (const t of trials) {
        expect(contains(floatDistribution('x', 0, 1), t.params.x)).toBe(true);
        expect(contains(intDistribution('k', 1, 64, { log: true }), t.params.k)).toBe(true);
        expect(['a', 'b', 'c']).toContain(t.params.c);
      }
      // Later generations concentrate on the front: c = 'a' and small k.
      const late = trials.filter((t) => t.number >= 24);
      expect(late.filter((t) => t.params.c === 'a').length, `concurrency ${concurrency}`).toBeGreaterThan(late.length / 2);
    }
  });
});

/** tell for an already asked trial (for tests that inspect `ask`). */
async function runVectorTrialAfterAsk(
  sampler: NsgaIiSampler,
  study: FakeStudy,
  asked: AskedTrial,
  space: Record<string, Distribution>,
): Promise<void> {
  const params = suggestAll(sampler, study, asked, space);
  await tell(sampler, study, asked, params, space, score(params));
}
