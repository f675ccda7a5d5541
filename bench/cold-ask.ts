/**
 * Where a new GpSampler's first ask without a recorded fit spends its time (issue 3's cold
 * suggestion; bench/ask-latency.ts times it whole).
 *
 *   npx tsx bench/cold-ask.ts [--sizes 200] [--repeats 31] [--threads N] [--seed 0]   (--help lists the flags)
 *
 * History: the ask-latency protocol's run (Rosenbrock-8 on [-5, 10]^8, minimized,
 * `new GpSampler({ seed })` defaults, refit policy) up to max(sizes) trials. For each n, `repeats`
 * new samplers (seeds 0, 1, 2 in turn) each get a study holding the first n trials (imported with
 * `addTrials`, so no `gp_fit` record) and ask once. The backend is the native CPU one, wrapped to
 * time each call the ask makes: the screen's fit on coldFitScreenSize rows, the provisional fit on
 * all n, and the acquisition maximization (native, plus its candidate generation in TypeScript);
 * `rest` is the ask's remainder (JavaScript: observations, outcome transform, subset, encoding,
 * the incumbent's predict). Per phase: the median wall time and, for fits, the MAP evaluations
 * (native FitReport). Per ask: the process CPU time (all threads) and the minor page faults
 * (~10 us each on the 2-vCPU cloud machines bench/surrogate.md reports). `--threads` sets the
 * sampler's numThreads (default: the backend's, all cores). JSON lines on stdout, a table on stderr.
 */
import os from 'node:os';
import { GpSampler } from '../src/samplers/gp/gp-sampler.js';
import { floatDistribution } from '../src/space/distributions.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import type { FittedGp, SurrogateBackend } from '../src/surrogate/backend.js';
import { getSurrogateBackend } from '../src/surrogate/select-backend.js';
import { int, intList, parseBenchArgs } from './lib/args.js';

const args = parseBenchArgs({
  script: 'bench/cold-ask.ts',
  summary: "Where a new GpSampler's first ask without a recorded fit spends its time: screen fit, provisional fit, acquisition, the rest (bench/surrogate.md).",
  flags: {
    sizes: intList({ description: 'study sizes n', min: 1, default: [200] }),
    repeats: int({ description: 'new samplers (asks) per size', min: 1, default: 31 }),
    threads: int({ description: "the sampler's numThreads", min: 1, defaultText: "the backend's, all cores" }),
    seed: int({ description: "the history run's seed", default: 0 }),
  },
});
const { sizes, repeats, seed } = args;
const numThreads = args.threads ?? null;

const D = 8;
const LOW = -5;
const HIGH = 10;
const rosenbrock = (x: readonly number[]): number => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
  return s;
};
const distributions = Object.fromEntries(Array.from({ length: D }, (_, j) => [`x${j}`, floatDistribution(`x${j}`, LOW, HIGH)]));
const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// The history: the ask-latency protocol's run with the default refit policy.
const history: { params: Record<string, number>; value: number }[] = [];
{
  const study = await createStudy({ studyName: 'cold-ask-history', direction: 'minimize', sampler: new GpSampler({ seed, backend: 'cpu' }), storage: new InMemoryStorage() });
  for (let i = 0; i < Math.max(...sizes); i++) {
    const trial = await study.ask();
    const x = Array.from({ length: D }, (_, j) => trial.suggestFloat(`x${j}`, LOW, HIGH));
    const value = rosenbrock(x);
    await study.tell(trial, value);
    history.push({ params: { ...trial.params } as Record<string, number>, value });
  }
}

