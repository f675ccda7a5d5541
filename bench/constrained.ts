/**
 * Constrained search quality: GpSampler with `constraintsFunc` (constrained logEI) against the same
 * GP without constraints, random search and, with `--peer-python`, Optuna's GPSampler with
 * `constraints_func` (bench/optuna-constrained.py), on the same problems and seeds.
 *
 *   npx tsx bench/constrained.ts [--problems gramacy,branin-disc,hartmann6-sum] [--samplers gp,gp-plain,random]
 *                                [--seeds 10] [--evals 30,60] [--threads 1]
 *                                [--peer-python /tmp/optv/bin/python]
 *
 * Metric: the best feasible value after each evaluation count (lower is better; Infinity while no
 * evaluated point is feasible), its median and inter-quartile range over seeds 0..k-1, and how many
 * seeds found no feasible point. Each run is a real study (createStudy, ask/tell, in-memory
 * storage), minimizing; the objective records the constraint values with `setUserAttr('c', ...)`
 * and `constraintsFunc` reads them back, as a user would. Defaults of every sampler (GpSampler: 10
 * Sobol startup trials, logEI; Optuna: GPSampler defaults, 10 random startup trials).
 *
 * Problems (feasible when every c <= 0):
 *   gramacy        2-D in [0, 1]: f = x1 + x2, c1 = 1.5 - x1 - 2 x2 - 0.5 sin(2 pi (x1^2 - 2 x2)),
 *                  c2 = x1^2 + x2^2 - 1.5 (Gramacy et al. 2016, "Modeling an augmented Lagrangian
 *                  for blackbox constrained optimization"); best known f = 0.5998
 *   branin-disc    Branin on [-5, 10] x [0, 15], c = (x1 - 2.5)^2 + (x2 - 7.5)^2 - 50: one of the
 *                  three minima is feasible; f* = 0.397887
 *   hartmann6-sum  Hartmann-6 on [0, 1]^6, c = sum x - 1.5 (binding: the unconstrained minimum sums
 *                  to 2.07)
 * Output: JSON lines (one per run, one summary per problem/sampler/evals) on stdout, a markdown table
 * on stderr.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import type { Sampler } from '../src/samplers/sampler.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import { quantile } from './lib/stats.js';
import { branin, hartmann6 } from './lib/test-functions.js';
import type { FrozenTrial } from '../src/trial/frozen-trial.js';

interface Problem {
  readonly name: string;
  readonly bounds: readonly (readonly [number, number])[];
  readonly f: (x: readonly number[]) => number;
  readonly c: (x: readonly number[]) => number[];
  readonly best: string;
}

export const PROBLEMS: readonly Problem[] = [
  {
    name: 'gramacy',
    bounds: [[0, 1], [0, 1]],
    f: ([x1, x2]) => x1 + x2,
    c: ([x1, x2]) => [1.5 - x1 - 2 * x2 - 0.5 * Math.sin(2 * Math.PI * (x1 * x1 - 2 * x2)), x1 * x1 + x2 * x2 - 1.5],
    best: '0.5998',
  },
  {
    name: 'branin-disc',
    bounds: [[-5, 10], [0, 15]],
    f: branin,
    c: ([x1, x2]) => [(x1 - 2.5) ** 2 + (x2 - 7.5) ** 2 - 50],
    best: '0.397887',
  },
  {
    name: 'hartmann6-sum',
    bounds: Array.from({ length: 6 }, () => [0, 1] as const),
    f: hartmann6,
    c: (x) => [x.reduce((s, v) => s + v, 0) - 1.5],
    best: 'unknown',
  },
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const constraintsFunc = (t: FrozenTrial): number[] => t.userAttrs.c as number[];

function makeSampler(kind: string, seed: number, threads: number): Sampler {
  if (kind === 'gp') return new GpSampler({ seed, numThreads: threads, constraintsFunc });
  if (kind === 'gp-plain') return new GpSampler({ seed, numThreads: threads });
  if (kind === 'random') return new RandomSampler({ seed });
  throw new Error(`unknown sampler ${kind} (gp, gp-plain, random)`);
}

/** Best feasible value after each evaluation (Infinity before the first feasible one). */
async function run(problem: Problem, kind: string, seed: number, nEvals: number, threads: number): Promise<number[]> {
  const study = await createStudy({ storage: new InMemoryStorage(), sampler: makeSampler(kind, seed, threads), direction: 'minimize' });
  const trace: number[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < nEvals; i++) {
    const trial = await study.ask();
    const x = problem.bounds.map(([low, high], j) => trial.suggestFloat(`x${j}`, low, high));
    const c = problem.c(x);
    trial.setUserAttr('c', c);
    const value = problem.f(x);
    await study.tell(trial, value);
    if (c.every((v) => v <= 0)) best = Math.min(best, value);
    trace.push(best);
  }
  return trace;
}

