/**
 * log EHVI (AcquisitionOptions kind 'logehvi' with `boxes`; native/include/kestrel/acquisition.h
 * log_ehvi, src/surrogate/acquisition.ts): the log expected hypervolume improvement of several
 * models, one per objective. On both backends: the value is the log of a Monte Carlo estimate of
 * E[HVI(y)] under the models' posteriors (an independent check of the closed form), one box side
 * and its slopes match a continued-fraction reference out to z = -1e12, the gradient matches
 * central differences, additive terms still add, the maximizer reports the value at its
 * point; native and TypeScript agree on the same models; bad boxes and stray terms are typed
 * errors. Native cases are skipped when the addon is not built.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { loadAddon } from '../../src/binding/load.js';
import { hypervolumeImprovement, nonDominatedBoxes } from '../../src/samplers/gp/hypervolume-boxes.js';
import { logExpectedHypervolumeImprovement, logHypervolumeSide } from '../../src/surrogate/acquisition.js';
import type { AcquisitionOptions, FittedGp, GpTrainingData, SurrogateBackend } from '../../src/surrogate/backend.js';
import { createJsBackend } from '../../src/surrogate/js-backend.js';
import { createNativeBackend } from '../../src/surrogate/native-backend.js';
import { randomData, uniformStream, withTarget } from './helpers.js';

const available = loadAddon().addon !== null;

const FIT = { kernel: 'matern52', deterministic: false, nRestarts: 1, seed: 3, warmStart: null, numThreads: 2 } as const;

/** A two-objective problem over 3 inputs (one categorical): the models' targets and the boxes of their observed front. */
function problem(seed: number): { a: GpTrainingData; b: GpTrainingData; boxes: Float64Array } {
  const base = randomData(seed, 30, 3, [2]);
  const a = withTarget(base, (x) => -((x[0] - 0.3) ** 2) - 0.2 * x[1] + 0.1 * x[2]);
  const b = withTarget(base, (x) => -((x[0] - 0.8) ** 2) - 0.3 * (x[1] - 0.6) ** 2);
  const front = new Float64Array(2 * a.n);
  let lo0 = Infinity;
  let lo1 = Infinity;
  for (let i = 0; i < a.n; i++) {
    front[2 * i] = a.y[i];
    front[2 * i + 1] = b.y[i];
    lo0 = Math.min(lo0, a.y[i]);
    lo1 = Math.min(lo1, b.y[i]);
  }
  const boxes = nonDominatedBoxes(front, a.n, 2, Float64Array.from([lo0 - 0.1, lo1 - 0.1]), Infinity) as Float64Array;
  return { a, b, boxes };
}

function points(seed: number, m: number): Float64Array {
  const rnd = uniformStream(seed);
  const x = new Float64Array(m * 3);
  for (let c = 0; c < m; c++) {
    x[c * 3] = rnd();
    x[c * 3 + 1] = rnd();
    x[c * 3 + 2] = Math.floor(rnd() * 3);
  }
  return x;
}

/** Standard normal draws (Box-Muller). */
function normals(seed: number, count: number): Float64Array {
  const rnd = uniformStream(seed);
  const z = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rnd()));
    const t = 2 * Math.PI * rnd();
    z[i] = r * Math.cos(t);
    if (i + 1 < count) z[i + 1] = r * Math.sin(t);
  }
  return z;
}

const backends: [string, () => SurrogateBackend, boolean][] = [
  ['js', () => createJsBackend(), true],
  ['cpu', () => createNativeBackend({ device: 'cpu' }), available],
];

/**
 * The Mills ratio R(x) = (1 - Phi(x)) / phi(x) and q(x) = h(-x) / phi(x) = 1 - x R(x) for x >= 30,
 * from Laplace's continued fraction (Abramowitz & Stegun 26.2.14) R = 1/(x + 1/(x + 2/(x + ...))),
 * 400 terms: with t = 1/(x + 2/(x + 3/(...))), R = 1/(x + t) and q = t/(x + t), so q keeps its
 * relative accuracy (1 - x R would cancel ~x^2). Independent of acquisition.ts's erfcx and series.
 */
function millsCf(x: number): [r: number, q: number] {
  let frac = x;
  for (let k = 400; k >= 2; k--) frac = x + k / frac;
  const t = 1 / frac;
  return [1 / (x + t), t / (x + t)];
}

