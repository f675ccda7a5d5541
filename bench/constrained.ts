/**
 * Constrained search quality: GpSampler with `constraintsFunc` (constrained logEI) against the same
 * GP without constraints, random search and, with `--peer-python`, Optuna's GPSampler with
 * `constraints_func` (bench/optuna-constrained.py), on the same problems and seeds.
 *
 *   npx tsx bench/constrained.ts [--problems gramacy,branin-disc,hartmann6-sum] [--samplers gp,gp-plain,random]
 *                                [--seeds 10] [--evals 30,60] [--threads 1]
 *                                [--peer-python /tmp/optv/bin/python]   (--help lists the flags)
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
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import type { Sampler } from '../src/samplers/sampler.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import { choiceList, int, intList, parseBenchArgs, str } from './lib/args.js';
import { seedSweep } from './lib/seed-sweep.js';
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

const args = parseBenchArgs({
  script: 'bench/constrained.ts',
  summary: "Best feasible value of GpSampler with constraintsFunc, the same GP without it, random search and (--peer-python) Optuna's GPSampler with constraints_func on three constrained problems (bench/quality.md).",
  flags: {
    problems: choiceList({ description: 'problems', choices: PROBLEMS.map((p) => p.name), default: PROBLEMS.map((p) => p.name) }),
    samplers: choiceList({ description: 'samplers', choices: ['gp', 'gp-plain', 'random'], default: ['gp', 'gp-plain', 'random'] }),
    seeds: int({ description: 'seeds 0..k-1', min: 1, default: 10 }),
    evals: intList({ description: 'evaluation counts to report (runs go to the largest)', min: 1, default: [30, 60] }),
    threads: int({ description: 'GpSampler numThreads', min: 1, default: 1 }),
    'peer-python': str({ description: 'a Python with Optuna >= 4.2 and torch: runs bench/optuna-constrained.py', valueName: 'PY', defaultText: 'none (no peer)' }),
  },
});
const { threads } = args;
const peerPython = args.peerPython ?? '';
const finiteOrNone = (v: number): string => (Number.isFinite(v) ? v.toPrecision(4) : 'none');
await seedSweep<Problem>({
  problems: args.problems.map((name) => {
    const problem = PROBLEMS.find((p) => p.name === name);
    if (problem === undefined) throw new Error(`unknown problem ${name}`);
    return problem;
  }),
  samplers: args.samplers,
  nSeeds: args.seeds,
  evals: args.evals,
  metric: 'bestFeasible',
  columnTitle: (e) => `@${e} median [IQR] (no feasible)`,
  run: (problem, sampler, seed, nEvals) => run(problem, sampler, seed, nEvals, threads),
  ...(peerPython === ''
    ? {}
    : {
        peer: {
          python: peerPython,
          script: new URL('./optuna-constrained.py', import.meta.url).pathname,
          trace: (_problem, line) => ({
            label: `optuna-gp@${String(line.optuna)}`,
            seed: line.seed as number,
            seconds: line.seconds as number,
            trace: (line.trace as (number | null)[]).map((v) => (v === null ? Number.POSITIVE_INFINITY : v)),
          }),
        },
      }),
  cell: (sorted, s) => `${finiteOrNone(s.median)} [${finiteOrNone(s.q1)}, ${finiteOrNone(s.q3)}] (${sorted.filter((v) => !Number.isFinite(v)).length})`,
  summaryExtra: (sorted) => ({ noFeasible: sorted.filter((v) => !Number.isFinite(v)).length }),
});