interface Call {
  readonly phase: string;
  readonly ms: number;
  readonly evaluations: number | null;
}
const inner = await getSurrogateBackend({ backend: 'cpu' });
let calls: Call[] = [];
/** Times the model's acquisition maximization (its candidate generation included). */
const timed = (model: FittedGp): FittedGp => {
  const optimize = model.optimizeAcquisition.bind(model);
  Object.assign(model, {
    optimizeAcquisition: async (options: Parameters<FittedGp['optimizeAcquisition']>[0]) => {
      const t0 = performance.now();
      const out = await optimize(options);
      calls.push({ phase: `acquisition (n = ${model.n})`, ms: performance.now() - t0, evaluations: null });
      return out;
    },
  });
  return model;
};
const backend: SurrogateBackend = {
  name: inner.name,
  async fit(data, options) {
    const t0 = performance.now();
    const model = await inner.fit(data, options);
    const ms = performance.now() - t0;
    // The native FitReport's evaluation count (not part of FittedGp's interface).
    const summary = (model as unknown as { model?: { summary(): { evaluations: number } } }).model?.summary();
    const kind = options.warmStart === null ? 'screen fit' : 'fit';
    calls.push({ phase: `${kind} (n = ${data.n}, ${options.maxIterations ?? 200} it.)`, ms, evaluations: summary?.evaluations ?? null });
    return timed(model);
  },
  async build(data, theta, options) {
    const t0 = performance.now();
    const model = await inner.build(data, theta, options);
    calls.push({ phase: `build (n = ${data.n})`, ms: performance.now() - t0, evaluations: null });
    return timed(model);
  },
  negLogPosterior: inner.negLogPosterior.bind(inner),
};

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), load: Number(os.loadavg()[0].toFixed(2)), node: process.version };
process.stdout.write(`${JSON.stringify({ kind: 'machine', ...machine, date: new Date().toISOString() })}\n`);
const lines = ['| n | phase | median ms | MAP evaluations |', '|---|---|---|---|'];
for (const n of sizes) {
  const asks: { totalMs: number; cpuMs: number; pageFaults: number; calls: Call[] }[] = [];
  for (let r = 0; r < repeats; r++) {
    const sampler = new GpSampler({ seed: seed + (r % 3), backend, ...(numThreads === null ? {} : { numThreads }) });
    const study = await createStudy({ studyName: `cold-ask-${n}-${r}`, direction: 'minimize', sampler, storage: new InMemoryStorage() });
    await study.addTrials(history.slice(0, n).map((h) => ({ params: h.params, distributions, value: h.value })));
    calls = [];
    const faults0 = process.resourceUsage().minorPageFault;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const trial = await study.ask();
    for (let j = 0; j < D; j++) trial.suggestFloat(`x${j}`, LOW, HIGH);
    const totalMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    asks.push({ totalMs, cpuMs: (cpu.user + cpu.system) / 1000, pageFaults: process.resourceUsage().minorPageFault - faults0, calls });
  }
  // Phases in the order of the first ask (every ask of a size makes the same calls).
  const phases = asks[0].calls.map((c, i) => ({
    phase: c.phase,
    ms: median(asks.map((a) => a.calls[i]?.ms ?? Number.NaN)),
    evaluations: c.evaluations === null ? null : median(asks.map((a) => a.calls[i]?.evaluations ?? Number.NaN)),
  }));
  const totalMs = median(asks.map((a) => a.totalMs));
  const rest = totalMs - phases.reduce((s, p) => s + p.ms, 0);
  const row = {
    kind: 'cold-ask',
    backend: inner.name,
    n,
    repeats,
    threads: numThreads ?? 'default',
    totalMs,
    cpuMs: median(asks.map((a) => a.cpuMs)),
    pageFaults: median(asks.map((a) => a.pageFaults)),
    phases,
    restMs: rest,
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
  for (const p of phases) lines.push(`| ${n} | ${p.phase} | ${p.ms.toFixed(2)} | ${p.evaluations ?? '-'} |`);
  lines.push(`| ${n} | rest (JavaScript) | ${rest.toFixed(2)} | - |`);
  lines.push(`| ${n} | **first ask** (process CPU ${row.cpuMs.toFixed(1)} ms, ${row.pageFaults} page faults) | ${totalMs.toFixed(2)} | - |`);
}
process.stderr.write(`\nmachine: ${JSON.stringify(machine)}\n${lines.join('\n')}\n`);
