/**
 * Dense linear algebra for the TypeScript GP backend, on Float64Array.
 *
 * Notation:
 *   A  (n, n) symmetric positive definite, row-major, only the lower triangle is read
 *   L  (n, n) lower-triangular Cholesky factor, A + jitter * I = L L^T, row-major (row i holds
 *      L[i][0..i]; the strict upper triangle is zero). Row-major keeps the inner products of the
 *      Cholesky–Banachiewicz recurrence and of forward substitution contiguous in memory. This
 *      layout is internal to the JS backend (the native core uses column-major, STYLE.md).
 *   b  right-hand sides, one vector (n) or many rows (m, n) row-major
 *
 * Sources: Golub & Van Loan, "Matrix Computations", 4th ed., Alg. 4.2.1 (Cholesky), Alg. 3.1.1/3.1.2
 * (triangular solves); the bordered (appended) factorization is the block form of Alg. 4.2.1:
 *   [A  B] = [L  0] [L^T  S^T]      S = B^T L^{-T}  (i.e. S^T = L^{-1} B),
 *   [B' C]   [S  M] [0    M^T]      M M^T = C - S S^T.
 */

/** Result of a Cholesky factorization with bounded jitter escalation. */
export type CholeskyResult =
  | { readonly ok: true; readonly l: Float64Array; readonly jitter: number }
  | { readonly ok: false; readonly reason: 'nan' | 'not-positive-definite'; readonly index: number };

/**
 * Factors a (n, n) into L L^T in place of a copy. On failure adds jitter to the diagonal, starting
 * at `jitterStart * mean(diag)` and multiplying by 10, at most `maxTries` times. Keeps "input had a
 * NaN" apart from "not positive definite" (STYLE.md) and reports the failing index.
 */
export function choleskyWithJitter(
  a: Float64Array,
  n: number,
  jitterStart = 1e-10,
  maxTries = 6,
): CholeskyResult {
  let diagMean = 0;
  for (let i = 0; i < n; i++) diagMean += a[i * n + i];
  diagMean = n > 0 ? diagMean / n : 0;
  if (!Number.isFinite(diagMean)) {
    for (let i = 0; i < n * n; i++) {
      if (!Number.isFinite(a[i])) return { ok: false, reason: 'nan', index: Math.floor(i / n) };
    }
    // Finite entries whose sum overflowed (near 1e308): an infinite mean made every jitter
    // infinite, and the retry's infinite pivot was reported as 'nan'. Averaged term by term
    // instead, which cannot overflow (only here, so that normal inputs keep the summed mean's
    // bits), as native/core/linalg.cc cholesky_with_jitter does.
    diagMean = 0;
    for (let i = 0; i < n; i++) diagMean += a[i * n + i] / n;
  }
  const l = new Float64Array(n * n);
  let jitter = 0;
  let failIndex = 0;
  for (let attempt = 0; attempt <= maxTries; attempt++) {
    const bad = choleskyInto(a, l, n, jitter);
    if (bad < 0) return { ok: true, l, jitter };
    if (bad >= n) return { ok: false, reason: 'nan', index: bad - n };
    failIndex = bad;
    jitter = jitter === 0 ? jitterStart * Math.max(diagMean, 1e-300) : jitter * 10;
  }
  return { ok: false, reason: 'not-positive-definite', index: failIndex };
}

/**
 * Cholesky–Banachiewicz (row by row). Returns -1 on success, the failing pivot index when not
 * positive definite, or n + index when a NaN/Inf was met.
 */
function choleskyInto(a: Float64Array, l: Float64Array, n: number, jitter: number): number {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let p = 0; p < j; p++) s -= l[ri + p] * l[rj + p];
      if (i === j) {
        s += jitter;
        if (!Number.isFinite(s)) return n + i;
        if (s <= 0) return i;
        l[ri + i] = Math.sqrt(s);
      } else {
        l[ri + j] = s / l[rj + j];
      }
    }
  }
  return -1;
}

/** Solves L x = b in place (forward substitution). */
export function forwardSolveInPlace(l: Float64Array, n: number, b: Float64Array, offset = 0): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = b[offset + i];
    for (let p = 0; p < i; p++) s -= l[ri + p] * b[offset + p];
    b[offset + i] = s / l[ri + i];
  }
}

/** Solves L^T x = b in place (back substitution, column-oriented over the rows of L). */
export function backSolveInPlace(l: Float64Array, n: number, b: Float64Array, offset = 0): void {
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    const xi = b[offset + i] / l[ri + i];
    b[offset + i] = xi;
    for (let p = 0; p < i; p++) b[offset + p] -= l[ri + p] * xi;
  }
}

/** Solves (L L^T) x = b, returning a new vector. */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const x = Float64Array.from(b);
  forwardSolveInPlace(l, n, x);
  backSolveInPlace(l, n, x);
  return x;
}

/** (L L^T)^{-1} as a full symmetric (n, n) row-major matrix: L^{-T} L^{-1} (potri-like). */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  // Linv (lower triangular), row-major; column j of Linv solves L x = e_j.
  const linv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    linv[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = 0;
      for (let p = j; p < i; p++) s -= l[ri + p] * linv[p * n + j];
      linv[ri + j] = s / l[ri + i];
    }
  }
  // K^{-1}[i][j] = sum_{p >= max(i, j)} Linv[p][i] * Linv[p][j].
  const inv = new Float64Array(n * n);
  for (let p = 0; p < n; p++) {
    const rp = p * n;
    for (let i = 0; i <= p; i++) {
      const lpi = linv[rp + i];
      if (lpi === 0) continue;
      const ri = i * n;
      for (let j = 0; j <= i; j++) inv[ri + j] += lpi * linv[rp + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) inv[j * n + i] = inv[i * n + j];
  return inv;
}

/**
 * Extends the factor of the leading (n, n) block to the (n + k, n + k) matrix whose new blocks are
 * `cross` (k, n) row-major (= B^T, the kernel between new and old points) and `corner` (k, k)
 * row-major (already including noise and the factor's jitter). O(n^2 k + n k^2 + k^3).
 * Returns null when the Schur complement is not positive definite.
 */
export function choleskyAppend(
  l: Float64Array,
  n: number,
  cross: Float64Array,
  corner: Float64Array,
  k: number,
): Float64Array | null {
  const nn = n + k;
  const out = new Float64Array(nn * nn);
  for (let i = 0; i < n; i++) out.set(l.subarray(i * n, i * n + i + 1), i * nn);
  // S rows: s_r = L^{-1} b_r (the r-th new point's cross-covariances).
  const s = Float64Array.from(cross);
  for (let r = 0; r < k; r++) forwardSolveInPlace(l, n, s, r * n);
  // Schur complement C - S S^T, then its own factor M.
  const schur = new Float64Array(k * k);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c <= r; c++) {
      let v = corner[r * k + c];
      for (let p = 0; p < n; p++) v -= s[r * n + p] * s[c * n + p];
      schur[r * k + c] = v;
      schur[c * k + r] = v;
    }
  }
  const m = new Float64Array(k * k);
  if (choleskyInto(schur, m, k, 0) >= 0) return null;
  for (let r = 0; r < k; r++) {
    const row = (n + r) * nn;
    out.set(s.subarray(r * n, r * n + n), row);
    for (let c = 0; c <= r; c++) out[row + n + c] = m[r * k + c];
  }
  return out;
}
