/**
 * The CLI end to end, in process (`main(argv, io)` with captured output): run, resume, trials,
 * best, studies, and exit codes 0/1/2. A journal in a temp directory.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NsgaIiSampler } from '../../src/samplers/genetic/nsga-ii-sampler.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import { makeTempDir, parseTrialLines, runInProcess, writeFiles } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

const objectiveJs = `
export function objective(params, trial) {
  trial.setUserAttr('tag', 'ok');
  return (params.x - 1) ** 2 + (params.kind === 'b' ? 0.5 : 0);
}
export function pair(trial) {
  const x = trial.suggestFloat('x', 0, 1);
  return [x, x * x];
}
export function broken(trial) {
  trial.suggestFloat('x', 0, 1);
  throw new Error('boom');
}
`;

// A TypeScript objective, define-by-run: checks the .ts loading path.
const objectiveTs = `
interface TrialLike { suggestFloat(name: string, low: number, high: number): number }
export const objective = (trial: TrialLike): number => {
  const y: number = trial.suggestFloat('y', -2, 2);
  return y * y;
};
`;

const runYaml = `
study: demo
objective: ./objective.mjs
space:
  x: {type: float, low: -3, high: 3}
  kind: {type: categorical, choices: [a, b]}
sampler: {name: random, seed: 11}
nTrials: 12
storage: ./demo.journal
`;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('cli'));
  await writeFiles(dir, {
    'objective.mjs': objectiveJs,
    'objective.ts': objectiveTs,
    'run.yaml': runYaml,
    'ts.yaml': 'study: ts\nobjective: ./objective.ts\nnTrials: 4\nseed: 2\nstorage: ./demo.journal\n',
    'broken.yaml': 'study: broken\nobjective: ./objective.mjs\nobjectiveExport: broken\nnTrials: 3\nstorage: ./demo.journal\n',
    'pair.yaml': 'study: pair\nobjective: ./objective.mjs\nobjectiveExport: pair\ndirections: [minimize, maximize]\nnTrials: 6\nsampler: sobol\nseed: 4\nstorage: ./pair.journal\n',
    'grid.yaml':
      'study: grid\nobjective: ./objective.mjs\nspace:\n  x: {type: float, low: -3, high: 3, step: 3}\n  kind: {type: categorical, choices: [a, b]}\n' +
      'sampler: grid\nconcurrency: 4\nstorage: ./grid.journal\n',
    'bad-sampler.yaml': 'objective: ./objective.mjs\nnTrials: 3\nsampler: annealing\n',
    'no-export.yaml': 'objective: ./objective.mjs\nobjectiveExport: nope\nnTrials: 3\nstorage: ./other.journal\n',
  });
});
afterAll(async () => {
  await cleanup();
});

interface TrialJson {
  number: number;
  state: string;
  values: number[] | null;
  params: Record<string, unknown>;
}

/** The trials as JSON; the export module's shape is an array of trials (or {trials: [...]}). */
async function trialsJson(study: string, extra: string[] = []): Promise<TrialJson[]> {
  const result = await runInProcess(['trials', study, '--storage', 'demo.journal', '--format', 'json', ...extra], dir);
  expect(result.code).toBe(0);
  const parsed = JSON.parse(result.stdout) as TrialJson[] | { trials: TrialJson[] };
  return Array.isArray(parsed) ? parsed : parsed.trials;
}