/**
 * [log psi, d/dmean, d/dsd] of one box side for zl <= -30 (zu < zl, or -Infinity for an unbounded
 * side) with phi(zl) factored out: x = -z, E = phi(zu)/phi(zl) = exp(-(xu - xl)(xu + xl)/2),
 * psi / (sd phi(zl)) = q_l - E q_u, (Phi(zl) - Phi(zu)) / phi(zl) = R_l - E R_u,
 * (phi(zl) - phi(zu)) / phi(zl) = 1 - E. Good to ~1e-13 relative where E < 1 - 1e-3.
 */
function sideReference(zl: number, zu: number, sd: number): [number, number, number] {
  const xl = -zl;
  const [rl, ql] = millsCf(xl);
  let [ru, qu, e] = [0, 0, 0];
  if (zu > -Infinity) {
    const xu = -zu;
    [ru, qu] = millsCf(xu);
    e = Math.exp(-0.5 * (xu - xl) * (xu + xl));
  }
  const g = ql - e * qu;
  return [Math.log(sd) - 0.5 * xl * xl - 0.5 * Math.log(2 * Math.PI) + Math.log(g), (rl - e * ru) / g / sd, (1 - e) / g / sd];
}

describe('log EHVI math', () => {
  it('one unbounded side is logEI over its lower bound; a bounded side is its difference', () => {
    const out = new Float64Array(3);
    logHypervolumeSide(0.3, 0.5, 0.8, Infinity, out);
    // EI = sd h(z): z = -1, h(-1) = phi(1) - Phi(-1).
    const ei = 0.5 * (Math.exp(-0.5) / Math.sqrt(2 * Math.PI) - 0.15865525393145707);
    expect(Math.exp(out[0])).toBeCloseTo(ei, 12);
    const inner = new Float64Array(3);
    logHypervolumeSide(0.3, 0.5, 0.8, 1.1, inner);
    const beyond = new Float64Array(3);
    logHypervolumeSide(0.3, 0.5, 1.1, Infinity, beyond);
    expect(Math.exp(inner[0])).toBeCloseTo(ei - Math.exp(beyond[0]), 12);
  });

  it('equals a Monte Carlo estimate of the expected improvement, with slopes matching differences', () => {
    const { boxes } = problem(4);
    const mean = Float64Array.from([0.6, 0.4]);
    const sd = Float64Array.from([0.5, 0.7]);
    const dMean = new Float64Array(2);
    const dSd = new Float64Array(2);
    const value = logExpectedHypervolumeImprovement(boxes, mean, sd, dMean, dSd);
    const z = normals(7, 400_000);
    let sum = 0;
    for (let s = 0; s < z.length; s += 2) sum += hypervolumeImprovement(boxes, 2, [mean[0] + sd[0] * z[s], mean[1] + sd[1] * z[s + 1]]);
    const mc = sum / (z.length / 2);
    expect(Math.abs(Math.exp(value) - mc) / mc).toBeLessThan(0.02);
    const h = 1e-6;
    const ignore = new Float64Array(2);
    for (let j = 0; j < 2; j++) {
      const up = Float64Array.from(mean);
      const down = Float64Array.from(mean);
      up[j] += h;
      down[j] -= h;
      const fd = (logExpectedHypervolumeImprovement(boxes, up, sd, ignore, ignore) - logExpectedHypervolumeImprovement(boxes, down, sd, ignore, ignore)) / (2 * h);
      expect(Math.abs(fd - dMean[j])).toBeLessThan(1e-5 * (1 + Math.abs(dMean[j])));
      const sUp = Float64Array.from(sd);
      const sDown = Float64Array.from(sd);
      sUp[j] += h;
      sDown[j] -= h;
      const fdSd = (logExpectedHypervolumeImprovement(boxes, mean, sUp, ignore, ignore) - logExpectedHypervolumeImprovement(boxes, mean, sDown, ignore, ignore)) / (2 * h);
      expect(Math.abs(fdSd - dSd[j])).toBeLessThan(1e-5 * (1 + Math.abs(dSd[j])));
    }
  });

  it('one side and its slopes from z = -30 out to -1e12 match a continued-fraction reference (1e-10)', () => {
    // Unbounded and bounded sides (thin boxes of width 1e-3/|zl|, widths 1/|zl| and 30/|zl|, 1 and
    // 1e3, and zu = 1.5 zl), mean 0 and sd a power of 2 so that zl and zu are exact. The slopes were
    // exps of differences of two logs of size z^2/2 (an ulp of z^2/2 is 1 at |z| = 1e8): wrong by
    // orders of magnitude from |z| ~ 1e8 on, and the value lost a thin box's digits to
    // logH(zu) - logH(zl). Above z = -100 (kept bit for bit) only widths of 1/|zl| and more: there
    // thin boxes lose eps z^2 / (width |zl|) to that difference.
    const out = new Float64Array(3);
    let cases = 0;
    for (const zl of [-30, -45, -60, -99.5, -100, -150, -1e3, -1e4, -1e5, -1e6, -1e7, -1e8, -1e9, -1e10, -1e11, -1e12]) {
      const x = -zl;
      for (const sd of [1, 0.25]) {
        const uppers = [Infinity];
        for (const width of [1e-3 / x, 1 / x, 30 / x, 1, 1e3, 0.5 * x]) {
          if (width < 1 / x && x < 100) continue;
          const zu = zl - width;
          if (zu < zl) uppers.push(-zu * sd);
        }
        for (const upper of uppers) {
          logHypervolumeSide(0, sd, -zl * sd, upper, out);
          const ref = sideReference(zl, upper < Infinity ? -upper / sd : -Infinity, sd);
          cases++;
          for (let i = 0; i < 3; i++) {
            expect(Math.abs((out[i] - ref[i]) / ref[i]), `out[${i}] at zl = ${zl}, sd = ${sd}, upper = ${upper}`).toBeLessThan(1e-10);
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(150);
  });

  it('stays finite far below the front (where the improvement underflows) and points upward', () => {
    const { boxes } = problem(4);
    const dMean = new Float64Array(2);
    const dSd = new Float64Array(2);
    const value = logExpectedHypervolumeImprovement(boxes, Float64Array.from([-40, -30]), Float64Array.from([0.5, 0.5]), dMean, dSd);
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeLessThan(-1000);
    expect(dMean[0]).toBeGreaterThan(0);
    expect(dMean[1]).toBeGreaterThan(0);
  });
});

describe.each(backends)('log EHVI on the %s backend', (_name, make, enabled) => {
  it.skipIf(!enabled)('is log_ehvi of the two posteriors, with a gradient matching differences; terms still add', async () => {
    const backend = make();
    const { a, b, boxes } = problem(11);
    const first = await backend.fit(a, FIT);
    const second = await backend.fit(b, FIT);
    const constraint = await backend.fit(withTarget(a, (x) => 0.7 - x[0] - x[1]), FIT);
    const m = 12;
    const x = points(3, m);
    const options: AcquisitionOptions = { kind: 'logehvi', incumbent: 0, beta: 0, boxes, terms: [{ model: second, kind: 'logehvi', incumbent: 0, beta: 0 }] };
    const withGrad = await first.acquisition(x, m, options, true);
    const plain = await first.acquisition(x, m, options, false);
    const p1 = await first.predict(x, m);
    const p2 = await second.predict(x, m);
    const ignore = new Float64Array(2);
    for (let c = 0; c < m; c++) {
      const expected = logExpectedHypervolumeImprovement(
        boxes,
        Float64Array.from([p1.mean[c], p2.mean[c]]),
        Float64Array.from([Math.sqrt(p1.variance[c]), Math.sqrt(p2.variance[c])]),
        ignore,
        Float64Array.from(ignore),
      );
      expect(Math.abs(withGrad.value[c] - expected)).toBeLessThan(1e-9 * (1 + Math.abs(expected)));
      expect(Math.abs(plain.value[c] - withGrad.value[c])).toBeLessThan(1e-10 * (1 + Math.abs(expected)));
      const grad = withGrad.grad as Float64Array;
      expect(grad[c * 3 + 2]).toBe(0); // categorical
      for (let j = 0; j < 2; j++) {
        const h = 1e-6;
        const up = Float64Array.from(x.subarray(c * 3, c * 3 + 3));
        const down = Float64Array.from(up);
        up[j] += h;
        down[j] -= h;
        const fd = ((await first.acquisition(up, 1, options, false)).value[0] - (await first.acquisition(down, 1, options, false)).value[0]) / (2 * h);
        expect(Math.abs(fd - grad[c * 3 + j])).toBeLessThan(1e-4 * (1 + Math.abs(fd)));
      }
    }
    const pi = { model: constraint, kind: 'pi', incumbent: 0.2, beta: 0 } as const;
    const constrained = await first.acquisition(x, m, { ...options, terms: [...(options.terms ?? []), pi] }, true);
    const piAlone = await constraint.acquisition(x, m, { kind: 'pi', incumbent: 0.2, beta: 0 }, true);
    for (let c = 0; c < m; c++) expect(constrained.value[c]).toBeCloseTo(withGrad.value[c] + piAlone.value[c], 9);
    const optimum = await first.optimizeAcquisition({ ...options, nCandidates: 128, nRestarts: 3, seed: 1, grid: Float64Array.from([0, 0, 3]), numThreads: 2 });
    const at = await first.acquisition(optimum.x, 1, options, false);
    expect(Math.abs(at.value[0] - optimum.value)).toBeLessThan(1e-9 * (1 + Math.abs(optimum.value)));
    expect([0, 1, 2]).toContain(optimum.x[2]);
    for (const model of [first, second, constraint]) model.dispose();
  });

  it.skipIf(!enabled)('refuses missing or malformed boxes and a logehvi term under another kind', async () => {
    const backend = make();
    const { a, b, boxes } = problem(12);
    const first = await backend.fit(a, FIT);
    const second = await backend.fit(b, FIT);
    const x = points(1, 1);
    const term = { model: second, kind: 'logehvi', incumbent: 0, beta: 0 } as const;
    const fails = async (options: AcquisitionOptions): Promise<InvalidOptionError> =>
      (await first.acquisition(x, 1, options, false).catch((e: unknown) => e)) as InvalidOptionError;
    const missing = await fails({ kind: 'logehvi', incumbent: 0, beta: 0, terms: [term] });
    expect(missing).toBeInstanceOf(InvalidOptionError);
    expect(missing.option).toBe('boxes');
    const width = await fails({ kind: 'logehvi', incumbent: 0, beta: 0, terms: [term], boxes: boxes.subarray(0, boxes.length - 1) });
    expect(width.option).toBe('boxes');
    const oneObjective = await fails({ kind: 'logehvi', incumbent: 0, beta: 0, boxes }); // rows of 4 read as 2 objectives' boxes
    expect(oneObjective).toBeInstanceOf(InvalidOptionError);
    const inverted = Float64Array.from(boxes);
    inverted[4] = inverted[6] + 1; // box 1: lower 0 above its upper 0
    const bad = await fails({ kind: 'logehvi', incumbent: 0, beta: 0, terms: [term], boxes: inverted });
    expect(bad.option).toBe('boxes[6]');
    const stray = await fails({ kind: 'logei', incumbent: 0, beta: 0, terms: [term] });
    expect(stray.option).toBe('terms[0].kind');
    first.dispose();
    second.dispose();
  });
});

describe.skipIf(!available)('log EHVI: native against TypeScript', () => {

  it('give the same values and maximize to the same value', async () => {
    const native = createNativeBackend({ device: 'cpu' });
    const js = createJsBackend();
    /** The TypeScript model at a native model's theta (same data). */
    const jsModelAt = (model: FittedGp, data: GpTrainingData): Promise<FittedGp> =>
      js.build(data, Float64Array.from(model.theta), { kernel: 'matern52', deterministic: false, numThreads: 1 });
    for (let seed = 0; seed < 4; seed++) {
      const { a, b, boxes } = problem(30 + seed);
      const n1 = await native.fit(a, FIT);
      const n2 = await native.fit(b, FIT);
      const j1 = await jsModelAt(n1, a);
      const j2 = await jsModelAt(n2, b);
      const base = { kind: 'logehvi', incumbent: 0, beta: 0, boxes } as const;
      const x = points(seed, 20);
      const nv = await n1.acquisition(x, 20, { ...base, terms: [{ model: n2, kind: 'logehvi', incumbent: 0, beta: 0 }] }, true);
      const jv = await j1.acquisition(x, 20, { ...base, terms: [{ model: j2, kind: 'logehvi', incumbent: 0, beta: 0 }] }, true);
      for (let c = 0; c < 20; c++) expect(Math.abs(nv.value[c] - jv.value[c])).toBeLessThan(1e-7 * (1 + Math.abs(jv.value[c])));
      const search = { nCandidates: 256, nRestarts: 4, seed, grid: Float64Array.from([0, 0, 3]), numThreads: 2 };
      const na = await n1.optimizeAcquisition({ ...base, ...search, terms: [{ model: n2, kind: 'logehvi', incumbent: 0, beta: 0 }] });
      const ja = await j1.optimizeAcquisition({ ...base, ...search, terms: [{ model: j2, kind: 'logehvi', incumbent: 0, beta: 0 }] });
      expect(Math.abs(na.value - ja.value)).toBeLessThan(1e-5 * (1 + Math.abs(ja.value)));
      for (const model of [n1, n2, j1, j2]) model.dispose();
    }
  });
});
