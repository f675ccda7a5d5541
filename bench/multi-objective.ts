/**
 * Multi-objective search quality: GpSampler on a study with several directions (`gp`: logEHVI over one
 * model per objective, the default; `gp-parego`: the ParEGO scalarization,
 * src/samplers/gp/scalarization.ts) against NSGA-II, random search and, with `--peer-python`,
 * Optuna's GPSampler (logEHVI since Optuna 4.4; bench/optuna-multi-objective.py), on the same
 * problems and seeds.
 *
 *   npx tsx bench/multi-objective.ts [--problems branin-currin,zdt1,dtlz2,branin-currin-disc,dtlz2-6]
 *                                    [--samplers gp,gp-parego,nsga2,random]
 *                                    [--seeds 10] [--evals 30,60] [--threads 1]
 *                                    [--peer-python /tmp/optv/bin/python]   (--help lists the flags)
 *
 * Metric: the hypervolume dominated by the evaluated points, bounded by the problem's reference
 * point (larger is better), after each evaluation count; median and inter-quartile range over
 * seeds 0..k-1. Exact: a staircase in 2-D (`hypervolume2d`); with more objectives the volume of
 * [ideal, reference] less the non-dominated boxes of hypervolume-boxes.ts clipped to it
 * (`hypervolumeBoxed`; about 0.6 s for 200 sphere points in five objectives, so computed only at the
 * reported counts). Each run is a real study (createStudy, ask/tell, in-memory storage), every
 * objective minimized, every sampler with its defaults (GpSampler: 10 Sobol startup trials).
 *
 * Problems (all objectives minimized; with a constraint, only feasible points count toward the
 * hypervolume, and GpSampler and NSGA-II get it as `constraintsFunc`, Optuna as `constraints_func`):
 *   branin-currin  2-D in [0, 1]: Branin (rescaled inputs) and Currin's exponential function, as
 *                  BoTorch's BraninCurrin; reference (18, 6), largest hypervolume about 59.36
 *   zdt1           4-D in [0, 1] (Zitzler, Deb & Thiele 2000); reference (11, 11)
 *   dtlz2          6-D in [0, 1], two objectives (Deb et al. 2002); reference (1.1, 1.1), largest
 *                  hypervolume 1.21 - pi/4 = 0.4246
 *   branin-currin-disc  Branin-Currin feasible in a disc of radius sqrt(50) around (2.5, 7.5) in
 *                  Branin's coordinates (BoTorch's ConstrainedBraninCurrin), reference (80, 12)
 *   dtlz2-6        7-D in [0, 1], six objectives (DTLZ2 with two distance variables); reference 1.1
 *                  in each (as BoTorch's DTLZ2), largest hypervolume 1.1^6 - pi^3 / 384 = 1.6908.
 *                  Opt-in (not in the default --problems): a GP run to 200 evaluations takes about
 *                  a minute, and its logEHVI front needs more than 2,048 boxes from about 110
 *                  evaluations on (five objectives, d = 6: only from about 200), so GpSampler thins
 *                  it; `gp` runs of problems with more than two objectives print, on stderr, how
 *                  many of their asks thinned (`thinnedAsks`) and the median ask time.
 * Output: JSON lines (one per run, one summary per problem/sampler/evals) on stdout, a markdown table
 * on stderr. A run's `seconds` is the study's (sampler, objective, storage), without the hypervolume.
 */
import { NsgaIiSampler } from '../src/samplers/genetic/nsga-ii-sampler.js';
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { nonDominatedBoxes } from '../src/samplers/gp/hypervolume-boxes.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import type { Sampler } from '../src/samplers/sampler.js';
import type { FrozenTrial } from '../src/trial/frozen-trial.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import { choiceList, int, intList, parseBenchArgs, str } from './lib/args.js';
import { seedSweep } from './lib/seed-sweep.js';
import { median } from './lib/stats.js';

interface Problem {
  readonly name: string;
  readonly dim: number;
  readonly f: (x: readonly number[]) => number[];
  /** One value per objective: the problem's number of objectives. */
  readonly reference: readonly number[];
  /** Best value per objective (K > 2 only): the exact hypervolume is measured inside [ideal, reference]. */
  readonly ideal?: readonly number[];
  /** A constraint, feasible where <= 0: samplers that take one get it, and only feasible points count. */
  readonly constraint?: (x: readonly number[]) => number;
}

