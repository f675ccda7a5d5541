/**
 * Search-quality benchmark of the samplers (issue 3, `bench/quality`): regret of random, Sobol and
 * GP search on standard test functions.
 *
 *   npx tsx bench/quality.ts [--functions branin,hartmann6,ackley10,rosenbrock8,levy10]
 *                            [--samplers random,sobol,gp,tpe,tpe-mv] [--seeds 5] [--evals 30,60,100]
 *                            [--backend auto|cpu|js|cuda] [--candidates 2048] [--restarts 10] [--threads N]
 *   npx tsx bench/quality.ts --table results.jsonl [more.jsonl ...]   # markdown table from records
 *   (--help lists every flag)
 *
 * `--first-seed N` runs seeds N..N+k-1 instead of 0..k-1. `--trace DIR` also writes every run's
 * evaluated points to DIR/<function>-<sampler>-<seed>.json ({function, sampler, seed, names,
 * bounds, params: [[...]], values: [...]}, in the function's own units), which
 * bench/optuna-same-start.py reads to run Optuna's GPSampler from the same initial design.
 * `--start-from DIR` evaluates the first 10 points of DIR/<function>-optuna-<seed>.json (written by
 * that script's --save-trace) as the run's first trials instead of asking the sampler for them:
 * Kestrel from Optuna's initial design.
 *
 * Noisy objectives: `--noise s` makes every observation f(x) + s * sd_f * N(0, 1), where sd_f is
 * the standard deviation of f over 1024 uniform points of its domain (fixed seed) and the normal
 * draws come from a stream seeded by the run's seed. The regret is then that of the trial with the
 * best observed (noisy) value, f(x_best_observed) - f*: what `study.bestTrial` would hand a user.
 * Sampler 'gp-pm' is GpSampler with `incumbent: 'posterior-mean'` (the default is the best
 * observation), 'gp-det' GpSampler with `deterministic: true` (noise pinned at the floor),
 * 'gp-mean' GpSampler with `priorMean: 'mean'` (the default is the worst observation), 'gp-map'
 * and 'gp-laplace' GpSampler with `hyperparameterDraw: 'map'` / `'laplace'`; GP runs
 * also record the fitted noise-to-signal variance ratio of their last model.
 *
 * Parallel suggestions: `--batch q` asks q trials before telling any (as `study.askBatch(q)` with
 * q workers): each later ask of a round sees the earlier ones RUNNING with their parameters, as a
 * real study's sampler does, and the regret still counts evaluations in order (default 1:
 * sequential).
 *
 * Output: one JSON line per (function, sampler, seed) with the regret (best value found minus the
 * known minimum) after each evaluation count, and one summary line per (function, sampler, evals)
 * with the median and inter-quartile range over seeds; then a markdown table. Machine (CPU model,
 * cores, Node version) and the surrogate backend that ran are recorded in every line.
 *
 * Protocol: each sampler is driven directly through the Sampler interface by a minimal sequential
 * ask/tell loop over an in-memory StudyView (what Study.ask does: inferRelativeSearchSpace,
 * sampleRelative, then sampleIndependent for the rest), minimizing. Seeds 0..k-1. GpSampler runs
 * with its defaults (10 Sobol startup trials, logEI, 2048 candidates, 10 restarts, Matern-5/2,
 * learned noise), as the issue quotes Optuna 4.7 GPSampler with its defaults; one difference in
 * protocol: up to 100 observations Kestrel's default draws the acquisition's hyperparameters
 * around the MAP fit, where Optuna uses the MAP fit itself ('gp-map' does too). TpeSampler runs with
 * Optuna's TPESampler defaults ('tpe': independent; 'tpe-mv': `multivariate: true`).
 *
 * Functions (minima from Surjanovic & Bingham, "Virtual Library of Simulation Experiments"):
 *   branin      2-D, x1 in [-5, 10], x2 in [0, 15]; f* = 0.397887357729738
 *   hartmann6   6-D in [0, 1]; f* = -3.32236801141551
 *   ackley10    10-D in [-5, 10] (issue 3's domain); f* = 0 at 0
 *   rosenbrock8 8-D in [-5, 10]; f* = 0 at 1
 *   levy10      10-D in [-10, 10]; f* = 0 at 1
 */
