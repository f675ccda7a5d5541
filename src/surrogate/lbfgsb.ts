/**
 * A compact bound-constrained limited-memory BFGS (projected L-BFGS) minimizer.
 *
 * Notation: x (n) the variables, lower <= x <= upper (lower[i] === upper[i] pins x_i), f(x) the
 * objective with gradient g(x), P(.) the projection onto the box, (s_k, y_k) the last `memory`
 * curvature pairs s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k.
 *
 * Algorithm (a simplified L-BFGS-B; Byrd, Lu, Nocedal & Zhu 1995, "A limited memory algorithm for
 * bound constrained optimization", SIAM J. Sci. Comput. 16(5)):
 *   1. Active set: i is fixed this iteration when x_i sits on a bound and -g_i points outside it
 *      (the binding set of the projected gradient, Bertsekas 1982 "Projected Newton methods").
 *   2. Direction: d = -H g on the free variables, H the L-BFGS inverse Hessian from the two-loop
 *      recursion (Nocedal & Wright 2006, "Numerical Optimization", Alg. 7.4) with
 *      H0 = (s^T y / y^T y) I (eq. 7.20); d_i = 0 on fixed variables. If d is not a descent
 *      direction the memory is dropped and d = -g (free variables).
 *   3. Step: projected backtracking line search (N&W Alg. 3.1 with the Armijo condition taken
 *      along the projected path, Bertsekas 1999 §2.3): x(t) = P(x + t d), accept when
 *      f(x(t)) <= f(x) + c1 g^T (x(t) - x); t halves otherwise. A non-finite f counts as a failure
 *      to decrease (so the search also backtracks out of numerically bad regions).
 *   4. The pair (s, y) is stored only when s^T y > eps * y^T y (keeps H positive definite).
 *   Stop when ||P(x - g) - x||_inf <= pgtol, the relative decrease of f falls below ftol, or after
 *   maxIterations.
 * A gradient with a NaN or infinite component (at the start or at an accepted point) stops the
 * minimization at once ('non_finite_gradient'), as native/core/lbfgsb.cc does: no direction,
 * curvature pair or convergence test can be formed from it. Without this stop the NaN / infinite
 * direction sent the line search through its whole step budget evaluating f at NaN (or
 * bound-clamped) points. `LbfgsbResult.stop` says why a run stopped, with native's names.
 */

export interface ObjectiveWithGradient {
  /**
   * Returns f(x) and writes g(x) into `grad`; may return a non-finite value where f is undefined.
   * A NaN or infinite gradient component stops the minimization ('non_finite_gradient').
   */
  (x: Float64Array, grad: Float64Array): number;
}

export interface LbfgsbOptions {
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  readonly memory?: number;
  readonly maxIterations?: number;
  readonly pgtol?: number;
  readonly ftol?: number;
  readonly maxLineSearchSteps?: number;
}

/**
 * Why a minimization stopped; the names of native/core/lbfgsb.cc `lbfgsb_stop_name` (scipy's
 * L-BFGS-B reports the same through `task` / `message`). Native's 'max_evaluations' has no
 * counterpart here: this minimizer takes no evaluation budget.
 */
export type LbfgsbStop =
  /** Converged: the projected gradient's max-norm fell to pgtol (or no free variable can move). */
  | 'projected_gradient'
  /** Converged: the relative decrease of f fell below ftol. */
  | 'relative_decrease'
  /** `maxIterations` iterations done. */
  | 'max_iterations'
  /** The backtracking search found no sufficient decrease (nor a point to move to) in its step budget. */
  | 'line_search'
  /** f at the (projected) start was +inf, -inf or NaN; x is that start, f that value. */
  | 'non_finite_value'
  /**
   * A gradient had a NaN or infinite component: x, f are the accepted point where it was computed
   * (the start or the latest iterate), f finite; `grad` is that non-finite gradient.
   */
  | 'non_finite_gradient';

export interface LbfgsbResult {
  /** The best accepted point: finite whenever the start is finite and f at it is finite. */
  readonly x: Float64Array;
  readonly f: number;
  /** The gradient at x (may hold NaN / infinite components when `stop` is 'non_finite_gradient'). */
  readonly grad: Float64Array;
  readonly iterations: number;
  /** Objective evaluations (each computes f and the gradient). */
  readonly evaluations: number;
  /** `stop` is 'projected_gradient' or 'relative_decrease'. */
  readonly converged: boolean;
  readonly stop: LbfgsbStop;
}

const C1 = 1e-4;