/** BoTorch's Branin-Currin, both minimized, inputs in [0, 1]^2. */
function braninCurrin([x0, x1]: readonly number[]): number[] {
  const a = 15 * x0 - 5;
  const b = 15 * x1;
  const branin = (b - (5.1 / (4 * Math.PI ** 2)) * a * a + (5 / Math.PI) * a - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(a) + 10;
  const factor = 1 - Math.exp(-1 / (2 * Math.max(x1, 1e-12)));
  const currin = (factor * (2300 * x0 ** 3 + 1900 * x0 ** 2 + 2092 * x0 + 60)) / (100 * x0 ** 3 + 500 * x0 ** 2 + 4 * x0 + 20);
  return [branin, currin];
}

/**
 * DTLZ2 with `m` objectives on [0, 1]^d (Deb, Thiele, Laumanns & Zitzler 2002, "Scalable
 * multi-objective optimization test problems", CEC, eq. for DTLZ2): x_0..x_{m-2} place the point on
 * the unit sphere's positive orthant, the rest enter g = sum (x_i - 0.5)^2; f_j = (1 + g) times
 * cos(x_0 pi/2) ... cos(x_{m-2-j} pi/2), times sin(x_{m-1-j} pi/2) for j > 0.
 */
function dtlz2(m: number): (x: readonly number[]) => number[] {
  return (x) => {
    let g = 0;
    for (let i = m - 1; i < x.length; i++) g += (x[i] - 0.5) ** 2;
    return Array.from({ length: m }, (_, j) => {
      let v = 1 + g;
      for (let i = 0; i < m - 1 - j; i++) v *= Math.cos((x[i] * Math.PI) / 2);
      if (j > 0) v *= Math.sin((x[m - 1 - j] * Math.PI) / 2);
      return v;
    });
  };
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
    // Many objectives: K = 6, d = 7 (five position variables, two distance variables), opt-in.
    name: 'dtlz2-6',
    dim: 7,
    reference: Array(6).fill(1.1),
    ideal: Array(6).fill(0),
    f: dtlz2(6),
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

/**
 * Exact hypervolume dominated by `points` (all minimized, K objectives) inside the box
 * [ideal, reference]: the box's volume less the non-dominated region's boxes (hypervolume-boxes.ts,
 * in the maximization form: negated points and reference) clipped to it. Points at or beyond the
 * reference in some objective dominate nothing there; none may be better than `ideal`.
 */
export function hypervolumeBoxed(points: readonly (readonly number[])[], reference: readonly number[], ideal: readonly number[]): number {
  const k = reference.length;
  const flat = Float64Array.from(points.flatMap((p) => p.map((v) => -v)));
  const boxes = nonDominatedBoxes(flat, points.length, k, Float64Array.from(reference, (v) => -v), Infinity) as Float64Array;
  let total = 1;
  for (let j = 0; j < k; j++) total *= reference[j] - ideal[j];
  let free = 0;
  for (let b = 0; b < boxes.length; b += 2 * k) {
    let v = 1;
    for (let j = 0; j < k && v > 0; j++) v *= Math.max(0, Math.min(boxes[b + k + j], -ideal[j]) - Math.max(boxes[b + j], -reference[j]));
    free += v;
  }
  return total - free;
}

/** The problem's hypervolume of `points`: exact in 2-D (`hypervolume2d`), else `hypervolumeBoxed`. */
function hypervolume(problem: Problem, points: readonly (readonly number[])[]): number {
  if (problem.reference.length === 2) return hypervolume2d(points, problem.reference as [number, number]);
  return hypervolumeBoxed(points, problem.reference, problem.ideal ?? problem.reference.map(() => 0));
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

/**
 * Hypervolume of the feasible points after each evaluation (with more than two objectives only at
 * the reported counts, NaN between: each costs a decomposition), computed after the run, and the
 * run's seconds without it (six objectives: tens of seconds of decomposition per run). With more
 * than two objectives a `gp` run also reports on stderr how many of its asks thinned the front for
 * logEHVI (`thinnedAsks`, read from the sampler's private state) and its median ask time.
 */
async function run(
  problem: Problem,
  kind: string,
  seed: number,
  nEvals: number,
  threads: number,
  report: readonly number[],
): Promise<{ trace: number[]; seconds: number }> {
  const started = performance.now();
  const sampler = makeSampler(kind, seed, threads, problem);
  const k = problem.reference.length;
  const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: Array(k).fill('minimize') });
  const points: number[][] = [];
  /** How many feasible points there were after each evaluation. */
  const counts: number[] = [];
  const askMs: number[] = [];
  const thin = sampler as unknown as { thinnedAsks?: number };
  for (let i = 0; i < nEvals; i++) {
    const started = performance.now();
    const trial = await study.ask();
    const x = Array.from({ length: problem.dim }, (_, j) => trial.suggestFloat(`x${j}`, 0, 1));
    askMs.push(performance.now() - started);
    const values = problem.f(x);
    await study.tell(trial, values);
    if (problem.constraint === undefined || problem.constraint(x) <= 0) points.push(values);
    counts.push(points.length);
  }
  const seconds = (performance.now() - started) / 1000;
  const trace = counts.map((c, i) => (k === 2 || report.includes(i + 1) ? hypervolume(problem, points.slice(0, c)) : Number.NaN));
  if (k > 2 && kind.startsWith('gp')) {
    process.stderr.write(`${JSON.stringify({ problem: problem.name, sampler: kind, seed, thinnedAsks: thin.thinnedAsks ?? null, askMsMedian: median(askMs.slice(10)) })}\n`);
  }
  return { trace, seconds };
}

const args = parseBenchArgs({
  script: 'bench/multi-objective.ts',
  summary: "Hypervolume of GpSampler (logEHVI, ParEGO), NSGA-II, random search and (--peer-python) Optuna's GPSampler on multi-objective problems (bench/quality.md).",
  flags: {
    problems: choiceList({
      description: 'problems (dtlz2-6: opt-in)',
      choices: PROBLEMS.map((p) => p.name),
      default: PROBLEMS.filter((p) => p.reference.length === 2).map((p) => p.name),
    }),
    samplers: choiceList({ description: 'samplers', choices: ['gp', 'gp-parego', 'nsga2', 'random'], default: ['gp', 'nsga2', 'random'] }),
    seeds: int({ description: 'seeds 0..k-1', min: 1, default: 10 }),
    evals: intList({ description: 'evaluation counts to report (runs go to the largest)', min: 1, default: [30, 60] }),
    threads: int({ description: 'GpSampler numThreads', min: 1, default: 1 }),
    'peer-python': str({ description: 'a Python with Optuna >= 4.4 and torch: runs bench/optuna-multi-objective.py', valueName: 'PY', defaultText: 'none (no peer)' }),
  },
});
const { evals, threads } = args;
const peerPython = args.peerPython ?? '';
await seedSweep<Problem>({
  problems: args.problems.map((name) => {
    const problem = PROBLEMS.find((p) => p.name === name);
    if (problem === undefined) throw new Error(`unknown problem ${name}`);
    return problem;
  }),
  samplers: args.samplers,
  nSeeds: args.seeds,
  evals,
  metric: 'hypervolume',
  columnTitle: (e) => `hypervolume @${e}, median [IQR]`,
  run: (problem, sampler, seed, nEvals) => run(problem, sampler, seed, nEvals, threads, evals),
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
            if (problem.reference.length !== 2) throw new Error(`the peer runs two-objective problems only, not ${problem.name}`);
            return {
              label: `optuna-gp@${String(line.optuna)}`,
              seed: line.seed as number,
              seconds: line.seconds as number,
              trace: points.map((_, i) => hypervolume2d(points.slice(0, i + 1).filter((_p, j) => constraints[j] <= 0), problem.reference as [number, number])),
            };
          },
        },
      }),
  cell: (_sorted, s) => `${s.median.toPrecision(4)} [${s.q1.toPrecision(4)}, ${s.q3.toPrecision(4)}]`,
});
