/**
 * Early-stopping benchmark through the real Study (issue 4, `bench/pruning`): the learning-curve
 * simulator of `bench/pruning-sim.ts`, run with `createStudy` + `study.optimize` (concurrency 4,
 * in-memory storage), `trial.report` and `trial.shouldPrune` after every epoch.
 *
 *   npx tsx bench/pruning.ts [--seeds 20] [--concurrency 4] [--trials-budget 200] [--out bench/pruning.md]
 *   (`--out -`: no file, the table on stdout only; `--help` lists the flags)
 *
 * Simulator: see `bench/pruning-sim.ts` (a configuration x in [0, 1]^4, 81 epochs, curves that
 * cross; target accuracy = 99th percentile of the final accuracy of random configurations).
 *
 * Protocol. Every method gets B = trialsBudget * 81 epochs. Configurations come from
 * `RandomSampler({seed})` (four `suggestFloat('x<i>', 0, 1)`), so within a seed every method sees
 * the same configuration for the same trial number; only the pruner differs. The noise of trial n
 * at epoch t is a pure function of (seed, n, t), so a configuration's curve is the same whatever
 * the method and the interleaving. `concurrency` trials run at once in one process, interleaved at
 * every await of `report` / `shouldPrune` (an epoch is free, so they run in near lock-step, as in
 * the simulated study). Each epoch is one unit of the budget; the pruning check is skipped at the
 * last epoch (a trial that trained fully is complete). When the budget is spent the study stops
 * launching trials and the trials still running are recorded as FAIL ("budget spent").
 * Per run: the best observed final accuracy among COMPLETE trials and that trial's noise-free
 * final, the same at 1/8, 1/4 and 1/2 of the budget, the epochs spent when the first trial with an
 * observed final >= target completed, trial counts by state (read back from storage), and the wall
 * time. Medians (min..max) over seeds; speed-up against random search with full training from the
 * same run. One warm-up run per method (a small budget) is discarded first.
 *
 * Differences from the simulated study: configurations are the sampler's (not the simulator's own
 * stream), noise is keyed by (seed, trial, epoch) instead of drawn in epoch order, and the
 * interleaving is the event loop's rather than an explicit round-robin; so the two tables agree in
 * their conclusions, not digit for digit.
 */
import { cpus, platform, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { TrialPrunedError } from '../src/errors.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import type { Trial } from '../src/trial/trial.js';
import {
  DIM,
  MAX_EPOCHS,
  METHODS,
  NOISE_SD,
  accuracy,
  configOf,
  fmt,
  gaussian,
  median,
  rng,
  targetAccuracy,
  writeSection,
  type Method,
} from './pruning-sim.js';
import { int, parseBenchArgs, str } from './lib/args.js';

interface Args {
  readonly seeds: number;
  readonly concurrency: number;
  readonly trialsBudget: number;
  readonly out: string | null;
}

interface RunResult {
  readonly bench: 'pruning-study';
  readonly method: string;
  readonly seed: number;
  readonly budgetEpochs: number;
  readonly epochsSpent: number;
  /** Trials by state, read back from storage after the run. */
  readonly nTrials: number;
  readonly nComplete: number;
  readonly nPruned: number;
  /** Trials still running when the budget ran out (recorded as FAIL). */
  readonly nStopped: number;
  readonly bestObserved: number;
  readonly bestTrue: number;
  readonly bestTrueAt: readonly number[];
  readonly epochsToTarget: number | null;
  readonly wallMs: number;
}

/** Standard normal noise of trial `number` at `epoch`, a pure function of (seed, number, epoch). */
function noiseAt(seed: number, number: number, epoch: number): number {
  const key = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(number + 1, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35)) >>> 0;
  return gaussian(rng(key));
}

class BudgetSpent extends Error {
  constructor() {
    super('budget spent');
  }
}