async function main(): Promise<void> {
  const problems = arg('--problems', PROBLEMS.map((p) => p.name).join(',')).split(',');
  const samplers = arg('--samplers', 'gp,gp-plain,random').split(',');
  const nSeeds = Number(arg('--seeds', '10'));
  const evals = arg('--evals', '30,60').split(',').map(Number);
  const threads = Number(arg('--threads', '1'));
  const peer = arg('--peer-python', '');
  const maxEvals = Math.max(...evals);
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version };
  const traces = new Map<string, number[][]>();
  for (const name of problems) {
    const problem = PROBLEMS.find((p) => p.name === name);
    if (problem === undefined) throw new Error(`unknown problem ${name}`);
    for (const kind of samplers) {
      const runs: number[][] = [];
      for (let seed = 0; seed < nSeeds; seed++) {
        const started = performance.now();
        const trace = await run(problem, kind, seed, maxEvals, threads);
        runs.push(trace);
        const at = Object.fromEntries(evals.map((e) => [e, trace[e - 1]]));
        console.log(JSON.stringify({ kind: 'run', problem: name, sampler: kind, seed, bestFeasible: at, seconds: (performance.now() - started) / 1000, machine }));
      }
      traces.set(`${name}|${kind}`, runs);
    }
    if (peer !== '') {
      const out = execFileSync(peer, [new URL('./optuna-constrained.py', import.meta.url).pathname, '--problem', name, '--seeds', String(nSeeds), '--evals', String(maxEvals)], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      const runs: number[][] = [];
      let version = '';
      for (const line of out.split('\n')) {
        if (line.trim() === '') continue;
        const rec = JSON.parse(line) as { trace: number[]; seed: number; optuna: string; seconds: number };
        version = rec.optuna;
        runs.push(rec.trace.map((v) => (v === null ? Number.POSITIVE_INFINITY : v)));
        const at = Object.fromEntries(evals.map((e) => [e, runs[runs.length - 1][e - 1]]));
        console.log(JSON.stringify({ kind: 'run', problem: name, sampler: `optuna-gp@${version}`, seed: rec.seed, bestFeasible: at, seconds: rec.seconds, machine }));
      }
      traces.set(`${name}|optuna-gp@${version}`, runs);
    }
  }
  const header = ['problem', 'sampler', ...evals.map((e) => `@${e} median [IQR] (no feasible)`)];
  const rows: string[] = [];
  for (const [key, runs] of traces) {
    const [problem, sampler] = key.split('|');
    const cells: string[] = [];
    for (const e of evals) {
      const values = runs.map((r) => r[e - 1]).sort((a, b) => a - b);
      const none = values.filter((v) => !Number.isFinite(v)).length;
      const summary = { median: quantile(values, 0.5), q1: quantile(values, 0.25), q3: quantile(values, 0.75), noFeasible: none };
      console.log(JSON.stringify({ kind: 'summary', problem, sampler, evals: e, seeds: runs.length, ...summary, machine }));
      const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : 'none');
      cells.push(`${fmt(summary.median)} [${fmt(summary.q1)}, ${fmt(summary.q3)}] (${none})`);
    }
    rows.push(`| ${problem} | ${sampler} | ${cells.join(' | ')} |`);
  }
  process.stderr.write(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n${rows.join('\n')}\n`);
}

await main();
