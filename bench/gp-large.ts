/**
 * GpSampler at large n: the latency of one suggestion (`await study.ask()` with a GpSampler on
 * the native backend, 2048 candidates, 10 restarts) at n ~ 1k, 5k and 10k completed trials of an
 * 8-D Levy function, split by what the refit policy did (src/samplers/gp/gp-sampler.ts):
 *
 *   build    the first GP suggestion on a study that already holds n trials (a resumed study):
 *            a full fit (n <= 1024), else a cold subset fit (itself started on 128 of the 1024
 *            observations, GpSampler refitPolicy.coldFitScreenSize) and the full model built
 *            at its theta: in the suggestion up to backgroundRebuildAbove (4096), else in the
 *            background while the subset model serves ('subset-deferred')
 *            (n <= 1024: 'fit-screened', the model of all n at the screen's theta)
 *   build+k  the k-th suggestion after it, up to the one that swaps the rebuilt model in
 *            ('rebuilt', which waits for the build if it has not finished; `wait` column), or
 *            after a 'fit-screened' build the next one, which refits on all observations
 *   append   a suggestion after one new trial, between refits: append 1 row + acquisition
 *   refit    the suggestion at which a refit falls due (the data grew by n_fit/50 since the last
 *            fit; the trials in between are imported with one bulk append, not timed): a
 *            warm-started subset fit, then the full model is kept (appended to) or rebuilt,
 *            as the policy decides; the `kinds` field says which
 *   rebuild  the same refit with thetaRebuildTolerance = 0, forcing the full rebuild (the
 *            worst case of a refit suggestion), then rebuild+k as for build
 *   resume   the first suggestion of a new sampler on the study after the rows above (a resumed
 *            run of a study GpSampler ran), which starts from the hyperparameters the first
 *            sampler recorded (src/samplers/gp/stored-fit.ts): at n <= 1024 the model built at them
 *            when no refit is due ('restored'), else a warm-started fit; then resume+k as for build
 *
 * Trials are imported with `study.addTrials` (half uniform in the box, half Gaussian around the
 * optimum with sd 5% of the range: a history that concentrates like a real BO run) and every
 * timed suggestion goes through the real Study and GpSampler. `--trial-ms=T` idles T ms after each
 * tell (a trial's evaluation, not timed; default 0, back-to-back asks): background rebuilds
 * overlap it. JSON lines on stdout, then a table.
 *
 *   npx tsx bench/gp-large.ts [--quick] [--sizes 1000,5000,10000] [--repeats N] [--trial-ms T]
 *
 * (`--name=value` works too: bench/lib/args.ts; `--help` lists the flags.)
 *
 * `--quick`: n in {1000, 2000}, 2 repeats. Default: 3 repeats per row (median and min); the
 * build and rebuild rows run once per size.
 */
import os from 'node:os';
import { loadAddon } from '../src/binding/load.js';
import { GpSampler, type ModelUpdateKind, type RefitPolicy } from '../src/samplers/gp/gp-sampler.js';
import { floatDistribution } from '../src/space/distributions.js';
import type { Distribution } from '../src/space/types.js';
import type { AddTrialOptions } from '../src/study/study.js';
import { createStudy, loadStudy } from '../src/study/create-study.js';
import type { Study } from '../src/study/study.js';
import { Rng } from '../src/util/prng.js';
import { flag, int, intList, num, parseBenchArgs } from './lib/args.js';
import { median } from './lib/stats.js';

const D = 8;
const LOW = -10;
const HIGH = 10;
const args = parseBenchArgs({
  script: 'bench/gp-large.ts',
  summary: 'GpSampler suggestion latency at n ~ 1k, 5k, 10k (d = 8): build, append, refit, rebuild and resume rows (bench/gp-large.md).',
  flags: {
    quick: flag('n in {1000, 2000}, 2 repeats'),
    sizes: intList({ description: 'study sizes n', min: 1, defaultText: '1000,5000,10000 (--quick: 1000,2000)' }),
    repeats: int({ description: 'repeats per append / refit row (median and min)', min: 1, defaultText: '3 (--quick: 2)' }),
    'trial-ms': num({ description: "idle T ms after each tell (a trial's evaluation, not timed)", min: 0, default: 0, valueName: 'T' }),
  },
});
const quick = args.quick;
const sizes = args.sizes ?? (quick ? [1000, 2000] : [1000, 5000, 10000]);
const repeats = args.repeats ?? (quick ? 2 : 3);
const trialMs = args.trialMs;

