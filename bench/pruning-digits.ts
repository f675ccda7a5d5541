/**
 * Early-stopping benchmark on a real model (issue 4, `bench/pruning`, second part): the MLP of
 * examples/mnist-mlp.ts trained with TensorFlow.js on 2,000 MNIST digits (1,600 train / 400
 * validation), up to R = 9 epochs per configuration.
 *
 *   npx tsx bench/pruning-digits.ts [--seeds 3] [--budget-trials 12] [--target 0.9] [--out bench/pruning.md]
 *
 * Without `--out` (or with `--out -`) the table goes to stdout only; `--help` lists the flags.
 *
 * Protocol. Every method gets the same compute: B = budgetTrials * R epochs (an epoch is one pass
 * over the 1,600 training digits, whatever the model). Configurations are drawn by the same seeded
 * random sampler for every method, so within a seed all methods see the same sequence of
 * configurations and only the pruner differs: random search with full training (no pruner), ASHA
 * (successive halving, r = 1, eta = 3: rungs at 1, 3, 9 epochs), Hyperband (r = 1, R = 9, eta = 3)
 * and the median rule (3 startup trials, no pruning at epoch 1). Trials run one at a time; the
 * epoch that exhausts the budget stops the running trial, which is then discarded (FAIL), so no
 * method ever trains more than B epochs. Per run we record the best final validation accuracy among
 * COMPLETE trials (full 9-epoch trainings only: a pruned trial's accuracy is not "final"), the same
 * after 1/4 and 1/2 of the budget, and the epochs spent when the first COMPLETE trial reached the
 * target accuracy. Medians (and min..max) over seeds; ratios against random search from the same run.
 *
 * Caveats, stated in the output too: tfjs shuffles batches with Math.random, so repeated runs differ
 * slightly; the machine and backend are recorded with every line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { HyperbandPruner } from '../src/pruners/hyperband.js';
import { MedianPruner } from '../src/pruners/median.js';
import { NopPruner, type Pruner } from '../src/pruners/pruner.js';
import { SuccessiveHalvingPruner } from '../src/pruners/successive-halving.js';
import { RandomSampler } from '../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import {
  buildModel,
  fitWithPruning,
  selectTfBackend,
  tfObjective,
  toTensors,
} from '../src/tfjs/index.js';
import { digitsSplit, MAX_EPOCHS, N_DIGITS, ranges } from '../examples/mnist-mlp.js';
import { int, num, parseBenchArgs, str } from './lib/args.js';

interface Args {
  readonly seeds: number;
  readonly budgetTrials: number;
  readonly target: number;
  readonly out: string | null;
}

function parseArgs(argv: readonly string[]): Args {
  const args = parseBenchArgs(
    {
      script: 'bench/pruning-digits.ts',
      summary: 'Random search vs ASHA, Hyperband and the median rule at equal epochs on the TensorFlow.js digits MLP (bench/pruning.md).',
      flags: {
        seeds: int({ description: 'seeds per method', min: 1, default: 3 }),
        'budget-trials': int({ description: 'budget in full trainings (of 9 epochs) per run', min: 1, default: 12 }),
        target: num({ description: 'target validation accuracy', min: 0, max: 1, default: 0.9 }),
        out: str({ description: "markdown file whose pruning-digits section is rewritten ('-': none)", valueName: 'FILE', defaultText: 'none: the table on stdout only' }),
      },
    },
    argv,
  );
  return { seeds: args.seeds, budgetTrials: args.budgetTrials, target: args.target, out: args.out === undefined || args.out === '-' ? null : args.out };
}

interface Method {
  readonly name: string;
  readonly pruner: () => Pruner;
}

const METHODS: readonly Method[] = [
  { name: 'random (full training)', pruner: () => new NopPruner() },
  { name: 'asha', pruner: () => new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }) },
  { name: 'hyperband', pruner: () => new HyperbandPruner({ minResource: 1, maxResource: MAX_EPOCHS, reductionFactor: 3 }) },
  // fitWithPruning reports epoch e as step e (1-based): warm-up 2 leaves step 1, the first epoch, unjudged.
  { name: 'median', pruner: () => new MedianPruner({ nStartupTrials: 3, nWarmupSteps: 2 }) },
];

interface RunResult {
  readonly bench: 'pruning-digits';
  readonly method: string;
  readonly seed: number;
  readonly budgetEpochs: number;
  readonly epochsSpent: number;
  readonly nTrials: number;
  readonly nComplete: number;
  readonly nPruned: number;
  /** Best final accuracy among COMPLETE trials at 1/4, 1/2 and the full budget (null: none yet). */
  readonly bestAt: readonly (number | null)[];
  readonly epochsToTarget: number | null;
  readonly target: number;
  readonly wallMs: number;
  readonly machine: Machine;
  readonly backend: string;
}

