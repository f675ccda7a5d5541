/**
 * The coordinates of a log-scaled integer parameter on [low, high] (1 <= low < high), in one place
 * for every TypeScript user: src/space/encode.ts (encode / decode of such a distribution) and the
 * TypeScript surrogate's acquisition search (src/surrogate/js-backend.ts), which may search the
 * dim only at these coordinates. The C++ twin is native/include/kestrel/log_int.h.
 *
 * Half-cell padding in log space, as Optuna's _SearchSpaceTransform:
 *   u(k) = (ln k - ln(low - 1/2)) / (ln(high + 1/2) - ln(low - 1/2)).
 */

/**
 * Coordinate of the integer k of a log int on [low, high] (1 <= low < high):
 * (ln k - ln(low - 1/2)) / (ln(high + 1/2) - ln(low - 1/2)).
 */
export function encodeLogInt(k: number, low: number, high: number): number {
  const lo = Math.log(low - 0.5);
  return (Math.log(k) - lo) / (Math.log(high + 0.5) - lo);
}

/** The integer at coordinate u of a log int on [low, high]: u clamped to [0, 1], exp, rounded, clamped. */
export function decodeLogInt(u: number, low: number, high: number): number {
  const t = u < 0 ? 0 : u > 1 ? 1 : u;
  const lo = Math.log(low - 0.5);
  const v = Math.round(Math.exp(lo + t * (Math.log(high + 0.5) - lo)));
  return v < low ? low : v > high ? high : v;
}

/** The feasible coordinate of the integer u decodes to (a NaN u gives low's): encodeLogInt(decodeLogInt(u)). */
export function snapLogInt(u: number, low: number, high: number): number {
  return encodeLogInt(Number.isNaN(u) ? low : decodeLogInt(u, low, high), low, high);
}
