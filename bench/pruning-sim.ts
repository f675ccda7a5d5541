/**
 * Early-stopping benchmark on a learning-curve simulator (issue 4, `bench/pruning`).
 *
 *   npx tsx bench/pruning-sim.ts [--seeds 20] [--workers 4] [--trials-budget 200] [--out bench/pruning.md]
 *
 * Writes its section of the output file (between `<!-- pruning-sim:start -->` and
 * `<!-- pruning-sim:end -->`) and leaves the other sections alone; `--out -` prints the section on
 * stdout instead and writes no file. `--help` lists the flags. `bench/pruning.ts` runs the same
 * simulator through the real Study and imports it from here.
 *
 * Simulator. A configuration x in [0, 1]^4 trains for up to R = 81 epochs (steps 0..80). Its
 * validation accuracy after epoch t is
 *
 *   acc(t) = final(x) - (final(x) - 0.1) * exp(-(t + 1) / tau(x)) + N(0, 0.004^2)
 *
 *   final(x) = 0.55 + 0.40 * exp(-sum_i ((x_i - c_i) / 0.5)^2),   c = (0.3, 0.6, 0.5, 0.75)
 *   tau(x)   = 1 + 6 * x_3   (epochs)
 *
 * so x_3 is a "learning rate" knob: small x_3 learns fast, large x_3 learns slowly but the best
 * final accuracy sits at x_3 = 0.75, so early curves cross (what makes early stopping hard; with
 * a slower tau, e.g. 2 + 30 x_3^2, the most aggressive ASHA picks fast learners and loses to random
 * search). The
 * target accuracy is the 99th percentile of final(x) over 20000 random configurations (fixed seed):
 * about 1 random configuration in 100 reaches it.
 *
 * Protocol. Every method gets the same compute: B = trialsBudget * R epochs (default 200 full
 * trainings). Configurations are drawn uniformly at random (the sampler is the same for all; only
 * the pruner differs), `workers` trials run concurrently in lock-step epochs, and each report is
 * followed by a pruning check, as `trial.report` + `trial.shouldPrune` would do. When the budget is
 * spent every running trial stops. Per run we record the best observed final accuracy among
 * COMPLETE trials, the noise-free final(x) of that trial, the same at 1/8, 1/4 and 1/2 of the
 * budget, and the epochs spent when the first trial with observed final >= target completed.
 * Medians (and min / max) over seeds, and ratios against random search with full training from the
 * same run.
 *
 * The study is simulated in this file (an array of FrozenTrial snapshots behind a StudyView) so
 * that the benchmark does not depend on src/study; the pruners are called the way the real Study
 * calls them. `bench/pruning.ts` measures the same comparison through `createStudy` +
 * `study.optimize`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cpus, platform, release } from 'node:os';
import { adaptivePruner } from '../src/pruners/adaptive.js';
import { HyperbandPruner } from '../src/pruners/hyperband.js';
import { MedianPruner } from '../src/pruners/median.js';
import type { Pruner } from '../src/pruners/pruner.js';
import { NopPruner } from '../src/pruners/pruner.js';
import { SuccessiveHalvingPruner } from '../src/pruners/successive-halving.js';
import { FrozenTrial } from '../src/trial/frozen-trial.js';
import type { StudyView } from '../src/trial/study-view.js';
import type { StudyDirection, TrialState } from '../src/trial/types.js';
import { int, parseBenchArgs, str } from './lib/args.js';

export const MAX_EPOCHS = 81;
export const DIM = 4;
const CENTER = [0.3, 0.6, 0.5, 0.75];
const WIDTH = 0.5;
export const NOISE_SD = 0.004;

// ---------------------------------------------------------------------------------------------
// Seeded randomness (splitmix32 + Box-Muller), local to the benchmark.

export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

export function gaussian(u: () => number): number {
  const a = Math.max(u(), 1e-300);
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
}

// ---------------------------------------------------------------------------------------------
// Learning-curve family.

export interface Config {
  readonly x: readonly number[];
  readonly final: number;
  readonly tau: number;
}

function makeConfig(u: () => number): Config {
  return configOf(Array.from({ length: DIM }, () => u()));
}

/** The curve parameters of a configuration x in [0, 1]^4. */
export function configOf(x: readonly number[]): Config {
  let r2 = 0;
  for (let i = 0; i < DIM; i++) r2 += ((x[i] - CENTER[i]) / WIDTH) ** 2;
  return { x, final: 0.55 + 0.4 * Math.exp(-r2), tau: 1 + 6 * x[3] };
}