describe('kestrel run', () => {
  it('runs a study to its budget, printing plain progress, the best trial and a summary', async () => {
    const result = await runInProcess(['run', 'run.yaml'], dir);
    expect(result.stderr).not.toMatch(/kestrel: [A-Z_]+:/);
    expect(result.code).toBe(0);
    expect(existsSync(path.join(dir, 'demo.journal'))).toBe(true);
    const lines = parseTrialLines(result.stderr);
    expect(lines).toHaveLength(12);
    expect(lines.every((l) => l.state === 'COMPLETE')).toBe(true);
    expect(result.stdout).toContain('study "demo": 12 trials (12 complete, 0 pruned, 0 failed, 0 running, 0 waiting)');
    const best = Math.min(...lines.map((l) => l.value!));
    const bestLine = /best trial #(\d+): value=(\S+) params: x=\S+ kind=[ab]/.exec(result.stdout);
    expect(bestLine).not.toBeNull();
    expect(Number(bestLine![2])).toBeCloseTo(best, 4); // printed with 6 significant digits
  });

  it('resumes the study: a larger --n-trials adds only the missing trials', async () => {
    const result = await runInProcess(['run', 'run.yaml', '--n-trials', '15'], dir);
    expect(result.code).toBe(0);
    expect(parseTrialLines(result.stderr).map((l) => l.number)).toEqual([12, 13, 14]);
    expect(result.stdout).toContain('study "demo": 15 trials (15 complete');
  });

  it('is reproducible with a seed: the same parameters in a fresh storage', async () => {
    const again = await runInProcess(['run', 'run.yaml', '--storage', 'copy.journal', '--n-trials', '15'], dir);
    expect(again.code).toBe(0);
    const original = await trialsJson('demo');
    const copy = await runInProcess(['trials', 'demo', '--storage', 'copy.journal', '--format', 'json'], dir);
    const parsedCopy = JSON.parse(copy.stdout) as TrialJson[] | { trials: TrialJson[] };
    const copyTrials = Array.isArray(parsedCopy) ? parsedCopy : parsedCopy.trials;
    expect(copyTrials.map((t) => t.params)).toEqual(original.map((t) => t.params));
  });

  it('loads a TypeScript define-by-run objective', async () => {
    const result = await runInProcess(['run', 'ts.yaml'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/best trial #\d+: value=\S+ params: y=/);
  });
});

describe('several objectives', () => {
  it('prints the Pareto front after run, and from best and studies', async () => {
    const run = await runInProcess(['run', 'pair.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    // minimize x and maximize x^2 conflict on [0, 1]: every trial is on the front.
    expect(run.stdout).toMatch(/Pareto front \(6 trials, directions minimize, maximize\)/);
    expect(run.stdout.match(/^  #\d+: values=/gm)).toHaveLength(6);
    const best = await runInProcess(['best', 'pair', '--storage', 'pair.journal', '--format', 'json'], dir);
    const front = JSON.parse(best.stdout) as { values: number[] }[];
    expect(front).toHaveLength(6);
    for (const t of front) expect(t.values[1]).toBeCloseTo(t.values[0] ** 2, 12);
    // The text form labels several values 'values' (it said 'value: 0.1, 0.01'), as run's summary.
    const text = await runInProcess(['best', 'pair', '--storage', 'pair.journal'], dir);
    expect(text.stdout.match(/^  values: \S+, \S+$/gm)).toHaveLength(6);
    expect(text.stdout).not.toMatch(/^  value: /m);
    const studies = await runInProcess(['studies', '--storage', 'pair.journal'], dir);
    expect(studies.stdout).toMatch(/pair\s+minimize,maximize\s+6\s+6 on the Pareto front/);
  });

  it('exports the trials of a multi-objective study as CSV with values_<i> columns, whatever the state filter', async () => {
    // With only FAIL (here: no) trials selected, the header used to fall back to one `value` column.
    for (const states of ['COMPLETE', 'FAIL']) {
      const csv = await runInProcess(['trials', 'pair', '--storage', 'pair.journal', '--format', 'csv', '--state', states], dir);
      expect(csv.code, csv.stderr).toBe(0);
      expect(csv.stdout.split('\n')[0], states).toMatch(/^number,state,values_0,values_1,datetime_start,/);
    }
  });
});

describe('kestrel trials / best / studies', () => {
  it('exports trials as JSON with params, values and states, filtered by --state', async () => {
    const trials = await trialsJson('demo');
    expect(trials).toHaveLength(15);
    expect(trials.map((t) => t.number)).toEqual([...Array(15).keys()]);
    for (const t of trials) {
      expect(t.state).toBe('COMPLETE');
      const x = t.params.x as number;
      expect(t.values![0]).toBeCloseTo((x - 1) ** 2 + (t.params.kind === 'b' ? 0.5 : 0), 12);
    }
    expect(await trialsJson('demo', ['--state', 'FAIL,PRUNED'])).toHaveLength(0);
  });

  it('exports trials as CSV: a header and one row per trial', async () => {
    const result = await runInProcess(['trials', 'demo', '--storage', 'demo.journal', '--format', 'csv'], dir);
    expect(result.code).toBe(0);
    const rows = result.stdout.trim().split('\n');
    expect(rows).toHaveLength(16);
    const header = rows[0].split(',');
    expect(header).toEqual(expect.arrayContaining(['number', 'state']));
    const numberCol = header.indexOf('number');
    expect(rows.slice(1).map((r) => Number(r.split(',')[numberCol]))).toEqual([...Array(15).keys()]);
  });

  it('prints a table by default', async () => {
    const result = await runInProcess(['trials', 'demo', '--storage', 'demo.journal'], dir);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^number\s+state\s+value\s+x\s+kind\s+duration$/);
    expect(lines).toHaveLength(17); // header, rule, 15 rows
  });

  it('shows the best trial as JSON and text, matching the minimum over the trials', async () => {
    const trials = await trialsJson('demo');
    const best = trials.reduce((a, b) => (b.values![0] < a.values![0] ? b : a));
    const json = await runInProcess(['best', 'demo', '--storage', 'demo.journal', '--format', 'json'], dir);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { number: number; value: number; params: Record<string, unknown> };
    expect(parsed.number).toBe(best.number);
    expect(parsed.value).toBe(best.values![0]);
    expect(parsed.params).toEqual(best.params);
    // Datetimes as `trials --format json` writes them: ISO strings, epoch milliseconds beside them.
    const fromTrials = best as unknown as Record<string, unknown>;
    for (const key of ['datetimeStart', 'datetimeStartMs', 'datetimeComplete', 'datetimeCompleteMs', 'durationMs']) {
      expect((parsed as Record<string, unknown>)[key], key).toEqual(fromTrials[key]);
    }
    expect((parsed as Record<string, unknown>).datetimeStart).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const text = await runInProcess(['best', 'demo', '--storage', 'demo.journal'], dir);
    expect(text.stdout).toMatch(new RegExp(`^trial #${best.number}\\n  value: `));
  });

  it('lists studies with directions, trial counts and best values', async () => {
    const result = await runInProcess(['studies', '--storage', 'demo.journal'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^study\s+directions\s+trials\s+best/);
    expect(result.stdout).toMatch(/\ndemo\s+minimize\s+15\s+\S+/);
    expect(result.stdout).toMatch(/\nts\s+minimize\s+4\s+\S+/);
  });
});

describe('kestrel on a constrained study (NsgaIiSampler constraintsFunc)', () => {
  it('trials show the stored constraint values; best and studies keep feasible trials only', async () => {
    const storage = path.join(dir, 'constrained.journal');
    const constraintsFunc = (t: { params: Record<string, unknown> }): number[] => [(t.params.x as number) - 0.5];
    for (const [studyName, xs] of [['some', [0.2, 0.9, 0.4]], ['none', [0.8, 0.9]]] as const) {
      const study = await createStudy({ studyName, storage, sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
      for (const x of xs) {
        await study.enqueueTrial({ x });
        const trial = await study.ask();
        await study.tell(trial, -trial.suggestFloat('x', 0, 1));
      }
      await study.close();
    }
    const trials = await runInProcess(['trials', 'some', '--storage', 'constrained.journal', '--format', 'json'], dir);
    expect(trials.code).toBe(0);
    const parsed = JSON.parse(trials.stdout) as { systemAttrs: Record<string, unknown> }[];
    expect(parsed.map((t) => t.systemAttrs.constraints)).toEqual([[-0.3], [0.4], [-0.09999999999999998]]);
    // -x is smallest for x = 0.9, which is infeasible: the best feasible is x = 0.4.
    const best = await runInProcess(['best', 'some', '--storage', 'constrained.journal', '--format', 'json'], dir);
    expect(best.code).toBe(0);
    expect((JSON.parse(best.stdout) as { number: number }).number).toBe(2);
    // The best trial's constraint values are shown, so the user sees how close it is to the bound.
    expect((JSON.parse(best.stdout) as { constraints: unknown }).constraints).toEqual([-0.09999999999999998]);
    const bestText = await runInProcess(['best', 'some', '--storage', 'constrained.journal'], dir);
    expect(bestText.stdout).toMatch(/\n  constraints: -0\.1\n/);
    const none = await runInProcess(['best', 'none', '--storage', 'constrained.journal'], dir);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/kestrel: NO_FEASIBLE_TRIALS: /);
    const studies = await runInProcess(['studies', '--storage', 'constrained.journal'], dir);
    expect(studies.code).toBe(0);
    expect(studies.stdout).toMatch(/\nsome\s+minimize\s+3\s+-0\.4\b/);
    expect(studies.stdout).toMatch(/\nnone\s+minimize\s+2\s+none feasible/);
  });
});

describe('exit codes', () => {
  it('exits 2 on a config error, with the code and the path in the message', async () => {
    const result = await runInProcess(['run', 'bad-sampler.yaml'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^kestrel: INVALID_CONFIG: sampler: expected one of random/m);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack
    const noExport = await runInProcess(['run', 'no-export.yaml'], dir);
    expect(noExport.code).toBe(2);
    expect(noExport.stderr).toMatch(/objectiveExport: objective\.mjs has no exported function "nope" \(function exports: objective, pair, broken\)/);
    expect(existsSync(path.join(dir, 'other.journal'))).toBe(false); // nothing written on a bad config
  });

  /** What `kestrel run` prints for an objective(params, trial) in a config without a space. */
  const NO_SPACE_MESSAGE =
    /^kestrel: INVALID_CONFIG: space: objective "objective" of objective\.mjs takes \(params, trial\), which needs a declarative space: add space: to the config, or write objective\(trial\) with trial\.suggest\*$/m;

  it('exits 2 at space for an objective(params, trial) in a config without a space, writing nothing', async () => {
    // Define-by-run calls objective(trial): params was the trial, params.x undefined, and every
    // trial failed with "the objective returned NaN" (a forgotten or misindented space: key).
    await writeFiles(dir, { 'no-space.yaml': 'objective: ./objective.mjs\nnTrials: 3\nstorage: ./no-space.journal\n' });
    const result = await runInProcess(['run', 'no-space.yaml'], dir);
    expect(result.stderr).toMatch(NO_SPACE_MESSAGE);
    expect(result.code).toBe(2);
    expect(existsSync(path.join(dir, 'no-space.journal'))).toBe(false);
  });

  it('exits 2 with INVALID_CONFIG naming direction / directions when the config disagrees with the stored study', async () => {
    await writeFiles(dir, {
      'dir-min.yaml': 'study: dirs\nobjective: ./objective.mjs\nobjectiveExport: pair\ndirections: [minimize, maximize]\nnTrials: 2\nsampler: sobol\nstorage: ./dirs.journal\n',
      'dir-one.yaml': 'study: dirs\nobjective: ./objective.mjs\nobjectiveExport: pair\ndirection: maximize\nnTrials: 3\nstorage: ./dirs.journal\n',
      'dir-default.yaml': 'study: dirs\nobjective: ./objective.mjs\nobjectiveExport: pair\nnTrials: 3\nstorage: ./dirs.journal\n',
      'dir-many.yaml': 'study: dirs\nobjective: ./objective.mjs\nobjectiveExport: pair\ndirections: [maximize, maximize]\nnTrials: 3\nsampler: sobol\nstorage: ./dirs.journal\n',
      'dir-tpe.yaml': 'study: dirs\nobjective: ./objective.mjs\nobjectiveExport: pair\ndirections: [minimize, maximize]\nnTrials: 3\nsampler: tpe\nstorage: ./dirs.journal\n',
    });
    expect((await runInProcess(['run', 'dir-min.yaml'], dir)).code).toBe(0);
    const one = await runInProcess(['run', 'dir-one.yaml'], dir);
    expect(one.stderr).toMatch(
      /^kestrel: INVALID_CONFIG: direction: maximize, but the study "dirs" in .*dirs\.journal was created with directions \[minimize, maximize\]; use another study name for other directions$/m,
    );
    expect(one.code).toBe(2);
    const byDefault = await runInProcess(['run', 'dir-default.yaml'], dir);
    expect(byDefault.stderr).toMatch(/^kestrel: INVALID_CONFIG: direction: minimize \(the default\), but the study "dirs" .*was created with directions \[minimize, maximize\]/m);
    expect(byDefault.code).toBe(2);
    const many = await runInProcess(['run', 'dir-many.yaml'], dir);
    expect(many.stderr).toMatch(/^kestrel: INVALID_CONFIG: directions: \[maximize, maximize\], but the study "dirs" .*was created with directions \[minimize, maximize\]/m);
    expect(many.code).toBe(2);
    // The stored study's directions with a sampler that models one objective: refused, no trial added.
    const tpe = await runInProcess(['run', 'dir-tpe.yaml'], dir);
    expect(tpe.stderr).toMatch(/^kestrel: INVALID_CONFIG: sampler: the tpe sampler supports one objective, but directions has 2; use one of /m);
    expect(tpe.code).toBe(2);
    expect((await loadStudy({ studyName: 'dirs', storage: path.join(dir, 'dirs.journal') }).then(async (s) => {
      const n = (await s.getTrials()).length;
      await s.close();
      return n;
    }))).toBe(2);
  });

  it('exits 2 at space for an objective(params, trial) without a space in process mode too, before any objective runs', async () => {
    // The parent does not import the objective in process mode (a TensorFlow.js module would claim
    // the GPU there): the first worker reports it as it starts, and every trial failed with NaN.
    await writeFiles(dir, { 'no-space-proc.yaml': 'study: nsp\nobjective: ./objective.mjs\nnTrials: 3\nprocesses: true\nconcurrency: 3\nstorage: ./no-space-proc.journal\n' });
    const result = await runInProcess(['run', 'no-space-proc.yaml'], dir);
    expect(result.stderr).toMatch(NO_SPACE_MESSAGE);
    expect(result.code).toBe(2);
    const study = await loadStudy({ studyName: 'nsp', storage: path.join(dir, 'no-space-proc.journal') });
    const trials = await study.getTrials();
    await study.close();
    // The trial the first worker was started for, and no other: the other two processes would
    // have started only once it had loaded the objective.
    expect(trials.map((t) => t.state)).toEqual(['FAIL']);
    expect(trials[0].userAttrs.tag).toBeUndefined(); // the objective never ran
  });

  it('exits 2 with INVALID_CONFIG for a missing objective module in process mode too, writing nothing', async () => {
    await writeFiles(dir, { 'missing-proc.yaml': 'objective: ./missing.mjs\nnTrials: 1\nprocesses: true\nstorage: ./missing-proc.journal\n' });
    const result = await runInProcess(['run', 'missing-proc.yaml'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^kestrel: INVALID_CONFIG: objective: no objective module at .*missing\.mjs$/m);
    expect(existsSync(path.join(dir, 'missing-proc.journal'))).toBe(false);
  });

  it('exits 2 with INVALID_CONFIG, keeping the thrown value, for an objective module that throws a non-Error on import', async () => {
    await writeFiles(dir, {
      'throws-null.mjs': 'throw null;\n',
      'throws-string.mjs': 'throw "no GPU here";\n',
      'throws-null.yaml': 'objective: ./throws-null.mjs\nnTrials: 1\nstorage: ./throws.journal\n',
      'throws-string.yaml': 'objective: ./throws-string.mjs\nnTrials: 1\nstorage: ./throws.journal\n',
    });
    const thrownNull = await runInProcess(['run', 'throws-null.yaml'], dir);
    expect(thrownNull.stderr).toMatch(/^kestrel: INVALID_CONFIG: objective: cannot load .*throws-null\.mjs: null$/m);
    expect(thrownNull.code).toBe(2);
    const thrownString = await runInProcess(['run', 'throws-string.yaml'], dir);
    expect(thrownString.stderr).toMatch(/^kestrel: INVALID_CONFIG: objective: cannot load .*throws-string\.mjs: no GPU here$/m);
    expect(thrownString.code).toBe(2);
    expect(existsSync(path.join(dir, 'throws.journal'))).toBe(false);
  });

  it('exits 2 on usage errors: unknown command, bad flag value, missing argument, bad format', async () => {
    expect((await runInProcess(['fly'], dir)).code).toBe(2);
    const badN = await runInProcess(['run', 'run.yaml', '--n-trials', 'many'], dir);
    expect(badN.code).toBe(2);
    expect(badN.stderr).toMatch(/expected an integer >= 1, received "many"/);
    expect((await runInProcess(['run'], dir)).code).toBe(2);
    expect((await runInProcess(['trials', 'demo', '--format', 'xml'], dir)).code).toBe(2);
    expect((await runInProcess(['trials', 'demo', '--state', 'DONE'], dir)).code).toBe(2);
  });

  it('exits 0 for --help and --version', async () => {
    const help = await runInProcess(['--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: kestrel/);
    expect((await runInProcess(['--version'], dir)).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 1 on runtime errors: unknown study', async () => {
    const missing = await runInProcess(['best', 'nosuch', '--storage', 'demo.journal'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^kestrel: STUDY_NOT_FOUND: study "nosuch"/);
  });

  it('exits 2 naming the path when --storage of trials / best / studies does not exist or is a directory', async () => {
    for (const args of [['studies'], ['trials', 'demo'], ['best', 'demo']]) {
      const noJournal = await runInProcess([...args, '--storage', 'absent.journal'], dir);
      expect(noJournal.stderr, args.join(' ')).toMatch(/^kestrel: INVALID_CONFIG: --storage: no journal file at .*absent\.journal \(kestrel run creates one\)$/m);
      expect(noJournal.code, args.join(' ')).toBe(2);
      const folder = await runInProcess([...args, '--storage', '.'], dir);
      expect(folder.stderr, args.join(' ')).toMatch(/^kestrel: INVALID_CONFIG: --storage: .+ is a directory, not a journal file$/m);
      expect(folder.code, args.join(' ')).toBe(2);
    }
    // Without --storage, the default kestrel.journal of the working directory is named.
    const byDefault = await runInProcess(['studies'], dir);
    expect(byDefault.stderr).toMatch(/^kestrel: INVALID_CONFIG: --storage: no journal file at .*kestrel\.journal \(the default; kestrel run creates one\)$/m);
    expect(byDefault.code).toBe(2);
  });

  it('names the studies the journal holds when the study asked for is not one of them', async () => {
    const journal = path.join(dir, 'names.journal');
    for (const studyName of ['quickstart', 'mnist']) await createStudy({ studyName, storage: journal }).then((s) => s.close());
    for (const command of ['trials', 'best']) {
      const result = await runInProcess([command, 'quickstrat', '--storage', journal], dir);
      expect(result.code, command).toBe(1);
      expect(result.stderr, command).toBe('kestrel: STUDY_NOT_FOUND: study "quickstrat" does not exist in this storage (its studies: quickstart, mnist)\n');
    }
    const empty = await runInProcess(['trials', 's', '--storage', ':memory:'], dir);
    expect(empty.stderr).toBe('kestrel: STUDY_NOT_FOUND: study "s" does not exist in this storage (it holds no studies)\n');
  });

  it('exits 1 with STORAGE_ERROR naming the journal when its directory cannot be created, never hanging', async () => {
    await writeFiles(dir, { 'in-the-way': 'a file\n' });
    const blocked = await runInProcess(['run', 'run.yaml', '--storage', 'in-the-way/sub/x.journal'], dir);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(
      /^kestrel: STORAGE_ERROR: cannot create the directory .*in-the-way of the journal .*in-the-way\/sub\/x\.journal: a file of that name is in the way$/m,
    );
    // Node's mkdir({recursive: true}) never settles for this path.
    if (existsSync('/proc/self')) {
      const proc = await runInProcess(['run', 'run.yaml', '--storage', '/proc/kestrel-nope/x.journal'], dir);
      expect(proc.code).toBe(1);
      expect(proc.stderr).toMatch(/^kestrel: STORAGE_ERROR: cannot create the directory \/proc\/kestrel-nope of the journal /m);
    }
  });

  it('exits 1 when every trial failed, with the failures recorded; the stack only with KESTREL_DEBUG=1', async () => {
    const result = await runInProcess(['run', 'broken.yaml'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/kestrel: NO_COMPLETED_TRIALS: /);
    expect(parseTrialLines(result.stderr).map((l) => l.state)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    expect(result.stderr).toContain('reason="Error: boom"');
    expect(result.stdout).toContain('study "broken": 3 trials (0 complete, 0 pruned, 3 failed');
    const debug = await runInProcess(['best', 'broken', '--storage', 'demo.journal'], dir, { KESTREL_DEBUG: '1' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/NO_COMPLETED_TRIALS[\s\S]*\n\s+at /);
  });
});

describe('budget, refused results and exported values', () => {
  beforeAll(async () => {
    await writeFiles(dir, {
      'attrs.mjs': [
        'export function objective(params, trial) {',
        '  trial.setUserAttr("curve", [0.5, NaN]);',
        '  return params.x;',
        '}',
        '',
      ].join('\n'),
      'held.yaml': 'study: held\nobjective: ./objective.mjs\nspace:\n  x: {type: float, low: -3, high: 3}\n  kind: {type: categorical, choices: [a, b]}\nnTrials: 5\nstorage: ./held.journal\n',
      'attrs.yaml': 'study: attrs\nobjective: ./attrs.mjs\nspace:\n  x: {type: float, low: 0, high: 1}\nnTrials: 3\nstorage: ./attrs.journal\n',
    });
  });

  it('counts the trials the study already holds against nTrials, however they were made', async () => {
    const study = await createStudy({ studyName: 'held', storage: path.join(dir, 'held.journal') });
    const distributions = { x: { kind: 'float', low: -3, high: 3, log: false, step: null } } as const;
    for (let i = 0; i < 4; i++) await study.addTrial({ params: { x: i - 2 }, distributions, value: i });
    await study.enqueueTrial({ x: 0.5, kind: 'a' });
    await study.close();

    // 5 trials held (one enqueued): the enqueued one runs, no new one is created.
    const first = await runInProcess(['run', 'held.yaml'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(parseTrialLines(first.stderr).map((l) => l.number)).toEqual([4]);
    expect(first.stdout).toContain('study "held": 5 trials (5 complete');
    const again = await runInProcess(['run', 'held.yaml'], dir);
    expect(again.stderr).toContain('the study already has 5 trials (budget 5); nothing to run');
    expect(parseTrialLines(again.stderr)).toEqual([]);
    const more = await runInProcess(['run', 'held.yaml', '--n-trials', '7'], dir);
    expect(parseTrialLines(more.stderr).map((l) => l.number)).toEqual([5, 6]);
    expect(more.stdout).toContain('study "held": 7 trials (7 complete');
  });

  it('runs a grid once; a second run of the finished grid creates no trial (it recorded a FAIL per concurrent ask)', async () => {
    const first = await runInProcess(['run', 'grid.yaml'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(parseTrialLines(first.stderr).map((l) => l.state)).toEqual(Array(6).fill('COMPLETE'));
    const again = await runInProcess(['run', 'grid.yaml'], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(parseTrialLines(again.stderr)).toEqual([]);
    expect(again.stdout).toContain('study "grid": 6 trials (6 complete, 0 pruned, 0 failed');
  });

  it('fails the trials of a user attribute JSON cannot hold, with the reason, and exits 1 (not the config code)', async () => {
    const result = await runInProcess(['run', 'attrs.yaml'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NO_COMPLETED_TRIALS/);
    expect(parseTrialLines(result.stderr).map((l) => l.state)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    expect(result.stderr).toContain('userAttrs.curve[1]');
    const study = await loadStudy({ studyName: 'attrs', storage: path.join(dir, 'attrs.journal') });
    const trials = await study.getTrials();
    await study.close();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    for (const t of trials) expect(String(t.systemAttrs.fail_reason)).toMatch(/userAttrs\.curve\[1\].*NaN/);
  });

  it('exports NaN and infinite values as "NaN" / "Infinity" in JSON, as in CSV', async () => {
    const study = await createStudy({ studyName: 'nonfinite', storage: path.join(dir, 'demo.journal') });
    await study.addTrial({ state: 'FAIL', values: [Number.NaN], params: {}, distributions: {}, intermediateValues: { 0: Infinity } });
    await study.close();
    const json = await trialsJson('nonfinite');
    expect(json[0].values).toEqual(['NaN']);
    expect((json[0] as unknown as { intermediateValues: unknown }).intermediateValues).toEqual({ 0: 'Infinity' });
    const csv = await runInProcess(['trials', 'nonfinite', '--storage', 'demo.journal', '--format', 'csv'], dir);
    expect(csv.stdout.split('\n')[1]).toMatch(/^0,FAIL,NaN,/);
  });
});

describe('a worker whose space differs from the study it joins', () => {
  it('exits 2 naming the parameter whose kind changed, adding no trial to the study', async () => {
    await writeFiles(dir, {
      'mixed-a.yaml':
        'study: mixed\nobjective: ./objective.mjs\nspace:\n  x: {type: float, low: -3, high: 3}\n' +
        '  kind: {type: categorical, choices: {a: {lr: {type: float, low: 0.1, high: 1}}, b: {}}}\nnTrials: 4\nseed: 3\nstorage: ./mixed.journal\n',
      // kind.a.lr is a categorical now: its trials would be mixed with the float ones.
      'mixed-b.yaml':
        'study: mixed\nobjective: ./objective.mjs\nspace:\n  x: {type: float, low: -3, high: 3}\n' +
        '  kind: {type: categorical, choices: {a: {lr: {type: categorical, choices: [0.1, 1]}}, b: {}}}\nnTrials: 8\nstorage: ./mixed.journal\n',
      // A narrower range of the same kind is a legitimate change (as in Optuna).
      'mixed-c.yaml':
        'study: mixed\nobjective: ./objective.mjs\nspace:\n  x: {type: float, low: 0, high: 1}\n' +
        '  kind: {type: categorical, choices: {a: {lr: {type: float, low: 0.1, high: 0.5}}, b: {}}}\nnTrials: 6\nstorage: ./mixed.journal\n',
    });
    const first = await runInProcess(['run', 'mixed-a.yaml', '--n-trials', '12', '--seed', '3'], dir);
    expect(first.code, first.stderr).toBe(0);
    const worker = await runInProcess(['worker', 'mixed-b.yaml', '--n-trials', '20'], dir);
    expect(worker.stderr).toMatch(/^kestrel: INVALID_CONFIG: space\.kind\.a\.lr: is a categorical parameter here, but a float one in trial #\d+/m);
    expect(worker.code).toBe(2);
    const study = await loadStudy({ studyName: 'mixed', storage: path.join(dir, 'mixed.journal') });
    try {
      expect((await study.getTrials()).length).toBe(12);
    } finally {
      await study.close();
    }
    const narrower = await runInProcess(['worker', 'mixed-c.yaml', '--n-trials', '14'], dir);
    expect(narrower.code, narrower.stderr).toBe(0);
  });
});
