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
// A gradient with a NaN or infinite component (at the start or at an accepted point) stops the
// minimization at once (LbfgsbStop::kNonFiniteGradient): no direction, curvature pair or
// convergence test can be formed from it, and without this stop a NaN was ignored by the max-norm
// test (a false "converged") or turned into a NaN direction whose line search wasted its whole
// budget evaluating f at NaN (or bound-clamped) points.
#ifndef KESTREL_CORE_LBFGSB_H_
#define KESTREL_CORE_LBFGSB_H_

#include <deque>
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

/// Why a minimization stopped (scipy's L-BFGS-B reports the same through `task` / `message`).
enum class LbfgsbStop {
  kRunning,            // not stopped: an LbfgsbSolver still asks for a value or a gradient
  kProjectedGradient,  // converged: the projected gradient's max-norm fell below pgtol
  kRelativeDecrease,   // converged: the relative decrease of f fell below ftol
  kMaxIterations,      // options.max_iterations iterations done
  kMaxEvaluations,     // options.max_evaluations objective values computed
  kLineSearch,         // the backtracking search found no sufficient decrease in its step budget
  kNonFiniteValue,     // f at the start was +inf, -inf or NaN; x is the (projected) start, f that value
  kNonFiniteGradient,  // a gradient had a NaN or infinite component: x, f are the accepted point
                       // where it was computed (the start, or the latest iterate), f finite
};

/// A short name for a stop reason ("projected_gradient", "non_finite_gradient", ...), for messages.
const char* lbfgsb_stop_name(LbfgsbStop stop);

struct LbfgsbResult {
  /// The best accepted point: finite whenever the start is finite and f at it is finite.
  std::vector<double> x;
  double f = 0.0;
  int iterations = 0;
  int evaluations = 0;  // objective values computed
  int gradients = 0;    // gradients computed (at accepted points only, for a SplitObjective)
  bool converged = false;  // stop is kProjectedGradient or kRelativeDecrease
  LbfgsbStop stop = LbfgsbStop::kRunning;
};

/// Objective: returns f(x) and writes grad into g (length p). May return +inf or NaN; a
/// non-finite gradient component stops the minimization (LbfgsbStop::kNonFiniteGradient).
using Objective = std::function<double(const double* x, double* g)>;

/// The objective in two parts, for functions whose gradient costs more than their value (the
/// GP marginal likelihood: value n^3/3, gradient another 2n^3/3): `value(x)` returns f(x) (may be
/// +inf or NaN) and may keep state; `gradient(g)` writes the gradient at the x of the latest
/// `value` call. The line search asks for the gradient only at accepted points.
struct SplitObjective {
  std::function<double(const double* x)> value;
  std::function<void(double* g)> gradient;
};

/// The same minimization driven by its caller (reverse communication, as the original
/// L-BFGS-B's `task` protocol): the solver says what it needs next, a value at `point()` or the
/// gradient at the point of the latest value, and the caller hands it over. Lets several
/// minimizations step in lockstep so that their evaluations are batched (GpModel's acquisition
/// search: one multi-right-hand-side solve per round instead of a solve per start).
/// minimize_lbfgsb is this loop with a callback; both give bit-identical results.
class LbfgsbSolver {
 public:
  enum class Need { kValue, kGradient, kDone };
  LbfgsbSolver(const std::vector<double>& x0, std::vector<double> lower, std::vector<double> upper,
               const LbfgsbOptions& options);
  Need need() const { return need_; }
  /// kValue: the point to evaluate; kGradient: the point of the latest value (p values).
  const double* point() const { return phase_ == Phase::kInitial ? x_.data() : xn_.data(); }
  /// f at point() (may be +inf or NaN).
  void give_value(double f);
  /// The gradient at point() (p values). A NaN or infinite component ends the minimization
  /// (kDone, LbfgsbStop::kNonFiniteGradient) with point() accepted as the result.
  void give_gradient(const double* g);
  /// The best accepted point so far; the final answer once need() is kDone.
  LbfgsbResult result() const;

 private:
  enum class Phase { kInitial, kLineSearch };
  void begin_iteration();
  void next_trial_point();
  void finish(LbfgsbStop stop);

  LbfgsbOptions options_;
  std::vector<double> lower_, upper_;
  std::vector<double> x_, g_, xn_, gn_, d_, q_, alphas_;
  std::deque<std::vector<double>> ss_, ys_;
  std::deque<double> rhos_;
  double f_ = 0.0, fn_ = 0.0, t_ = 1.0, decrease_ = 0.0;
  int iteration_ = 0, line_steps_ = 0, evaluations_ = 0, gradients_ = 0, iterations_ = 0;
  LbfgsbStop stop_ = LbfgsbStop::kRunning;
  Phase phase_ = Phase::kInitial;
  Need need_ = Need::kValue;
};

LbfgsbResult minimize_lbfgsb(const SplitObjective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options);

LbfgsbResult minimize_lbfgsb(const Objective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options);

}  // namespace kestrel

#endif  // KESTREL_CORE_LBFGSB_H_