export function accuracy(config: Config, epoch: number, noise: number): number {
  return config.final - (config.final - 0.1) * Math.exp(-(epoch + 1) / config.tau) + noise;
}

export function targetAccuracy(): number {
  const u = rng(987654321);
  const finals = Array.from({ length: 20000 }, () => makeConfig(u).final).sort((a, b) => a - b);
  return finals[Math.floor(0.99 * finals.length)];
}

// ---------------------------------------------------------------------------------------------
// Minimal in-file study: trials as FrozenTrial snapshots behind a StudyView.

class SimStudy implements StudyView {
  readonly studyId = 0;
  readonly directions: readonly StudyDirection[] = ['maximize'];
  readonly trials: FrozenTrial[] = [];
  private clock = 0;

  constructor(readonly studyName: string) {}

  async getTrials(options?: { readonly states?: readonly TrialState[] }): Promise<readonly FrozenTrial[]> {
    const states = options?.states;
    return states === undefined ? this.trials : this.trials.filter((t) => states.includes(t.state));
  }

  async claim(): Promise<boolean> {
    return true;
  }

  stop(): void {}

  create(): FrozenTrial {
    const number = this.trials.length;
    const trial = this.snapshot(number, 'RUNNING', {}, null);
    this.trials.push(trial);
    return trial;
  }

  update(number: number, state: TrialState, values: Record<number, number>): FrozenTrial {
    const steps = Object.keys(values).map(Number);
    const last = steps.length === 0 ? null : Math.max(...steps);
    const finalValues = state === 'RUNNING' || last === null ? null : [values[last]];
    const trial = this.snapshot(number, state, values, finalValues);
    this.trials[number] = trial;
    return trial;
  }

