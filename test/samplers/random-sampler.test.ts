import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { floatDistribution, intDistribution } from '../../src/space/distributions.js';
import { runSamplerContract } from './contract.js';
import { FakeStudy } from './fake-study.js';

runSamplerContract('random', (seed) => new RandomSampler({ seed }), { orderIndependent: true });

describe('RandomSampler', () => {
  it('is log-uniform for log floats (each decade gets ~1/4 of 20k draws, 5 sigma)', () => {
    const sampler = new RandomSampler({ seed: 10 });
    const study = new FakeStudy();
    const dist = floatDistribution('lr', 1e-5, 1e-1, { log: true });
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const trial = study.createTrial();
      const v = sampler.sampleIndependent(study, trial, 'lr', dist) as number;
      counts[Math.min(3, Math.floor(Math.log10(v) + 5))]++;
    }
    const sigma = Math.sqrt(n * 0.25 * 0.75);
    for (const c of counts) expect(Math.abs(c - n / 4)).toBeLessThan(5 * sigma);
  });

  it('is uniform over the int grid, end points included (5 sigma per value)', () => {
    const sampler = new RandomSampler({ seed: 11 });
    const study = new FakeStudy();
    const dist = intDistribution('k', 0, 8, { step: 2 });
    const counts = new Map<number, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = sampler.sampleIndependent(study, study.createTrial(), 'k', dist) as number;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8]);
    const sigma = Math.sqrt(n * 0.2 * 0.8);
    for (const c of counts.values()) expect(Math.abs(c - n / 5)).toBeLessThan(5 * sigma);
  });

  it('draws each parameter from its own stream: same trial, different names differ', () => {
    const sampler = new RandomSampler({ seed: 12 });
    const study = new FakeStudy();
    const trial = study.createTrial();
    const dist = floatDistribution('a', 0, 1);
    expect(sampler.sampleIndependent(study, trial, 'a', dist)).not.toBe(sampler.sampleIndependent(study, trial, 'b', dist));
    expect(sampler.sampleIndependent(study, trial, 'a', dist)).toBe(sampler.sampleIndependent(study, trial, 'a', dist));
  });

  it('is fast: 300k draws (3 params x 100k trials) well under a second', () => {
    const sampler = new RandomSampler({ seed: 13 });
    const study = new FakeStudy();
    const trial = study.createTrial();
    const a = floatDistribution('a', 0, 1);
    const b = intDistribution('b', 1, 100, { log: true });
    const start = performance.now();
    let sink = 0;
    for (let i = 0; i < 100_000; i++) {
      sink += sampler.sampleIndependent(study, trial, 'alpha', a) as number;
      sink += sampler.sampleIndependent(study, trial, 'beta', b) as number;
      sink += sampler.sampleIndependent(study, trial, 'gamma', a) as number;
    }
    expect(sink).toBeGreaterThan(0);
    // Typically ~100 ms; the engine target (20k ask+tell/s) needs 60k draws/s.
    expect(performance.now() - start).toBeLessThan(1500);
  });

  it('uses a crypto seed without one and validates options', () => {
    expect(new RandomSampler().seed).not.toBe(new RandomSampler().seed);
    expect(() => new RandomSampler({ seed: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new RandomSampler({ seed: 1.5 })).toThrow(/option "seed"/);
    expect(() => new RandomSampler(3 as unknown as { seed: number })).toThrow(/RandomSampler options/);
  });
});
