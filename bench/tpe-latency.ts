/**
 * One TpeSampler suggestion inside a study that already holds many finished trials: how the ask
 * path scales with the history (Optuna users run TPE studies of thousands of trials).
 *
 *   npx tsx bench/tpe-latency.ts [--sizes 1000,10000] [--repeats 7] [--warmup 2] [--seed 0]
 *                                [--modes independent,multivariate,liar] (also: group)
 *   (or `npm run bench:tpe-latency`; figures in bench/README.md; --help lists the flags)
 *
 * Protocol: a study on in-memory storage is filled with `size` finished trials (imported through
 * `storage.createTrial`, not sampled: 90% COMPLETE, 5% PRUNED with an intermediate value, 5%
 * FAIL) over 8 parameters (four uniform floats, a log float, an int, a stepped float and a
 * 3-way categorical), with a quadratic objective. Then `warmup + repeats` suggestions are timed,
 * each `await study.ask()` plus the eight `suggest*` calls, and told (so the study grows by one
 * per suggestion). Modes: `independent` (TpeSampler defaults: one model per parameter),
 * `multivariate` (`multivariate: true`: one joint model), `group` (`multivariate` and `group`;
 * opt-in: this space has no conditional parameters, so one group), `liar` (independent with
 * `constantLiar: true`, with 4 other trials left RUNNING). Reported: median and min of the
 * timed suggestions, per mode and size. Output: JSON lines on stdout, a table on stderr.
 */
import os from 'node:os';
import { TpeSampler, type TpeSamplerOptions } from '../src/samplers/tpe/tpe-sampler.js';
import { categoricalDistribution, floatDistribution, intDistribution } from '../src/space/distributions.js';
import type { Distribution, ParamValue } from '../src/space/types.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import type { Trial } from '../src/trial/trial.js';
import { Rng } from '../src/util/prng.js';
import { choiceList, int, intList, parseBenchArgs } from './lib/args.js';

const args = parseBenchArgs({
  script: 'bench/tpe-latency.ts',
  summary: 'One TpeSampler ask + 8 suggests on a study holding many finished trials, per mode and size (bench/README.md).',
  flags: {
    sizes: intList({ description: 'finished trials in the study', min: 1, default: [1000, 10000] }),
    repeats: int({ description: 'timed suggestions', min: 1, default: 7 }),
    warmup: int({ description: 'untimed suggestions first', min: 0, default: 2 }),
    seed: int({ description: 'history and sampler seed', default: 0 }),
    modes: choiceList({ description: 'sampler modes (group: opt-in)', choices: ['independent', 'multivariate', 'group', 'liar'] as const, default: ['independent', 'multivariate', 'liar'] }),
  },
});
const { sizes, repeats, warmup, seed, modes } = args;

const CHOICES = ['sgd', 'adam', 'rmsprop'] as const;
const DISTS: Record<string, Distribution> = {
  x0: floatDistribution('x0', -5, 5),
  x1: floatDistribution('x1', -5, 5),
  x2: floatDistribution('x2', -5, 5),
  x3: floatDistribution('x3', -5, 5),
  lr: floatDistribution('lr', 1e-5, 1e-1, { log: true }),
  units: intDistribution('units', 1, 256),
  dropout: floatDistribution('dropout', 0, 0.5, { step: 0.05 }),
  optimizer: categoricalDistribution('optimizer', CHOICES),
};

function objective(p: Readonly<Record<string, ParamValue>>): number {
  const x = ['x0', 'x1', 'x2', 'x3'].map((k) => p[k] as number);
  return (
    x.reduce((s, v, i) => s + (v - i + 1.5) ** 2, 0) +
    (Math.log10(p.lr as number) + 3) ** 2 +
    ((p.units as number) - 64) ** 2 / 1000 +
    (p.dropout as number) +
    (p.optimizer === 'adam' ? 0 : 1)
  );
}

function suggestAll(trial: Trial): Record<string, ParamValue> {
  return {
    x0: trial.suggestFloat('x0', -5, 5),
    x1: trial.suggestFloat('x1', -5, 5),
    x2: trial.suggestFloat('x2', -5, 5),
    x3: trial.suggestFloat('x3', -5, 5),
    lr: trial.suggestFloat('lr', 1e-5, 1e-1, { log: true }),
    units: trial.suggestInt('units', 1, 256),
    dropout: trial.suggestFloat('dropout', 0, 0.5, { step: 0.05 }),
    optimizer: trial.suggestCategorical('optimizer', CHOICES),
  };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function run(mode: string, size: number): Promise<{ medianMs: number; minMs: number }> {
  const options: TpeSamplerOptions = {
    seed,
    ...(mode === 'multivariate' ? { multivariate: true } : {}),
    ...(mode === 'group' ? { multivariate: true, group: true } : {}),
    ...(mode === 'liar' ? { constantLiar: true } : {}),
  };
  const storage = new InMemoryStorage();
  const study = await createStudy({ studyName: `tpe-${mode}-${size}`, direction: 'minimize', sampler: new TpeSampler(options), storage });
  const rng = new Rng(seed + size);
  for (let i = 0; i < size; i++) {
    const params: Record<string, ParamValue> = {
      x0: -5 + 10 * rng.nextFloat(),
      x1: -5 + 10 * rng.nextFloat(),
      x2: -5 + 10 * rng.nextFloat(),
      x3: -5 + 10 * rng.nextFloat(),
      lr: 10 ** (-5 + 4 * rng.nextFloat()),
      units: 1 + Math.floor(256 * rng.nextFloat()),
      dropout: Math.round(10 * rng.nextFloat()) * 0.05,
      optimizer: CHOICES[Math.floor(3 * rng.nextFloat())],
    };
    const value = objective(params);
    const r = rng.nextFloat();
    if (r < 0.9) await storage.createTrial(study.studyId, { state: 'COMPLETE', values: [value], params, distributions: DISTS });
    else if (r < 0.95) await storage.createTrial(study.studyId, { state: 'PRUNED', params, distributions: DISTS, intermediateValues: { 3: value } });
    else await storage.createTrial(study.studyId, { state: 'FAIL', params, distributions: DISTS });
  }
  if (mode === 'liar') for (let i = 0; i < 4; i++) suggestAll(await study.ask());
  const times: number[] = [];
  for (let i = 0; i < warmup + repeats; i++) {
    const t0 = performance.now();
    const trial = await study.ask();
    const params = suggestAll(trial);
    const t1 = performance.now();
    await study.tell(trial, objective(params));
    if (i >= warmup) times.push(t1 - t0);
  }
  return { medianMs: median(times), minMs: Math.min(...times) };
}

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), load: Number(os.loadavg()[0].toFixed(2)), node: process.version };
process.stdout.write(`${JSON.stringify({ kind: 'machine', ...machine, date: new Date().toISOString() })}\n`);
const lines = ['| mode | finished trials | ask + 8 suggests, median ms | min ms |', '|---|---|---|---|'];
for (const size of sizes) {
  for (const mode of modes) {
    const r = await run(mode, size);
    process.stdout.write(`${JSON.stringify({ kind: 'tpe', mode, size, repeats, ...r })}\n`);
    lines.push(`| ${mode} | ${size} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)} |`);
  }
}
process.stderr.write(`\nmachine: ${JSON.stringify(machine)}\n${lines.join('\n')}\n`);
