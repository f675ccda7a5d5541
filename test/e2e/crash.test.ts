/**
 * Crashes and interruptions: a worker killed with SIGKILL mid-run leaves earlier trials intact and
 * the study resumable; Ctrl-C on `kestrel run` exits 130 with running trials recorded as FAIL
 * ("interrupted").
 *
 * A trial running in a process killed with SIGKILL stays RUNNING in the journal: nothing is alive
 * to finish it, until a later run on this machine finds its process gone (`owner_process`, see
 * test/study/owner-liveness.test.ts) or its heartbeat stale. The budget counts the
 * trials the study holds, so the resumed study ends with the budget's trials: budget - 1 COMPLETE
 * plus that one (with one trial at a time, at most one). `kestrel run --fail-stale` (used here to
 * resume) records such RUNNING trials as FAIL first; it is only correct when no other worker is
 * alive.
 *
 * Ctrl-C lands, with a GP sampler and instant objectives, mostly while trials are being asked:
 * those trials are recorded as FAIL "interrupted" too.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStudy } from '../../src/study/create-study.js';
import { collect, makeTempDir, parseTrialLines, runSpawned, spawnCli, writeFiles } from '../cli/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

// Trials take ~20 ms of simulated work, so a kill lands mid-trial most of the time. `hang` trials
// (number >= 3) wait ~forever; each objective announces its start on stderr.
const objective = `
export async function objective(params, trial) {
  process.stderr.write('started ' + trial.number + '\\n');
  await new Promise((resolve) => setTimeout(resolve, 20));
  return params.x * params.x;
}
export function instant(params, trial) {
  process.stderr.write('started ' + trial.number + '\\n');
  return (params.x - 0.3) ** 2;
}
export async function hang(params, trial) {
  process.stderr.write('started ' + trial.number + '\\n');
  if (trial.number >= 3) await new Promise((resolve) => setTimeout(resolve, 600000));
  return params.x;
}
`;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('crash'));
  const space = 'space:\n  x: {type: float, low: -2, high: 2}\n';
  await writeFiles(dir, {
    'objective.mjs': objective,
    'crash.yaml': `study: crash\nobjective: ./objective.mjs\n${space}sampler: {name: random, seed: 9}\nnTrials: 30\nstorage: ./crash.journal\n`,
    'hang.yaml': `study: hang\nobjective: ./objective.mjs\nobjectiveExport: hang\n${space}nTrials: 10\nconcurrency: 2\nstorage: ./hang.journal\n`,
    'asking.yaml':
      `study: asking\nobjective: ./objective.mjs\nobjectiveExport: instant\n${space}` +
      'sampler: {name: gp, seed: 1, nStartupTrials: 2}\nnTrials: 500\nconcurrency: 2\nstorage: ./asking.journal\n',
  });
});
afterAll(async () => {
  await cleanup();
});

/** Resolves when `pattern` has appeared `count` times on the child's stderr. */
function waitForStderr(child: ChildProcess, pattern: RegExp, count: number): Promise<void> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if ((seen.match(new RegExp(pattern.source, 'gm')) ?? []).length >= count) {
        child.stderr?.off('data', onData);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.on('close', () => reject(new Error(`exited before ${count} x ${pattern}: ${seen}`)));
  });
}

describe('a worker killed with SIGKILL', () => {
  it('leaves finished trials intact, and the study loads and runs on to its budget', async () => {
    const worker = spawnCli(['worker', 'crash.yaml'], dir);
    const done = collect(worker);
    await waitForStderr(worker, /^trial \d+ COMPLETE/, 8);
    worker.kill('SIGKILL');
    const killed = await done;
    expect(killed.code).toBe(128 + 9);
    const printed = parseTrialLines(killed.stderr);
    expect(printed.length).toBeGreaterThanOrEqual(8);

    const journal = path.join(dir, 'crash.journal');
    const before = await loadStudy({ studyName: 'crash', storage: journal });
    const afterKill = await before.getTrials();
    await before.close();
    const byNumber = new Map(afterKill.map((t) => [t.number, t]));
    for (const line of printed) {
      const trial = byNumber.get(line.number);
      expect(trial?.state).toBe('COMPLETE');
      expect(trial?.values?.[0]).toBe(line.value);
    }
    // At most one trial was in flight (concurrency 1): it stays RUNNING.
    const running = afterKill.filter((t) => t.state === 'RUNNING');
    expect(running.length).toBeLessThanOrEqual(1);

    // --fail-stale closes the orphaned RUNNING trial (no other worker is alive here).
    const resumed = await runSpawned(['run', 'crash.yaml', '--fail-stale'], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    if (running.length === 1) expect(resumed.stderr).toContain(`recorded 1 stale RUNNING trial(s) as FAIL: #${running[0].number}`);
    const after = await loadStudy({ studyName: 'crash', storage: journal });
    try {
      const trials = await after.getTrials();
      expect(trials).toHaveLength(30);
      expect(running.length).toBeLessThanOrEqual(1);
      expect(trials.map((t) => t.number)).toEqual([...Array(trials.length).keys()]);
      expect(trials.filter((t) => t.state === 'COMPLETE')).toHaveLength(trials.length - running.length);
      for (const t of running) {
        expect(trials[t.number].state).toBe('FAIL');
        expect(String(trials[t.number].systemAttrs.fail_reason)).toMatch(/^stale/);
      }
      for (const line of printed) expect(trials[line.number].values?.[0]).toBe(line.value);
    } finally {
      await after.close();
    }
  });
});

describe('Ctrl-C on kestrel run', () => {
  it('exits 130 and records the running trials as FAIL "interrupted"', async () => {
    const run = spawnCli(['run', 'hang.yaml'], dir);
    const done = collect(run);
    await waitForStderr(run, /^started \d+$/, 5); // trials 0-2 finished, 3 and 4 hanging
    run.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/interrupted/);

    const study = await loadStudy({ studyName: 'hang', storage: path.join(dir, 'hang.journal') });
    try {
      const trials = await study.getTrials();
      expect(trials.filter((t) => t.state === 'COMPLETE').map((t) => t.number)).toEqual([0, 1, 2]);
      const failed = trials.filter((t) => t.state === 'FAIL');
      expect(failed.map((t) => t.number).sort()).toEqual([3, 4]);
      for (const t of failed) expect(t.systemAttrs.fail_reason).toBe('interrupted');
      expect(trials.filter((t) => t.state === 'RUNNING')).toHaveLength(0);
    } finally {
      await study.close();
    }
  });
});

describe('Ctrl-C while trials are being asked', () => {
  it('exits 130 with no trial left RUNNING, the ones being asked recorded as FAIL "interrupted"', async () => {
    const run = spawnCli(['run', 'asking.yaml'], dir);
    const done = collect(run);
    await waitForStderr(run, /^started \d+$/, 12);
    run.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/trials that were running are recorded as FAIL/);

    const study = await loadStudy({ studyName: 'asking', storage: path.join(dir, 'asking.journal') });
    try {
      const trials = await study.getTrials();
      expect(trials.length).toBeGreaterThanOrEqual(12);
      expect(trials.filter((t) => t.state === 'RUNNING').map((t) => t.number)).toEqual([]);
      for (const t of trials.filter((x) => x.state === 'FAIL')) expect(t.systemAttrs.fail_reason).toBe('interrupted');
    } finally {
      await study.close();
    }
  });
});