import { cpus } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import type { Sampler } from '../src/samplers/sampler.js';
import { SobolSampler } from '../src/samplers/sobol-sampler.js';
import { TpeSampler } from '../src/samplers/tpe/tpe-sampler.js';
import { floatDistribution } from '../src/space/distributions.js';
import type { Distribution, ParamValue, SearchSpace } from '../src/space/types.js';
import { FrozenTrial } from '../src/trial/frozen-trial.js';
import type { StudyView } from '../src/trial/study-view.js';
import type { StudyDirection, TrialState } from '../src/trial/types.js';
import { getSurrogateBackend } from '../src/surrogate/select-backend.js';
import { Rng, deriveSeed } from '../src/util/prng.js';
import { benchCommand, choice, choiceList, int, intList, num, parseBenchArgs, str } from './lib/args.js';
import { quantile } from './lib/stats.js';
import { branin, hartmann6 } from './lib/test-functions.js';

interface TestFunction {
  readonly name: string;
  readonly dim: number;
  readonly low: number;
  readonly high: number;
  readonly bounds?: readonly (readonly [number, number])[];
  readonly min: number;
  readonly f: (x: readonly number[]) => number;
}

const FUNCTIONS: readonly TestFunction[] = [
  {
    name: 'branin',
    dim: 2,
    low: 0,
    high: 0,
    bounds: [[-5, 10], [0, 15]],
    min: 0.397887357729738,
    f: branin,
  },
  {
    name: 'hartmann6',
    dim: 6,
    low: 0,
    high: 1,
    min: -3.32236801141551,
    f: hartmann6,
  },
  {
    name: 'ackley10',
    dim: 10,
    low: -5,
    high: 10,
    min: 0,
    f: (x) => {
      const d = x.length;
      let s1 = 0;
      let s2 = 0;
      for (const v of x) {
        s1 += v * v;
        s2 += Math.cos(2 * Math.PI * v);
      }
      return -20 * Math.exp(-0.2 * Math.sqrt(s1 / d)) - Math.exp(s2 / d) + 20 + Math.E;
    },
  },
  {
    name: 'rosenbrock8',
    dim: 8,
    low: -5,
    high: 10,
    min: 0,
    f: (x) => {
      let s = 0;
      for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
      return s;
    },
  },
  {
    name: 'levy10',
    dim: 10,
    low: -10,
    high: 10,
    min: 0,
    f: (x) => {
      const w = x.map((v) => 1 + (v - 1) / 4);
      const d = w.length;
      let s = Math.sin(Math.PI * w[0]) ** 2;
      for (let i = 0; i + 1 < d; i++) s += (w[i] - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i] + 1) ** 2);
      s += (w[d - 1] - 1) ** 2 * (1 + Math.sin(2 * Math.PI * w[d - 1]) ** 2);
      return s;
    },
  },
];

/** Minimal in-memory StudyView with Study.ask's sampler protocol (sequential). */
class BenchStudy implements StudyView {
  readonly studyId = 1;
  readonly studyName = 'quality';
  readonly directions: readonly StudyDirection[] = ['minimize'];
  readonly trials: FrozenTrial[] = [];
  private readonly claims = new Set<string>();

  async getTrials(options?: { readonly states?: readonly TrialState[] }): Promise<readonly FrozenTrial[]> {
    const states = options?.states;
    return states === undefined ? [...this.trials] : this.trials.filter((t) => states.includes(t.state));
  }

  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  stop(): void {}

  /** Evaluated points and values, in order. */
  readonly evaluated: { readonly params: Record<string, ParamValue>; readonly value: number }[] = [];

  /**
   * Starts one trial: the sampler's point, or `given` (then the sampler is not asked, as for a
   * trial enqueued with fixed parameters). The trial stays RUNNING, with its parameters, until
   * `tell`: the pending point later asks of a batch see.
   */
  async ask(sampler: Sampler, space: SearchSpace, given?: Record<string, ParamValue>): Promise<FrozenTrial> {
    const number = this.trials.length;
    const blank = new FrozenTrial({
      trialId: number,
      number,
      state: 'RUNNING',
      values: null,
      params: {},
      distributions: {},
      userAttrs: {},
      systemAttrs: {},
      intermediateValues: {},
      datetimeStart: number,
      datetimeComplete: null,
    });
    this.trials.push(blank);
    await sampler.beforeTrial?.(this, blank);
    const params: Record<string, ParamValue> = {};
    if (given !== undefined) {
      Object.assign(params, given);
    } else {
      const relSpace = (await sampler.inferRelativeSearchSpace?.(this, blank)) ?? {};
      const rel = (await sampler.sampleRelative?.(this, blank, relSpace)) ?? {};
      for (const [name, dist] of Object.entries(space)) {
        params[name] = name in rel ? rel[name] : sampler.sampleIndependent(this, blank, name, dist);
      }
    }
    const running = new FrozenTrial({ ...blank.toJSON(), params, distributions: { ...space } });
    this.trials[number] = running;
    return running;
  }

