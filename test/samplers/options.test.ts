import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { NsgaIiSampler } from '../../src/samplers/genetic/nsga-ii-sampler.js';
import { GpSampler } from '../../src/samplers/gp/gp-sampler.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { SobolSampler } from '../../src/samplers/sobol-sampler.js';
import { TpeSampler } from '../../src/samplers/tpe/tpe-sampler.js';

// A misspelt option must fail loudly, naming the option and the ones that exist, instead of
// being ignored (a CLI config passes its sampler options straight to these constructors).
const cases: [string, (options: Record<string, unknown>) => unknown, Record<string, unknown>, string][] = [
  ['RandomSampler', (o) => new RandomSampler(o as never), { sed: 1 }, 'sed'],
  ['SobolSampler', (o) => new SobolSampler(o as never), { seed: 1, scrambled: false }, 'scrambled'],
  ['GridSampler', (o) => new GridSampler(o as never), { space: { x: [1, 2] }, shufle: true }, 'shufle'],
  ['TpeSampler', (o) => new TpeSampler(o as never), { nStartup: 5 }, 'nStartup'],
  ['GpSampler', (o) => new GpSampler(o as never), { incumbant: 'posterior-mean' }, 'incumbant'],
  ['NsgaIiSampler', (o) => new NsgaIiSampler(o as never), { population: 8 }, 'population'],
];

describe('sampler options', () => {
  it.each(cases)('%s rejects an unknown option with an InvalidOptionError naming it', (name, make, bad, key) => {
    expect(() => make(bad)).toThrow(InvalidOptionError);
    expect(() => make(bad)).toThrow(`"${key}"`);
    expect(() => make(bad)).toThrow(`${name} options`);
  });

  it('accepts every documented option name', () => {
    expect(() => new RandomSampler({ seed: 1 })).not.toThrow();
    expect(() => new SobolSampler({ seed: 1, scramble: false })).not.toThrow();
    expect(() => new GridSampler({ space: { x: [1, 2] }, shuffle: true, seed: 1 })).not.toThrow();
    expect(() => new TpeSampler({ seed: 1, nStartupTrials: 5, multivariate: true, group: true, constantLiar: true })).not.toThrow();
    expect(() => new GpSampler({ seed: 1, incumbent: 'posterior-mean', refitPolicy: { fitSubsetMax: 512 } })).not.toThrow();
    expect(() => new NsgaIiSampler({ seed: 1, populationSize: 8 })).not.toThrow();
  });
});
