/**
 * A new sampler's first fit on an existing study (GpSampler's provisional first fit, issue 3):
 * how much of the converged log posterior the 128-observation screen's theta and k L-BFGS-B
 * iterations from it on all observations recover, and what they cost.
 *
 *   npx tsx bench/first-fit.ts [--seed 0] [--sizes 200,500]   (--help lists the flags)
 *
 * History: the first max(sizes) trials of a GpSampler run on Rosenbrock-8 in [-5, 10]^8 (the
 * protocol of bench/ask-latency.ts). For each n, its first n observations encoded as GpSampler
 * encodes them (unit cube; the power transform and the worst-observed shift of the targets,
 * bench/lib/first-fit-data.ts): the screen, a fit on `selectFitSubset` of 128 observations (the
 * 32 best plus a seeded sample, 1 random restart, each start at most 15 L-BFGS-B iterations, as
 * GpSampler's first fit),
 * then the log posterior on all n observations at the screen's theta (a build) and after k = 1, 2,
 * 3, 5, 8, 12 and 200 (converged) iterations warm-started from it (`FitOptions.maxIterations`), with
 * the wall time of each such fit (native backend, all threads). JSON lines on stdout, a table on
 * stderr.
 *
 *   npx tsx bench/first-fit.ts --traces DIR [--sizes 200,500]
 *
 * Screen restarts: for every run that `bench/quality.ts --trace DIR` saved (any sampler, float
 * dims; at least max(sizes) evaluations), its first n points encoded as GpSampler encodes them
 * (unit cube; the power transform and the worst-observed shift of the targets), the screen fitted
 * on `selectFitSubset` of 128 with 3, 1 and 0 random restarts besides the default start: its wall
 * time and log posterior, and the log posterior on all n after 12 iterations from it (the
 * provisional first fit) and after a converged fit from it.
 *
 *   npx tsx bench/first-fit.ts --traces DIR --screen-iterations 200,15 [--sizes 200]
 *
 * Screen iterations: instead, for each listed cap, the screen (1 random restart, each start at
 * most that many L-BFGS-B iterations) and the 12-iteration provisional fit from it: their wall time
 * (the fastest of 3) and how many nats of log posterior the provisional fit leaves below the best
 * of three converged cold restarts on all n observations.
 */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import { getSurrogateBackend } from '../src/surrogate/select-backend.js';
import { benchCommand, int, intList, parseBenchArgs, str } from './lib/args.js';
import { firstFitData, SCREEN_ITERATIONS, type MinimizedHistory } from './lib/first-fit-data.js';

const args = parseBenchArgs(
  benchCommand({
    script: 'bench/first-fit.ts',
    summary: "A new sampler's first fit on an existing study: the log posterior the 128-observation screen's theta and k iterations from it recover, and their cost; with --traces, the screen's restarts or (with --screen-iterations) its iteration cap (bench/surrogate.md).",
    flags: {
      seed: int({ description: "the history run's seed", min: 0, default: 0 }),
      sizes: intList({ description: 'study sizes n (above the screen size, 128)', min: 129, default: [200, 500] }),
      traces: str({ description: 'runs saved by `bench/quality.ts --trace DIR`: compare the screen\'s random restarts', valueName: 'DIR' }),
      'screen-iterations': intList({ description: "with --traces: the screen's iteration caps to compare", min: 1 }),
    },
    check: (parsed) => (parsed.screenIterations !== undefined && parsed.traces === undefined ? '--screen-iterations needs --traces DIR (the runs to fit)' : undefined),
  }),
);
const { seed, sizes } = args;
const tracesDir = args.traces ?? '';

const D = 8;
const LOW = -5;
const HIGH = 10;
const ITERATIONS = [1, 2, 3, 5, 8, 12, 200];
const rosenbrock = (x: readonly number[]): number => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
  return s;
};
const threads = os.availableParallelism();
const backend = await getSurrogateBackend({ backend: 'cpu' });

