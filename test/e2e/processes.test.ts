/**
 * `kestrel run` with trials in worker processes (config `processes: true`): a trial whose process
 * exits or is killed fails alone with the exit reason, the others complete, the CLI exits 0; a
 * process past `trialTimeout` is killed; Ctrl-C records the running trials as FAIL "interrupted";
 * and examples/mnist-mlp.yaml (TensorFlow.js, GP sampler, ASHA, CPU processes) runs end to end.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStudy } from '../../src/study/create-study.js';
import { collect, makeTempDir, repoRoot, runSpawned, spawnCli, writeFiles } from '../cli/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

// What a trial does depends only on its number, so the test knows each fate in advance.
const objective = `
export async function objective(params, trial) {
  if (trial.number === 1) process.exit(3);
  if (trial.number === 2) process.kill(process.pid, 'SIGKILL');
  if (trial.number === 3) throw new Error('objective failed on purpose');
  trial.setUserAttr('pid', process.pid);
  return params.x * params.x;
}
export function plain(params) {
  return params.x + (params.y === 'b' ? 1 : 0);
}
export async function slow(params, trial) {
  process.stderr.write('started ' + trial.number + '\\n');
  if (trial.number === 0) await new Promise((resolve) => setTimeout(resolve, 600000));
  return params.x;
}
`;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('processes'));
  const space = 'space:\n  x: {type: float, low: -2, high: 2}\n';
  await writeFiles(dir, {
    'objective.mjs': objective,
    'crash.yaml': `study: crash\nobjective: ./objective.mjs\n${space}sampler: {name: random, seed: 3}\nnTrials: 8\nconcurrency: 2\nprocesses: true\nstorage: ./crash.journal\n`,
    'grid.yaml': `study: grid\nobjective: ./objective.mjs\nobjectiveExport: plain\nspace:\n  x: {type: float, low: -2, high: 2, n: 3}\n  y: {type: categorical, choices: [a, b]}\nsampler: grid\nconcurrency: 2\nprocesses: true\nstorage: ./grid.journal\n`,
    'slow.yaml': `study: slow\nobjective: ./objective.mjs\nobjectiveExport: slow\n${space}nTrials: 3\nprocesses: true\ntrialTimeout: 1\nstorage: ./slow.journal\n`,
  });
});
afterAll(async () => {
  await cleanup();
});

async function states(storage: string, study: string) {
  const s = await loadStudy({ studyName: study, storage: `journal:${path.join(dir, storage)}` });
  try {
    return await s.getTrials();
  } finally {
    await s.close();
  }
}

describe('kestrel run with processes: true', () => {
  it('fails only the trials whose process crashed, with the exit reason, and exits 0', async () => {
    const result = await runSpawned(['run', 'crash.yaml'], dir);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/2 CPU trial process\(es\)/);
    const trials = await states('crash.journal', 'crash');
    expect(trials).toHaveLength(8);
    const byNumber = new Map(trials.map((t) => [t.number, t]));
    expect(byNumber.get(1)!.systemAttrs.fail_reason).toBe('trial process exited with code 3');
    expect(byNumber.get(2)!.systemAttrs.fail_reason).toBe('trial process was killed by SIGKILL');
    expect(byNumber.get(3)!.systemAttrs.fail_reason).toBe('Error: objective failed on purpose');
    const complete = trials.filter((t) => t.state === 'COMPLETE');
    expect(complete.map((t) => t.number).sort((a, b) => a - b)).toEqual([0, 4, 5, 6, 7]);
    for (const t of complete) {
      expect(t.values![0]).toBeCloseTo((t.params.x as number) ** 2, 12);
      // Ran in the worker process the parent recorded for it.
      expect(typeof t.userAttrs.worker_pid).toBe('number');
      expect(t.userAttrs.pid).toBe(t.userAttrs.worker_pid);
    }
    expect(result.stdout).toMatch(/8 trials \(5 complete, 0 pruned, 3 failed, 0 running/);
  });

  it('kills a trial past trialTimeout and goes on', async () => {
    const result = await runSpawned(['run', 'slow.yaml'], dir);
    expect(result.code).toBe(0);
    const trials = await states('slow.journal', 'slow');
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'COMPLETE', 'COMPLETE']);
    expect(trials[0].systemAttrs.fail_reason).toBe('trial timed out after 1000 ms (process killed)');
  });

  it('runs a grid config without nTrials to the end of its grid', async () => {
    // The config check accepts it (a grid search ends by itself), but the process runner refused
    // any run without nTrials, maxTrialsInStudy or timeoutMs: INVALID_OPTION "nTrials", exit 2.
    const result = await runSpawned(['run', 'grid.yaml'], dir);
    expect(result.stderr).not.toMatch(/INVALID_OPTION/);
    expect(result.code).toBe(0);
    const trials = await states('grid.journal', 'grid');
    expect(trials.map((t) => t.state)).toEqual(Array(6).fill('COMPLETE'));
    expect(new Set(trials.map((t) => `${String(t.params.x)} ${String(t.params.y)}`)).size).toBe(6);
  });

  it('on Ctrl-C exits 130 and records the running trial as FAIL "interrupted"', async () => {
    const child = spawnCli(['run', 'slow.yaml', '--study', 'slow-int', '--storage', 'int.journal', '--n-trials', '3'], dir);
    const done = collect(child);
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('started 0')) resolve();
      });
    });
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(130);
    const trials = await states('int.journal', 'slow-int');
    expect(trials).toHaveLength(1);
    expect(trials[0].state).toBe('FAIL');
    expect(trials[0].systemAttrs.fail_reason).toBe('interrupted');
  });

  it('runs examples/mnist-mlp.yaml (TensorFlow.js, GP, ASHA) with complete and pruned trials', async () => {
    const config = path.join(repoRoot, 'examples', 'mnist-mlp.yaml');
    const result = await runSpawned(['run', config, '--n-trials', '8', '--storage', 'mnist.journal'], dir);
    expect(result.code).toBe(0);
    const trials = await states('mnist.journal', 'mnist-mlp');
    expect(trials).toHaveLength(8);
    expect(trials.every((t) => t.state === 'COMPLETE' || t.state === 'PRUNED')).toBe(true);
    expect(trials.some((t) => t.state === 'COMPLETE')).toBe(true);
    // ASHA (rungs at 1 and 3 of 9 epochs, keep 1/3) stops some of 8 random-ish MLPs early.
    expect(trials.some((t) => t.state === 'PRUNED')).toBe(true);
    for (const t of trials) expect(typeof t.userAttrs.tfjs_backend).toBe('string');
  }, 120_000);
});