const { addon, error } = loadAddon();
if (addon === null) {
  process.stderr.write(`bench/gp-large: native addon unavailable: ${error?.message ?? 'unknown'}\n`);
  process.exit(1);
}
const info = addon.buildInfo();
const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  isa: info.isa,
  trialMs,
  load: Number(os.loadavg()[0].toFixed(2)),
  node: process.version,
};

const names = Array.from({ length: D }, (_, j) => `x${j}`);
const distributions: Record<string, Distribution> = Object.fromEntries(names.map((n) => [n, floatDistribution(n, LOW, HIGH)]));

/** Levy function (Surjanovic & Bingham's library), minimum 0 at x = 1. */
function levy(x: readonly number[]): number {
  const w = x.map((v) => 1 + (v - 1) / 4);
  let s = Math.sin(Math.PI * w[0]) ** 2;
  for (let i = 0; i < w.length - 1; i++) s += (w[i] - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i] + 1) ** 2);
  const last = w[w.length - 1];
  return s + (last - 1) ** 2 * (1 + Math.sin(2 * Math.PI * last) ** 2);
}

function history(rng: Rng, count: number): AddTrialOptions[] {
  const out: AddTrialOptions[] = [];
  for (let i = 0; i < count; i++) {
    const x = names.map(() => {
      const v = i % 2 === 0 ? LOW + (HIGH - LOW) * rng.nextFloat() : 1 + 0.05 * (HIGH - LOW) * rng.normal();
      return Math.min(HIGH, Math.max(LOW, v));
    });
    out.push({ params: Object.fromEntries(names.map((n, j) => [n, x[j]])), distributions, value: levy(x) });
  }
  return out;
}

interface Timed {
  readonly ms: number;
  readonly kind: ModelUpdateKind;
  readonly updateMs: number;
  readonly waitMs: number;
  readonly n: number;
  readonly thetaChange: number;
}

/** One `ask` (the GP suggestion) and its `tell`, then the trial's idle time; only the ask is timed. */
async function suggestOnce(study: Study, sampler: GpSampler): Promise<Timed> {
  const started = performance.now();
  const trial = await study.ask();
  const ms = performance.now() - started;
  const x = names.map((n) => trial.suggestFloat(n, LOW, HIGH));
  await study.tell(trial, levy(x));
  const update = sampler.lastModelUpdate;
  if (update === null) throw new Error('no GP suggestion was made');
  if (trialMs > 0) await new Promise((resolve) => setTimeout(resolve, trialMs));
  return { ms, kind: update.kind, updateMs: update.updateMs, waitMs: update.rebuildWaitMs, n: update.n, thetaChange: update.thetaChange };
}

interface Row {
  readonly n: number;
  readonly figure: string;
  readonly runs: readonly Timed[];
}

function emit(row: Row): void {
  rows.push(row);
  process.stdout.write(`${JSON.stringify(summarize(row))}\n`);
}

/** After a 'subset-deferred' suggestion: each suggestion up to and including the swap. */
async function untilSwapped(study: Study, sampler: GpSampler, n: number, figure: string, first: Timed): Promise<void> {
  if (first.kind === 'fit-screened') {
    // A provisional first fit: the next suggestion refits on all observations.
    emit({ n, figure: `${figure}+1`, runs: [await suggestOnce(study, sampler)] });
    return;
  }
  if (first.kind !== 'subset-deferred') return;
  // Behind a subset-served model the swap comes ceil(2 n / 1024) suggestions later (20 at 10k).
  for (let k = 1; k <= 40; k++) {
    const timed = await suggestOnce(study, sampler);
    emit({ n, figure: `${figure}+${k}`, runs: [timed] });
    if (timed.kind !== 'append') return;
  }
}

function summarize(row: Row): Record<string, unknown> {
  const ms = row.runs.map((r) => r.ms);
  return {
    bench: 'gp-large',
    figure: row.figure,
    nTarget: row.n,
    nObserved: row.runs.map((r) => r.n),
    kinds: row.runs.map((r) => r.kind),
    medianMs: Number(median(ms).toFixed(1)),
    minMs: Number(Math.min(...ms).toFixed(1)),
    updateMs: row.runs.map((r) => Number(r.updateMs.toFixed(1))),
    waitMs: row.runs.map((r) => Number(r.waitMs.toFixed(1))),
    thetaChange: row.runs.map((r) => (Number.isNaN(r.thetaChange) ? null : Number(r.thetaChange.toFixed(3)))),
    repeats: row.runs.length,
    backend: 'cpu',
    d: D,
    machine,
  };
}