/** The --traces mode (see the header): random restarts of the screen, 3 / 1 / 0. */
async function screenRestarts(dir: string): Promise<void> {
  const restarts = [3, 1, 0];
  const lines = [
    `| run | n | ${restarts.map((r) => `${r} restarts: screen ms / screen / 12 it. / converged`).join(' | ')} |`,
    `|---|---|${restarts.map(() => '---|').join('')}`,
  ];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const trace = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as MinimizedHistory;
    for (const n of sizes) {
      const { all, screen: screenData } = firstFitData(trace, n, 7);
      const options = { kernel: 'matern52' as const, deterministic: false, seed: 1, numThreads: threads };
      const cells: string[] = [];
      const record: Record<string, unknown> = { bench: 'first-fit-screen-restarts', run: file, n, restarts: [] as unknown[] };
      for (const r of restarts) {
        const t0 = performance.now();
        const screen = await backend.fit(screenData, { ...options, nRestarts: r, warmStart: null });
        const screenMs = performance.now() - t0;
        const from = Float64Array.from(screen.theta);
        const provisional = await backend.fit(all, { ...options, nRestarts: 1, warmStart: from, maxIterations: 12 });
        const converged = await backend.fit(all, { ...options, nRestarts: 1, warmStart: from });
        (record.restarts as unknown[]).push({
          nRestarts: r,
          screenMs,
          screenLogPosterior: screen.logPosterior,
          provisionalLogPosterior: provisional.logPosterior,
          convergedLogPosterior: converged.logPosterior,
        });
        cells.push(`${screenMs.toFixed(1)} / ${screen.logPosterior.toFixed(1)} / ${provisional.logPosterior.toFixed(1)} / ${converged.logPosterior.toFixed(1)}`);
        for (const m of [screen, provisional, converged]) m.dispose();
      }
      process.stdout.write(`${JSON.stringify(record)}\n`);
      lines.push(`| ${file.replace(/\.json$/, '')} | ${n} | ${cells.join(' | ')} |`);
    }
  }
  process.stderr.write(`\nscreen restarts: log posteriors (screen on its 128 rows, the rest on all n), ${threads} threads\n${lines.join('\n')}\n`);
}
/** The --traces --screen-iterations mode (see the header). */
async function screenIterations(dir: string, caps: readonly number[]): Promise<void> {
  const lines = [`| run | n | ${caps.map((c) => `screen <= ${c} it.: ms / nats short`).join(' | ')} |`, `|---|---|${caps.map(() => '---|').join('')}`];
  const short = new Map<number, number[]>(caps.map((c) => [c, []]));
  const ms = new Map<number, number[]>(caps.map((c) => [c, []]));
  const options = { kernel: 'matern52' as const, deterministic: false, seed: 1, numThreads: threads };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const trace = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as MinimizedHistory;
    for (const n of sizes) {
      if (trace.values.length < n) continue;
      const { all, screen: screenData } = firstFitData(trace, n, 7);
      const reference = await backend.fit(all, { ...options, nRestarts: 3, warmStart: null });
      const best = reference.logPosterior;
      reference.dispose();
      const cells: string[] = [];
      const record: Record<string, unknown> = { bench: 'first-fit-screen-iterations', run: file, n, best, caps: [] as unknown[] };
      for (const cap of caps) {
        let fastest = Infinity;
        let logPosterior = NaN;
        for (let rep = 0; rep < 3; rep++) {
          const t0 = performance.now();
          const screen = await backend.fit(screenData, { ...options, nRestarts: 1, warmStart: null, maxIterations: cap });
          const from = Float64Array.from(screen.theta);
          screen.dispose();
          const provisional = await backend.fit(all, { ...options, nRestarts: 1, warmStart: from, maxIterations: 12 });
          fastest = Math.min(fastest, performance.now() - t0);
          logPosterior = provisional.logPosterior;
          provisional.dispose();
        }
        (short.get(cap) as number[]).push(best - logPosterior);
        (ms.get(cap) as number[]).push(fastest);
        (record.caps as unknown[]).push({ maxIterations: cap, ms: fastest, provisionalLogPosterior: logPosterior });
        cells.push(`${fastest.toFixed(1)} / ${(best - logPosterior).toFixed(2)}`);
      }
      process.stdout.write(`${JSON.stringify(record)}\n`);
      lines.push(`| ${file.replace(/\.json$/, '')} | ${n} | ${cells.join(' | ')} |`);
    }
  }
  const median = (a: number[]): number => {
    const s = [...a].sort((p, q) => p - q);
    return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  lines.push(`| median | | ${caps.map((c) => `${median(ms.get(c) as number[]).toFixed(1)} / ${median(short.get(c) as number[]).toFixed(2)}`).join(' | ')} |`);
  process.stderr.write(`\nscreen + provisional fit: wall ms (fastest of 3) / nats below the best converged fit, ${threads} threads\n${lines.join('\n')}\n`);
}
if (tracesDir !== '' && args.screenIterations !== undefined) {
  await screenIterations(tracesDir, args.screenIterations);
  process.exit(0);
}
if (tracesDir !== '') {
  await screenRestarts(tracesDir);
  process.exit(0);
}

