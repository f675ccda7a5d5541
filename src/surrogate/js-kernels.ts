/**
 * Kernels and the marginal likelihood of the TypeScript GP backend.
 *
 * Notation (backend.ts): X (n, d) row-major, theta = [log l_1..d, log s2, log sn2],
 *   w_j = 1 / l_j^2,  r^2(x, x') = sum_j w_j * delta_j^2, where delta_j = x_j - x'_j for a
 *   continuous/ordinal dim and delta_j = [x_j != x'_j] (Hamming) for a categorical dim.
 *   k(x, x') = s2 * f(r^2);  K = [k(x_a, x_b)] (n, n);  A = K + sn2 * I = L L^T;  alpha = A^{-1} y.
 *
 * Kernels (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", eq. 4.9 and 4.17):
 *   RBF:        f = exp(-r^2 / 2),                         df/d(r^2) = -f / 2
 *   Matern-5/2: f = (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r), df/d(r^2) = -5/6 (1 + sqrt5 r) exp(-sqrt5 r)
 *   (the Matern derivative is finite at r = 0, so gradients need no special case). Beyond
 *   r^2 = MATERN_ZERO_R2 both are exactly 0 (exp(-sqrt5 r) underflows) and are returned as 0
 *   (-0 for the derivative), as native/include/kestrel/kernels.h does: the formula would give
 *   Infinity * 0 = NaN once r^2 overflows (a finite but extreme lengthscale).
 *
 * Negative log marginal likelihood (R&W eq. 2.30) and its gradient (R&W eq. 5.9):
 *   nll = 1/2 y^T alpha + sum_i log L_ii + n/2 log(2 pi)
 *   d nll / d theta_p = -1/2 tr((alpha alpha^T - A^{-1}) dA/dtheta_p), with
 *     dA/d log l_j = s2 f'(r^2) * (-2 w_j delta_j^2),  dA/d log s2 = K,  dA/d log sn2 = sn2 I.
 * The MAP objective adds -log prior(theta) (hyperparameters.ts).
 */
import { choleskyInverse, choleskyWithJitter, backSolveInPlace, forwardSolveInPlace } from './js-linalg.js';
import { addNegLogPrior } from './hyperparameters.js';
import type { GpTrainingData, KernelKind } from './backend.js';

const SQRT5 = Math.sqrt(5);
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Beyond this r^2 the Matern-5/2 shape and its derivative are 0 (native kMaternZeroR2). */
export const MATERN_ZERO_R2 = 1e6;

