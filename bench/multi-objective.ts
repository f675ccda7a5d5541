/**
 * Multi-objective search quality: GpSampler on a study with two directions (`gp`: logEHVI over one
 * model per objective, the default; `gp-parego`: the ParEGO scalarization,
 * src/samplers/gp/scalarization.ts) against NSGA-II, random search and, with `--peer-python`,
 * Optuna's GPSampler (logEHVI since Optuna 4.4; bench/optuna-multi-objective.py), on the same
 * problems and seeds.
 *
 *   npx tsx bench/multi-objective.ts [--problems branin-currin,zdt1,dtlz2] [--samplers gp,gp-parego,nsga2,random]
 *                                    [--seeds 10] [--evals 30,60] [--threads 1]
 *                                    [--peer-python /tmp/optv/bin/python]
 *
 * Metric: the hypervolume dominated by the evaluated points, bounded by the problem's reference
 * point (larger is better; exact in 2-D), after each evaluation count; median and inter-quartile
 * range over seeds 0..k-1. Each run is a real study (createStudy, ask/tell, in-memory storage),
 * both objectives minimized, every sampler with its defaults (GpSampler: 10 Sobol startup trials).
 *
 * Problems (both objectives minimized; with a constraint, only feasible points count toward the
 * hypervolume, and GpSampler and NSGA-II get it as `constraintsFunc`, Optuna as `constraints_func`):
 *   branin-currin  2-D in [0, 1]: Branin (rescaled inputs) and Currin's exponential function, as
 *                  BoTorch's BraninCurrin; reference (18, 6), largest hypervolume about 59.36
 *   zdt1           4-D in [0, 1] (Zitzler, Deb & Thiele 2000); reference (11, 11)
 *   dtlz2          6-D in [0, 1], two objectives (Deb et al. 2002); reference (1.1, 1.1), largest
 *                  hypervolume 1.21 - pi/4 = 0.4246
 *   branin-currin-disc  Branin-Currin feasible in a disc of radius sqrt(50) around (2.5, 7.5) in
 *                  Branin's coordinates (BoTorch's ConstrainedBraninCurrin), reference (80, 12)
 * Output: JSON lines (one per run, one summary per problem/sampler/evals) on stdout, a markdown table
 * on stderr.
 */
import { NsgaIiSampler } from '../src/samplers/genetic/nsga-ii-sampler.js';
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import type { Sampler } from '../src/samplers/sampler.js';
import type { FrozenTrial } from '../src/trial/frozen-trial.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import { arg, seedSweep } from './lib/seed-sweep.js';

interface Problem {
  readonly name: string;
  readonly dim: number;
  readonly f: (x: readonly number[]) => [number, number];
  readonly reference: readonly [number, number];
  /** A constraint, feasible where <= 0: samplers that take one get it, and only feasible points count. */
  readonly constraint?: (x: readonly number[]) => number;
}