export function minimizeLbfgsb(fn: ObjectiveWithGradient, x0: Float64Array, options: LbfgsbOptions): LbfgsbResult {
  const n = x0.length;
  const { lower, upper } = options;
  const memory = options.memory ?? 10;
  const maxIterations = options.maxIterations ?? 200;
  const pgtol = options.pgtol ?? 1e-6;
  const ftol = options.ftol ?? 1e-10;
  const maxLs = options.maxLineSearchSteps ?? 30;

  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = project(x0[i], lower[i], upper[i]);
  const g = new Float64Array(n);
  let f = fn(x, g);
  let evaluations = 1;
  if (!Number.isFinite(f)) return result(x, f, g, 0, evaluations, 'non_finite_value');
  if (!allFinite(g)) return result(x, f, g, 0, evaluations, 'non_finite_gradient');

  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  const d = new Float64Array(n);
  const free = new Uint8Array(n);
  const alphaBuf = new Float64Array(memory);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iterations = 0;
  let stop: LbfgsbStop = 'max_iterations';

  for (; iterations < maxIterations; iterations++) {
    // 1. Projected-gradient test and active set.
    let pgNorm = 0;
    for (let i = 0; i < n; i++) {
      const pg = project(x[i] - g[i], lower[i], upper[i]) - x[i];
      pgNorm = Math.max(pgNorm, Math.abs(pg));
      const atLower = x[i] <= lower[i] && g[i] > 0;
      const atUpper = x[i] >= upper[i] && g[i] < 0;
      free[i] = lower[i] === upper[i] || atLower || atUpper ? 0 : 1;
    }
    if (pgNorm <= pgtol) {
      stop = 'projected_gradient';
      break;
    }
    // 2. Two-loop recursion on the free variables.
    for (let i = 0; i < n; i++) d[i] = free[i] === 1 ? -g[i] : 0;
    const m = sHist.length;
    for (let k = m - 1; k >= 0; k--) {
      const a = rhoHist[k] * dotMasked(sHist[k], d, free);
      alphaBuf[k] = a;
      axpyMasked(-a, yHist[k], d, free);
    }
    if (m > 0) {
      const s = sHist[m - 1];
      const yv = yHist[m - 1];
      const gamma = dotMasked(s, yv, free) / Math.max(dotMasked(yv, yv, free), 1e-300);
      if (gamma > 0 && Number.isFinite(gamma)) for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let k = 0; k < m; k++) {
      const b = rhoHist[k] * dotMasked(yHist[k], d, free);
      axpyMasked(alphaBuf[k] - b, sHist[k], d, free);
    }
    let gd = 0;
    for (let i = 0; i < n; i++) gd += g[i] * d[i];
    if (!(gd < 0)) {
      sHist.length = 0;
      yHist.length = 0;
      rhoHist.length = 0;
      gd = 0;
      for (let i = 0; i < n; i++) {
        d[i] = free[i] === 1 ? -g[i] : 0;
        gd -= d[i] * d[i];
      }
      if (gd === 0) {
        stop = 'projected_gradient';
        break;
      }
    }
    // 3. Projected backtracking line search. First step scaled so that ||t d||_inf <= 1.
    let t = 1;
    if (sHist.length === 0) {
      let dmax = 0;
      for (let i = 0; i < n; i++) dmax = Math.max(dmax, Math.abs(d[i]));
      if (dmax > 1) t = 1 / dmax;
    }
    let fNew = Number.NaN;
    let accepted = false;
    for (let ls = 0; ls < maxLs; ls++) {
      let decrease = 0;
      let moved = false;
      for (let i = 0; i < n; i++) {
        xNew[i] = project(x[i] + t * d[i], lower[i], upper[i]);
        decrease += g[i] * (xNew[i] - x[i]);
        if (xNew[i] !== x[i]) moved = true;
      }
      if (!moved) break;
      fNew = fn(xNew, gNew);
      evaluations++;
      if (Number.isFinite(fNew) && fNew <= f + C1 * decrease) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      if (sHist.length > 0) {
        // Retry once from steepest descent with a fresh memory before giving up.
        sHist.length = 0;
        yHist.length = 0;
        rhoHist.length = 0;
        continue;
      }
      stop = 'line_search';
      break;
    }
    if (!allFinite(gNew)) {
      // The point passed the Armijo test with a finite value, so it stands as the result; no
      // curvature pair or direction can be formed from its gradient.
      x.set(xNew);
      g.set(gNew);
      f = fNew;
      iterations++;
      stop = 'non_finite_gradient';
      break;
    }
    // 4. Curvature pair.
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      yv[i] = gNew[i] - g[i];
      sy += s[i] * yv[i];
      yy += yv[i] * yv[i];
    }
    if (sy > 2.2e-16 * yy && sy > 0) {
      if (sHist.length === memory) {
        sHist.shift();
        yHist.shift();
        rhoHist.shift();
      }
      sHist.push(s);
      yHist.push(yv);
      rhoHist.push(1 / sy);
    }
    const fOld = f;
    x.set(xNew);
    g.set(gNew);
    f = fNew;
    if ((fOld - f) / Math.max(Math.abs(fOld), Math.abs(f), 1) <= ftol) {
      stop = 'relative_decrease';
      iterations++;
      break;
    }
  }
  return result(x, f, g, iterations, evaluations, stop);
}

function result(x: Float64Array, f: number, grad: Float64Array, iterations: number, evaluations: number, stop: LbfgsbStop): LbfgsbResult {
  return { x, f, grad, iterations, evaluations, converged: stop === 'projected_gradient' || stop === 'relative_decrease', stop };
}

function allFinite(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

function project(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function dotMasked(a: Float64Array, b: Float64Array, mask: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) if (mask[i] === 1) s += a[i] * b[i];
  return s;
}

function axpyMasked(alpha: number, x: Float64Array, y: Float64Array, mask: Uint8Array): void {
  for (let i = 0; i < x.length; i++) if (mask[i] === 1) y[i] += alpha * x[i];
}