// The history, in the parameters' own units; each n is encoded as GpSampler encodes its first fit.
const params: number[][] = [];
const values: number[] = [];
const study = await createStudy({ studyName: 'first-fit', direction: 'minimize', sampler: new GpSampler({ seed, backend: 'cpu' }), storage: new InMemoryStorage() });
for (let i = 0; i < Math.max(...sizes); i++) {
  const trial = await study.ask();
  const x = Array.from({ length: D }, (_, j) => trial.suggestFloat(`x${j}`, LOW, HIGH));
  const v = rosenbrock(x);
  await study.tell(trial, v);
  params.push(x);
  values.push(v);
}
const history: MinimizedHistory = { bounds: Array.from({ length: D }, () => [LOW, HIGH] as const), params, values };

const lines = ['| n | screen theta | ' + ITERATIONS.map((k) => (k === 200 ? 'converged' : `${k} it.`)).join(' | ') + ' |', `|---|---|${ITERATIONS.map(() => '---|').join('')}`];
for (const n of sizes) {
  const { all, screen: screenData } = firstFitData(history, n, 7);
  const options = { kernel: 'matern52' as const, deterministic: false, nRestarts: 1, seed: 1, warmStart: null, numThreads: threads };
  const screen = await backend.fit(screenData, { ...options, maxIterations: SCREEN_ITERATIONS });
  const built = await backend.build(all, screen.theta, { kernel: 'matern52', deterministic: false, numThreads: threads });
  const cells = [`${built.logPosterior.toFixed(1)}`];
  const record: Record<string, unknown> = { bench: 'first-fit', n, seed, screenLogPosterior: built.logPosterior, refined: [] as unknown[] };
  for (const k of ITERATIONS) {
    const t0 = performance.now();
    const m = await backend.fit(all, { ...options, nRestarts: 1, warmStart: Float64Array.from(screen.theta), maxIterations: k });
    const ms = performance.now() - t0;
    (record.refined as unknown[]).push({ maxIterations: k, logPosterior: m.logPosterior, ms });
    cells.push(`${m.logPosterior.toFixed(1)} (${ms.toFixed(1)} ms)`);
    m.dispose();
  }
  screen.dispose();
  built.dispose();
  process.stdout.write(`${JSON.stringify(record)}\n`);
  lines.push(`| ${n} | ${cells.join(' | ')} |`);
}
process.stderr.write(`\nlog posterior on all n observations (fit wall time), seed ${seed}, ${threads} threads\n${lines.join('\n')}\n`);
