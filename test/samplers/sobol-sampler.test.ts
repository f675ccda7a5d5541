import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { SobolSampler } from '../../src/samplers/sobol-sampler.js';
import { categoricalDistribution, floatDistribution, intDistribution } from '../../src/space/distributions.js';
import { fromUnit } from '../../src/space/encode.js';
import type { Distribution } from '../../src/space/types.js';
import { deriveSeed } from '../../src/util/prng.js';
import { setOwn } from '../../src/util/own-keys.js';
import { SobolSequence } from '../../src/util/sobol.js';
import { runSamplerContract } from './contract.js';
import { FakeStudy, ask, runTrial, suggestAll } from './fake-study.js';

runSamplerContract('sobol', (seed) => new SobolSampler({ seed }));
runSamplerContract('sobol (unscrambled)', (seed) => new SobolSampler({ seed, scramble: false }));

const SPACE: Record<string, Distribution> = {
  b: floatDistribution('b', 0, 1),
  a: floatDistribution('a', 0, 1),
};

describe('SobolSampler', () => {
  it('samples the first trial independently (as RandomSampler with the same seed)', async () => {
    const study = new FakeStudy();
    const trial = await runTrial(new SobolSampler({ seed: 3 }), study, SPACE);
    const random = new RandomSampler({ seed: 3 });
    expect(trial.params.a).toBe(random.sampleIndependent(study, trial, 'a', SPACE.a));
    expect(trial.params.b).toBe(random.sampleIndependent(study, trial, 'b', SPACE.b));
  });

  it('then uses Sobol point number trial.number over the sorted relative space', async () => {
    const sampler = new SobolSampler({ seed: 4 });
    const study = new FakeStudy();
    for (let i = 0; i < 10; i++) await runTrial(sampler, study, SPACE);
    const sequence = new SobolSequence({ dimension: 2, seed: deriveSeed(4, 'sobol-sampler') });
    for (let i = 1; i < 10; i++) {
      const point = sequence.seek(i).next();
      // dimensions in sorted name order: a, b
      expect(study.trials[i].params.a).toBe(point[0]);
      expect(study.trials[i].params.b).toBe(point[1]);
    }
  });

  it('stratifies trials 16..31 (one per 1/16 bin in each dimension)', async () => {
    const sampler = new SobolSampler({ seed: 5 });
    const study = new FakeStudy();
    for (let i = 0; i < 32; i++) await runTrial(sampler, study, SPACE);
    for (const name of ['a', 'b']) {
      const bins = new Set(study.trials.slice(16, 32).map((t) => Math.floor((t.params[name] as number) * 16)));
      expect(bins.size).toBe(16);
    }
  });

  it('gives concurrent trials distinct points and is independent of completion order', async () => {
    const sampler = new SobolSampler({ seed: 6 });
    const study = new FakeStudy();
    await runTrial(sampler, study, SPACE);
    const asked = await Promise.all([ask(sampler, study), ask(sampler, study), ask(sampler, study)]);
    const params = asked.map((a) => suggestAll(sampler, study, a, SPACE));
    expect(new Set(params.map((p) => p.a)).size).toBe(3);
    const sequence = new SobolSequence({ dimension: 2, seed: deriveSeed(6, 'sobol-sampler') });
    expect(params[2].a).toBe(sequence.seek(3).next()[0]);
  });

  it('leaves single-valued and non-shared parameters to independent sampling', async () => {
    const sampler = new SobolSampler({ seed: 7 });
    const study = new FakeStudy();
    const space = {
      x: floatDistribution('x', 0, 1),
      one: intDistribution('one', 3, 3),
      cat: categoricalDistribution('cat', ['p', 'q', 'r']),
    };
    await runTrial(sampler, study, space);
    const inferred = await sampler.inferRelativeSearchSpace(study, study.createTrial());
    expect(Object.keys(inferred)).toEqual(['cat', 'x']);
    // A parameter that was never completed before is sampled independently.
    const asked = await ask(sampler, new FakeStudy());
    expect(asked.relative).toEqual({});
  });

  it('re-indexes when the relative space changes', async () => {
    const sampler = new SobolSampler({ seed: 8 });
    const study = new FakeStudy();
    for (let i = 0; i < 3; i++) await runTrial(sampler, study, SPACE);
    const bigger = { ...SPACE, c: floatDistribution('c', 0, 1) };
    await runTrial(sampler, study, bigger); // trial 3: c independent (not all COMPLETE trials have it)
    const space = await sampler.inferRelativeSearchSpace(study, study.createTrial());
    expect(Object.keys(space)).toEqual(['a', 'b']);
  });

  it('returns a parameter named __proto__ as an own key of the relative sample', async () => {
    // `params['__proto__'] = v` set the prototype (a number: ignored), so the value was lost and
    // the parameter fell back to independent sampling.
    const sampler = new SobolSampler({ seed: 5 });
    const study = new FakeStudy();
    const space: Record<string, Distribution> = {};
    for (const name of ['__proto__', 'constructor']) setOwn(space, name, floatDistribution(name, 0, 1));
    const trial = study.createTrial();
    const params = await sampler.sampleRelative(study, trial, space);
    expect(Object.keys(params)).toEqual(['__proto__', 'constructor']);
    const point = new SobolSequence({ dimension: 2, seed: deriveSeed(5, 'sobol-sampler') }).seek(trial.number).next();
    expect(Object.getOwnPropertyDescriptor(params, '__proto__')?.value).toBe(point[0]);
    expect(params.constructor).toBe(point[1]);
  });

  it('validates options', () => {
    expect(() => new SobolSampler({ scramble: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
    expect(() => new SobolSampler({ seed: -0.5 })).toThrow(/option "seed"/);
    expect(new SobolSampler().seed).not.toBe(new SobolSampler().seed);
  });

  it('maps coordinates with fromUnit (categorical via floor(u * n))', async () => {
    const sampler = new SobolSampler({ seed: 9, scramble: false });
    const study = new FakeStudy();
    const space = { c: categoricalDistribution('c', ['x', 'y', 'z', 'w']) };
    for (let i = 0; i < 5; i++) await runTrial(sampler, study, space);
    // unscrambled dimension 0: 0, 0.5, 0.75, 0.25, 0.375
    expect(study.trials.slice(1).map((t) => t.params.c)).toEqual(
      [0.5, 0.75, 0.25, 0.375].map((u) => fromUnit(space.c, u)),
    );
    expect(study.trials.slice(1).map((t) => t.params.c)).toEqual(['z', 'w', 'y', 'y']);
  });
});
