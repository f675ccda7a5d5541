/**
 * Surrogate benchmark: the native core against the peer figures and the TypeScript
 * fallback, on this machine. JSON lines on stdout (one per figure), then a table.
 *
 *   npx tsx bench/surrogate.ts [--quick] [--no-js]
 *
 * Figures (median and min over repeats, after one warm-up):
 *   cholesky      GFLOP/s (n^3/3 flops) at n = 1024, 2048, 4096, 1 thread and all
 *   nlp           one negative-log-posterior + gradient evaluation, d = 8, n = 1024, 2048
 *   posterior     mean + variance + logEI for 10^5 candidates, n = 1024, d = 8 (candidates/s)
 *   fit           MAP fit (2 restarts) at n = 50, 200, 500, d = 8
 *   suggest       fit + optimizeAcquisition (2048 candidates, 10 restarts), n = 50, 200, 500, d = 8
 * Peer figures (2-core AVX-512 machine, from issue 3) are printed beside ours.
 */
import os from 'node:os';
import { loadAddon } from '../src/binding/load.js';
import { createNativeBackend } from '../src/surrogate/native-backend.js';
import type { FitOptions, GpTrainingData, SurrogateBackend } from '../src/surrogate/backend.js';

const quick = process.argv.includes('--quick');
const withJs = !process.argv.includes('--no-js');
const { addon, error } = loadAddon();
if (addon === null) {
  process.stderr.write(`bench/surrogate: native addon unavailable: ${error?.message ?? 'unknown'}\n`);
  process.exit(1);
}
const allThreads = os.availableParallelism();
const info = addon.buildInfo();
const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: allThreads, isa: info.isa, compiler: info.compiler };

interface Row {
  figure: string;
  params: string;
  backend: string;
  median: number;
  min: number;
  unit: string;
  derived?: string;
  peer?: string;
}
const rows: Row[] = [];

function emit(row: Row): void {
  rows.push(row);
  process.stdout.write(`${JSON.stringify({ ...row, machine })}\n`);
}

async function time(repeats: number, fn: () => Promise<void>): Promise<{ median: number; min: number }> {
  await fn(); // warm-up
  const t: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await fn();
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0] };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standardized values of a smooth 8-D test function (Levy-like) at Sobol-free random points. */
function data(n: number, d: number, seed: number): GpTrainingData {
  const r = rng(seed);
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < d; j++) {
      const v = r();
      x[i * d + j] = v;
      f += Math.sin(5 * v + j) * (1 + 0.3 * j) + (v - 0.4) ** 2;
    }
    y[i] = -f;
  }
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  for (let i = 0; i < n; i++) y[i] = (y[i] - mean) / sd;
  return { x, y, n, d, isCategorical: new Uint8Array(d) };
}

function spd(n: number): Float64Array {
  // K of random 8-D points (Matern-like decay) + I: well conditioned and dense.
  const r = rng(n);
  const pts = Array.from({ length: n }, () => Array.from({ length: 8 }, () => r()));
  const a = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = j; i < n; i++) {
      let r2 = 0;
      for (let k = 0; k < 8; k++) r2 += (pts[i][k] - pts[j][k]) ** 2;
      const v = Math.exp(-Math.sqrt(r2)) + (i === j ? 1 : 0);
      a[i + j * n] = v;
      a[j + i * n] = v;
    }
  }
  return a;
}

