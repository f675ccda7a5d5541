/**
 * One draw of the GP hyperparameters per suggestion from the Laplace approximation of their
 * posterior (GpSamplerOptions.hyperparameterDraw 'laplace'): the suggestion maximizes the
 * acquisition of the model at the drawn theta instead of at the MAP point, a one-sample
 * (Thompson-style) account of the hyperparameters' uncertainty (MacKay 1992, "A practical Bayesian
 * framework for backpropagation networks"; Rasmussen & Williams 2006, sec. 5.2 and 5.4; Snoek,
 * Larochelle & Adams 2012 for hyperparameter uncertainty in the acquisition).
 *
 * Notation (src/surrogate/backend.ts): theta = [log l_1 .. log l_d, log s2, log sn2] (length
 * d + 2); U(theta) = -log p(theta | D), the backend's negLogPosterior; H its Hessian at the MAP
 * point theta* (`SurrogateBackend.negLogPosteriorHessian`); A = the first d + 1 coordinates (the
 * lengthscales and the output scale), whose block of H is H_AA = V diag(lambda) V^T.
 *
 * The draw: theta_A = theta*_A + V diag(max(lambda, LAPLACE_EIGENVALUE_FLOOR))^(-1/2) sqrt(t) z,
 * z ~ N(0, I), t = LAPLACE_TEMPERATURE; the noise held at its MAP value (the conditional of the
 * Laplace approximation given the noise); then clamped into the bounds (hyperparameters.ts). The
 * floor at 1 caps every direction's standard deviation at sqrt(t) (a factor e^0.71 at t = 0.5):
 * the MAP point is often on a flat ridge or a bound (lambda ~ 0 or < 0), where N(theta*, H^-1) is
 * not a distribution. t = 0.5 and the floor are the measured choice (bench/quality.md, section
 * "Laplace hyperparameter draw: an option, out-of-sample check").
 *
 * The draw is seeded by the caller (GpSampler: from its seed and the trial number), so a run is
 * reproducible; the Hessian does not depend on the thread count.
 */
import { NumericalError } from '../../errors.js';
import type { GpTrainingData, KernelKind, SurrogateBackend } from '../../surrogate/backend.js';
import { thetaBounds } from '../../surrogate/hyperparameters.js';
import { Rng } from '../../util/prng.js';

/** Scale t of the Laplace covariance t H^-1 (1: the approximation itself). */
export const LAPLACE_TEMPERATURE = 0.5;
/** Eigenvalues of H_AA below this count as this (at most sqrt(t) of spread per direction). */
export const LAPLACE_EIGENVALUE_FLOOR = 1;
/**
 * Largest number of modelled dims drawn for: the Hessian costs 2(d + 2) gradient evaluations
 * (O(n^3 + n^2 d) each) and its eigendecomposition O(d^3) per sweep; above, the MAP model.
 */
export const LAPLACE_MAX_DIMS = 32;
/**
 * Largest number of model rows drawn for; above it the MAP model serves. Drawing beyond it gained
 * on Branin only at 150 and 200 evaluations and was level or slightly worse on the other four
 * functions (bench/quality.md, section "The Laplace draw becomes the default": the draws of the
 * first 100 carry the gain), and the Hessian's 2(d + 2) gradient evaluations grow as n^3: for
 * d = 8 on the 2-core dev machine about 1 ms at n = 50, 2 ms at 100 and 8-15 ms at 200
 * (`bench/surrogate.ts --only=hessian`), where a whole suggestion takes 12-14 ms.
 */
export const LAPLACE_MAX_ROWS = 100;

/** Sweeps of the cyclic Jacobi eigenvalue iteration (it converges quadratically: ~6-10 suffice). */
const MAX_JACOBI_SWEEPS = 50;

/**
 * Eigenvalues and eigenvectors of a symmetric (p, p) row-major matrix by cyclic Jacobi rotations
 * (Golub & Van Loan 2013, Algorithm 8.5.3): `vectors` holds the eigenvector of values[i] in
 * column i (row-major (p, p)). Scale-free (the convergence test is relative to the largest entry).
 * A zero matrix, or one with a non-finite entry, comes back as its diagonal with the identity.
 */