async function runOne(method: Method, seed: number, args: Args, budget: number, target: number): Promise<RunResult> {
  const started = performance.now();
  const study = await createStudy({
    studyName: `pruning-${seed}`,
    direction: 'maximize',
    sampler: new RandomSampler({ seed: 1000 + seed }),
    pruner: method.make(),
    storage: new InMemoryStorage(),
  });
  const checkpoints = [budget / 8, budget / 4, budget / 2];
  const bestTrueAt = [NaN, NaN, NaN];
  let spent = 0;
  let bestObserved = -Infinity;
  let bestTrue = NaN;
  let epochsToTarget: number | null = null;

  const objective = async (trial: Trial): Promise<number> => {
    const x = Array.from({ length: DIM }, (_, i) => trial.suggestFloat(`x${i}`, 0, 1));
    const config = configOf(x);
    let value = NaN;
    for (let epoch = 0; epoch < MAX_EPOCHS; epoch++) {
      if (spent >= budget) {
        study.stop('budget spent');
        throw new BudgetSpent();
      }
      value = accuracy(config, epoch, NOISE_SD * noiseAt(seed, trial.number, epoch));
      spent += 1;
      await trial.report(epoch, value);
      const last = epoch === MAX_EPOCHS - 1;
      if (last) {
        if (value > bestObserved) {
          bestObserved = value;
          bestTrue = config.final;
        }
        if (epochsToTarget === null && value >= target) epochsToTarget = spent;
      }
      for (let c = 0; c < checkpoints.length; c++) if (spent <= checkpoints[c]) bestTrueAt[c] = bestTrue;
      if (!last && (await trial.shouldPrune())) throw new TrialPrunedError(`pruned at epoch ${epoch}`);
    }
    return value;
  };

  await study.optimize(objective, { concurrency: args.concurrency, handleSigint: false, catch: [BudgetSpent] });
  const trials = await study.getTrials();
  const count = (state: string): number => trials.filter((t) => t.state === state).length;
  // Cross-check the bookkeeping against storage: the best COMPLETE trial is the one recorded.
  const complete = trials.filter((t) => t.state === 'COMPLETE');
  if (complete.length > 0) {
    const stored = Math.max(...complete.map((t) => t.values![0]));
    if (stored !== bestObserved) throw new Error(`bookkeeping mismatch: stored best ${stored}, recorded ${bestObserved}`);
  }
  return {
    bench: 'pruning-study',
    method: method.name,
    seed,
    budgetEpochs: budget,
    epochsSpent: spent,
    nTrials: trials.length,
    nComplete: complete.length,
    nPruned: count('PRUNED'),
    nStopped: count('FAIL'),
    bestObserved,
    bestTrue,
    bestTrueAt,
    epochsToTarget,
    wallMs: performance.now() - started,
  };
}

function parseArgs(argv: readonly string[]): Args {
  const args = parseBenchArgs(
    {
      script: 'bench/pruning.ts',
      summary: 'Random search vs median, ASHA, Hyperband, adaptive at equal epochs on the learning-curve simulator, through the real Study (bench/pruning.md).',
      flags: {
        seeds: int({ description: 'seeds per method', min: 1, default: 20 }),
        concurrency: int({ description: "study.optimize's concurrency", min: 1, default: 4 }),
        'trials-budget': int({ description: 'budget in full trainings (of 81 epochs) per run', min: 1, default: 200 }),
        out: str({ description: "markdown file whose pruning-study section is rewritten ('-': write no file; the table is on stdout)", default: 'bench/pruning.md', valueName: 'FILE' }),
      },
    },
    argv,
  );
  return { seeds: args.seeds, concurrency: args.concurrency, trialsBudget: args.trialsBudget, out: args.out === '-' ? null : args.out };
}

