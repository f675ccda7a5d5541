#include "lbfgsb.h"

#include <algorithm>
#include <cmath>
#include <deque>

namespace kestrel {

namespace {
double clampv(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }
bool binding(double x, double g, double lo, double hi) { return (x <= lo && g > 0.0) || (x >= hi && g < 0.0); }
}  // namespace

LbfgsbResult minimize_lbfgsb(const Objective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options) {
  std::vector<double> last(x0.size());
  SplitObjective split;
  split.value = [&](const double* x) { return fun(x, last.data()); };
  split.gradient = [&](double* g) { std::copy(last.begin(), last.end(), g); };
  return minimize_lbfgsb(split, x0, lower, upper, options);
}

LbfgsbResult minimize_lbfgsb(const SplitObjective& fun, const std::vector<double>& x0, const std::vector<double>& lower,
                             const std::vector<double>& upper, const LbfgsbOptions& options) {
  const size_t p = x0.size();
  LbfgsbResult res;
  std::vector<double> x(p), g(p), xn(p), gn(p), d(p), q(p);
  for (size_t i = 0; i < p; ++i) x[i] = clampv(x0[i], lower[i], upper[i]);
  double f = fun.value(x.data());
  res.evaluations = 1;
  if (!std::isfinite(f)) {
    res.x = x;
    res.f = f;
    return res;
  }
  fun.gradient(g.data());
  res.gradients = 1;
  std::deque<std::vector<double>> ss, ys;
  std::deque<double> rhos;
  std::vector<double> alphas;
  for (int it = 0; it < options.max_iterations; ++it) {
    res.iterations = it + 1;
    double pg = 0.0;
    for (size_t i = 0; i < p; ++i) {
      const double gi = binding(x[i], g[i], lower[i], upper[i]) || lower[i] == upper[i] ? 0.0 : g[i];
      pg = std::max(pg, std::fabs(gi));
    }
    if (pg < options.pgtol) {
      res.converged = true;
      break;
    }
    // Two-loop recursion on the free variables.
    for (size_t i = 0; i < p; ++i) {
      q[i] = binding(x[i], g[i], lower[i], upper[i]) || lower[i] == upper[i] ? 0.0 : g[i];
    }
    const size_t mem = ss.size();
    alphas.assign(mem, 0.0);
    for (size_t k = mem; k-- > 0;) {
      double a = 0.0;
      for (size_t i = 0; i < p; ++i) a += ss[k][i] * q[i];
      a *= rhos[k];
      alphas[k] = a;
      for (size_t i = 0; i < p; ++i) q[i] -= a * ys[k][i];
    }
    double gamma = 1.0;
    if (mem > 0) {
      double sy = 0.0, yy = 0.0;
      for (size_t i = 0; i < p; ++i) {
        sy += ss[mem - 1][i] * ys[mem - 1][i];
        yy += ys[mem - 1][i] * ys[mem - 1][i];
      }
      gamma = sy / yy;
    }
    for (size_t i = 0; i < p; ++i) q[i] *= gamma;
    for (size_t k = 0; k < mem; ++k) {
      double b = 0.0;
      for (size_t i = 0; i < p; ++i) b += ys[k][i] * q[i];
      b *= rhos[k];
      for (size_t i = 0; i < p; ++i) q[i] += ss[k][i] * (alphas[k] - b);
    }
    double gd = 0.0;
    for (size_t i = 0; i < p; ++i) {
      d[i] = binding(x[i], g[i], lower[i], upper[i]) || lower[i] == upper[i] ? 0.0 : -q[i];
      gd += g[i] * d[i];
    }
    if (!(gd < 0.0)) {
      ss.clear();
      ys.clear();
      rhos.clear();
      gd = 0.0;
      for (size_t i = 0; i < p; ++i) {
        d[i] = binding(x[i], g[i], lower[i], upper[i]) || lower[i] == upper[i] ? 0.0 : -g[i];
        gd += g[i] * d[i];
      }
    }
    double t = 1.0;
    if (mem == 0) {
      double dn = 0.0;
      for (size_t i = 0; i < p; ++i) dn = std::max(dn, std::fabs(d[i]));
      if (dn > 0.0) t = std::min(1.0, options.initial_step / dn);
    }
    bool accepted = false;
    double fn = f;
    for (int ls = 0; ls < 40; ++ls) {
      if (options.max_evaluations > 0 && res.evaluations >= options.max_evaluations) break;
      double decrease = 0.0;
      for (size_t i = 0; i < p; ++i) {
        xn[i] = clampv(x[i] + t * d[i], lower[i], upper[i]);
        decrease += g[i] * (xn[i] - x[i]);
      }
      fn = fun.value(xn.data());
      ++res.evaluations;
      if (std::isfinite(fn) && fn <= f + 1e-4 * decrease) {
        accepted = true;
        fun.gradient(gn.data());
        ++res.gradients;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) break;
    std::vector<double> s(p), y(p);
    double sy = 0.0, yy = 0.0;
    for (size_t i = 0; i < p; ++i) {
      s[i] = xn[i] - x[i];
      y[i] = gn[i] - g[i];
      sy += s[i] * y[i];
      yy += y[i] * y[i];
    }
    const double fold = f;
    x.swap(xn);
    g.swap(gn);
    f = fn;
    if (sy > 1e-10 * yy && sy > 0.0) {
      ss.push_back(std::move(s));
      ys.push_back(std::move(y));
      rhos.push_back(1.0 / sy);
      if (static_cast<int>(ss.size()) > options.memory) {
        ss.pop_front();
        ys.pop_front();
        rhos.pop_front();
      }
    }
    if (fold - f <= options.ftol * std::max({std::fabs(fold), std::fabs(f), 1.0})) {
      res.converged = true;
      break;
    }
  }
  res.x = x;
  res.f = f;
  return res;
}

}  // namespace kestrel