  /** Completes a trial `ask` started, with its (observed) value. */
  async tell(sampler: Sampler, trial: FrozenTrial, value: number): Promise<void> {
    this.evaluated.push({ params: trial.params, value });
    const done = new FrozenTrial({
      ...trial.toJSON(),
      state: 'COMPLETE',
      values: [value],
      datetimeComplete: trial.number + 1,
    });
    this.trials[trial.number] = done;
    await sampler.afterTrial?.(this, done, 'COMPLETE', [value]);
  }
}

function spaceOf(fn: TestFunction): SearchSpace {
  const space: Record<string, Distribution> = {};
  for (let i = 0; i < fn.dim; i++) {
    const [lo, hi] = fn.bounds?.[i] ?? [fn.low, fn.high];
    space[`x${String(i).padStart(2, '0')}`] = floatDistribution(`x${i}`, lo, hi);
  }
  return space;
}

interface Args {
  functions: string[];
  samplers: string[];
  seeds: number;
  evals: number[];
  backend: 'auto' | 'cpu' | 'js' | 'cuda';
  candidates: number;
  restarts: number;
  threads?: number;
  table: string[] | null;
  firstSeed: number;
  trace: string | null;
  startFrom: string | null;
  noise: number;
  batch: number;
}

const SAMPLERS = ['random', 'sobol', 'gp', 'gp-pm', 'gp-det', 'gp-mean', 'gp-map', 'gp-laplace', 'tpe', 'tpe-mv'] as const;

function parseArgs(argv: readonly string[]): Args {
  const parsed = parseBenchArgs(
    benchCommand({
      script: 'bench/quality.ts',
      summary: 'Median regret of the samplers on standard test functions (bench/quality.md); with --table, the markdown table of saved JSON lines.',
      flags: {
        functions: choiceList({ description: 'test functions', choices: FUNCTIONS.map((f) => f.name), default: FUNCTIONS.map((f) => f.name) }),
        samplers: choiceList({ description: 'samplers', choices: SAMPLERS, default: ['random', 'sobol', 'gp'] }),
        seeds: int({ description: 'seeds per function and sampler', min: 1, default: 5 }),
        evals: intList({ description: 'evaluation counts to report (runs go to the largest)', min: 1, default: [30, 60, 100] }),
        backend: choice({ description: 'GpSampler backend', choices: ['auto', 'cpu', 'js', 'cuda'], default: 'auto' }),
        candidates: int({ description: 'GpSampler candidates', min: 1, default: 2048 }),
        restarts: int({ description: 'GpSampler restarts', min: 0, default: 10 }),
        threads: int({ description: 'GpSampler numThreads', min: 1, defaultText: "the backend's, all cores" }),
        'first-seed': int({ description: 'run seeds N..N+k-1', default: 0 }),
        trace: str({ description: "write every run's points to DIR/<function>-<sampler>-<seed>.json", valueName: 'DIR' }),
        'start-from': str({ description: "evaluate the first 10 points of DIR/<function>-optuna-<seed>.json first (Optuna's initial design)", valueName: 'DIR' }),
        noise: num({ description: 'observation noise s (f + s * sd_f * N(0, 1))', min: 0, default: 0, valueName: 's' }),
        batch: int({ description: 'trials asked before any is told', min: 1, default: 1, valueName: 'q' }),
        table: str({ description: 'print the markdown table of these JSON-lines files (more may follow) instead of running', valueName: 'FILE' }),
      },
      positionals: { valueName: 'FILE', description: 'more files for --table' },
      check: ({ table, positionals }) => (table === undefined && positionals.length > 0 ? `unexpected argument ${JSON.stringify(positionals[0])} (only --table takes more than one file)` : undefined),
    }),
    argv,
  );
  return {
    functions: parsed.functions,
    samplers: parsed.samplers,
    seeds: parsed.seeds,
    evals: parsed.evals,
    backend: parsed.backend,
    candidates: parsed.candidates,
    restarts: parsed.restarts,
    ...(parsed.threads === undefined ? {} : { threads: parsed.threads }),
    table: parsed.table === undefined ? null : [parsed.table, ...parsed.positionals],
    firstSeed: parsed.firstSeed,
    trace: parsed.trace ?? null,
    startFrom: parsed.startFrom ?? null,
    noise: parsed.noise,
    batch: parsed.batch,
  };
}

