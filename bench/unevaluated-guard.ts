/**
 * The discrete-space repeat guard's per-suggestion setup (src/samplers/gp/unevaluated.ts) on a
 * study holding many observations: keying every observation again on each suggestion (as every
 * suggestion did before the keys were kept) against the kept keys (`ObservedConfigurations`), to
 * which each suggestion adds the one trial finished since the last.
 *
 *   npx tsx bench/unevaluated-guard.ts [--sizes 1000,10000] [--repeats 21] [--warmup 3] [--seed 0]
 *   (figures in bench/gp-large.md; --help lists the flags)
 *
 * Protocol: `size` observations drawn uniformly from a 10-dim discrete space (four ints 1..32, two
 * floats of step 0.05 on [0, 1], a log int 1..1024, three 4-way categoricals), plus 4 pending and
 * 8 failed configurations; each timed suggestion builds the `UnevaluatedGuard` exactly as
 * GpSampler does (`from-scratch`: a new `ObservedConfigurations` each time; `kept`: one kept
 * across suggestions, which has keyed the first `size` before the first suggestion is timed; the
 * study grows by one observation per suggestion). Reported: median and min over `repeats` timed suggestions, and the
 * ratio of the medians. Output: JSON lines on stdout, a table on stderr.
 */
import os from 'node:os';
import { ObservedConfigurations, UnevaluatedGuard, type ObservedPoint } from '../src/samplers/gp/unevaluated.js';
import { categoricalDistribution, floatDistribution, intDistribution } from '../src/space/distributions.js';
import type { Distribution, ParamValue, SearchSpace } from '../src/space/types.js';
import { Rng } from '../src/util/prng.js';
import { int, intList, parseBenchArgs } from './lib/args.js';
import { medianAndMin } from './lib/stats.js';

const args = parseBenchArgs({
  script: 'bench/unevaluated-guard.ts',
  summary: "GpSampler's discrete repeat guard setup per suggestion: keying every observation vs the kept keys (bench/gp-large.md).",
  flags: {
    sizes: intList({ description: 'observations in the study', min: 1, default: [1000, 10000] }),
    repeats: int({ description: 'timed suggestions', min: 1, default: 21 }),
    warmup: int({ description: 'untimed suggestions first', min: 0, default: 3 }),
    seed: int({ description: 'observation seed', default: 0 }),
  },
});
const { sizes, repeats, warmup, seed } = args;

const dists: Record<string, Distribution> = {};
for (let i = 0; i < 4; i++) dists[`i${i}`] = intDistribution(`i${i}`, 1, 32);
for (let i = 0; i < 2; i++) dists[`s${i}`] = floatDistribution(`s${i}`, 0, 1, { step: 0.05 });
dists.l = intDistribution('l', 1, 1024, { log: true });
for (let i = 0; i < 3; i++) dists[`c${i}`] = categoricalDistribution(`c${i}`, ['a', 'b', 'c', 'd']);
const space: SearchSpace = dists;
const dims = Object.keys(space);
const d = dims.length;
// GpSampler's cap on enumerated configurations: MAX_CANDIDATE_COORDINATES / d (this space is far larger).
const maxConfigurations = Math.floor(65536 / d);
const candidates = { nSobol: 2048, seed: 1, isCategorical: Uint8Array.from(dims, (n) => (n.startsWith('c') ? 1 : 0)) };

function draw(rng: Rng): Record<string, ParamValue> {
  const p: Record<string, ParamValue> = {};
  for (let i = 0; i < 4; i++) p[`i${i}`] = rng.nextInt(1, 32);
  for (let i = 0; i < 2; i++) p[`s${i}`] = rng.nextInt(0, 20) * 0.05;
  p.l = rng.nextInt(1, 1024);
  for (let i = 0; i < 3; i++) p[`c${i}`] = 'abcd'[rng.nextInt(0, 3)];
  return p;
}

const rows: { size: number; mode: string; median: number; min: number }[] = [];
for (const size of sizes) {
  const rng = new Rng(seed);
  const total = size + warmup + repeats;
  const all: ObservedPoint[] = Array.from({ length: total }, (_, i) => ({ trialId: i, params: draw(rng) }));
  const others = Array.from({ length: 12 }, () => draw(rng));
  for (const mode of ['from-scratch', 'kept'] as const) {
    const kept = new ObservedConfigurations();
    // The kept keys of the suggestions before (the first suggestion on a study keys them all, as before).
    if (mode === 'kept') kept.update(space, dims, all.slice(0, size));
    const times: number[] = [];
    for (let r = 0; r < warmup + repeats; r++) {
      const observations = all.slice(0, size + r);
      const observed = mode === 'kept' ? kept : new ObservedConfigurations();
      const t0 = performance.now();
      new UnevaluatedGuard(space, dims, undefined, observed, observations, others, maxConfigurations, candidates);
      const ms = performance.now() - t0;
      if (r >= warmup) times.push(ms);
    }
    const { median, min } = medianAndMin(times);
    rows.push({ size, mode, median, min });
    console.log(JSON.stringify({ bench: 'unevaluated-guard', size, d, mode, repeats, medianMs: median, minMs: min, node: process.version, cpu: os.cpus()[0]?.model, load1: os.loadavg()[0] }));
  }
}
process.stderr.write('| n | mode | median ms | min ms | from-scratch / kept (medians) |\n|---|---|---|---|---|\n');
for (const row of rows) {
  const base = rows.find((r) => r.size === row.size && r.mode === 'from-scratch') as (typeof rows)[number];
  const ratio = row.mode === 'kept' ? (base.median / row.median).toFixed(0) : '';
  process.stderr.write(`| ${row.size} | ${row.mode} | ${row.median.toFixed(3)} | ${row.min.toFixed(3)} | ${ratio} |\n`);
}