  private snapshot(
    number: number,
    state: TrialState,
    intermediateValues: Record<number, number>,
    values: number[] | null,
  ): FrozenTrial {
    this.clock += 1;
    return new FrozenTrial({
      trialId: number,
      number,
      state,
      values,
      params: {},
      distributions: {},
      userAttrs: {},
      systemAttrs: {},
      intermediateValues,
      datetimeStart: number,
      datetimeComplete: state === 'RUNNING' ? null : this.clock,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// One run: a method, a seed, equal epochs.

export interface Method {
  readonly name: string;
  readonly make: () => Pruner;
}

export const METHODS: readonly Method[] = [
  { name: 'random (full training)', make: () => new NopPruner() },
  { name: 'median', make: () => new MedianPruner({ nStartupTrials: 5, nWarmupSteps: 5 }) },
  { name: 'asha', make: () => new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }) },
  { name: 'hyperband', make: () => new HyperbandPruner({ minResource: 1, maxResource: MAX_EPOCHS, reductionFactor: 3 }) },
  { name: 'adaptive (standard)', make: () => adaptivePruner({ mode: 'standard', maxLength: MAX_EPOCHS }) },
];

interface RunResult {
  readonly method: string;
  readonly seed: number;
  readonly budgetEpochs: number;
  readonly epochsSpent: number;
  readonly nTrials: number;
  readonly nComplete: number;
  readonly nPruned: number;
  /** Best observed final accuracy among COMPLETE trials, and that trial's noise-free final. */
  readonly bestObserved: number;
  readonly bestTrue: number;
  /** bestTrue at 1/8, 1/4, 1/2 of the budget (NaN when nothing completed yet). */
  readonly bestTrueAt: readonly number[];
  /** Epochs spent when the first trial with observed final >= target completed; null if never. */
  readonly epochsToTarget: number | null;
  readonly wallMs: number;
}

interface Running {
  readonly number: number;
  readonly config: Config;
  readonly values: Record<number, number>;
  epoch: number;
}

async function runOne(method: Method, seed: number, workers: number, budget: number, target: number): Promise<RunResult> {
  const started = performance.now();
  // the same configurations and noise for every method under one seed
  const configRng = rng(seed * 2 + 1);
  const noiseRng = rng(seed * 2 + 2);
  const pruner = method.make();
  const study = new SimStudy(`pruning-sim-${seed}`);
  const slots: (Running | null)[] = new Array<Running | null>(workers).fill(null);
  const checkpoints = [budget / 8, budget / 4, budget / 2];
  const bestTrueAt: number[] = [NaN, NaN, NaN];
  let spent = 0;
  let bestObserved = -Infinity;
  let bestTrue = NaN;
  let epochsToTarget: number | null = null;
  let nComplete = 0;
  let nPruned = 0;

  while (spent < budget) {
    for (let w = 0; w < workers && spent < budget; w++) {
      let slot = slots[w];
      if (slot === null) {
        const trial = study.create();
        slot = { number: trial.number, config: makeConfig(configRng), values: {}, epoch: 0 };
        slots[w] = slot;
      }
      slot.values[slot.epoch] = accuracy(slot.config, slot.epoch, NOISE_SD * gaussian(noiseRng));
      spent += 1;
      const last = slot.epoch === MAX_EPOCHS - 1;
      const snapshot = study.update(slot.number, 'RUNNING', { ...slot.values });
      const pruned = !last && (await pruner.prune(study, snapshot));
      if (pruned) {
        study.update(slot.number, 'PRUNED', { ...slot.values });
        nPruned += 1;
        slots[w] = null;
      } else if (last) {
        study.update(slot.number, 'COMPLETE', { ...slot.values });
        nComplete += 1;
        const observed = slot.values[slot.epoch];
        if (observed > bestObserved) {
          bestObserved = observed;
          bestTrue = slot.config.final;
        }
        if (epochsToTarget === null && observed >= target) epochsToTarget = spent;
        slots[w] = null;
      } else {
        slot.epoch += 1;
      }
      for (let c = 0; c < checkpoints.length; c++) {
        if (spent <= checkpoints[c]) bestTrueAt[c] = bestTrue;
      }
    }
  }
  return {
    method: method.name,
    seed,
    budgetEpochs: budget,
    epochsSpent: spent,
    nTrials: study.trials.length,
    nComplete,
    nPruned,
    bestObserved,
    bestTrue,
    bestTrueAt,
    epochsToTarget,
    wallMs: performance.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------
// Summary.

/** Median; NaN entries (nothing found yet) count as the worst value, -Infinity. */
export function median(xs: readonly number[]): number {
  const s = xs.map((x) => (Number.isNaN(x) ? -Infinity : x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x: number, digits = 4): string {
  if (Number.isFinite(x)) return x.toFixed(digits);
  return x === Infinity ? '> budget' : x === -Infinity ? 'none yet' : 'n/a';
}

/** The command line; `out` is null for `--out -` (the section goes to stdout instead of a file). */
function parseArgs(argv: readonly string[]): { seeds: number; workers: number; trialsBudget: number; out: string | null } {
  const args = parseBenchArgs(
    {
      script: 'bench/pruning-sim.ts',
      summary: 'Random search vs median, ASHA, Hyperband, adaptive at equal epochs on a learning-curve simulator, in a simulated study (bench/pruning.md).',
      flags: {
        seeds: int({ description: 'seeds per method', min: 1, default: 20 }),
        workers: int({ description: 'trials running at once (lock-step epochs)', min: 1, default: 4 }),
        'trials-budget': int({ description: 'budget in full trainings (of 81 epochs) per run', min: 1, default: 200 }),
        out: str({ description: "markdown file whose pruning-sim section is rewritten ('-': print the section on stdout, write no file)", default: 'bench/pruning.md', valueName: 'FILE' }),
      },
    },
    argv,
  );
  return { seeds: args.seeds, workers: args.workers, trialsBudget: args.trialsBudget, out: args.out === '-' ? null : args.out };
}

const FILE_TITLE = [
  '# Pruning benchmarks (issue 4)',
  '',
  'Each section below is written by one script, between its `<!-- name:start -->` and',
  '`<!-- name:end -->` markers; rerunning a script replaces its own section only. The command that',
  'produced each table is stated in its section.',
  '',
].join('\n');

/**
 * Replaces the section `name` of a markdown file (between `<!-- name:start -->` and
 * `<!-- name:end -->`), or appends it; the rest of the file is left as it is. A missing file is
 * created with the title of the pruning benchmarks.
 */
export function writeSection(file: string, name: string, text: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = FILE_TITLE;
  }
  const block = `${start}\n${text.trimEnd()}\n${end}`;
  const i = current.indexOf(start);
  const j = current.indexOf(end);
  const next =
    i >= 0 && j > i
      ? current.slice(0, i) + block + current.slice(j + end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const budget = args.trialsBudget * MAX_EPOCHS;
  const target = targetAccuracy();
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', nCpus: cpus().length, platform: `${platform()} ${release()}`, node: process.version };
  const results: RunResult[] = [];
  const jsonLines: string[] = [];
  for (const method of METHODS) {
    for (let seed = 0; seed < args.seeds; seed++) {
      const r = await runOne(method, seed, args.workers, budget, target);
      results.push(r);
      const line = JSON.stringify({ bench: 'pruning-sim', ...r, target, workers: args.workers, machine, backend: 'js' });
      jsonLines.push(line);
      process.stdout.write(`${line}\n`);
    }
  }

  const rows: string[] = [];
  const baseline = results.filter((r) => r.method === METHODS[0].name);
  const baseToTarget = median(baseline.map((r) => r.epochsToTarget ?? Infinity));
  const bestPossible = 0.95;
  for (const method of METHODS) {
    const rs = results.filter((r) => r.method === method.name);
    const toTarget = rs.map((r) => r.epochsToTarget ?? Infinity);
    const medToTarget = median(toTarget);
    const reached = toTarget.filter((x) => Number.isFinite(x)).length;
    // a censored baseline (median "> budget") still bounds the speed-up from below
    const ratio = Number.isFinite(medToTarget) ? Math.min(baseToTarget, budget) / medToTarget : NaN;
    const ratioText = !Number.isFinite(ratio) ? 'n/a' : `${Number.isFinite(baseToTarget) ? '' : '> '}${ratio.toFixed(2)}x`;
    const bestTrue = rs.map((r) => r.bestTrue);
    rows.push(
      [
        method.name,
        fmt(median(rs.map((r) => r.bestTrueAt[0]))),
        fmt(median(rs.map((r) => r.bestTrueAt[1]))),
        fmt(median(rs.map((r) => r.bestTrueAt[2]))),
        `${fmt(median(bestTrue))} (${fmt(Math.min(...bestTrue))}..${fmt(Math.max(...bestTrue))})`,
        fmt(bestPossible - median(bestTrue)),
        `${fmt(medToTarget, 0)}`,
        `${reached}/${rs.length}`,
        ratioText,
        fmt(median(rs.map((r) => r.nTrials)), 0),
        fmt(median(rs.map((r) => r.nComplete)), 0),
        fmt(median(rs.map((r) => r.wallMs)), 0),
      ].join(' | '),
    );
  }
  const md = [
    '## Learning-curve simulator, simulated study (`bench/pruning-sim.ts`)',
    '',
    'Generated by `npx tsx bench/pruning-sim.ts` (see the file comment for the simulator and protocol). The study is',
    'an array of trial snapshots in the benchmark itself, with lock-step epochs across the workers.',
    '',
    `- Budget: ${budget} epochs per run (= ${args.trialsBudget} full trainings of ${MAX_EPOCHS} epochs), ${args.workers} concurrent workers, ${args.seeds} seeds; medians over seeds.`,
    `- Target accuracy: ${target.toFixed(4)} (99th percentile of final accuracy over random configurations); best possible final accuracy: ${bestPossible}.`,
    '- "best final" is the noise-free final accuracy of the COMPLETE trial with the best observed final accuracy (what a user would pick).',
    `- Machine: ${machine.cpu} x${machine.nCpus}, ${machine.platform}, Node ${machine.node}; pure TypeScript pruners.`,
    '',
    '| method | best final @ 1/8 budget | @ 1/4 | @ 1/2 | best final @ budget (min..max) | regret | epochs to target (median) | runs reaching target | speed-up vs random | trials | complete | wall ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
    '',
    '"epochs to target" counts a run that never reached the target as "> budget"; the speed-up is',
    'random search\'s median epochs to target over the method\'s; when random search\'s median is itself',
    '"> budget" the budget is used instead and the speed-up is a lower bound ("> ...").',
    '',
    '### Raw results (JSON lines)',
    '',
    '```jsonl',
    ...jsonLines,
    '```',
    '',
  ].join('\n');
  if (args.out === null) {
    process.stdout.write(`\n${md}`);
    return;
  }
  writeSection(args.out, 'pruning-sim', md);
  process.stdout.write(`\nwrote ${args.out}\n`);
}

// Run only as a script (bench/pruning.ts imports the simulator from here).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
