// Coordinates of a log-scaled integer dim, as KESTREL_HD scalar functions: the C++ side of the
// map src/util/log-int.ts defines (encodeLogInt / decodeLogInt / snapLogInt there, used by
// src/space/encode.ts and the TypeScript surrogate; both must stay the same formula, evaluated
// in the same order).
//
// Notation: integer bounds 1 <= a < b; u in [0, 1] the unit coordinate; k an integer in [a, b];
//   lo = ln(a - 1/2), hi = ln(b + 1/2) (the interval widened by half a step on each side in log
//   space, as Optuna's _SearchSpaceTransform does for log ints).
//   encode: u(k) = (ln k - lo) / (hi - lo)
//   decode: k(u) = clamp(round(exp(lo + clamp(u, 0, 1) (hi - lo))), a, b)   (round half up)
//   snap:   u(k(u)), the feasible coordinate nearest in value; a NaN u snaps to u(a).
// Only the b - a + 1 coordinates u(k) are feasible: the acquisition search (native/core/gp.cc)
// evaluates a log-int dim there, never between them (between them the GP would see an
// unobserved coordinate that decodes to an observed integer).
#ifndef KESTREL_LOG_INT_H_
#define KESTREL_LOG_INT_H_

#include <cmath>

#include "kestrel/config.h"

namespace kestrel {

KESTREL_HD inline double log_int_encode(double k, double a, double b) {
  const double lo = log(a - 0.5);
  return (log(k) - lo) / (log(b + 0.5) - lo);
}

KESTREL_HD inline double log_int_decode(double u, double a, double b) {
  const double t = u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
  const double lo = log(a - 0.5);
  // round (half away from zero) is JavaScript's Math.round (half up) for the positive x here.
  const double k = round(exp(lo + t * (log(b + 0.5) - lo)));
  return k < a ? a : (k > b ? b : k);
}

KESTREL_HD inline double log_int_snap(double u, double a, double b) {
  return log_int_encode(u == u ? log_int_decode(u, a, b) : a, a, b);  // u != u: NaN
}

}  // namespace kestrel

#endif  // KESTREL_LOG_INT_H_
