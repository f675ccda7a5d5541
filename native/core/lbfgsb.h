// Bound-constrained limited-memory quasi-Newton minimization (the projected variant of L-BFGS-B).
//
// Notation: f: R^p -> R, g = grad f, box l <= x <= u, P(x) the projection onto the box,
//   s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k, memory m pairs (s, y) with s^T y > eps ||y||^2.
// Algorithm: Byrd, Lu, Nocedal & Zhu 1995, "A limited memory algorithm for bound constrained
// optimization" (SIAM J. Sci. Comput. 16(5)) supplies the bounded L-BFGS idea; we use its
// projected simplification (as in Kim, Sra & Dhillon 2010, "Tackling box-constrained
// optimization via a new projected quasi-Newton approach", SIAM J. Sci. Comput. 32(6)):
//   1. binding set B = { i : (x_i <= l_i and g_i > 0) or (x_i >= u_i and g_i < 0) };
//   2. direction d = -H g on the free variables by the two-loop recursion (Nocedal & Wright
//      2006, "Numerical Optimization", Alg. 7.4), d_i = 0 on B; reset to -g if not a descent;
//   3. backtracking Armijo search along the projection arc x(t) = P(x + t d) (Bertsekas 1982,
//      "Projected Newton methods for optimization problems with simple constraints"):
//      f(x(t)) <= f(x) + c1 g^T (x(t) - x), t halved from 1;
//   stop when the projected gradient's max-norm < pgtol, or the relative decrease < ftol.
// Non-finite f at a trial point is treated as a failed Armijo test (the search backtracks).
#ifndef KESTREL_CORE_LBFGSB_H_
#define KESTREL_CORE_LBFGSB_H_

#include <functional>
#include <vector>

namespace kestrel {

struct LbfgsbOptions {
  int max_iterations = 200;
  int memory = 10;
  double pgtol = 1e-5;
  double ftol = 1e-9;
  /// Max-norm of the first (steepest-descent) step; smaller when the start is known to be near
  /// an optimum (a warm start), so that the first line search does not overshoot and backtrack.
  double initial_step = 1.0;
  /// Stop (keeping the best accepted point) once this many objective values were computed;
  /// 0: no limit. Bounds the cost when line searches backtrack a lot on flat objectives.
  int max_evaluations = 0;
};

struct LbfgsbResult {
  std::vector<double> x;
  double f = 0.0;
  int iterations = 0;
  int evaluations = 0;  // objective values computed
  int gradients = 0;    // gradients computed (at accepted points only, for a SplitObjective)
  bool converged = false;
};

/// Objective: returns f(x) and writes grad into g (length p). May return +inf or NaN.
using Objective = std::function<double(const double* x, double* g)>;

/// The objective in two parts, for functions whose gradient costs more than their value (the
/// GP marginal likelihood: value n^3/3, gradient another 2n^3/3): `value(x)` returns f(x) (may be
/// +inf or NaN) and may keep state; `gradient(g)` writes the gradient at the x of the latest
/// `value` call. The line search asks for the gradient only at accepted points.
struct SplitObjective {
  std::function<double(const double* x)> value;
  std::function<void(double* g)> gradient;
};

LbfgsbResult minimize_lbfgsb(const SplitObjective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options);

LbfgsbResult minimize_lbfgsb(const Objective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options);

}  // namespace kestrel

#endif  // KESTREL_CORE_LBFGSB_H_