async function main(): Promise<void> {
  process.stderr.write(`machine: ${JSON.stringify(machine)}\n`);
  // --- Cholesky ---
  const peerChol: Record<number, string> = { 2048: 'OpenBLAS dpotrf 21 GFLOP/s', 4096: 'OpenBLAS dpotrf 26 GFLOP/s' };
  for (const n of quick ? [1024, 2048] : [1024, 2048, 4096]) {
    const a = spd(n);
    for (const threads of [1, allThreads]) {
      const t = await time(n >= 4096 ? 3 : 5, async () => {
        const res = await addon!.cholesky(a, n, threads);
        if (res.factor === null) throw new Error('cholesky failed');
      });
      const gflops = n ** 3 / 3 / (t.median * 1e6);
      emit({ figure: 'cholesky', params: `n=${n} threads=${threads}`, backend: 'cpu', median: t.median, min: t.min, unit: 'ms', derived: `${gflops.toFixed(1)} GFLOP/s`, peer: threads === allThreads ? peerChol[n] : undefined });
    }
  }
  const native = createNativeBackend({ device: 'cpu', numThreads: allThreads });
  const fitOptions: FitOptions = { kernel: 'matern52', deterministic: false, nRestarts: 2, seed: 1, warmStart: null, numThreads: allThreads };
  // --- NLP + gradient ---
  const peerNlp: Record<number, string> = { 1024: 'sklearn 600 ms (target <= 75)', 2048: 'sklearn 2012 ms (target <= 251)' };
  for (const n of [1024, 2048]) {
    const dt = data(n, 8, 3);
    const theta = Float64Array.from([...Array(8).fill(Math.log(0.5)), 0, Math.log(1e-3)]);
    const t = await time(5, async () => {
      await native.negLogPosterior(dt, theta, 'matern52', false);
    });
    emit({ figure: 'nlp+grad', params: `n=${n} d=8`, backend: 'cpu', median: t.median, min: t.min, unit: 'ms', peer: peerNlp[n] });
  }
  // --- posterior + logEI throughput ---
  {
    const n = 1024;
    const m = quick ? 20_000 : 100_000;
    const gp = await native.fit(data(n, 8, 5), { ...fitOptions, nRestarts: 0 });
    const r = rng(9);
    const cand = Float64Array.from({ length: m * 8 }, () => r());
    const t = await time(3, async () => {
      await gp.acquisition(cand, m, { kind: 'logei', incumbent: 1.5, beta: 2 }, false);
    });
    emit({ figure: 'posterior+logEI', params: `n=${n} d=8 m=${m}`, backend: 'cpu', median: t.median, min: t.min, unit: 'ms', derived: `${(m / (t.median / 1000)).toExponential(2)} candidates/s`, peer: 'sklearn 8.5 s, NumPy 8.2 s for 1e5 (target <= 1.7 s)' });
    gp.dispose();
  }
  // --- fit and suggestion latency ---
  const peerSuggest: Record<number, string> = { 50: 'Optuna 56 ms (target 6)', 200: 'Optuna 229 ms (target 23)', 500: 'Optuna 1230 ms (target 123)' };
  const backends: SurrogateBackend[] = [native];
  if (withJs) {
    try {
      const mod = await import('../src/surrogate/js-backend.js');
      backends.push(mod.createJsBackend());
    } catch (err) {
      process.stderr.write(`TypeScript backend unavailable: ${String(err)}\n`);
    }
  }
  for (const n of [50, 200, 500]) {
    const dt = data(n, 8, 7 + n);
    for (const b of backends) {
      if (b.name === 'js' && n > 200 && quick) continue;
      const repeats = b.name === 'js' ? 3 : 7;
      const tf = await time(repeats, async () => {
        (await b.fit(dt, fitOptions)).dispose();
      });
      emit({ figure: 'fit', params: `n=${n} d=8 restarts=2`, backend: b.name, median: tf.median, min: tf.min, unit: 'ms' });
      const ts = await time(repeats, async () => {
        const gp = await b.fit(dt, fitOptions);
        await gp.optimizeAcquisition({ kind: 'logei', incumbent: 1, beta: 2, nCandidates: 2048, nRestarts: 10, seed: 3, grid: new Float64Array(8), numThreads: allThreads });
        gp.dispose();
      });
      emit({ figure: 'suggest', params: `n=${n} d=8 cand=2048 restarts=10`, backend: b.name, median: ts.median, min: ts.min, unit: 'ms', peer: peerSuggest[n] });
    }
  }
  // --- table ---
  const lines = ['| figure | params | backend | median | min | derived | peer |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.figure} | ${r.params} | ${r.backend} | ${r.median.toFixed(1)} ${r.unit} | ${r.min.toFixed(1)} ${r.unit} | ${r.derived ?? ''} | ${r.peer ?? ''} |`);
  }
  const byKey = new Map(rows.map((r) => [`${r.figure}|${r.params}|${r.backend}`, r]));
  for (const n of [50, 200, 500]) {
    const nat = byKey.get(`suggest|n=${n} d=8 cand=2048 restarts=10|cpu`);
    const js = byKey.get(`suggest|n=${n} d=8 cand=2048 restarts=10|js`);
    if (nat && js) lines.push(`| ratio js/native | suggest n=${n} | | ${(js.median / nat.median).toFixed(1)}x | | | |`);
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}

await main();
