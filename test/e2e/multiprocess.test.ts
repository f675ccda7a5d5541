/**
 * Several `kestrel worker` processes on one journal: the study-wide budget is shared with no trial
 * lost or run twice, and a grid search never runs a grid point twice.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStudy } from '../../src/study/create-study.js';
import { collect, makeTempDir, parseTrialLines, spawnCli, writeFiles, type CliResult } from '../cli/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('multiprocess'));
  await writeFiles(dir, {
    'cheap.mjs': 'export function objective(params) { return params.x * params.x + params.y; }\n',
    'random.yaml': [
      'study: shared',
      'objective: ./cheap.mjs',
      'space:',
      '  x: {type: float, low: -1, high: 1}',
      '  y: {type: int, low: 0, high: 9}',
      'sampler: {name: random, seed: 5}',
      'nTrials: 200',
      'concurrency: 2',
      'storage: ./random.journal',
      '',
    ].join('\n'),
    'grid.yaml': [
      'study: grid',
      'objective: ./cheap.mjs',
      'space:',
      '  x: {type: float, low: -1, high: 1, n: 6}',
      '  y: {type: int, low: 0, high: 9}',
      'sampler: {name: grid, shuffle: true, seed: 3}',
      'concurrency: 2',
      'storage: ./grid.journal',
      '',
    ].join('\n'),
  });
});
afterAll(async () => {
  await cleanup();
});

async function runWorkers(config: string, n: number): Promise<CliResult[]> {
  const children = Array.from({ length: n }, () => spawnCli(['worker', config], dir));
  return Promise.all(children.map(collect));
}

describe('4 workers on one journal', () => {
  it('create exactly the 200 trials of the budget, each once, none lost', async () => {
    const results = await runWorkers('random.yaml', 4);
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    // What the workers say they ran: every trial number exactly once across the 4 processes.
    const printed = results.flatMap((r) => parseTrialLines(r.stderr));
    const seen = new Set(printed.map((l) => l.number));
    const missing = [...Array(200).keys()].filter((n) => !seen.has(n));
    expect(missing, results.map((r) => r.stderr + r.stdout).join('\n----\n')).toEqual([]);
    expect(printed).toHaveLength(200);

    const study = await loadStudy({ studyName: 'shared', storage: path.join(dir, 'random.journal') });
    try {
      const trials = await study.getTrials();
      expect(trials).toHaveLength(200);
      expect(new Set(trials.map((t) => t.trialId)).size).toBe(200);
      expect(trials.map((t) => t.number)).toEqual([...Array(200).keys()]);
      expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
      // Each stored value is the one its worker reported.
      const byNumber = new Map(trials.map((t) => [t.number, t.values![0]]));
      for (const line of printed) expect(byNumber.get(line.number)).toBe(line.value);
    } finally {
      await study.close();
    }
  });

  it('run a 60-point grid: 60 COMPLETE trials with distinct parameters', async () => {
    const results = await runWorkers('grid.yaml', 4);
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    const study = await loadStudy({ studyName: 'grid', storage: path.join(dir, 'grid.journal') });
    try {
      const trials = await study.getTrials();
      const complete = trials.filter((t) => t.state === 'COMPLETE');
      expect(complete).toHaveLength(60);
      const keys = new Set(complete.map((t) => JSON.stringify([t.params.x, t.params.y])));
      expect(keys.size).toBe(60);
      // Anything else is a trial that ran no grid point, recorded as FAIL: created after the grid
      // ran out (its ask found no point), or created while the other slot's ask stopped the run on
      // the exhausted grid, and so withdrawn as a trial whose run stopped before it ran
      // (Study.withdrawTrial: FAIL "interrupted").
      for (const t of trials.filter((x) => x.state !== 'COMPLETE')) {
        expect(t.state).toBe('FAIL');
        expect(String(t.systemAttrs.fail_reason)).toMatch(/grid|^interrupted$/i);
      }
      expect(new Set(trials.map((t) => t.number)).size).toBe(trials.length);
    } finally {
      await study.close();
    }
  });
});
