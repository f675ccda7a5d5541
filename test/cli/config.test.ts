import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, validateConfig } from '../../src/cli/config.js';
import { ConfigError } from '../../src/errors.js';
import { MAX_PROCESSES } from '../../src/study/trial-budget.js';

const configPath = '/projects/demo/tune.yaml';

function configError(raw: unknown): ConfigError {
  try {
    validateConfig(raw, configPath);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config validation', () => {
  it('applies defaults and resolves paths against the config directory', () => {
    const config = validateConfig({ objective: './obj.ts', nTrials: 10 }, configPath);
    expect(config.studyName).toBe('tune');
    expect(config.objectivePath).toBe('/projects/demo/obj.ts');
    expect(config.objectiveExport).toBe('objective');
    expect(config.directions).toEqual(['minimize']);
    expect(config.sampler).toEqual({ name: 'random', options: {} });
    expect(config.pruner).toBeNull();
    expect(config.storage).toBe('/projects/demo/kestrel.journal');
    expect(config.concurrency).toBe(1);
    expect(config.seed).toBeNull();
    expect(config.timeoutSec).toBeNull();
    expect(config.heartbeat).toEqual({ intervalSec: 10, graceSec: 120 });
  });

  it('configures or disables trial heartbeats', () => {
    expect(validateConfig({ objective: 'o.ts', nTrials: 1, heartbeat: false }, configPath).heartbeat).toBeNull();
    expect(
      validateConfig({ objective: 'o.ts', nTrials: 1, heartbeat: { intervalSec: 60 } }, configPath).heartbeat,
    ).toEqual({ intervalSec: 60, graceSec: 180 });
    expect(configError({ objective: 'o.ts', nTrials: 1, heartbeat: { intervalSec: 10, graceSec: 5 } }).message).toMatch(
      /heartbeat\.graceSec/,
    );
    expect(configError({ objective: 'o.ts', nTrials: 1, heartbeat: { every: 3 } }).message).toMatch(/heartbeat/);
  });

  it('reads the full schema, sampler seed and pruner options', () => {
    const config = validateConfig(
      {
        study: 's',
        objective: 'o.mjs',
        objectiveExport: 'score',
        directions: ['maximize'],
        space: { x: { type: 'float', low: -1, high: 1 } },
        sampler: { name: 'sobol', seed: 7 },
        pruner: { name: 'median', nWarmupSteps: 2 },
        nTrials: 5,
        timeout: 30,
        concurrency: 3,
        storage: 'journal:runs/s.journal',
      },
      configPath,
    );
    expect(config.directions).toEqual(['maximize']);
    expect(config.sampler).toEqual({ name: 'sobol', options: {} });
    expect(config.seed).toBe(7);
    expect(config.pruner).toEqual({ name: 'median', options: { nWarmupSteps: 2 } });
    expect(config.storage).toBe('/projects/demo/runs/s.journal');
    expect(config.timeoutSec).toBe(30);
    expect(config.space).toEqual({ x: { type: 'float', low: -1, high: 1 } });
  });

  it('lets command-line overrides win, with --storage relative to the cwd', () => {
    const config = validateConfig({ objective: 'o.mjs', nTrials: 5, seed: 1, storage: ':memory:' }, configPath, {
      nTrials: 9,
      seed: 3,
      storage: 'here.journal',
      studyName: 'other',
      concurrency: 2,
      timeoutSec: 4,
    });
    expect(config.nTrials).toBe(9);
    expect(config.seed).toBe(3);
    expect(config.storage).toBe(path.resolve('here.journal'));
    expect(config.studyName).toBe('other');
    expect(config.concurrency).toBe(2);
    expect(config.timeoutSec).toBe(4);
    expect(validateConfig({ objective: 'o.mjs', nTrials: 1, storage: ':memory:' }, configPath).storage).toBe(':memory:');
  });

  it('reads storage as the library\'s openStorage does', () => {
    const storageOf = (storage: string, overrides = {}): string =>
      validateConfig({ objective: 'o.mjs', nTrials: 1, storage }, configPath, overrides).storage;
    expect(storageOf('journal://runs/s.journal')).toBe('/projects/demo/runs/s.journal');
    expect(storageOf('journal:runs/s.journal')).toBe('/projects/demo/runs/s.journal');
    expect(storageOf('journal:///abs/s.journal')).toBe('/abs/s.journal');
    expect(storageOf('runs/s.journal')).toBe('/projects/demo/runs/s.journal');
    expect(storageOf(' memory ')).toBe(':memory:');
    expect(storageOf('memory')).toBe(':memory:');
    expect(storageOf(':memory:')).toBe(':memory:');
    // The CLI takes any other plain file name as a journal.
    expect(storageOf('results/study.db')).toBe('/projects/demo/results/study.db');
    expect(storageOf('x', { storage: 'journal://a/b.log', cwd: '/work' })).toBe('/work/a/b.log');
  });

  it('rejects storage it cannot open, at storage or --storage', () => {
    const error = (storage: string, overrides = {}): ConfigError => {
      try {
        validateConfig({ objective: 'o.mjs', nTrials: 1, storage }, configPath, overrides);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    };
    expect(error('postgresql://db/kestrel')).toMatchObject({ path: 'storage', message: expect.stringMatching(/PostgreSQL storage is not built in/) });
    expect(error('postgres://db/kestrel').path).toBe('storage');
    expect(error('sqlite:///x.db')).toMatchObject({ path: 'storage', message: expect.stringMatching(/no "sqlite:\/\/" storage/) });
    expect(error('journal:').path).toBe('storage');
    expect(error('x.journal', { storage: 'postgresql://db/kestrel' }).path).toBe('--storage');
    // An empty or blank path (`--storage "$UNSET_VARIABLE"`) is not the config's directory.
    expect(error('   ')).toMatchObject({ path: 'storage', message: expect.stringMatching(/expected a journal file path/) });
    expect(error('x.journal', { storage: '' }).path).toBe('--storage');
  });

  it('reads process execution: processes, gpus, trialTimeout, trialsPerProcess', () => {
    const base = { objective: 'o.mjs', nTrials: 1 };
    expect(validateConfig(base, configPath).processes).toBeNull();
    expect(validateConfig({ ...base, processes: true, concurrency: 2 }, configPath).processes).toEqual({
      gpus: null,
      trialTimeoutSec: null,
      trialsPerProcess: 1,
    });
    expect(validateConfig({ ...base, gpus: [0, 2], trialTimeout: 60, trialsPerProcess: 3 }, configPath).processes).toEqual({
      gpus: [0, 2],
      trialTimeoutSec: 60,
      trialsPerProcess: 3,
    });
    expect(validateConfig({ ...base, gpus: 'auto' }, configPath).processes?.gpus).toBe('auto');
  });

  it('rejects bad process-execution keys at their path', () => {
    const base = { objective: 'o.mjs', nTrials: 1 };
    expect(configError({ ...base, gpus: [0, 0] }).path).toBe('gpus');
    expect(configError({ ...base, gpus: [-1] }).path).toMatch(/^gpus/);
    expect(configError({ ...base, gpus: 'all' }).path).toBe('gpus');
    expect(configError({ ...base, gpus: [] }).path).toBe('gpus');
    expect(configError({ ...base, processes: 'yes' }).path).toBe('processes');
    expect(configError({ ...base, processes: false, gpus: [0] }).path).toBe('processes');
    const timeout = configError({ ...base, trialTimeout: 5 });
    expect(timeout.path).toBe('trialTimeout');
    expect(timeout.message).toMatch(/processes: true or gpus/);
    expect(configError({ ...base, processes: true, trialTimeout: 0 }).path).toBe('trialTimeout');
    expect(configError({ ...base, processes: true, trialsPerProcess: 0 }).path).toBe('trialsPerProcess');
    expect(configError({ ...base, trialsPerProcess: 2 }).path).toBe('trialsPerProcess');
  });

  it('rejects trialTimeout and heartbeat.intervalSec longer than a Node timer holds (2^31 - 1 ms)', () => {
    const base = { objective: 'o.mjs', nTrials: 1 };
    // 30 days: Node would fire the timer after 1 ms, killing every trial / beating every millisecond.
    const timeout = configError({ ...base, processes: true, trialTimeout: 30 * 86_400 });
    expect(timeout.path).toBe('trialTimeout');
    expect(timeout.message).toMatch(/at most 2147483 seconds/);
    const interval = configError({ ...base, heartbeat: { intervalSec: 30 * 86_400 } });
    expect(interval.path).toBe('heartbeat.intervalSec');
    expect(interval.message).toMatch(/at most 2147483 seconds/);
    expect(validateConfig({ ...base, processes: true, trialTimeout: 2_147_483 }, configPath).processes?.trialTimeoutSec).toBe(2_147_483);
  });

  it('rejects a bad sampler name, bare or in an object, listing the names', () => {
    const bare = configError({ objective: 'o.mjs', nTrials: 1, sampler: 'annealing' });
    expect(bare.path).toBe('sampler');
    expect(bare.message).toMatch(/expected one of random, grid, sobol/);
    expect(bare.message).toContain('"annealing"');
    const nested = configError({ objective: 'o.mjs', nTrials: 1, sampler: { name: 'annealing', seed: 1 } });
    expect(nested.path).toBe('sampler.name');
  });

  it('rejects a missing objective', () => {
    const error = configError({ nTrials: 1 });
    expect(error.path).toBe('objective');
    expect(error.message).toBe('objective: is required');
    expect(error.code).toBe('INVALID_CONFIG');
  });

  it('rejects unknown keys, at the top and inside the space', () => {
    const top = configError({ objective: 'o.mjs', nTrials: 1, ntrials: 5 });
    expect(top.path).toBe('ntrials');
    expect(top.message).toMatch(/unknown key.*nTrials/);
    const inSpace = configError({ objective: 'o.mjs', nTrials: 1, space: { x: { type: 'float', low: 0, high: 1, lg: true } } });
    expect(inSpace.path).toMatch(/^space\.x/);
  });

  it('rejects low > high in the space, naming the parameter path', () => {
    const error = configError({ objective: 'o.mjs', nTrials: 1, space: { lr: { type: 'float', low: 1, high: 0.1 } } });
    expect(error.path).toBe('space.lr');
    expect(error.message).toMatch(/^space\.lr: .*low/);
  });

  it('rejects wrong types with what was expected and received', () => {
    const error = configError({ objective: 'o.mjs', nTrials: 0 });
    expect(error.path).toBe('nTrials');
    expect(error.message).toMatch(/>=\s?1.*received 0/);
    expect(configError({ objective: 'o.mjs', nTrials: 1, direction: 'up' }).message).toMatch(/minimize.*received "up"/);
    expect(configError({ objective: 'o.mjs', nTrials: 1, concurrency: 1.5 }).path).toBe('concurrency');
    expect(configError({ objective: 'o.mjs', nTrials: 1, pruner: { name: 'mean' } }).path).toBe('pruner.name');
  });

  it('rejects an in-process concurrency above what optimize runs, before the study is created', () => {
    // It used to pass validation: `kestrel run` created the study in the journal, then failed
    // with optimize's INVALID_OPTION. Process execution has its own limit (next test).
    const error = configError({ objective: 'o.mjs', nTrials: 1, concurrency: 2000 });
    expect(error.path).toBe('concurrency');
    expect(error.message).toMatch(/at most 1024.*received 2000/);
    let override: unknown;
    try {
      validateConfig({ objective: 'o.mjs', nTrials: 1 }, configPath, { concurrency: 2000 });
    } catch (caught) {
      override = caught;
    }
    expect(override).toBeInstanceOf(ConfigError);
    expect((override as ConfigError).path).toBe('--concurrency');
    expect(validateConfig({ objective: 'o.mjs', nTrials: 1, concurrency: 1024 }, configPath).concurrency).toBe(1024);
  });

  it('rejects more worker processes than runTrialsInProcesses starts (MAX_PROCESSES), before the study is created', () => {
    // Process execution had no bound: `processes: true, concurrency: 2000` forked 2000 processes.
    const error = configError({ objective: 'o.mjs', nTrials: 1, processes: true, concurrency: MAX_PROCESSES + 1 });
    expect(error.path).toBe('concurrency');
    expect(error.message).toMatch(new RegExp(`at most ${MAX_PROCESSES} .*received ${MAX_PROCESSES + 1}`));
    let override: unknown;
    try {
      validateConfig({ objective: 'o.mjs', nTrials: 1, processes: true }, configPath, { concurrency: 2000 });
    } catch (caught) {
      override = caught;
    }
    expect(override).toBeInstanceOf(ConfigError);
    expect((override as ConfigError).path).toBe('--concurrency');
    const gpus = Array.from({ length: MAX_PROCESSES + 1 }, (_, i) => i);
    expect(configError({ objective: 'o.mjs', nTrials: 1, gpus }).path).toBe('gpus');
    expect(validateConfig({ objective: 'o.mjs', nTrials: 1, processes: true, concurrency: MAX_PROCESSES }, configPath).concurrency).toBe(MAX_PROCESSES);
    expect(validateConfig({ objective: 'o.mjs', nTrials: 1, gpus: gpus.slice(1) }, configPath).processes?.gpus).toHaveLength(MAX_PROCESSES);
    // Listed GPUs set the process count and concurrency is ignored (README), so it is not bounded.
    expect(validateConfig({ objective: 'o.mjs', nTrials: 1, gpus: [0, 1], concurrency: MAX_PROCESSES + 1 }, configPath).processes?.gpus).toEqual([0, 1]);
  });

  it('says NaN or Infinity when a YAML .nan or .inf was given, not null', () => {
    // JSON.stringify(NaN) is "null": `direction: .nan` read "received null".
    const base = 'objective: o.ts\nnTrials: 1\n';
    const cases: [string, string][] = [
      ['direction: .nan', 'direction'],
      ['gpus: .inf', 'gpus'],
      ['heartbeat: -.inf', 'heartbeat'],
      ['sampler: {name: tpe, seed: .nan}', 'sampler.seed'],
    ];
    for (const [line, at] of cases) {
      let error: unknown;
      try {
        parseConfig(`${base}${line}\n`, '/projects/demo/tune.yaml');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).path).toBe(at);
      expect((error as ConfigError).message).toMatch(/received (NaN|Infinity|-Infinity)$/);
    }
  });

  it('rejects a single-objective sampler or a pruner for several directions before anything runs', () => {
    const base = { objective: 'o.mjs', nTrials: 1, directions: ['minimize', 'maximize'] };
    for (const name of ['tpe']) {
      const error = configError({ ...base, sampler: { name, seed: 1 } });
      expect(error.path).toBe('sampler');
      expect(error.message).toMatch(new RegExp(`the ${name} sampler supports one objective, but directions has 2; use one of random, grid, sobol, gp, nsga2, genetic`));
    }
    const pruned = configError({ ...base, sampler: 'nsga2', pruner: { name: 'median' } });
    expect(pruned.path).toBe('pruner');
    expect(pruned.message).toMatch(/pruning is undefined for several objectives/);
    for (const sampler of ['random', 'sobol', 'gp', 'nsga2', 'genetic']) {
      expect(validateConfig({ ...base, sampler, pruner: 'none' }, configPath).directions).toEqual(['minimize', 'maximize']);
    }
    // One direction: every sampler and pruner.
    expect(validateConfig({ ...base, directions: ['maximize'], sampler: 'tpe', pruner: 'median' }, configPath).sampler.name).toBe('tpe');
  });

  it('rejects contradictions: direction+directions, seed vs sampler.seed, no budget, grid without space', () => {
    expect(configError({ objective: 'o', nTrials: 1, direction: 'minimize', directions: ['maximize'] }).path).toBe('directions');
    expect(configError({ objective: 'o', nTrials: 1, seed: 1, sampler: { name: 'random', seed: 2 } }).path).toBe('seed');
    expect(configError({ objective: 'o' }).path).toBe('nTrials');
    expect(configError({ objective: 'o', sampler: 'grid' }).path).toBe('space');
    // A grid search ends by itself: no budget needed.
    const grid = validateConfig({ objective: 'o', sampler: 'grid', space: { x: { type: 'int', low: 0, high: 2 } } }, configPath);
    expect(grid.nTrials).toBeNull();
  });

  it('rejects a space given as a sampler option, which the top-level space would silently replace', () => {
    const space = { x: { type: 'int', low: 0, high: 2 } };
    const both = configError({ objective: 'o', sampler: { name: 'grid', space: { x: [5, 6] } }, space });
    expect(both.path).toBe('sampler.space');
    expect(both.message).toMatch(/top-level space/);
    expect(configError({ objective: 'o', sampler: { name: 'grid', space: { x: [5, 6] } } }).path).toBe('sampler.space');
  });

  it('reads a config that starts with a UTF-8 byte order mark, JSON and YAML alike', () => {
    const json = parseConfig('\uFEFF{"objective": "o.mjs", "nTrials": 3}', '/x/c.json');
    expect(json.nTrials).toBe(3);
    expect(json.objectivePath).toBe('/x/o.mjs');
    expect(parseConfig('\uFEFFobjective: o.mjs\nnTrials: 4\n', '/x/c.yaml').nTrials).toBe(4);
  });

  it('reads YAML anchors, aliases and merge keys (<<)', () => {
    const text = [
      'objective: o.mjs',
      'nTrials: 3',
      'space:',
      '  lr: &lr {type: float, low: 1.0e-4, high: 0.1, log: true}',
      '  lrHead: *lr',
      '  lrBody:',
      '    <<: *lr',
      '    high: 1',
      '',
    ].join('\n');
    const space = parseConfig(text, '/x/c.yaml').space!;
    const lr = { type: 'float', low: 1e-4, high: 0.1, log: true };
    expect(space.lr).toEqual(lr);
    expect(space.lrHead).toEqual(lr);
    expect(space.lrBody).toEqual({ ...lr, high: 1 });
  });

  it('rejects a top level that is not a mapping, and unparsable text', () => {
    expect(configError([1, 2]).message).toMatch(/mapping/);
    expect(() => parseConfig('objective: [unclosed', '/x/c.yaml')).toThrow(ConfigError);
    expect(() => parseConfig('{"objective": ', '/x/c.json')).toThrow(/cannot parse c\.json/);
    expect(() => parseConfig('objective = 1', '/x/c.toml')).toThrow(/unsupported extension/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kestrel-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses YAML and JSON files', async () => {
    await writeFile(path.join(dir, 'a.yaml'), 'objective: ./o.mjs\nnTrials: 4\nsampler: {name: random, seed: 5}\n');
    await writeFile(path.join(dir, 'b.json'), JSON.stringify({ objective: './o.mjs', timeout: 2 }));
    const a = await loadConfig(path.join(dir, 'a.yaml'));
    expect(a.seed).toBe(5);
    expect(a.objectivePath).toBe(path.join(dir, 'o.mjs'));
    const b = await loadConfig(path.join(dir, 'b.json'));
    expect(b.timeoutSec).toBe(2);
    expect(b.studyName).toBe('b');
  });

  it('reports a missing file as a ConfigError', async () => {
    await expect(loadConfig(path.join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read config file/);
  });
});