/** f(r^2) for the kernel kind. */
export function kernelShape(kind: KernelKind, r2: number): number {
  if (kind === 'rbf') return Math.exp(-0.5 * r2);
  if (r2 > MATERN_ZERO_R2) return 0;
  const r = Math.sqrt(r2);
  return (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

/** df/d(r^2) for the kernel kind. */
export function kernelShapeDerivative(kind: KernelKind, r2: number): number {
  if (kind === 'rbf') return -0.5 * Math.exp(-0.5 * r2);
  if (r2 > MATERN_ZERO_R2) return -0;
  const r = Math.sqrt(r2);
  return (-5 / 6) * (1 + SQRT5 * r) * Math.exp(-SQRT5 * r);
}

/** w_j = exp(-2 theta_j) for the d lengthscales. */
export function inverseSquaredLengthscales(theta: Float64Array, d: number): Float64Array {
  const w = new Float64Array(d);
  for (let j = 0; j < d; j++) w[j] = Math.exp(-2 * theta[j]);
  return w;
}

/** r^2 between row a of xa and row b of xb (both with d columns). */
export function scaledDistance2(
  xa: Float64Array,
  a: number,
  xb: Float64Array,
  b: number,
  d: number,
  w: Float64Array,
  isCategorical: Uint8Array,
): number {
  let r2 = 0;
  const oa = a * d;
  const ob = b * d;
  for (let j = 0; j < d; j++) {
    if (isCategorical[j] === 1) {
      if (xa[oa + j] !== xb[ob + j]) r2 += w[j];
    } else {
      const delta = xa[oa + j] - xb[ob + j];
      r2 += w[j] * delta * delta;
    }
  }
  return r2;
}

/**
 * Cross-covariance K(xa, xb) (na, nb) row-major, without noise.
 */
export function crossKernel(
  xa: Float64Array,
  na: number,
  xb: Float64Array,
  nb: number,
  d: number,
  theta: Float64Array,
  kind: KernelKind,
  isCategorical: Uint8Array,
): Float64Array {
  const w = inverseSquaredLengthscales(theta, d);
  const s2 = Math.exp(theta[d]);
  const out = new Float64Array(na * nb);
  for (let a = 0; a < na; a++) {
    for (let b = 0; b < nb; b++) {
      out[a * nb + b] = s2 * kernelShape(kind, scaledDistance2(xa, a, xb, b, d, w, isCategorical));
    }
  }
  return out;
}

/** A = K(X, X) + (sn2 + extraDiagonal) I, full symmetric (n, n) row-major. */
export function trainingCovariance(
  data: GpTrainingData,
  theta: Float64Array,
  kind: KernelKind,
  extraDiagonal = 0,
): Float64Array {
  const { x, n, d, isCategorical } = data;
  const w = inverseSquaredLengthscales(theta, d);
  const s2 = Math.exp(theta[d]);
  const sn2 = Math.exp(theta[d + 1]);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = s2 * kernelShape(kind, scaledDistance2(x, i, x, j, d, w, isCategorical));
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
    a[i * n + i] = s2 + sn2 + extraDiagonal;
  }
  return a;
}

export interface NegLogPosterior {
  readonly value: number;
  readonly grad: Float64Array;
}

/**
 * MAP objective -log p(y | X, theta) - log p(theta) and its gradient with respect to theta.
 * Returns null when A stays non-positive-definite after bounded jitter (a numerical failure the
 * caller handles, e.g. by backtracking or falling back to defaults).
 */
export function negLogPosteriorJs(
  data: GpTrainingData,
  theta: Float64Array,
  kind: KernelKind,
  deterministic: boolean,
): NegLogPosterior | null {
  const { x, y, n, d, isCategorical } = data;
  const w = inverseSquaredLengthscales(theta, d);
  const s2 = Math.exp(theta[d]);
  const sn2 = Math.exp(theta[d + 1]);
  // Kernel shape and its derivative for the strict lower triangle.
  const a = new Float64Array(n * n);
  const dshape = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const r2 = scaledDistance2(x, i, x, j, d, w, isCategorical);
      a[i * n + j] = s2 * kernelShape(kind, r2);
      dshape[i * n + j] = s2 * kernelShapeDerivative(kind, r2);
    }
    a[i * n + i] = s2 + sn2;
  }
  const chol = choleskyWithJitter(a, n);
  if (!chol.ok) return null;
  const l = chol.l;
  const alpha = Float64Array.from(y);
  forwardSolveInPlace(l, n, alpha);
  let value = 0;
  for (let i = 0; i < n; i++) value += 0.5 * alpha[i] * alpha[i] + Math.log(l[i * n + i]);
  value += n * HALF_LOG_2PI;
  backSolveInPlace(l, n, alpha);

  // W = alpha alpha^T - A^{-1}; grad_p = -1/2 sum_ab W_ab dA_ab/dtheta_p (symmetric: 2x strict lower).
  const inv = choleskyInverse(l, n);
  const grad = new Float64Array(d + 2);
  let gScale = 0;
  let gNoise = 0;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const ai = alpha[i];
    for (let j = 0; j < i; j++) {
      const wij = ai * alpha[j] - inv[ri + j];
      gScale += 2 * wij * a[ri + j];
      const coef = 2 * wij * dshape[ri + j];
      if (coef === 0) continue;
      const oi = i * d;
      const oj = j * d;
      for (let p = 0; p < d; p++) {
        let delta2: number;
        if (isCategorical[p] === 1) delta2 = x[oi + p] !== x[oj + p] ? 1 : 0;
        else {
          const delta = x[oi + p] - x[oj + p];
          delta2 = delta * delta;
        }
        grad[p] += coef * -2 * w[p] * delta2;
      }
    }
    const wii = ai * ai - inv[ri + i];
    gScale += wii * s2;
    gNoise += wii;
  }
  for (let p = 0; p < d; p++) grad[p] *= -0.5;
  grad[d] = -0.5 * gScale;
  grad[d + 1] = deterministic ? 0 : -0.5 * gNoise * sn2;
  value += addNegLogPrior(theta, d, deterministic, grad);
  if (!Number.isFinite(value)) return null;
  return { value, grad };
}

/**
 * Hessian of the MAP objective with respect to theta, (d + 2)^2 row-major (backend.ts
 * `SurrogateBackend.negLogPosteriorHessian`): central differences of negLogPosteriorJs's
 * gradient with step `step`, symmetrized; the noise row and column are zero when
 * `deterministic`. A string saying why when there is none: an evaluation failed (the kernel
 * matrix not positive definite, or the value not finite), or a gradient or an entry is not
 * finite (a finite value can have an overflowing gradient), as native/core/gp.cc does.
 */
export function negLogPosteriorHessianJs(
  data: GpTrainingData,
  theta: Float64Array,
  kind: KernelKind,
  deterministic: boolean,
  step: number,
): Float64Array | string {
  const q = data.d + 2;
  const p = deterministic ? q - 1 : q;
  const hessian = new Float64Array(q * q);
  for (let a = 0; a < p; a++) {
    const at = Float64Array.from(theta);
    at[a] = theta[a] + step;
    const plus = negLogPosteriorJs(data, at, kind, deterministic);
    at[a] = theta[a] - step;
    const minus = negLogPosteriorJs(data, at, kind, deterministic);
    if (plus === null || minus === null) {
      return 'the kernel matrix is not positive definite next to this theta, even with jitter, or the value is not finite';
    }
    if (!plus.grad.every(Number.isFinite) || !minus.grad.every(Number.isFinite)) {
      return 'the gradient of the negative log posterior is not finite next to this theta';
    }
    for (let b = 0; b < p; b++) hessian[a * q + b] = (plus.grad[b] - minus.grad[b]) / (2 * step);
  }
  for (let a = 0; a < p; a++) {
    for (let b = a + 1; b < p; b++) {
      const s = 0.5 * (hessian[a * q + b] + hessian[b * q + a]);
      hessian[a * q + b] = s;
      hessian[b * q + a] = s;
    }
  }
  if (!hessian.every(Number.isFinite)) return 'the central differences of the gradient are not finite next to this theta';
  return hessian;
}