interface Machine {
  readonly cpu: string;
  readonly nCpus: number;
  readonly platform: string;
  readonly node: string;
}

class BudgetExhausted extends Error {}

async function runOnce(method: Method, seed: number, args: Args, backend: string, machine: Machine): Promise<RunResult> {
  const budget = args.budgetTrials * MAX_EPOCHS;
  let epochsSpent = 0;
  const completions: { epochs: number; accuracy: number }[] = [];
  const study = await createStudy({
    storage: new InMemoryStorage(),
    direction: 'maximize',
    sampler: new RandomSampler({ seed }),
    pruner: method.pruner(),
  });

  const objective = tfObjective(async ({ trial, tf }) => {
    const data = digitsSplit();
    const built = buildModel(trial, { inputShape: [784], nClasses: 10, ranges, seed: seed * 100_000 + trial.number * 100 });
    const train = toTensors({ x: data.xTrain, y: data.yTrain, nClasses: 10, tf });
    const valid = toTensors({ x: data.xTest, y: data.yTest, nClasses: 10, tf });
    let exhausted = false;
    // Counts every epoch trained and stops the fit at the one that spends the budget.
    const budgetCallback = new tf.CustomCallback({
      onEpochEnd: async () => {
        epochsSpent++;
        if (epochsSpent >= budget) {
          exhausted = true;
          built.model.stopTraining = true;
        }
      },
    });
    try {
      const history = await fitWithPruning({
        model: built.model,
        x: train.xs,
        y: train.ys,
        trial,
        monitor: 'val_acc',
        fitArgs: {
          ...built.fitArgs,
          callbacks: [budgetCallback, ...built.fitArgs.callbacks],
          validationData: [valid.xs, valid.ys],
          verbose: 0,
        },
      });
      const accuracy = history.history.val_acc as number[];
      if (exhausted && accuracy.length < MAX_EPOCHS) throw new BudgetExhausted('epoch budget exhausted mid-trial');
      const final = accuracy[accuracy.length - 1];
      completions.push({ epochs: epochsSpent, accuracy: final });
      return final;
    } finally {
      if (exhausted) study.stop('epoch budget exhausted');
      tf.dispose([train.xs, train.ys, valid.xs, valid.ys]);
      built.dispose();
    }
  }, { warnOnLeak: true });

  const start = performance.now();
  await study.optimize(objective, { handleSigint: false });
  const wallMs = performance.now() - start;
  const trials = await study.getTrials();

  const bestWithin = (limit: number): number | null => {
    let best: number | null = null;
    for (const c of completions) if (c.epochs <= limit && (best === null || c.accuracy > best)) best = c.accuracy;
    return best;
  };
  const hit = completions.find((c) => c.accuracy >= args.target);
  return {
    bench: 'pruning-digits',
    method: method.name,
    seed,
    budgetEpochs: budget,
    epochsSpent,
    nTrials: trials.length,
    nComplete: trials.filter((t) => t.state === 'COMPLETE').length,
    nPruned: trials.filter((t) => t.state === 'PRUNED').length,
    bestAt: [bestWithin(budget / 4), bestWithin(budget / 2), bestWithin(budget)],
    epochsToTarget: hit === undefined ? null : hit.epochs,
    target: args.target,
    wallMs,
    machine,
    backend,
  };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(value: number | null, digits = 4): string {
  return value === null ? '-' : value.toFixed(digits);
}

function table(results: readonly RunResult[], args: Args): string {
  const budget = args.budgetTrials * MAX_EPOCHS;
  // Missing values (no COMPLETE trial yet, target never reached) rank below everything / as "> budget".
  const medianOf = (rs: readonly RunResult[], pick: (r: RunResult) => number | null, missing: number): number =>
    median(rs.map((r) => pick(r) ?? missing));
  const random = results.filter((r) => r.method === METHODS[0].name);
  const randomToTarget = medianOf(random, (r) => r.epochsToTarget, Infinity);
  const lines = [
    '| method | best final @ 1/4 budget | @ 1/2 | best final @ budget (min..max) | epochs to target (median) | runs reaching target | speed-up vs random | trials | complete | pruned | wall s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const method of METHODS) {
    const rs = results.filter((r) => r.method === method.name);
    if (rs.length === 0) continue;
    const finals = rs.map((r) => r.bestAt[2] ?? 0);
    const toTarget = medianOf(rs, (r) => r.epochsToTarget, Infinity);
    const reached = rs.filter((r) => r.epochsToTarget !== null).length;
    let speedUp: string;
    if (!Number.isFinite(toTarget)) speedUp = '-';
    else if (Number.isFinite(randomToTarget)) speedUp = `${(randomToTarget / toTarget).toFixed(2)}x`;
    else speedUp = `> ${(budget / toTarget).toFixed(2)}x`;
    lines.push(
      `| ${method.name} | ${fmt(medianOf(rs, (r) => r.bestAt[0], 0))} | ${fmt(medianOf(rs, (r) => r.bestAt[1], 0))} | ` +
        `${fmt(median(finals))} (${fmt(Math.min(...finals))}..${fmt(Math.max(...finals))}) | ` +
        `${Number.isFinite(toTarget) ? String(toTarget) : `> ${budget}`} | ${reached}/${rs.length} | ${speedUp} | ` +
        `${median(rs.map((r) => r.nTrials))} | ${median(rs.map((r) => r.nComplete))} | ${median(rs.map((r) => r.nPruned))} | ` +
        `${(median(rs.map((r) => r.wallMs)) / 1000).toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

const START = '<!-- pruning-digits:start -->';
const END = '<!-- pruning-digits:end -->';

function section(results: readonly RunResult[], args: Args, machine: Machine, backend: string): string {
  const budget = args.budgetTrials * MAX_EPOCHS;
  return [
    START,
    '',
    '# Pruning benchmark: real digits MLP (TensorFlow.js)',
    '',
    `Generated by \`npx tsx bench/pruning-digits.ts --seeds ${args.seeds} --budget-trials ${args.budgetTrials} --target ${args.target}\` (see the file comment for the protocol).`,
    '',
    `- Model: the MLP of examples/mnist-mlp.ts (1-2 dense layers, random search over its ${Object.keys(ranges).length}-entry range set) on ${N_DIGITS} MNIST digits from the \`mnist\` package, 80/20 stratified split; up to ${MAX_EPOCHS} epochs per trial.`,
    `- Budget: ${budget} epochs per run (= ${args.budgetTrials} full trainings), one trial at a time, ${args.seeds} seeds; medians over seeds.`,
    `- Target: validation accuracy >= ${args.target}; "best final" is the best 9-epoch validation accuracy of a COMPLETE trial.`,
    `- Machine: ${machine.cpu} x${machine.nCpus}, ${machine.platform}, Node ${machine.node}; TensorFlow.js backend: ${backend}.`,
    '- tfjs shuffles batches with Math.random: reruns differ slightly. With only a few seeds, differences of a point or two of accuracy are within noise.',
    '',
    table(results, args),
    '',
    '## Raw results (JSON lines)',
    '',
    '```jsonl',
    ...results.map((r) => JSON.stringify(r)),
    '```',
    '',
    END,
  ].join('\n');
}

/** Replaces this benchmark's section of the file (or appends it), leaving the rest untouched. */
function writeSection(file: string, text: string): void {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = '';
  }
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + text + current.slice(end + END.length)
      : `${current.trimEnd()}${current.length > 0 ? '\n\n' : ''}${text}\n`;
  writeFileSync(file, next);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const selection = await selectTfBackend();
  const machine: Machine = {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    nCpus: cpus().length,
    platform: `${platform()} ${release()}`,
    node: process.version,
  };
  digitsSplit(); // load the data outside the timed runs
  // Warm-up: one short training so that backend initialization is not charged to the first run.
  await runOnce({ name: 'warm-up', pruner: () => new NopPruner() }, 999, { ...args, budgetTrials: 1 }, selection.name, machine);

  const results: RunResult[] = [];
  for (let seed = 0; seed < args.seeds; seed++) {
    for (const method of METHODS) {
      const result = await runOnce(method, seed, args, selection.name, machine);
      results.push(result);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  }
  process.stdout.write(`\n${table(results, args)}\n`);
  if (args.out !== null) writeSection(args.out, section(results, args, machine, selection.name));
}

await main();