/** BoTorch's Branin-Currin, both minimized, inputs in [0, 1]^2. */
function braninCurrin([x0, x1]: readonly number[]): [number, number] {
  const a = 15 * x0 - 5;
  const b = 15 * x1;
  const branin = (b - (5.1 / (4 * Math.PI ** 2)) * a * a + (5 / Math.PI) * a - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(a) + 10;
  const factor = 1 - Math.exp(-1 / (2 * Math.max(x1, 1e-12)));
  const currin = (factor * (2300 * x0 ** 3 + 1900 * x0 ** 2 + 2092 * x0 + 60)) / (100 * x0 ** 3 + 500 * x0 ** 2 + 4 * x0 + 20);
  return [branin, currin];
}

export const PROBLEMS: readonly Problem[] = [
  { name: 'branin-currin', dim: 2, reference: [18, 6], f: braninCurrin },
  {
    name: 'zdt1',
    dim: 4,
    reference: [11, 11],
    f: (x) => {
      const f1 = x[0];
      let s = 0;
      for (let i = 1; i < x.length; i++) s += x[i];
      const g = 1 + (9 / (x.length - 1)) * s;
      return [f1, g * (1 - Math.sqrt(f1 / g))];
    },
  },
  {
    name: 'dtlz2',
    dim: 6,
    reference: [1.1, 1.1],
    f: (x) => {
      let g = 0;
      for (let i = 1; i < x.length; i++) g += (x[i] - 0.5) ** 2;
      return [(1 + g) * Math.cos((x[0] * Math.PI) / 2), (1 + g) * Math.sin((x[0] * Math.PI) / 2)];
    },
  },
  {
    // BoTorch's ConstrainedBraninCurrin: feasible inside a disc of radius sqrt(50) around (2.5, 7.5)
    // in Branin's own coordinates (about 70% of the square), reference (80, 12).
    name: 'branin-currin-disc',
    dim: 2,
    reference: [80, 12],
    f: braninCurrin,
    constraint: ([x0, x1]) => (15 * x0 - 7.5) ** 2 + (15 * x1 - 7.5) ** 2 - 50,
  },
];

/** Exact area dominated by `points` (both minimized) inside the box bounded by `reference`. */
export function hypervolume2d(points: readonly (readonly number[])[], reference: readonly [number, number]): number {
  const inside = points.filter((p) => p[0] < reference[0] && p[1] < reference[1]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let area = 0;
  let bestF2 = reference[1];
  for (const p of inside) {
    if (p[1] < bestF2) {
      area += (reference[0] - p[0]) * (bestF2 - p[1]);
      bestF2 = p[1];
    }
  }
  return area;
}


function makeSampler(kind: string, seed: number, threads: number, problem: Problem): Sampler {
  const constraint = problem.constraint;
  const constraintsFunc =
    constraint === undefined ? {} : { constraintsFunc: (t: FrozenTrial) => [constraint(Array.from({ length: problem.dim }, (_, j) => t.params[`x${j}`] as number))] };
  if (kind === 'gp') return new GpSampler({ seed, numThreads: threads, ...constraintsFunc });
  if (kind === 'gp-parego') return new GpSampler({ seed, numThreads: threads, multiObjectiveAcquisition: 'parego', ...constraintsFunc });
  if (kind === 'nsga2') return new NsgaIiSampler({ seed, ...constraintsFunc });
  if (kind === 'random') return new RandomSampler({ seed });
  throw new Error(`unknown sampler ${kind} (gp, gp-parego, nsga2, random)`);
}

/** Hypervolume of the feasible points after each evaluation. */
async function run(problem: Problem, kind: string, seed: number, nEvals: number, threads: number): Promise<number[]> {
  const study = await createStudy({ storage: new InMemoryStorage(), sampler: makeSampler(kind, seed, threads, problem), directions: ['minimize', 'minimize'] });
  const points: number[][] = [];
  const trace: number[] = [];
  for (let i = 0; i < nEvals; i++) {
    const trial = await study.ask();
    const x = Array.from({ length: problem.dim }, (_, j) => trial.suggestFloat(`x${j}`, 0, 1));
    const values = problem.f(x);
    await study.tell(trial, values);
    if (problem.constraint === undefined || problem.constraint(x) <= 0) points.push(values);
    trace.push(hypervolume2d(points, problem.reference));
  }
  return trace;
}

const problemNames = arg('--problems', PROBLEMS.map((p) => p.name).join(',')).split(',');
const threads = Number(arg('--threads', '1'));
const peerPython = arg('--peer-python', '');
await seedSweep<Problem>({
  problems: problemNames.map((name) => {
    const problem = PROBLEMS.find((p) => p.name === name);
    if (problem === undefined) throw new Error(`unknown problem ${name}`);
    return problem;
  }),
  samplers: arg('--samplers', 'gp,nsga2,random').split(','),
  nSeeds: Number(arg('--seeds', '10')),
  evals: arg('--evals', '30,60').split(',').map(Number),
  metric: 'hypervolume',
  columnTitle: (e) => `hypervolume @${e}, median [IQR]`,
  run: (problem, sampler, seed, nEvals) => run(problem, sampler, seed, nEvals, threads),
  ...(peerPython === ''
    ? {}
    : {
        peer: {
          python: peerPython,
          script: new URL('./optuna-multi-objective.py', import.meta.url).pathname,
          trace: (problem, line) => {
            const points = line.points as number[][];
            // The peer reports each point's constraint value (feasible where <= 0) for constrained problems.
            const constraints = (line.constraints as number[] | undefined) ?? points.map(() => 0);
            return {
              label: `optuna-gp@${String(line.optuna)}`,
              seed: line.seed as number,
              seconds: line.seconds as number,
              trace: points.map((_, i) => hypervolume2d(points.slice(0, i + 1).filter((_p, j) => constraints[j] <= 0), problem.reference)),
            };
          },
        },
      }),
  cell: (_sorted, s) => `${s.median.toPrecision(4)} [${s.q1.toPrecision(4)}, ${s.q3.toPrecision(4)}]`,
});