export function symmetricEigen(a: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  // The convergence test sums squares of entries divided by the largest one: squared as they
  // are, entries above ~1e154 overflowed (Infinity <= Infinity ended the loop before any rotation)
  // and below ~1e-162 underflowed to 0, and the diagonal came back as the eigenvalues.
  let largest = 0;
  for (let i = 0; i < p * p; i++) largest = Math.max(largest, Math.abs(m[i]));
  if (largest === 0 || !Number.isFinite(largest)) return { values: diagonal(m, p), vectors: v };
  let scale = 0;
  for (let i = 0; i < p * p; i++) scale += (m[i] / largest) ** 2;
  for (let sweep = 0; sweep < MAX_JACOBI_SWEEPS; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += (m[i * p + j] / largest) ** 2;
    if (off <= 1e-30 * scale) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = m[i * p + j];
        if (aij === 0) continue;
        const tau = (m[j * p + j] - m[i * p + i]) / (2 * aij);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(tau * tau + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < p; k++) {
          const mki = m[k * p + i];
          const mkj = m[k * p + j];
          m[k * p + i] = c * mki - s * mkj;
          m[k * p + j] = s * mki + c * mkj;
        }
        for (let k = 0; k < p; k++) {
          const mik = m[i * p + k];
          const mjk = m[j * p + k];
          m[i * p + k] = c * mik - s * mjk;
          m[j * p + k] = s * mik + c * mjk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i];
          const vkj = v[k * p + j];
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  return { values: diagonal(m, p), vectors: v };
}

function diagonal(m: Float64Array, p: number): Float64Array {
  const values = new Float64Array(p);
  for (let i = 0; i < p; i++) values[i] = m[i * p + i];
  return values;
}

/**
 * theta* plus one draw of block A from N(0, t (H_AA floored)^-1), the noise kept, clamped into the
 * bounds (see the file header). `hessian` is (d + 2)^2 row-major; `rng` supplies the d + 1
 * standard normals. A non-finite entry of H_AA (a custom backend's Hessian; the built-in ones
 * reject instead) throws NumericalError naming it, which GpSampler turns into the MAP model with
 * GP_HYPERPARAMETER_DRAW_FALLBACK: one NaN off the diagonal makes every Jacobi rotation NaN, and
 * the draw with it. The noise row and column are not read.
 */
export function laplaceDraw(theta: Float64Array, hessian: Float64Array, d: number, deterministic: boolean, rng: Rng): Float64Array {
  const q = d + 2;
  const p = d + 1;
  const block = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      const v = hessian[a * q + b];
      if (!Number.isFinite(v)) {
        throw new NumericalError(`the Hessian of the negative log posterior has a non-finite entry H[${Math.min(a, b)}][${Math.max(a, b)}] = ${v}`);
      }
      block[a * p + b] = v;
    }
  }
  const { values, vectors } = symmetricEigen(block, p);
  const out = Float64Array.from(theta);
  for (let i = 0; i < p; i++) {
    const lambda = Number.isFinite(values[i]) ? Math.max(values[i], LAPLACE_EIGENVALUE_FLOOR) : LAPLACE_EIGENVALUE_FLOOR;
    const z = rng.normal() * Math.sqrt(LAPLACE_TEMPERATURE / lambda);
    for (let a = 0; a < p; a++) out[a] += vectors[a * p + i] * z;
  }
  // Entries so large (~1e154 and up) that the sweeps overflow leave NaN in the eigenvectors.
  for (let j = 0; j < p; j++) {
    if (Number.isNaN(out[j])) throw new NumericalError('the eigendecomposition of the Hessian of the negative log posterior overflowed');
  }
  const { lower, upper } = thetaBounds(d, deterministic);
  for (let j = 0; j < p; j++) out[j] = Math.min(upper[j], Math.max(lower[j], out[j]));
  return out;
}

/**
 * One Laplace draw around `theta` (the MAP point of `data`) with the backend's Hessian, seeded by
 * `seed`. Rejects as `negLogPosteriorHessian` does (NumericalError when an evaluation next to
 * theta cannot be factored), and with NumericalError when the Hessian has a non-finite entry in
 * block A (`laplaceDraw`).
 */
export async function drawHyperparameters(
  backend: SurrogateBackend & Required<Pick<SurrogateBackend, 'negLogPosteriorHessian'>>,
  data: GpTrainingData,
  theta: Float64Array,
  kernel: KernelKind,
  deterministic: boolean,
  seed: number,
): Promise<Float64Array> {
  const hessian = await backend.negLogPosteriorHessian(data, theta, kernel, deterministic);
  return laplaceDraw(theta, hessian, data.d, deterministic, new Rng(seed));
}