/** A study with `n` imported trials and a sampler that has already built its model on them. */
async function prepared(n: number, seed: number, policy: Partial<RefitPolicy>): Promise<{ study: Study; sampler: GpSampler; build: Timed }> {
  const sampler = new GpSampler({ seed, backend: 'cpu', nStartupTrials: 10, refitPolicy: policy });
  const study = await createStudy({ sampler });
  await study.addTrials(history(new Rng(seed), n));
  const build = await suggestOnce(study, sampler);
  return { study, sampler, build };
}

/** Imports trials until the next suggestion is the refit (growth ceil(nAtFit / 50)), then times it. */
async function refitOnce(study: Study, sampler: GpSampler, rng: Rng, nAtFit: number): Promise<Timed> {
  const complete = (await study.getTrials({ states: ['COMPLETE'] })).length;
  const due = nAtFit + Math.ceil(nAtFit / 50);
  // Bring n to due - 1 by import, let one (untimed) suggestion append them, then one more trial.
  const missing = due - 1 - complete;
  if (missing > 0) await study.addTrials(history(rng, missing));
  await suggestOnce(study, sampler);
  return suggestOnce(study, sampler);
}

const rows: Row[] = [];
for (const n of sizes) {
  const { study, sampler, build } = await prepared(n, 1, {});
  emit({ n, figure: 'build', runs: [build] });
  await untilSwapped(study, sampler, n, 'build', build);

  const appends: Timed[] = [];
  for (let r = 0; r < repeats; r++) appends.push(await suggestOnce(study, sampler));
  emit({ n, figure: 'append', runs: appends });

  const refits: Timed[] = [];
  const rng = new Rng(99);
  // The build fitted on all n imported trials (a subset-served build: its rebuild; a provisional
  // first fit: the suggestion after it, on n + 1).
  let nAtFit = build.kind === 'fit-screened' ? n + 1 : n;
  for (let r = 0; r < repeats; r++) {
    const timed = await refitOnce(study, sampler, rng, nAtFit);
    refits.push(timed);
    nAtFit = timed.n;
    await untilSwapped(study, sampler, n, 'refit', timed);
  }
  emit({ n, figure: 'refit', runs: refits });

  // A resumed run: a new sampler on the same study, with the records the first one left.
  const resumedSampler = new GpSampler({ seed: 2, backend: 'cpu', nStartupTrials: 10 });
  const resumed = await loadStudy({ studyName: study.studyName, storage: study.storage, sampler: resumedSampler });
  const restored = await suggestOnce(resumed, resumedSampler);
  emit({ n, figure: 'resume', runs: [restored] });
  await untilSwapped(resumed, resumedSampler, n, 'resume', restored);

  if (n > 1024) {
    // The forced rebuild: a fresh study and sampler (tolerance 0), its build settled, one refit.
    const forced = await prepared(n, 1, { thetaRebuildTolerance: 0 });
    let settled = forced.build;
    while (settled.kind === 'subset-deferred' || settled.kind === 'append') settled = await suggestOnce(forced.study, forced.sampler);
    const timed = await refitOnce(forced.study, forced.sampler, new Rng(99), n);
    emit({ n, figure: 'rebuild', runs: [timed] });
    await untilSwapped(forced.study, forced.sampler, n, 'rebuild', timed);
  }
}

const gap = trialMs > 0 ? `, ${trialMs} ms idle after each trial` : ', back-to-back asks';
process.stdout.write(`\nGpSampler suggestion latency, d = ${D}, native cpu, ${machine.cores} cores (${machine.cpu}, ${machine.isa})${gap}\n\n`);
process.stdout.write('| n | suggestion | median ms | min ms | model update ms | of it waiting for a rebuild | what the policy did |\n|---|---|---|---|---|---|---|\n');
for (const row of rows) {
  const s = summarize(row);
  const kinds = [...new Set(row.runs.map((r) => r.kind))].join(', ');
  const update = median(row.runs.map((r) => r.updateMs));
  const wait = median(row.runs.map((r) => r.waitMs));
  process.stdout.write(
    `| ${row.runs[0].n} | ${row.figure} | ${String(s.medianMs)} | ${String(s.minMs)} | ${update.toFixed(0)} | ${wait.toFixed(0)} | ${kinds} |\n`,
  );
}
