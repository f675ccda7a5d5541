/**
 * The real executables: `node --import tsx src/cli/main.ts` (exit codes of the process itself) and
 * `bin/kestrel.js`, which runs dist/ when it is built and otherwise falls back to tsx + sources.
 * Both paths of bin/ are tested: the compiled one against dist/ (built privately when the checkout
 * has none, which costs a tsc run of ~8 s) and the fallback against the sources.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatDistribution } from '../../src/space/distributions.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import { cliSource, collect, makeTempDir, repoRoot, runSpawned, spawnCli, tsxLoader, writeFiles, type CliResult } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('bin'));
  await writeFiles(dir, {
    'objective.ts': 'export function objective(trial: { suggestInt(n: string, l: number, h: number): number }): number {\n' +
      '  const k: number = trial.suggestInt("k", 0, 4);\n  return (k - 2) ** 2;\n}\n',
    'tune.yaml': 'objective: ./objective.ts\nnTrials: 6\nseed: 1\nstorage: ./tune.journal\n',
    'bad.yaml': 'objective: ./objective.ts\nnTrials: 6\nspace: {k: {type: int, low: 4, high: 0}}\n',
    // Trials 0 and 1 complete; from trial 2 on they never finish by themselves.
    'hang.mjs':
      'export async function objective(trial) {\n  trial.suggestFloat("x", 0, 1);\n' +
      '  process.stderr.write("started " + trial.number + "\\n");\n' +
      '  if (trial.number < 2) return trial.number;\n  await new Promise(() => setInterval(() => {}, 1000));\n}\n',
    'hang.yaml': 'study: hang\nobjective: ./hang.mjs\nnTrials: 10\nconcurrency: 2\nstorage: ./hang.journal\n',
    // From trial 1 on, a promise that nothing can settle: no timer or I/O keeps Node's event loop alive.
    'stall.mjs':
      'export async function objective(trial) {\n  trial.suggestFloat("x", 0, 1);\n' +
      '  if (trial.number < 1) return 0;\n  await new Promise(() => {});\n}\n',
    'stall.yaml': 'study: stall\nobjective: ./stall.mjs\nnTrials: 10\nconcurrency: 2\nstorage: ./stall.journal\n',
    // Trial 1 lets an error escape: a rejected promise it does not await, or a throwing timer callback.
    'escape.mjs':
      'const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));\n' +
      'export async function objective(trial) {\n  trial.suggestFloat("x", 0, 1);\n  if (trial.number === 0) return 0;\n  await sleep(100);\n' +
      '  if (trial.number === 1 && process.env.ESCAPE === "rejection") Promise.reject(new Error("background boom"));\n' +
      '  if (trial.number === 1 && process.env.ESCAPE === "exception") setTimeout(() => { throw new Error("timer boom"); }, 0);\n' +
      '  await sleep(500);\n  return trial.number;\n}\n',
    'escape.yaml': 'objective: ./escape.mjs\nnTrials: 10\nconcurrency: 2\nstorage: ./escape.journal\n',
  });
});
afterAll(async () => {
  await cleanup();
});

describe('src/cli/main.ts as a process', () => {
  it('exits 2 on a config error and 0 after a run, with no ANSI codes when not on a TTY', async () => {
    const bad = await runSpawned(['run', 'bad.yaml'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^kestrel: INVALID_CONFIG: space\.k: /m);
    const ok = await runSpawned(['run', 'tune.yaml'], dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toContain('\u001b[');
    expect(ok.stdout).toContain('study "tune": 6 trials (6 complete');
  });
});

describe('a closed output pipe', () => {
  it('ends the output quietly (kestrel trials --format json | head): exit 0, no unhandled EPIPE', async () => {
    // ~170 KB of JSON, more than a pipe buffer holds, so writes meet the closed pipe.
    const storage = path.join(dir, 'piped.journal');
    const study = await createStudy({ studyName: 'piped', storage });
    const distributions = { x: floatDistribution('x', 0, 1) };
    await study.addTrials(Array.from({ length: 1500 }, (_, i) => ({ params: { x: i / 1500 }, distributions, value: i })));
    await study.close();
    const child = spawnCli(['trials', 'piped', '--storage', storage, '--format', 'json'], dir);
    const done = collect(child);
    child.stdout?.once('data', () => child.stdout?.destroy()); // what `| head -c 10` does
    const result = await done;
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(result.code, result.stderr).toBe(0);
  });

  it('goes on with a run whose progress reader closed (kestrel run ... 2>&1 | head): no crash, no trial left RUNNING', async () => {
    // Progress lines go to stderr; a closed stderr pipe crashed kestrel (unhandled EPIPE, exit 1)
    // in the middle of the run, leaving its running trials RUNNING.
    await writeFiles(dir, {
      'slow.mjs': 'export async function objective(trial) {\n  const x = trial.suggestFloat("x", 0, 1);\n' +
        '  await new Promise((r) => setTimeout(r, 20));\n  return x;\n}\n',
      'slow.yaml': 'study: slow\nobjective: ./slow.mjs\nnTrials: 12\nconcurrency: 2\nstorage: ./slow.journal\n',
    });
    const child = spawnCli(['run', 'slow.yaml'], dir);
    const done = collect(child);
    child.stderr?.once('data', () => child.stderr?.destroy()); // what `2>&1 | head -1` does
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('study "slow": 12 trials (12 complete');
    const study = await loadStudy({ studyName: 'slow', storage: path.join(dir, 'slow.journal') });
    try {
      expect((await study.getTrials()).map((t) => t.state)).toEqual(Array(12).fill('COMPLETE'));
    } finally {
      await study.close();
    }
  });

  it.skipIf(!existsSync('/dev/full'))('fails the command when the output cannot be written (kestrel trials > file on a full disk)', async () => {
    const storage = path.join(dir, 'full.journal');
    const study = await createStudy({ studyName: 'full', storage });
    await study.addTrials([{ params: { x: 0.5 }, distributions: { x: floatDistribution('x', 0, 1) }, value: 1 }]);
    await study.close();
    // /dev/full rejects every write with ENOSPC, as a full disk does.
    const out = openSync('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, ['--import', tsxLoader, cliSource, 'trials', 'full', '--storage', storage, '--format', 'csv'], {
        cwd: dir,
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
        stdio: ['ignore', out, 'pipe'],
      });
      const result = await collect(child);
      expect(result.stderr).toMatch(/^kestrel: cannot write to standard output: .*ENOSPC/m);
      expect(result.code, result.stderr).toBe(1);
    } finally {
      closeSync(out);
    }
  });
});

describe('a TypeScript objective in a CommonJS package', () => {
  it('records a TrialPrunedError it imports itself as PRUNED, not FAIL', async () => {
    // A .ts file in a package without "type": "module" is CommonJS: its import of Kestrel is
    // compiled to require() and gets a second copy of the modules, whose TrialPrunedError class
    // is not the one the CLI's optimize knows (here: the sources, as `kestrel` would be dist/).
    const sub = path.join(dir, 'cjs');
    await mkdir(sub, { recursive: true });
    const errors = JSON.stringify(path.join(repoRoot, 'src/errors.ts'));
    await writeFiles(sub, {
      'package.json': '{}\n',
      'objective.ts':
        `import { TrialPrunedError } from ${errors};\n` +
        'export function objective(trial: { number: number; suggestFloat(n: string, l: number, h: number): number }): number {\n' +
        '  const x = trial.suggestFloat("x", 0, 1);\n' +
        '  if (trial.number % 2 === 1) throw new TrialPrunedError("pruned by the objective");\n  return x;\n}\n',
      'prune.yaml': 'study: prune\nobjective: ./objective.ts\nnTrials: 4\nstorage: ./prune.journal\n',
    });
    const result = await runSpawned(['run', 'cjs/prune.yaml'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('study "prune": 4 trials (2 complete, 2 pruned, 0 failed');
  });
});

describe('SIGTERM on kestrel run', () => {
  it('stops like Ctrl-C: exit 130, the running trials recorded as FAIL "interrupted", none left RUNNING', async () => {
    const run = spawnCli(['run', 'hang.yaml'], dir);
    const done = collect(run);
    // Trials 0-1 finished, 2 and 3 hanging.
    await new Promise<void>((resolve) => {
      let seen = 0;
      run.stderr?.on('data', (chunk: Buffer) => {
        seen += (String(chunk).match(/^started \d+$/gm) ?? []).length;
        if (seen >= 4) resolve();
      });
    });
    run.kill('SIGTERM');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/trials that were running are recorded as FAIL/);
    const study = await loadStudy({ studyName: 'hang', storage: path.join(dir, 'hang.journal') });
    try {
      const trials = await study.getTrials();
      expect(trials.filter((t) => t.state === 'COMPLETE').map((t) => t.number)).toEqual([0, 1]);
      expect(trials.filter((t) => t.state === 'RUNNING')).toHaveLength(0);
      const failed = trials.filter((t) => t.state === 'FAIL');
      expect(failed.map((t) => t.number).sort()).toEqual([2, 3]);
      for (const t of failed) expect(t.systemAttrs.fail_reason).toBe('interrupted');
    } finally {
      await study.close();
    }
  });
});

describe('an objective awaiting a promise that nothing can settle', () => {
  it('exits 1 with OBJECTIVE_ERROR, the stalled trials recorded as FAIL, instead of Node ending the run silently', async () => {
    const result = await runSpawned(['run', 'stall.yaml'], dir);
    expect(result.stderr).toMatch(/^kestrel: OBJECTIVE_ERROR: the objective of study "stall" awaits a promise that can never settle/m);
    expect(result.code, result.stderr).toBe(1);
    const study = await loadStudy({ studyName: 'stall', storage: path.join(dir, 'stall.journal') });
    try {
      const trials = await study.getTrials();
      expect(trials.filter((t) => t.state === 'COMPLETE').map((t) => t.number)).toEqual([0]);
      expect(trials.filter((t) => t.state === 'RUNNING')).toHaveLength(0);
      expect(trials.filter((t) => t.state === 'FAIL').map((t) => t.number).sort()).toEqual([1, 2]);
    } finally {
      await study.close();
    }
    // In memory, the message does not claim the finished trials are kept anywhere.
    const memory = await runSpawned(['run', 'stall.yaml', '--storage', ':memory:'], dir);
    expect(memory.code, memory.stderr).toBe(1);
    expect(memory.stderr).toMatch(/finished trials were kept in memory only and are lost with this process/);
    expect(memory.stderr).not.toMatch(/kept in :memory:/);
  });
});

describe('an error that escapes the objective', () => {
  it('exits 1 with OBJECTIVE_ERROR naming it, the running trials recorded as FAIL, instead of crashing with them RUNNING', async () => {
    for (const [how, message] of [['rejection', 'background boom'], ['exception', 'timer boom']]) {
      const result = await runSpawned(['run', 'escape.yaml', '--study', how], dir, { ESCAPE: how });
      expect(result.stderr, how).toMatch(new RegExp(`^kestrel: OBJECTIVE_ERROR: .*Error: ${message}`, 'm'));
      expect(result.stderr, how).not.toMatch(/\n\s+at /); // no crash stack
      expect(result.code, result.stderr).toBe(1);
      const study = await loadStudy({ studyName: how, storage: path.join(dir, 'escape.journal') });
      try {
        const trials = await study.getTrials();
        expect(trials.filter((t) => t.state === 'COMPLETE').map((t) => t.number), how).toEqual([0]);
        expect(trials.filter((t) => t.state === 'RUNNING'), how).toHaveLength(0);
        expect(trials.filter((t) => t.state === 'FAIL').map((t) => t.number).sort(), how).toEqual([1, 2]);
      } finally {
        await study.close();
      }
    }
  });
});

/** Runs `node <root>/bin/kestrel.js ...args` in the temp directory. */
async function runBin(root: string, args: readonly string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [path.join(root, 'bin/kestrel.js'), ...args], {
    cwd: dir,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

/**
 * A package root whose bin/ runs compiled JavaScript: the checkout itself when dist/ is built,
 * otherwise a private build (tsc --outDir) beside a copy of bin/ and package.json.
 */
async function compiledRoot(): Promise<string> {
  if (existsSync(path.join(repoRoot, 'dist/cli/main.js'))) return repoRoot;
  const root = path.join(dir, 'pkg');
  await mkdir(path.join(root, 'bin'), { recursive: true });
  await copyFile(path.join(repoRoot, 'bin/kestrel.js'), path.join(root, 'bin/kestrel.js'));
  await copyFile(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
  await symlink(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
  // Type errors elsewhere in a tree being edited do not stop tsc from emitting.
  spawnSync(process.execPath, [tsc, '-p', path.join(repoRoot, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist')], {
    stdio: 'ignore',
  });
  if (!existsSync(path.join(root, 'dist/cli/main.js'))) throw new Error('tsc did not emit dist/cli/main.js');
  return root;
}

describe('bin/kestrel.js', () => {
  it('runs the compiled CLI, loading a TypeScript objective through tsx', async () => {
    const root = await compiledRoot();
    const result = await runBin(root, ['run', 'tune.yaml', '--n-trials', '8']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('study "tune": 8 trials (8 complete');
    expect(result.stdout).toMatch(/best trial #\d+: value=0 params: k=2/);
  });

  it('falls back to tsx and the TypeScript sources when dist/ is missing', async () => {
    const root = path.join(dir, 'src-only');
    await mkdir(path.join(root, 'bin'), { recursive: true });
    await copyFile(path.join(repoRoot, 'bin/kestrel.js'), path.join(root, 'bin/kestrel.js'));
    await symlink(path.join(repoRoot, 'src'), path.join(root, 'src'), 'dir');
    await symlink(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    await copyFile(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
    const result = await runBin(root, ['best', 'tune', '--storage', 'tune.journal', '--format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ value: 0, params: { k: 2 } });
  });
});