function makeSampler(name: string, seed: number, args: Args): Sampler {
  if (name === 'random') return new RandomSampler({ seed });
  if (name === 'sobol') return new SobolSampler({ seed });
  if (name === 'gp' || name.startsWith('gp-')) {
    return new GpSampler({
      seed,
      backend: args.backend,
      candidates: args.candidates,
      restarts: args.restarts,
      ...(args.threads === undefined ? {} : { numThreads: args.threads }),
      ...(name === 'gp-pm' ? { incumbent: 'posterior-mean' as const } : {}),
      ...(name === 'gp-det' ? { deterministic: true } : {}),
      ...(name === 'gp-mean' ? { priorMean: 'mean' as const } : {}),
      ...(name === 'gp-map' ? { hyperparameterDraw: 'map' as const } : {}),
      ...(name === 'gp-laplace' ? { hyperparameterDraw: 'laplace' as const } : {}),
    });
  }
  // TPE with Optuna's defaults: independent ('tpe') and multivariate ('tpe-mv').
  if (name === 'tpe') return new TpeSampler({ seed });
  if (name === 'tpe-mv') return new TpeSampler({ seed, multivariate: true });
  throw new Error(`unknown sampler ${name}`);
}


interface RunRecord {
  readonly kind: 'run';
  readonly function: string;
  readonly sampler: string;
  readonly seed: number;
  readonly regret: Record<string, number>;
  readonly seconds: number;
  readonly backend: string;
  readonly machine: string;
  /** `--noise` (0: noise-free). */
  readonly noise: number;
  /** `--batch`: trials asked before any is told (1: sequential). */
  readonly batch: number;
  /** GP samplers: exp(log noise - log output scale) of the last model (NaN otherwise). */
  readonly noiseToSignal: number;
}

interface SummaryRecord {
  readonly kind: 'summary';
  readonly function: string;
  readonly sampler: string;
  readonly evals: number;
  readonly seeds: number;
  readonly median: number;
  readonly q1: number;
  readonly q3: number;
}

