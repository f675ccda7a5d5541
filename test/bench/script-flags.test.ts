import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Runs `bench/<script>.ts` with `args` in a child process (tsx), from the repository root. */
function run(script: string, args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${script}.ts`, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bench scripts on the shared flag parser', () => {
  it('gp-large reads --sizes 1000 as --sizes=1000 (it used to ignore the spaced form)', () => {
    const spaced = run('gp-large', ['--sizes', '1000', '--repeats', '1'], { KESTREL_BENCH_DRY_RUN: '1' });
    const inline = run('gp-large', ['--sizes=1000', '--repeats=1'], { KESTREL_BENCH_DRY_RUN: '1' });
    expect(spaced.status).toBe(0);
    expect(JSON.parse(spaced.stdout)).toEqual({ quick: false, sizes: [1000], repeats: 1, trialMs: 0, positionals: [] });
    expect(inline.stdout).toBe(spaced.stdout);
  });

  it('gp-large refuses an unknown flag with exit 2 before measuring, naming it and the accepted flags', () => {
    const r = run('gp-large', ['--size', '200', '--repeats', '1']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('bench/gp-large.ts: --size: unknown flag; did you mean --sizes?');
    expect(r.stderr).toContain('accepted: --quick, --sizes, --repeats, --trial-ms, --help');
  });

  it('tpe-latency refuses an unknown flag and a malformed size with exit 2', () => {
    const unknown = run('tpe-latency', ['--sizes', '10', '--repeats', '1', '--warmup', '0', '--modes', 'independent', '--trails', '5']);
    expect(unknown.status).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('--trails: unknown flag');
    const malformed = run('tpe-latency', ['--sizes', '10,x', '--repeats', '1']);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain('--sizes: expected a comma-separated list of integers >= 1, got "10,x"');
  });

  it('quality takes more than one file only after --table', () => {
    const table = run('quality', ['--table', 'a.jsonl', 'b.jsonl'], { KESTREL_BENCH_DRY_RUN: '1' });
    expect(table.status).toBe(0);
    expect(JSON.parse(table.stdout)).toMatchObject({ table: 'a.jsonl', positionals: ['b.jsonl'] });
    const stray = run('quality', ['--seeds', '1', 'b.jsonl']);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toContain('unexpected argument "b.jsonl"');
  });

  it('--help prints the flags with their defaults and exits 0', () => {
    const r = run('pruning-sim', ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--trials-budget N\s+budget in full trainings \(of 81 epochs\) per run \(default: 200\)/);
    expect(r.stdout).toMatch(/--out FILE\s+.*\(default: bench\/pruning\.md\)/);
  });

  it("pruning-sim --out - prints its section on stdout and writes no file (it used to write a file named '-')", () => {
    const before = readFileSync('bench/pruning.md', 'utf8');
    try {
      const r = run('pruning-sim', ['--seeds', '1', '--workers', '1', '--trials-budget', '1', '--out', '-']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('## Learning-curve simulator, simulated study (`bench/pruning-sim.ts`)');
      expect(r.stdout).toContain('1 concurrent workers, 1 seeds');
      expect(r.stdout).not.toContain('wrote ');
      expect(existsSync('-')).toBe(false);
      expect(readFileSync('bench/pruning.md', 'utf8')).toBe(before);
    } finally {
      rmSync('-', { force: true });
    }
  });
});