function table(results: readonly RunResult[], budget: number): string {
  const baseline = results.filter((r) => r.method === METHODS[0].name);
  const baseToTarget = median(baseline.map((r) => r.epochsToTarget ?? Infinity));
  const rows = METHODS.map((method) => {
    const rs = results.filter((r) => r.method === method.name);
    const toTarget = rs.map((r) => r.epochsToTarget ?? Infinity);
    const medToTarget = median(toTarget);
    const reached = toTarget.filter((x) => Number.isFinite(x)).length;
    const ratio = Number.isFinite(medToTarget) ? Math.min(baseToTarget, budget) / medToTarget : NaN;
    const ratioText = !Number.isFinite(ratio) ? 'n/a' : `${Number.isFinite(baseToTarget) ? '' : '> '}${ratio.toFixed(2)}x`;
    const bestTrue = rs.map((r) => r.bestTrue);
    const wall = rs.map((r) => r.wallMs);
    return [
      method.name,
      fmt(median(rs.map((r) => r.bestTrueAt[0]))),
      fmt(median(rs.map((r) => r.bestTrueAt[1]))),
      fmt(median(rs.map((r) => r.bestTrueAt[2]))),
      `${fmt(median(bestTrue))} (${fmt(Math.min(...bestTrue))}..${fmt(Math.max(...bestTrue))})`,
      fmt(0.95 - median(bestTrue)),
      fmt(medToTarget, 0),
      `${reached}/${rs.length}`,
      ratioText,
      fmt(median(rs.map((r) => r.nTrials)), 0),
      fmt(median(rs.map((r) => r.nComplete)), 0),
      fmt(median(rs.map((r) => r.nPruned)), 0),
      fmt(median(rs.map((r) => r.nStopped)), 0),
      `${fmt(median(wall), 0)} (${fmt(Math.min(...wall), 0)})`,
    ].join(' | ');
  });
  return [
    '| method | best final @ 1/8 budget | @ 1/4 | @ 1/2 | best final @ budget (min..max) | regret | epochs to target (median) | runs reaching target | speed-up vs random | trials | complete | pruned | stopped by budget | wall ms median (min) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const budget = args.trialsBudget * MAX_EPOCHS;
  const target = targetAccuracy();
  const machine = {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    nCpus: cpus().length,
    platform: `${platform()} ${release()}`,
    node: process.version,
  };
  // Warm-up: one small run per method, discarded (JIT, module initialization).
  for (const method of METHODS) await runOne(method, 999, args, 10 * MAX_EPOCHS, target);

  const results: RunResult[] = [];
  const jsonLines: string[] = [];
  for (const method of METHODS) {
    for (let seed = 0; seed < args.seeds; seed++) {
      const r = await runOne(method, seed, args, budget, target);
      results.push(r);
      const line = JSON.stringify({ ...r, target, concurrency: args.concurrency, storage: 'memory', machine, backend: 'js' });
      jsonLines.push(line);
      process.stdout.write(`${line}\n`);
    }
  }
  const summary = table(results, budget);
  process.stdout.write(`\n${summary}\n`);
  if (args.out === null) return;

  const command = `npx tsx bench/pruning.ts --seeds ${args.seeds} --concurrency ${args.concurrency} --trials-budget ${args.trialsBudget}`;
  const md = [
    '## Learning-curve simulator through the real Study (`bench/pruning.ts`)',
    '',
    `Generated by \`${command}\` (see the file comment for the protocol): the simulator above, run`,
    'with `createStudy` + `study.optimize` on in-memory storage, `trial.report` + `trial.shouldPrune` after every epoch.',
    '',
    `- Budget: ${budget} epochs per run (= ${args.trialsBudget} full trainings of ${MAX_EPOCHS} epochs), concurrency ${args.concurrency} in one process, ${args.seeds} seeds; medians over seeds.`,
    `- Target accuracy: ${target.toFixed(4)}; best possible final accuracy: 0.95. Configurations from \`RandomSampler({seed: 1000 + seed})\`, the same for every method within a seed.`,
    '- "stopped by budget": trials running, or just started, when the budget ran out, recorded as FAIL. Trial counts are read back from storage.',
    `- Machine: ${machine.cpu} x${machine.nCpus}, ${machine.platform}, Node ${machine.node}; pure TypeScript pruners; wall ms is one whole run (median and fastest over seeds).`,
    '',
    summary,
    '',
    '### Raw results (JSON lines)',
    '',
    '```jsonl',
    ...jsonLines,
    '```',
  ].join('\n');
  writeSection(args.out, 'pruning-study', md);
  process.stdout.write(`\nwrote ${args.out}\n`);
}

await main();
