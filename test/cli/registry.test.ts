import { describe, expect, it } from 'vitest';
import { createPruner, createSampler, importExport, PRUNER_NAMES, SAMPLER_NAMES } from '../../src/cli/registry.js';
import { ConfigError } from '../../src/errors.js';
import { NopPruner } from '../../src/pruners/pruner.js';
import { NsgaIiSampler } from '../../src/samplers/genetic/nsga-ii-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { TpeSampler } from '../../src/samplers/tpe/tpe-sampler.js';
import { cudaBackendUnavailable } from '../surrogate/helpers.js';

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('sampler registry', () => {
  it('lists the samplers of the issue', () => {
    expect(SAMPLER_NAMES).toEqual(expect.arrayContaining(['random', 'grid', 'sobol', 'gp', 'tpe', 'nsga2', 'genetic']));
  });

  it('creates TPE and NSGA-II (also as "genetic") with their options, and locates a bad option', async () => {
    const tpe = await createSampler({ name: 'tpe', seed: 2, options: { nStartupTrials: 5, multivariate: true } });
    expect(tpe).toBeInstanceOf(TpeSampler);
    const nsga = await createSampler({ name: 'nsga2', seed: 2, options: { populationSize: 8, crossover: 'sbx' } });
    expect(nsga).toBeInstanceOf(NsgaIiSampler);
    expect(await createSampler({ name: 'genetic', seed: 2 })).toBeInstanceOf(NsgaIiSampler);
    const bad = await configError(createSampler({ name: 'nsga2', options: { populationSize: 1 } }));
    expect(bad.path).toBe('sampler.populationSize');
  });

  it('creates a seeded random sampler', async () => {
    const sampler = await createSampler({ name: 'random', seed: 3 });
    expect(sampler).toBeInstanceOf(RandomSampler);
    expect((sampler as RandomSampler).seed).toBe(3);
  });

  it('creates sobol and grid samplers (grid with the space)', async () => {
    expect((await createSampler({ name: 'sobol', seed: 1 })).name).toBe('sobol');
    const grid = await createSampler({ name: 'grid', space: { x: { type: 'int', low: 0, high: 3 } } });
    expect(grid.name).toBe('grid');
  });

  it('rejects an unknown name, a grid without space, and a bad option at its path', async () => {
    expect((await configError(createSampler({ name: 'anneal' }))).path).toBe('sampler.name');
    expect((await configError(createSampler({ name: 'grid' }))).path).toBe('space');
    const bad = await configError(createSampler({ name: 'random', seed: 1.5 }));
    expect(bad.path).toBe('sampler.seed');
    expect(bad.message).toMatch(/1\.5/);
  });

  it('locates a bad field of a nested option (gp refitPolicy) at its full path', async () => {
    const bad = await configError(createSampler({ name: 'gp', options: { refitPolicy: { fitSubsetMx: 64 } } }));
    expect(bad.path).toBe('sampler.refitPolicy.fitSubsetMx');
    const value = await configError(createSampler({ name: 'gp', options: { refitPolicy: { fitSubsetMax: 0 } } }));
    expect(value.path).toBe('sampler.refitPolicy.fitSubsetMax');
  });

  it('reports a surrogate backend this machine lacks at sampler.backend, before the study opens', async () => {
    // GpSampler itself rejects at the first ask, once that trial exists (recorded FAIL, counted
    // toward nTrials); a config names it up front, as any other configuration error.
    if (await cudaBackendUnavailable()) {
      const error = await configError(createSampler({ name: 'gp', options: { backend: 'cuda' } }));
      expect(error.path).toBe('sampler.backend');
      expect(error.message).toMatch(/backend "cuda" is not available/);
      expect(error.cause).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    }
    // A backend this machine has, and 'auto' (which falls back rather than fail), pass.
    expect((await createSampler({ name: 'gp', options: { backend: 'js' } })).name).toBe('gp');
    expect((await createSampler({ name: 'gp', options: { backend: 'auto', numThreads: 1 } })).name).toBe('gp');
  });

  it('reports a module that is not built as unavailable, by name', async () => {
    const error = await configError(importExport('sampler', 'gp', './no-such-module.js', 'GpSampler'));
    expect(error.path).toBe('sampler.name');
    expect(error.message).toMatch(/sampler "gp" is not available/);
    const noExport = await configError(importExport('sampler', 'random', '../samplers/random-sampler.js', 'Nope'));
    expect(noExport.message).toMatch(/does not export Nope/);
  });
});

describe('pruner registry', () => {
  it('gives the no-op pruner for none, nop and no config', async () => {
    expect(await createPruner(null)).toBeInstanceOf(NopPruner);
    expect(await createPruner({ name: 'none', options: {} })).toBeInstanceOf(NopPruner);
    expect(PRUNER_NAMES).toEqual(expect.arrayContaining(['none', 'nop', 'median', 'hyperband']));
  });

  it('creates configured pruners, including a wrapped one', async () => {
    expect((await createPruner({ name: 'median', options: { nWarmupSteps: 2 } })).name).toBe('median');
    expect((await createPruner({ name: 'hyperband', options: {} })).name).toBe('hyperband');
    const asha = await createPruner({ name: 'asha', options: { minResource: 1, reductionFactor: 3 } });
    expect(asha.constructor.name).toBe('SuccessiveHalvingPruner');
    expect((await createPruner({ name: 'adaptive', options: { mode: 'standard', maxLength: 27 } })).name).toBe('hyperband');
    const patient = await createPruner({ name: 'patient', options: { patience: 2, wrapped: { name: 'median' } } });
    expect(patient.name).toBe('patient');
  });

  it('turns constructor errors into ConfigErrors at pruner.<option>', async () => {
    const bad = await configError(createPruner({ name: 'median', options: { nWarmupSteps: -1 } }));
    expect(bad.path).toBe('pruner.nWarmupSteps');
    const unknown = await configError(createPruner({ name: 'median', options: { warmup: 3 } }));
    expect(unknown.path).toBe('pruner.warmup');
    expect((await configError(createPruner({ name: 'nop', options: { x: 1 } }))).path).toBe('pruner.x');
    expect((await configError(createPruner({ name: 'mean', options: {} }))).path).toBe('pruner.name');
    const wrapped = await configError(createPruner({ name: 'patient', options: { patience: 1, wrapped: { name: 'mean' } } }));
    expect(wrapped.path).toBe('pruner.wrapped.name');
  });
});
