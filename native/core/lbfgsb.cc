#include "lbfgsb.h"

#include <algorithm>
#include <cmath>

namespace kestrel {

namespace {
constexpr int kMaxLineSteps = 40;
constexpr double kArmijo = 1e-4;
double clampv(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }
bool binding(double x, double g, double lo, double hi) { return (x <= lo && g > 0.0) || (x >= hi && g < 0.0); }
bool all_finite(const double* v, size_t p) {
  for (size_t i = 0; i < p; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}
}  // namespace

const char* lbfgsb_stop_name(LbfgsbStop stop) {
  switch (stop) {
    case LbfgsbStop::kRunning: return "running";
    case LbfgsbStop::kProjectedGradient: return "projected_gradient";
    case LbfgsbStop::kRelativeDecrease: return "relative_decrease";
    case LbfgsbStop::kMaxIterations: return "max_iterations";
    case LbfgsbStop::kMaxEvaluations: return "max_evaluations";
    case LbfgsbStop::kLineSearch: return "line_search";
    case LbfgsbStop::kNonFiniteValue: return "non_finite_value";
    case LbfgsbStop::kNonFiniteGradient: return "non_finite_gradient";
  }
  return "unknown";
}

void LbfgsbSolver::finish(LbfgsbStop stop) {
  stop_ = stop;
  need_ = Need::kDone;
}

LbfgsbSolver::LbfgsbSolver(const std::vector<double>& x0, std::vector<double> lower, std::vector<double> upper,
                           const LbfgsbOptions& options)
    : options_(options), lower_(std::move(lower)), upper_(std::move(upper)) {
  const size_t p = x0.size();
  x_.resize(p);
  g_.resize(p);
  xn_.resize(p);
  gn_.resize(p);
  d_.resize(p);
  q_.resize(p);
  for (size_t i = 0; i < p; ++i) x_[i] = clampv(x0[i], lower_[i], upper_[i]);
}

void LbfgsbSolver::give_value(double f) {
  if (need_ != Need::kValue) return;
  ++evaluations_;
  if (phase_ == Phase::kInitial) {
    f_ = f;
    if (std::isfinite(f)) {
      need_ = Need::kGradient;
    } else {
      finish(LbfgsbStop::kNonFiniteValue);
    }
    return;
  }
  if (std::isfinite(f) && f <= f_ + kArmijo * decrease_) {
    fn_ = f;
    need_ = Need::kGradient;
    return;
  }
  t_ *= 0.5;
  ++line_steps_;
  next_trial_point();
}

void LbfgsbSolver::give_gradient(const double* g) {
  if (need_ != Need::kGradient) return;
  ++gradients_;
  const size_t p = x_.size();
  if (phase_ == Phase::kInitial) {
    std::copy(g, g + p, g_.begin());
    phase_ = Phase::kLineSearch;
    if (!all_finite(g, p)) {
      finish(LbfgsbStop::kNonFiniteGradient);
      return;
    }
    begin_iteration();
    return;
  }
  std::copy(g, g + p, gn_.begin());
  if (!all_finite(g, p)) {
    // The point passed the Armijo test with a finite value, so it stands as the result; no
    // curvature pair or direction can be formed from its gradient.
    x_.swap(xn_);
    g_.swap(gn_);
    f_ = fn_;
    finish(LbfgsbStop::kNonFiniteGradient);
    return;
  }
  std::vector<double> s(p), y(p);
  double sy = 0.0, yy = 0.0;
  for (size_t i = 0; i < p; ++i) {
    s[i] = xn_[i] - x_[i];
    y[i] = gn_[i] - g_[i];
    sy += s[i] * y[i];
    yy += y[i] * y[i];
  }
  const double fold = f_;
  x_.swap(xn_);
  g_.swap(gn_);
  f_ = fn_;
  if (sy > 1e-10 * yy && sy > 0.0) {
    ss_.push_back(std::move(s));
    ys_.push_back(std::move(y));
    rhos_.push_back(1.0 / sy);
    if (static_cast<int>(ss_.size()) > options_.memory) {
      ss_.pop_front();
      ys_.pop_front();
      rhos_.pop_front();
    }
  }
  if (fold - f_ <= options_.ftol * std::max({std::fabs(fold), std::fabs(f_), 1.0})) {
    finish(LbfgsbStop::kRelativeDecrease);
    return;
  }
  ++iteration_;
  begin_iteration();
}

// Convergence test, then the direction (two-loop recursion on the free variables) and the
// first trial point of its projected backtracking search.
void LbfgsbSolver::begin_iteration() {
  if (iteration_ >= options_.max_iterations) {
    finish(LbfgsbStop::kMaxIterations);
    return;
  }
  iterations_ = iteration_ + 1;
  const size_t p = x_.size();
  const std::vector<double>& x = x_;
  const std::vector<double>& g = g_;
  double pg = 0.0;
  for (size_t i = 0; i < p; ++i) {
    const double gi = binding(x[i], g[i], lower_[i], upper_[i]) || lower_[i] == upper_[i] ? 0.0 : g[i];
    pg = std::max(pg, std::fabs(gi));
  }
  if (pg < options_.pgtol) {
    finish(LbfgsbStop::kProjectedGradient);
    return;
  }
  std::vector<double>& q = q_;
  for (size_t i = 0; i < p; ++i) {
    q[i] = binding(x[i], g[i], lower_[i], upper_[i]) || lower_[i] == upper_[i] ? 0.0 : g[i];
  }
  const size_t mem = ss_.size();
  alphas_.assign(mem, 0.0);
  for (size_t k = mem; k-- > 0;) {
    double a = 0.0;
    for (size_t i = 0; i < p; ++i) a += ss_[k][i] * q[i];
    a *= rhos_[k];
    alphas_[k] = a;
    for (size_t i = 0; i < p; ++i) q[i] -= a * ys_[k][i];
  }
  double gamma = 1.0;
  if (mem > 0) {
    double sy = 0.0, yy = 0.0;
    for (size_t i = 0; i < p; ++i) {
      sy += ss_[mem - 1][i] * ys_[mem - 1][i];
      yy += ys_[mem - 1][i] * ys_[mem - 1][i];
    }
    gamma = sy / yy;
  }
  for (size_t i = 0; i < p; ++i) q[i] *= gamma;
  for (size_t k = 0; k < mem; ++k) {
    double b = 0.0;
    for (size_t i = 0; i < p; ++i) b += ys_[k][i] * q[i];
    b *= rhos_[k];
    for (size_t i = 0; i < p; ++i) q[i] += ss_[k][i] * (alphas_[k] - b);
  }
  std::vector<double>& d = d_;
  double gd = 0.0;
  for (size_t i = 0; i < p; ++i) {
    d[i] = binding(x[i], g[i], lower_[i], upper_[i]) || lower_[i] == upper_[i] ? 0.0 : -q[i];
    gd += g[i] * d[i];
  }
  if (!(gd < 0.0)) {
    ss_.clear();
    ys_.clear();
    rhos_.clear();
    gd = 0.0;
    for (size_t i = 0; i < p; ++i) {
      d[i] = binding(x[i], g[i], lower_[i], upper_[i]) || lower_[i] == upper_[i] ? 0.0 : -g[i];
      gd += g[i] * d[i];
    }
  }
  t_ = 1.0;
  if (mem == 0) {
    double dn = 0.0;
    for (size_t i = 0; i < p; ++i) dn = std::max(dn, std::fabs(d[i]));
    if (dn > 0.0) t_ = std::min(1.0, options_.initial_step / dn);
  }
  line_steps_ = 0;
  next_trial_point();
}

// x(t) = P(x + t d), or done when the search or the evaluation budget is exhausted (the last
// accepted point stands).
void LbfgsbSolver::next_trial_point() {
  if (line_steps_ >= kMaxLineSteps) {
    finish(LbfgsbStop::kLineSearch);
    return;
  }
  if (options_.max_evaluations > 0 && evaluations_ >= options_.max_evaluations) {
    finish(LbfgsbStop::kMaxEvaluations);
    return;
  }
  const size_t p = x_.size();
  decrease_ = 0.0;
  for (size_t i = 0; i < p; ++i) {
    xn_[i] = clampv(x_[i] + t_ * d_[i], lower_[i], upper_[i]);
    decrease_ += g_[i] * (xn_[i] - x_[i]);
  }
  need_ = Need::kValue;
}

LbfgsbResult LbfgsbSolver::result() const {
  LbfgsbResult res;
  res.x = x_;
  res.f = f_;
  res.iterations = iterations_;
  res.evaluations = evaluations_;
  res.gradients = gradients_;
  res.converged = stop_ == LbfgsbStop::kProjectedGradient || stop_ == LbfgsbStop::kRelativeDecrease;
  res.stop = stop_;
  return res;
}

LbfgsbResult minimize_lbfgsb(const SplitObjective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options) {
  LbfgsbSolver solver(x0, lower, upper, options);
  std::vector<double> g(x0.size());
  for (;;) {
    switch (solver.need()) {
      case LbfgsbSolver::Need::kValue:
        solver.give_value(fun.value(solver.point()));
        break;
      case LbfgsbSolver::Need::kGradient:
        fun.gradient(g.data());
        solver.give_gradient(g.data());
        break;
      case LbfgsbSolver::Need::kDone:
        return solver.result();
    }
  }
}

LbfgsbResult minimize_lbfgsb(const Objective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options) {
  std::vector<double> last(x0.size());
  SplitObjective split;
  split.value = [&](const double* x) { return fun(x, last.data()); };
  split.gradient = [&](double* g) { std::copy(last.begin(), last.end(), g); };
  return minimize_lbfgsb(split, x0, lower, upper, options);
}

}  // namespace kestrel