function summarize(runs: readonly RunRecord[]): SummaryRecord[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const key = `${r.function}\u0000${r.sampler}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: SummaryRecord[] = [];
  for (const group of groups.values()) {
    for (const evals of Object.keys(group[0].regret).map(Number)) {
      const values = group.map((r) => r.regret[String(evals)]).filter((v) => v !== undefined).sort((a, b) => a - b);
      out.push({
        kind: 'summary',
        function: group[0].function,
        sampler: group[0].sampler,
        evals,
        seeds: values.length,
        median: quantile(values, 0.5),
        q1: quantile(values, 0.25),
        q3: quantile(values, 0.75),
      });
    }
  }
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 0.01 && a < 1e4 ? v.toPrecision(3) : v.toExponential(2);
}

function table(summaries: readonly SummaryRecord[]): string {
  const samplers = [...new Set(summaries.map((s) => s.sampler))];
  const evals = [...new Set(summaries.map((s) => s.evals))].sort((a, b) => a - b);
  const functions = [...new Set(summaries.map((s) => s.function))];
  const head = ['function', ...evals.flatMap((e) => samplers.map((s) => `${s} @${e}`))];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const fn of functions) {
    const cells = [fn];
    for (const e of evals) {
      for (const s of samplers) {
        const r = summaries.find((x) => x.function === fn && x.sampler === s && x.evals === e);
        cells.push(r === undefined ? '' : `${fmt(r.median)} [${fmt(r.q1)}, ${fmt(r.q3)}]`);
      }
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Standard deviation of f over 1024 uniform points of its domain (the `--noise` unit). */
function spreadOf(fn: TestFunction): number {
  const rng = new Rng(deriveSeed(0, 'quality-spread', fn.name));
  const values = Array.from({ length: 1024 }, () =>
    fn.f(Array.from({ length: fn.dim }, (_, i) => {
      const [lo, hi] = fn.bounds?.[i] ?? [fn.low, fn.high];
      return lo + (hi - lo) * rng.nextFloat();
    })),
  );
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
}

/** Fitted noise variance over output scale of a GpSampler's last model (NaN for other samplers). */
function noiseToSignal(sampler: Sampler): number {
  if (!(sampler instanceof GpSampler)) return Number.NaN;
  const theta = sampler.lastModelUpdate?.theta;
  return theta === undefined ? Number.NaN : Math.exp(theta[theta.length - 1] - theta[theta.length - 2]);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.table !== null) {
    const runs: RunRecord[] = [];
    for (const file of args.table) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const rec = JSON.parse(line) as { kind: string };
        if (rec.kind === 'run') runs.push(rec as RunRecord);
      }
    }
    process.stdout.write(`${table(summarize(runs))}\n`);
    return;
  }
  const machine = `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}`;
  const backend = args.samplers.some((s) => s.startsWith('gp')) ? (await getSurrogateBackend({ backend: args.backend })).name : 'none';
  const maxEvals = Math.max(...args.evals);
  const runs: RunRecord[] = [];
  for (const fname of args.functions) {
    const fn = FUNCTIONS.find((f) => f.name === fname);
    if (fn === undefined) throw new Error(`unknown function ${fname}`);
    const space = spaceOf(fn);
    const names = Object.keys(space);
    const sd = args.noise > 0 ? spreadOf(fn) : 0;
    for (const samplerName of args.samplers) {
      for (let seed = args.firstSeed; seed < args.firstSeed + args.seeds; seed++) {
        const sampler = makeSampler(samplerName, seed, args);
        const study = new BenchStudy();
        const started = performance.now();
        const noise = new Rng(deriveSeed(seed, 'quality-noise'));
        let best = Number.POSITIVE_INFINITY;
        let bestObserved = Number.POSITIVE_INFINITY;
        const regret: Record<string, number> = {};
        const start: Record<string, ParamValue>[] = [];
        if (args.startFrom !== null) {
          const other = JSON.parse(readFileSync(`${args.startFrom}/${fn.name}-optuna-${seed}.json`, 'utf8')) as { names: string[]; params: number[][] };
          if (!names.every((n) => other.names.includes(n))) throw new Error(`--start-from: ${fn.name} trace lacks some of ${names.join(', ')}`);
          for (const point of other.params.slice(0, 10)) start.push(Object.fromEntries(names.map((n) => [n, point[other.names.indexOf(n)]])));
        }
        for (let i = 1; i <= maxEvals; ) {
          const asked: FrozenTrial[] = [];
          for (let k = 0; k < Math.min(args.batch, maxEvals - i + 1); k++) {
            asked.push(await study.ask(sampler, space, start[i - 1 + k]));
          }
          for (const trial of asked) {
            const truth = fn.f(names.map((n) => trial.params[n] as number));
            const observed = sd === 0 ? truth : truth + args.noise * sd * noise.normal();
            await study.tell(sampler, trial, observed);
            if (observed < bestObserved) {
              bestObserved = observed;
              best = truth;
            }
            if (args.evals.includes(i)) regret[String(i)] = best - fn.min;
            i++;
          }
        }
        const rec: RunRecord = {
          kind: 'run',
          function: fn.name,
          sampler: samplerName,
          seed,
          regret,
          seconds: (performance.now() - started) / 1000,
          backend: samplerName.startsWith('gp') ? backend : 'none',
          machine,
          noise: args.noise,
          batch: args.batch,
          noiseToSignal: noiseToSignal(sampler),
        };
        runs.push(rec);
        process.stdout.write(`${JSON.stringify(rec)}\n`);
        if (args.trace !== null) {
          mkdirSync(args.trace, { recursive: true });
          const trace = {
            function: fn.name,
            sampler: samplerName,
            seed,
            names,
            bounds: names.map((n) => {
              const dist = space[n] as { low: number; high: number };
              return [dist.low, dist.high];
            }),
            params: study.evaluated.map((e) => names.map((n) => e.params[n] as number)),
            values: study.evaluated.map((e) => e.value),
          };
          writeFileSync(`${args.trace}/${fn.name}-${samplerName}-${seed}.json`, JSON.stringify(trace));
        }
      }
    }
  }
  const summaries = summarize(runs);
  for (const s of summaries) process.stdout.write(`${JSON.stringify(s)}\n`);
  process.stderr.write(`\n${table(summaries)}\n`);
}

await main();
