// See gp.h for notation and sources.
#include "gp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "isa_kernels.h"
#include "lbfgsb.h"

namespace kestrel {

namespace {

constexpr double kLengthscalePriorWeight = 0.1;  // -log p(l) = 0.1 (l^2 + l^-2), Optuna 4.x
constexpr double kNoisePriorShape = 1.1;  // sn2 ~ Gamma(1.1, 30), Optuna 4.x
constexpr double kNoisePriorRate = 30.0;
constexpr double kHalfLog2PiD = 0.91893853320467274178;
constexpr double kMinVariance = 1e-12;
constexpr int kColumnChunk = 64;
constexpr int kCandidateChunk = 256;
constexpr int kGradBatch = 16;  // points per multi-right-hand-side solve when gradients are asked
// Spare rows of a factor's store (appends fill them in place): n / 16, at least 32.
constexpr int kSpareRowsDivisor = 16;
constexpr int kMinSpareRows = 32;
constexpr int kMaxSweepChoices = 64;    // discrete sets up to this size are exhausted (js-backend.ts)
constexpr int kMaxDiscreteRounds = 3;   // sweep + continuous re-refinement rounds per start
constexpr double kRoundImprovement = 1e-12;
constexpr double kJitterStart = 1e-10;  // as cholesky_with_jitter
constexpr int kMaxJitterTries = 6;
constexpr double kMapPgtol = 1e-2;
constexpr double kMapFtol = 2.220446049250313e-09;
constexpr int kWarmProbeIterations = 10;
constexpr double kWarmInitialStep = 0.1;  // first step of a warm-started MAP run, in log units
constexpr int kParallelStartsMaxN = 1024;
constexpr int kWarmProbeMaxN = 128;
constexpr double kScoringFlopBudget = 8e10;  // n^2 m: about 1 s of candidate TRSM on 2 cores
constexpr int kMinScoredCandidates = 256;
// Local-search work n^2 x starts x iterations allowed before the budget shrinks: n = 1612 with
// 10 starts x 100 iterations; at n = 10,000 it leaves 2 starts x 16 iterations, which keeps a
// suggestion there (append + this search) under 5 s on 2 cores (bench/gp-large.md).
constexpr double kRefineWorkBudget = 2.6e9;
constexpr int kMinLargeNRestarts = 2;
constexpr int kRefineIterations = 100;
constexpr int kRefineEvaluationsPerIteration = 2;  // evaluation cap = 2 x iteration cap
constexpr int kMinLargeNRefineIterations = 10;

// splitmix64 (Steele, Lea & Flood 2014): explicit-seed stream for the restart draws.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double gaussian() {  // Box-Muller
    const double u = std::max(uniform(), 1e-300);
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * uniform());
  }
};

double dot(const double* a, const double* b, int n) { return isa_kernels().dot(n, a, b); }

void inverse_sq_lengthscales(const std::vector<double>& theta, int d, std::vector<double>& w) {
  w.resize(static_cast<size_t>(d));
  for (int j = 0; j < d; ++j) w[static_cast<size_t>(j)] = std::exp(-2.0 * theta[static_cast<size_t>(j)]);
}

// A (n, n) column-major with leading dim lda (the caller sizes it): the lower triangle of
// K(X, X) + (sn2 + extra) I; dk (ld n): s2 f'(r^2) (lower) when not null.
void training_covariance(const GpData& data, const std::vector<double>& xt, const std::vector<double>& w, double s2,
                         double diag_add, KernelKind kernel, double* a, ptrdiff_t lda, LargeVector* dk,
                         ThreadPool& pool) {
  const int n = data.n;
  const int d = data.d;
  const IsaKernels& kern = isa_kernels();
  if (dk != nullptr) dk->resize(static_cast<size_t>(n) * n);
  const int chunks = (n + kColumnChunk - 1) / kColumnChunk;
  // Lower triangle only (rows j..n-1 of column j): the factorization and the gradient read no more.
  pool.parallel_for(chunks, [&](int t, int) {
    std::vector<double> r2(static_cast<size_t>(n));
    const int j1 = std::min(n, (t + 1) * kColumnChunk);
    for (int j = t * kColumnChunk; j < j1; ++j) {
      double* col = a + static_cast<ptrdiff_t>(j) * lda;
      kern.cross_column(n - j, d, xt.data() + j, n, data.x.data() + static_cast<ptrdiff_t>(j) * d, w.data(),
                        data.is_cat.data(), kernel, s2, r2.data(), col + j,
                        dk == nullptr ? nullptr : dk->data() + static_cast<ptrdiff_t>(j) * n + j);
      col[j] = s2 + diag_add;
    }
  });
}

// Factors A (built by training_covariance, full columns) in place. On a failed pivot, rebuilds A
// with jitter start * mean(diag) * 10^t added to the diagonal (the bounded escalation of
// cholesky_with_jitter) and retries; a non-finite entry is reported as such, never retried.
CholeskyStatus factor_in_place_with_jitter(const GpData& data, const std::vector<double>& xt,
                                           const std::vector<double>& w, double s2, double sn2, KernelKind kernel,
                                           double* a, ptrdiff_t lda, ThreadPool& pool) {
  const int n = data.n;
  CholeskyStatus st;
  for (int j = 0; j < n; ++j) {
    const double* col = a + static_cast<ptrdiff_t>(j) * lda;
    for (int i = j; i < n; ++i) {
      if (!std::isfinite(col[i])) {
        st.had_nan = true;
        st.index = j;
        return st;
      }
    }
  }
  const double diag_mean = s2 + sn2;  // every diagonal entry of A equals s2 + sn2
  double jitter = 0.0;
  for (int attempt = 0; attempt <= kMaxJitterTries; ++attempt) {
    if (attempt > 0) training_covariance(data, xt, w, s2, sn2 + jitter, kernel, a, lda, nullptr, pool);
    const int bad = cholesky_blocked(n, a, lda, pool);
    if (bad < 0) {
      st.ok = true;
      st.jitter = jitter;
      st.index = -1;
      return st;
    }
    st.index = bad;
    jitter = jitter == 0.0 ? kJitterStart * diag_mean : jitter * 10.0;
  }
  return st;
}

}  // namespace

std::vector<double> transpose_inputs(const GpData& data) {
  std::vector<double> xt(static_cast<size_t>(data.n) * data.d);
  for (int i = 0; i < data.n; ++i) {
    for (int j = 0; j < data.d; ++j) {
      xt[static_cast<size_t>(j) * data.n + i] = data.x[static_cast<size_t>(i) * data.d + j];
    }
  }
  return xt;
}

std::vector<double> default_theta(int d, bool deterministic) {
  std::vector<double> theta(static_cast<size_t>(d) + 2);
  for (int j = 0; j < d; ++j) theta[static_cast<size_t>(j)] = 0.0;  // l = 1, the prior's mode
  theta[static_cast<size_t>(d)] = 0.0;
  theta[static_cast<size_t>(d) + 1] = std::log(deterministic ? kDeterministicNoise : kDefaultNoise);
  return theta;
}

void theta_bounds(int d, bool deterministic, std::vector<double>& lower, std::vector<double>& upper) {
  lower.assign(static_cast<size_t>(d) + 2, 0.0);
  upper.assign(static_cast<size_t>(d) + 2, 0.0);
  for (int j = 0; j < d; ++j) {
    lower[static_cast<size_t>(j)] = std::log(1e-2);
    upper[static_cast<size_t>(j)] = std::log(1e3);
  }
  lower[static_cast<size_t>(d)] = std::log(1e-2);
  upper[static_cast<size_t>(d)] = std::log(1e2);
  if (deterministic) {
    lower[static_cast<size_t>(d) + 1] = upper[static_cast<size_t>(d) + 1] = std::log(kDeterministicNoise);
  } else {
    lower[static_cast<size_t>(d) + 1] = std::log(kMinNoise);
    upper[static_cast<size_t>(d) + 1] = 0.0;
  }
}

double add_neg_log_prior(const double* theta, int d, bool deterministic, double* grad) {
  double value = 0.0;
  for (int j = 0; j < d; ++j) {
    const double l2 = std::exp(2.0 * theta[j]);
    const double inv_l2 = 1.0 / l2;
    value += kLengthscalePriorWeight * (l2 + inv_l2);
    grad[j] += 2.0 * kLengthscalePriorWeight * (l2 - inv_l2);
  }
  const double ts = theta[d];
  const double scale = std::exp(ts);
  value += -ts + scale;
  grad[d] += -1.0 + scale;
  if (!deterministic) {
    const double noise = std::exp(theta[d + 1]);
    value += -(kNoisePriorShape - 1.0) * theta[d + 1] + kNoisePriorRate * noise;
    grad[d + 1] += -(kNoisePriorShape - 1.0) + kNoisePriorRate * noise;
  }
  return value;
}

NlpResult neg_log_posterior(const GpData& data, const std::vector<double>& theta, KernelKind kernel,
                            bool deterministic, bool want_grad, ThreadPool& pool) {
  NlpWorkspace ws;
  return neg_log_posterior(data, theta, kernel, deterministic, want_grad, pool, ws);
}

// Value phase: A (lower) and, when with_dk, s2 f'(r^2), the in-place factor, alpha and the
// value; the state the gradient phase needs stays in ws. res.ok = false on numerical failure.
static void nlp_value(const GpData& data, const std::vector<double>& theta, KernelKind kernel, bool deterministic,
                      bool with_dk, ThreadPool& pool, NlpWorkspace& ws, NlpResult& res) {
  res = NlpResult();
  ws.grad_ready = false;
  const int n = data.n;
  const int d = data.d;
  for (double t : theta) {
    if (!std::isfinite(t)) {
      res.status.had_nan = true;
      return;
    }
  }
  std::vector<double>& w = ws.w;
  inverse_sq_lengthscales(theta, d, w);
  const double s2 = std::exp(theta[static_cast<size_t>(d)]);
  const double sn2 = std::exp(theta[static_cast<size_t>(d) + 1]);
  if (ws.xt_source != data.x.data() || ws.xt.size() != data.x.size()) {
    ws.xt = transpose_inputs(data);
    ws.xt_source = data.x.data();
  }
  // A is factored in place (one n^2 buffer reused across evaluations); a failed pivot rebuilds
  // A from the kernel with the next jitter (O(n^2 d), rare) instead of keeping a second copy.
  LargeVector& a = ws.a;
  a.resize(static_cast<size_t>(n) * n);
  training_covariance(data, ws.xt, w, s2, sn2, kernel, a.data(), n, with_dk ? &ws.dk : nullptr, pool);
  res.status = factor_in_place_with_jitter(data, ws.xt, w, s2, sn2, kernel, a.data(), n, pool);
  if (!res.status.ok) return;
  const double* l = a.data();
  std::vector<double>& alpha = ws.alpha;
  alpha = data.y;
  forward_solve(n, l, n, alpha.data());
  double value = 0.5 * dot(alpha.data(), alpha.data(), n) + n * kHalfLog2PiD;
  for (int i = 0; i < n; ++i) value += std::log(l[static_cast<size_t>(i) * n + i]);
  backward_solve_t(n, l, n, alpha.data());
  std::vector<double> prior_grad(static_cast<size_t>(d) + 2, 0.0);
  value += add_neg_log_prior(theta.data(), d, deterministic, prior_grad.data());
  res.value = value;
  res.ok = std::isfinite(value);
  ws.s2 = s2;
  ws.sn2 = sn2;
  ws.grad_ready = res.ok && with_dk;
}

// Gradient phase (after a successful nlp_value with dk): A^{-1} from the factor (consumed),
// the lengthscale traces tr(W dA/dlog l_p) over the lower triangle, the scale and noise terms
// from tr(A^{-1}) and alpha, plus the prior's gradient.
static void nlp_gradient(const GpData& data, const std::vector<double>& theta, bool deterministic, ThreadPool& pool,
                         NlpWorkspace& ws, NlpResult& res) {
  const int n = data.n;
  const int d = data.d;
  ws.grad_ready = false;
  res.grad.assign(static_cast<size_t>(d) + 2, 0.0);
  LargeVector& a = ws.a;
  const std::vector<double>& alpha = ws.alpha;
  const std::vector<double>& xt = ws.xt;
  const std::vector<double>& w = ws.w;
  // Lower triangle of A^{-1} into ws.a (the factor is consumed), via ws.z = L^{-1}.
  cholesky_inverse_in_place(n, a.data(), ws.z, pool);
  const LargeVector& inv = a;
  const LargeVector& dk = ws.dk;
  const IsaKernels& kern = isa_kernels();
  const int chunks = (n + kColumnChunk - 1) / kColumnChunk;
  std::vector<double>& partial = ws.partial;
  partial.assign(static_cast<size_t>(chunks) * d, 0.0);
  pool.parallel_for(chunks, [&](int t, int) {
    std::vector<double> coef(static_cast<size_t>(n));
    double* g = partial.data() + static_cast<size_t>(t) * d;
    const int j1 = std::min(n, (t + 1) * kColumnChunk);
    for (int j = t * kColumnChunk; j < j1; ++j) {
      const double aj = alpha[static_cast<size_t>(j)];
      const double* invj = inv.data() + static_cast<size_t>(j) * n;
      const double* dkj = dk.data() + static_cast<size_t>(j) * n;
      for (int i = j + 1; i < n; ++i) coef[static_cast<size_t>(i)] = 2.0 * (alpha[static_cast<size_t>(i)] * aj - invj[i]) * dkj[i];
      kern.lengthscale_column(n, d, j, xt.data(), data.is_cat.data(), coef.data(), g);
    }
  });
  for (int t = 0; t < chunks; ++t) {
    for (int p = 0; p < d; ++p) res.grad[static_cast<size_t>(p)] += partial[static_cast<size_t>(t) * d + p];
  }
  // d nlp / d log l_p = -1/2 sum_ab W_ab s2 f' (-2 w_p delta_p^2) = w_p * sum.
  for (int p = 0; p < d; ++p) res.grad[static_cast<size_t>(p)] *= w[static_cast<size_t>(p)];
  double tr_inv = 0.0;
  for (int i = 0; i < n; ++i) tr_inv += inv[static_cast<size_t>(i) * n + i];
  const double c = ws.sn2 + res.status.jitter;
  const double aa = dot(alpha.data(), alpha.data(), n);
  const double ya = dot(data.y.data(), alpha.data(), n);
  const double g_scale = (ya - c * aa) - (n - c * tr_inv);
  const double g_noise = aa - tr_inv;
  res.grad[static_cast<size_t>(d)] = -0.5 * g_scale;
  res.grad[static_cast<size_t>(d) + 1] = deterministic ? 0.0 : -0.5 * g_noise * ws.sn2;
  add_neg_log_prior(theta.data(), d, deterministic, res.grad.data());
}

NlpResult neg_log_posterior(const GpData& data, const std::vector<double>& theta, KernelKind kernel,
                            bool deterministic, bool want_grad, ThreadPool& pool, NlpWorkspace& ws) {
  NlpResult res;
  nlp_value(data, theta, kernel, deterministic, want_grad, pool, ws, res);
  if (res.ok && want_grad) nlp_gradient(data, theta, deterministic, pool, ws, res);
  return res;
}

NlpHessianResult neg_log_posterior_hessian(const GpData& data, const std::vector<double>& theta, KernelKind kernel,
                                           bool deterministic, ThreadPool& pool) {
  const int d = data.d;
  const int q = d + 2;                         // the matrix's order
  const int p = deterministic ? d + 1 : d + 2;  // the perturbed coordinates
  std::vector<NlpResult> evals(static_cast<size_t>(2 * p));
  auto evaluate = [&](int t, ThreadPool& inner) {
    std::vector<double> at = theta;
    at[static_cast<size_t>(t / 2)] += (t % 2 == 0 ? kHessianStep : -kHessianStep);
    NlpWorkspace ws;
    evals[static_cast<size_t>(t)] = neg_log_posterior(data, at, kernel, deterministic, true, inner, ws);
  };
  if (data.n <= kParallelStartsMaxN && pool.size() > 1) {
    pool.parallel_for(2 * p, [&](int t, int) {
      ThreadPool serial(1);
      evaluate(t, serial);
    });
  } else {
    for (int t = 0; t < 2 * p; ++t) evaluate(t, pool);
  }
  NlpHessianResult res;
  for (const NlpResult& e : evals) {
    if (!e.ok) {
      res.status = e.status;
      return res;
    }
  }
  // A finite value can still have an overflowing gradient (targets of magnitude ~1e152): its
  // differences are no Hessian, so that is a failure (status ok, res.ok false), not a NaN matrix.
  for (const NlpResult& e : evals) {
    for (double g : e.grad) {
      if (!std::isfinite(g)) {
        res.status = e.status;
        return res;
      }
    }
  }
  res.hessian.assign(static_cast<size_t>(q) * q, 0.0);
  for (int a = 0; a < p; ++a) {
    const std::vector<double>& plus = evals[static_cast<size_t>(2 * a)].grad;
    const std::vector<double>& minus = evals[static_cast<size_t>(2 * a + 1)].grad;
    for (int b = 0; b < p; ++b) {
      res.hessian[static_cast<size_t>(a) * q + b] = (plus[static_cast<size_t>(b)] - minus[static_cast<size_t>(b)]) / (2.0 * kHessianStep);
    }
  }
  for (int a = 0; a < p; ++a) {
    for (int b = a + 1; b < p; ++b) {
      const double s = 0.5 * (res.hessian[static_cast<size_t>(a) * q + b] + res.hessian[static_cast<size_t>(b) * q + a]);
      res.hessian[static_cast<size_t>(a) * q + b] = s;
      res.hessian[static_cast<size_t>(b) * q + a] = s;
    }
  }
  // Finite gradients near the largest double can still differ by more than it.
  for (double h : res.hessian) {
    if (!std::isfinite(h)) {
      res.hessian.clear();
      res.status = evals[0].status;
      return res;
    }
  }
  res.ok = true;
  res.status = evals[0].status;
  return res;
}

size_t GpModel::own_memory_bytes() const {
  const size_t doubles = data_.x.size() + data_.y.size() + xt_.size() + theta_.size() + w_.size() + alpha_.size();
  return sizeof(GpModel) + doubles * sizeof(double) + data_.is_cat.size();
}

void GpModel::finish() {
  const int n = data_.n;
  const int d = data_.d;
  inverse_sq_lengthscales(theta_, d, w_);
  s2_ = std::exp(theta_[static_cast<size_t>(d)]);
  sn2_ = std::exp(theta_[static_cast<size_t>(d) + 1]);
  xt_ = transpose_inputs(data_);
  alpha_ = data_.y;
  const double* l = factor_data();
  const ptrdiff_t ld = factor_ld();
  forward_solve(n, l, ld, alpha_.data());
  double nll = 0.5 * dot(alpha_.data(), alpha_.data(), n) + n * kHalfLog2PiD;
  for (int i = 0; i < n; ++i) nll += std::log(l[static_cast<ptrdiff_t>(i) * ld + i]);
  backward_solve_t(n, l, ld, alpha_.data());
  std::vector<double> scratch(static_cast<size_t>(d) + 2, 0.0);
  nll += add_neg_log_prior(theta_.data(), d, deterministic_, scratch.data());
  log_posterior_ = -nll;
}

std::shared_ptr<const GpModel> GpModel::build(GpData data, std::vector<double> theta, KernelKind kernel,
                                              bool deterministic, ThreadPool& pool) {
  std::shared_ptr<GpModel> model(new GpModel());
  model->data_ = std::move(data);
  model->theta_ = std::move(theta);
  model->kernel_ = kernel;
  model->deterministic_ = deterministic;
  const int n = model->data_.n;
  const int d = model->data_.d;
  std::vector<double> w;
  inverse_sq_lengthscales(model->theta_, d, w);
  const double s2 = std::exp(model->theta_[static_cast<size_t>(d)]);
  const double sn2 = std::exp(model->theta_[static_cast<size_t>(d) + 1]);
  const std::vector<double> xt = transpose_inputs(model->data_);
  // Factored in place in its store (capacity for later appends; 800 MB at n = 10,000 plus
  // the spare rows), no second copy.
  std::shared_ptr<FactorStore> store = FactorStore::make(factor_capacity(n));
  model->store_ = store;
  double* a = store->data.data();
  const ptrdiff_t lda = store->capacity;
  training_covariance(model->data_, xt, w, s2, sn2, kernel, a, lda, nullptr, pool);
  const CholeskyStatus st = factor_in_place_with_jitter(model->data_, xt, w, s2, sn2, kernel, a, lda, pool);
  // The strict upper triangle holds scratch of the factorization; nothing reads it.
  if (st.ok) store->rows.store(n);
  if (!st.ok) {
    if (st.had_nan) {
      throw Error(Error::Code::kNaN, "the GP covariance had a non-finite entry in column " + std::to_string(st.index));
    }
    throw Error(Error::Code::kNumerical, "the GP covariance is not positive definite (pivot " +
                                             std::to_string(st.index) + ") even after jitter");
  }
  model->jitter_ = st.jitter;
  model->finish();
  return model;
}

std::shared_ptr<const GpModel> GpModel::fit(GpData data, const FitOptions& options, ThreadPool& pool,
                                            FitReport* report) {
  const int d = data.d;
  std::vector<double> lower, upper;
  theta_bounds(d, options.deterministic, lower, upper);
  const std::vector<double> base = default_theta(d, options.deterministic);
  std::vector<std::vector<double>> starts;
  std::vector<double> first = options.warm_start.empty() ? base : options.warm_start;
  if (options.deterministic) first[static_cast<size_t>(d) + 1] = base[static_cast<size_t>(d) + 1];
  starts.push_back(first);
  SplitMix rng{options.seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL};
  // With a warm start above kWarmProbeMaxN observations the random restarts are skipped (the
  // previous optimum is trusted, as Optuna 4.x's GPSampler always does); below, they are probes.
  const int n_random = !options.warm_start.empty() && data.n > kWarmProbeMaxN ? 0 : options.n_restarts;
  for (int r = 0; r < n_random; ++r) {
    std::vector<double> t(static_cast<size_t>(d) + 2);
    for (int j = 0; j < d; ++j) t[static_cast<size_t>(j)] = base[static_cast<size_t>(j)] + rng.gaussian();
    t[static_cast<size_t>(d)] = base[static_cast<size_t>(d)] + 0.5 * rng.gaussian();
    t[static_cast<size_t>(d) + 1] =
        options.deterministic ? base[static_cast<size_t>(d) + 1] : std::log(1e-5) + rng.uniform() * std::log(1e4);
    starts.push_back(std::move(t));
  }
  // Tolerances of Optuna 4.x's GPSampler fit (scipy L-BFGS-B with gtol = 1e-2 on the
  // unnormalized negative log posterior, scipy's default ftol = factr 1e7 * eps = 2.2e-9).
  LbfgsbOptions lopt;
  lopt.max_iterations = options.max_iterations;
  lopt.pgtol = kMapPgtol;
  lopt.ftol = kMapFtol;
  // Warm-start policy: with a warm start the random restarts are short probes (at most
  // kWarmProbeIterations iterations); a probe is continued to the full budget only if it already
  // beats the converged warm start. Without a warm start every start gets the full budget.
  const bool warm = !options.warm_start.empty();
  LbfgsbOptions warm_opt = lopt;
  if (warm) warm_opt.initial_step = kWarmInitialStep;
  LbfgsbOptions probe = lopt;
  if (warm) probe.max_iterations = std::min(lopt.max_iterations, kWarmProbeIterations);
  std::vector<LbfgsbResult> results(starts.size());
  std::vector<NlpWorkspace> workspaces(starts.size());
  auto run_start = [&](size_t s, const std::vector<double>& x0, const LbfgsbOptions& o, ThreadPool& inner) {
    NlpWorkspace& ws = workspaces[s];
    std::vector<double> theta(static_cast<size_t>(d) + 2);
    NlpResult last;
    // Value first; the gradient (2/3 of the cost) only where the line search accepts.
    SplitObjective fun;
    fun.value = [&](const double* th) {
      theta.assign(th, th + d + 2);
      nlp_value(data, theta, options.kernel, options.deterministic, true, inner, ws, last);
      return last.ok ? last.value : std::numeric_limits<double>::infinity();
    };
    fun.gradient = [&](double* g) {
      nlp_gradient(data, theta, options.deterministic, inner, ws, last);
      std::copy(last.grad.begin(), last.grad.end(), g);
    };
    const int before = results[s].evaluations;
    const int before_gradients = results[s].gradients;
    results[s] = minimize_lbfgsb(fun, x0, lower, upper, o);
    results[s].evaluations += before;
    results[s].gradients += before_gradients;
    ws = NlpWorkspace();  // 3 n^2 doubles: released as soon as the start is done
  };
  auto run_all = [&](const std::vector<size_t>& which, const std::vector<std::vector<double>>& x0s,
                     const std::vector<const LbfgsbOptions*>& opts) {
    // Several starts and n up to kParallelStartsMaxN: one start per thread (each evaluation
    // serial, no fork-join per evaluation). Larger n: starts in sequence, each evaluation
    // multi-threaded. Either way the arithmetic of a start is the same (bit-identical results).
    if (which.size() > 1 && data.n <= kParallelStartsMaxN && pool.size() > 1) {
      pool.parallel_for(static_cast<int>(which.size()), [&](int t, int) {
        ThreadPool serial(1);
        run_start(which[static_cast<size_t>(t)], x0s[static_cast<size_t>(t)], *opts[static_cast<size_t>(t)], serial);
      });
    } else {
      for (size_t t = 0; t < which.size(); ++t) run_start(which[t], x0s[t], *opts[t], pool);
    }
  };
  {
    std::vector<size_t> which;
    std::vector<const LbfgsbOptions*> opts;
    for (size_t s = 0; s < starts.size(); ++s) {
      which.push_back(s);
      opts.push_back(!warm ? &lopt : (s > 0 ? &probe : &warm_opt));
    }
    run_all(which, starts, opts);
  }
  if (warm && starts.size() > 1) {
    std::vector<size_t> which;
    std::vector<std::vector<double>> x0s;
    std::vector<const LbfgsbOptions*> opts;
    for (size_t s = 1; s < starts.size(); ++s) {
      // A probe stopped by a non-finite gradient is not continued: from its point the next start
      // would meet the same gradient at once.
      if (!results[s].converged && results[s].stop != LbfgsbStop::kNonFiniteGradient && std::isfinite(results[s].f) &&
          results[s].f < results[0].f) {
        which.push_back(s);
        x0s.push_back(results[s].x);
        opts.push_back(&lopt);
      }
    }
    if (!which.empty()) run_all(which, x0s, opts);
  }
  int best = -1;
  int evaluations = 0;
  int non_finite_gradients = 0;
  for (size_t s = 0; s < results.size(); ++s) {
    evaluations += results[s].evaluations;
    if (results[s].stop == LbfgsbStop::kNonFiniteGradient) ++non_finite_gradients;
    // The solver keeps a finite x whenever f is finite; checked anyway, as a fit must never
    // return non-finite hyperparameters.
    const bool usable = std::isfinite(results[s].f) &&
                        std::all_of(results[s].x.begin(), results[s].x.end(), [](double v) { return std::isfinite(v); });
    if (usable && (best < 0 || results[s].f < results[static_cast<size_t>(best)].f)) {
      best = static_cast<int>(s);
    }
  }
  if (report != nullptr) {
    report->evaluations = evaluations;
    report->non_finite_gradient_starts = non_finite_gradients;
  }
  if (best >= 0) {
    try {
      return build(data, results[static_cast<size_t>(best)].x, options.kernel, options.deterministic, pool);
    } catch (const Error& e) {
      if (report != nullptr) report->message = e.what();
    }
  } else if (report != nullptr) {
    report->message = "every MAP start failed numerically";
  }
  if (report != nullptr) report->fell_back = true;
  std::vector<double> fallback = base;
  for (size_t i = 0; i < fallback.size(); ++i) fallback[i] = std::clamp(fallback[i], lower[i], upper[i]);
  return build(std::move(data), fallback, options.kernel, options.deterministic, pool);
}

void GpModel::moments_chunk(const double* x, int mc, std::vector<double>& kbuf, std::vector<double>& r2,
                            double* mean, double* raw_var) const {
  const int n = data_.n;
  const int d = data_.d;
  const IsaKernels& kern = isa_kernels();
  kbuf.resize(static_cast<size_t>(n) * mc);
  r2.resize(static_cast<size_t>(n));
  for (int c = 0; c < mc; ++c) {
    double* col = kbuf.data() + static_cast<size_t>(c) * n;
    kern.cross_column(n, d, xt_.data(), n, x + static_cast<ptrdiff_t>(c) * d, w_.data(), data_.is_cat.data(), kernel_,
                      s2_, r2.data(), col, nullptr);
    mean[c] = dot(col, alpha_.data(), n);
  }
  trsm_left_lower(n, factor_data(), factor_ld(), mc, kbuf.data(), n, nullptr);
  for (int c = 0; c < mc; ++c) {
    const double* v = kbuf.data() + static_cast<size_t>(c) * n;
    raw_var[c] = s2_ - dot(v, v, n);
  }
}

void GpModel::predict(const double* x, int m, double* mean, double* variance, ThreadPool& pool) const {
  const int chunks = (m + kCandidateChunk - 1) / kCandidateChunk;
  const double floor = kMinVariance * s2_;
  pool.parallel_for(chunks, [&](int t, int) {
    std::vector<double> kbuf, r2;
    const int c0 = t * kCandidateChunk;
    const int mc = std::min(kCandidateChunk, m - c0);
    moments_chunk(x + static_cast<ptrdiff_t>(c0) * data_.d, mc, kbuf, r2, mean + c0, variance + c0);
    for (int c = c0; c < c0 + mc; ++c) variance[c] = std::max(variance[c], floor);
  });
}

void GpModel::check_terms(const AcqParams& acq) const {
  int objectives = 1;
  for (const AcqTerm& term : acq.terms) {
    if (!term.model) throw Error(Error::Code::kInvalid, "acquisition term without a model");
    if (term.model->d() != data_.d || term.model->data().is_cat != data_.is_cat) {
      throw Error(Error::Code::kInvalid, "acquisition term: its model has other inputs (d or categorical dims differ)");
    }
    if (!term.params.terms.empty()) throw Error(Error::Code::kInvalid, "acquisition term with terms of its own");
    if (term.params.kind == AcquisitionKind::kLogEhvi) {
      if (acq.kind != AcquisitionKind::kLogEhvi) {
        throw Error(Error::Code::kInvalid, "a logEHVI acquisition term needs a logEHVI acquisition");
      }
      ++objectives;
    }
  }
  if (acq.kind != AcquisitionKind::kLogEhvi) return;
  if (objectives > kMaxHypervolumeObjectives) {
    throw Error(Error::Code::kInvalid, "logEHVI: at most " + std::to_string(kMaxHypervolumeObjectives) + " objectives");
  }
  const size_t width = 2 * static_cast<size_t>(objectives);
  if (acq.boxes.empty() || acq.boxes.size() % width != 0) {
    throw Error(Error::Code::kInvalid, "logEHVI boxes: rows of 2 x " + std::to_string(objectives) + " values expected");
  }
  for (size_t r = 0; r < acq.boxes.size(); r += width) {
    for (size_t j = 0; j < width / 2; ++j) {
      const double lower = acq.boxes[r + j], upper = acq.boxes[r + width / 2 + j];
      if (!std::isfinite(lower) || !(upper > lower)) {
        throw Error(Error::Code::kInvalid, "logEHVI boxes: every lower bound finite and below its upper bound");
      }
    }
  }
}

void GpModel::acquisition_batch(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                                std::vector<double>& scratch) const {
  if (acq.kind == AcquisitionKind::kLogEhvi) {
    hypervolume_batch(x, b, acq, value, grad, scratch);
  } else {
    own_acquisition_batch(x, b, acq, value, grad, scratch);
  }
  bool additive = false;
  for (const AcqTerm& term : acq.terms) additive = additive || term.params.kind != AcquisitionKind::kLogEhvi;
  if (!additive) return;
  const size_t nd = static_cast<size_t>(b) * static_cast<size_t>(data_.d);
  std::vector<double> term_value(static_cast<size_t>(b)), term_grad(grad == nullptr ? 0 : nd), term_scratch;
  for (const AcqTerm& term : acq.terms) {
    if (term.params.kind == AcquisitionKind::kLogEhvi) continue;
    term.model->own_acquisition_batch(x, b, term.params, term_value.data(), grad == nullptr ? nullptr : term_grad.data(),
                                      term_scratch);
    for (int c = 0; c < b; ++c) value[c] += term_value[static_cast<size_t>(c)];
    if (grad != nullptr) {
      for (size_t i = 0; i < nd; ++i) grad[i] += term_grad[i];
    }
  }
}

size_t GpModel::moments_scratch(int b, bool with_grad) const {
  return static_cast<size_t>(data_.n) * static_cast<size_t>(b) * (with_grad ? 2 : 1) + static_cast<size_t>(data_.n);
}

void GpModel::moments_batch(const double* x, int b, bool with_grad, double* mean, double* raw_var, double* scratch) const {
  const int n = data_.n;
  const int d = data_.d;
  const IsaKernels& kern = isa_kernels();
  const size_t nb = static_cast<size_t>(n) * b;
  double* k = scratch;  // (n, b): k_*, then L^{-1} k_* (then A^{-1} k_* in moments_gradient)
  double* dk = with_grad ? k + nb : nullptr;
  double* r2 = k + nb * (with_grad ? 2 : 1);
  for (int c = 0; c < b; ++c) {
    double* kc = k + static_cast<size_t>(c) * n;
    kern.cross_column(n, d, xt_.data(), n, x + static_cast<ptrdiff_t>(c) * d, w_.data(), data_.is_cat.data(), kernel_,
                      s2_, r2, kc, dk == nullptr ? nullptr : dk + static_cast<size_t>(c) * n);
    mean[c] = dot(kc, alpha_.data(), n);
  }
  kern.trsm_cols_l(n, b, factor_data(), factor_ld(), k, n);
  for (int c = 0; c < b; ++c) {
    const double* v = k + static_cast<size_t>(c) * n;
    raw_var[c] = s2_ - dot(v, v, n);
  }
}

void GpModel::moments_gradient(const double* x, int b, const double* dmean, const double* dvar, double* grad,
                               double* scratch) const {
  const int n = data_.n;
  const int d = data_.d;
  const size_t nb = static_cast<size_t>(n) * b;
  double* k = scratch;
  const double* dk = k + nb;
  isa_kernels().trsm_cols_lt(n, b, factor_data(), factor_ld(), k, n);  // u = A^{-1} k_*
  for (int c = 0; c < b; ++c) {
    const double* xc = x + static_cast<ptrdiff_t>(c) * d;
    const double* u = k + static_cast<size_t>(c) * n;
    const double* dkc = dk + static_cast<size_t>(c) * n;
    double* gc = grad + static_cast<ptrdiff_t>(c) * d;
    for (int j = 0; j < d; ++j) {
      if (data_.is_cat[static_cast<size_t>(j)] != 0) {
        gc[j] = 0.0;
        continue;
      }
      const double* col = xt_.data() + static_cast<size_t>(j) * n;
      const double xj = xc[j];
      double gm = 0.0, gv = 0.0;
      for (int i = 0; i < n; ++i) {
        const double dki = dkc[i] * (xj - col[i]);
        gm += alpha_[static_cast<size_t>(i)] * dki;
        gv += u[i] * dki;
      }
      const double scale = 2.0 * w_[static_cast<size_t>(j)];
      gc[j] = scale * (dmean[c] * gm - 2.0 * dvar[c] * gv);
    }
  }
}

void GpModel::own_acquisition_batch(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                                    std::vector<double>& scratch) const {
  const size_t moments = moments_scratch(b, grad != nullptr);
  scratch.resize(moments + 2 * static_cast<size_t>(b));
  double* dmean = scratch.data() + moments;  // the mean, until the acquisition's slope replaces it
  double* dvar = dmean + b;                   // the raw variance, likewise
  moments_batch(x, b, grad != nullptr, dmean, dvar, scratch.data());
  const double floor = kMinVariance * s2_;
  for (int c = 0; c < b; ++c) {
    const double raw = dvar[c];
    const double sd = std::sqrt(raw > floor ? raw : floor);
    double out[3];
    acquisition_from_moments(acq.kind, dmean[c], sd, acq.incumbent, acq.beta, out);
    value[c] = out[0];
    dmean[c] = out[1];
    dvar[c] = raw > floor ? out[2] / (2.0 * sd) : 0.0;
  }
  if (grad == nullptr) return;
  moments_gradient(x, b, dmean, dvar, grad, scratch.data());
}

void hypervolume_layout(int k, int n_boxes, const double* boxes, double* values, int* value_end, int* bound_index) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const size_t width = 2 * static_cast<size_t>(k);
  for (int j = 0, start = 0; j < k; ++j) {
    double* v = values + start;
    int m = 0;
    for (int r = 0; r < n_boxes; ++r) {
      const double* box = boxes + static_cast<size_t>(r) * width;
      v[m++] = box[j];
      if (box[k + j] < kInf) v[m++] = box[k + j];
    }
    std::sort(v, v + m);
    m = static_cast<int>(std::unique(v, v + m) - v);
    for (int r = 0; r < n_boxes; ++r) {
      const double* box = boxes + static_cast<size_t>(r) * width;
      int* index = bound_index + static_cast<size_t>(r) * width;
      index[j] = start + static_cast<int>(std::lower_bound(v, v + m, box[j]) - v);
      index[k + j] = box[k + j] < kInf ? start + static_cast<int>(std::lower_bound(v, v + m, box[k + j]) - v) : -1;
    }
    start += m;
    value_end[j] = start;
  }
}

std::shared_ptr<const HvLayout> make_hv_layout(const AcqParams& acq) {
  auto layout = std::make_shared<HvLayout>();
  layout->k = 1;
  for (const AcqTerm& term : acq.terms) layout->k += term.params.kind == AcquisitionKind::kLogEhvi ? 1 : 0;
  layout->n_boxes = static_cast<int>(acq.boxes.size() / (2 * static_cast<size_t>(layout->k)));
  const size_t n_bounds = static_cast<size_t>(layout->n_boxes) * 2 * layout->k;
  layout->values.resize(n_bounds);
  layout->bound_index.resize(n_bounds);
  hypervolume_layout(layout->k, layout->n_boxes, acq.boxes.data(), layout->values.data(), layout->value_end,
                     layout->bound_index.data());
  return layout;
}

namespace {
/// `acq` with its hv_layout set (kLogEhvi without one), else `acq` itself.
AcqParams with_hv_layout(const AcqParams& acq) {
  if (acq.kind != AcquisitionKind::kLogEhvi || acq.hv_layout) return acq;
  AcqParams out = acq;
  out.hv_layout = make_hv_layout(acq);
  return out;
}
}  // namespace

void GpModel::hypervolume_batch(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                                std::vector<double>& scratch) const {
  std::vector<const GpModel*> models{this};
  for (const AcqTerm& term : acq.terms) {
    if (term.params.kind == AcquisitionKind::kLogEhvi) models.push_back(term.model.get());
  }
  const int k = static_cast<int>(models.size());
  const int n_boxes = static_cast<int>(acq.boxes.size() / (2 * static_cast<size_t>(k)));
  const bool with_grad = grad != nullptr;
  const size_t kb = static_cast<size_t>(k) * b;
  const size_t nd = static_cast<size_t>(b) * data_.d;
  // The boxes' layout for log_ehvi_indexed: per objective the sorted distinct finite bounds, and
  // per box and objective the index of its lower and upper bound (set once per public call).
  const std::shared_ptr<const HvLayout> layout = acq.hv_layout ? acq.hv_layout : make_hv_layout(acq);
  const size_t n_bounds = layout->values.size();
  // Layout of scratch: each model's moments scratch, then mean, raw variance, d/d mean, d/d
  // variance (k x b each), log_ehvi_indexed's work, and one model's gradient.
  std::vector<size_t> offset(static_cast<size_t>(k) + 1, 0);
  for (int j = 0; j < k; ++j) offset[j + 1] = offset[j] + models[j]->moments_scratch(b, with_grad);
  const size_t work = std::max(4 * n_bounds, static_cast<size_t>(n_boxes) * (1 + 2 * static_cast<size_t>(k)));
  scratch.resize(offset[k] + 4 * kb + work + (with_grad ? nd : 0));
  const double* boxes = acq.boxes.data();
  double* mean = scratch.data() + offset[k];
  double* raw = mean + kb;
  double* dmean = raw + kb;
  double* dvar = dmean + kb;
  double* ehvi_work = dvar + kb;
  double* term_grad = ehvi_work + work;
  for (int j = 0; j < k; ++j) {
    models[j]->moments_batch(x, b, with_grad, mean + static_cast<size_t>(j) * b, raw + static_cast<size_t>(j) * b,
                             scratch.data() + offset[j]);
  }
  for (int c = 0; c < b; ++c) {
    double mu[kMaxHypervolumeObjectives], sd[kMaxHypervolumeObjectives];
    double dmu[kMaxHypervolumeObjectives], dsd[kMaxHypervolumeObjectives];
    for (int j = 0; j < k; ++j) {
      const double floor = kMinVariance * models[j]->s2_;
      const double r = raw[static_cast<size_t>(j) * b + c];
      mu[j] = mean[static_cast<size_t>(j) * b + c];
      sd[j] = std::sqrt(r > floor ? r : floor);
    }
    value[c] = log_ehvi_indexed(k, n_boxes, boxes, layout->values.data(), layout->value_end, layout->bound_index.data(), mu,
                                sd, dmu, dsd, ehvi_work);
    for (int j = 0; j < k; ++j) {
      const double floor = kMinVariance * models[j]->s2_;
      dmean[static_cast<size_t>(j) * b + c] = dmu[j];
      dvar[static_cast<size_t>(j) * b + c] = raw[static_cast<size_t>(j) * b + c] > floor ? dsd[j] / (2.0 * sd[j]) : 0.0;
    }
  }
  if (!with_grad) return;
  for (int j = 0; j < k; ++j) {
    double* out = j == 0 ? grad : term_grad;
    models[j]->moments_gradient(x, b, dmean + static_cast<size_t>(j) * b, dvar + static_cast<size_t>(j) * b, out,
                                scratch.data() + offset[j]);
    if (j > 0) {
      for (size_t i = 0; i < nd; ++i) grad[i] += term_grad[i];
    }
  }
}

double GpModel::acquisition_point(const double* x, const AcqParams& acq, double* grad,
                                  std::vector<double>& scratch) const {
  double value = 0.0;
  acquisition_batch(x, 1, acq, &value, grad, scratch);
  return value;
}

void GpModel::acquisition_parallel(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                                   std::vector<std::vector<double>>& scratch, ThreadPool& pool) const {
  const int d = data_.d;
  const int parts = std::max(1, std::min(b, pool.size()));
  scratch.resize(static_cast<size_t>(parts));
  pool.parallel_for(parts, [&](int t, int) {
    const int c0 = static_cast<int>(static_cast<int64_t>(b) * t / parts);
    const int c1 = static_cast<int>(static_cast<int64_t>(b) * (t + 1) / parts);
    if (c1 > c0) {
      acquisition_batch(x + static_cast<ptrdiff_t>(c0) * d, c1 - c0, acq, value + c0,
                        grad == nullptr ? nullptr : grad + static_cast<ptrdiff_t>(c0) * d, scratch[static_cast<size_t>(t)]);
    }
  });
}

void GpModel::acquisition(const double* x, int m, const AcqParams& acq_in, double* value, double* grad,
                          ThreadPool& pool) const {
  check_terms(acq_in);
  const AcqParams acq = with_hv_layout(acq_in);
  const int d = data_.d;
  const int chunks = (m + kCandidateChunk - 1) / kCandidateChunk;
  if (grad == nullptr && acq.kind == AcquisitionKind::kLogEhvi) {
    // Candidate scoring under log EHVI: each model's moments of a whole chunk in one blocked solve
    // (moments_chunk, as below; batches of kGradBatch would read each factor once per 16 points,
    // most of the time at large n), then log EHVI per point over the boxes' layout.
    std::vector<const GpModel*> models{this};
    for (const AcqTerm& term : acq.terms) {
      if (term.params.kind == AcquisitionKind::kLogEhvi) models.push_back(term.model.get());
    }
    const int k = static_cast<int>(models.size());
    const int n_boxes = static_cast<int>(acq.boxes.size() / (2 * static_cast<size_t>(k)));
    const HvLayout& layout = *acq.hv_layout;
    const size_t n_bounds = layout.values.size();
    const size_t work = std::max(4 * n_bounds, static_cast<size_t>(n_boxes) * (1 + 2 * static_cast<size_t>(k)));
    pool.parallel_for(chunks, [&](int t, int) {
      std::vector<double> kbuf, r2, ehvi_work(work);
      const int c0 = t * kCandidateChunk;
      const int mc = std::min(kCandidateChunk, m - c0);
      std::vector<double> mean(static_cast<size_t>(k) * mc), var(static_cast<size_t>(k) * mc);
      for (int j = 0; j < k; ++j) {
        models[j]->moments_chunk(x + static_cast<ptrdiff_t>(c0) * d, mc, kbuf, r2, mean.data() + static_cast<size_t>(j) * mc,
                                 var.data() + static_cast<size_t>(j) * mc);
      }
      for (int c = 0; c < mc; ++c) {
        double mu[kMaxHypervolumeObjectives], sd[kMaxHypervolumeObjectives];
        double dmu[kMaxHypervolumeObjectives], dsd[kMaxHypervolumeObjectives];
        for (int j = 0; j < k; ++j) {
          const double floor = kMinVariance * models[j]->s2_;
          mu[j] = mean[static_cast<size_t>(j) * mc + c];
          sd[j] = std::sqrt(std::max(var[static_cast<size_t>(j) * mc + c], floor));
        }
        value[c0 + c] = log_ehvi_indexed(k, n_boxes, acq.boxes.data(), layout.values.data(), layout.value_end,
                                         layout.bound_index.data(), mu, sd, dmu, dsd, ehvi_work.data());
      }
    });
    std::vector<double> term_value;
    for (const AcqTerm& term : acq.terms) {
      if (term.params.kind == AcquisitionKind::kLogEhvi) continue;
      term_value.resize(static_cast<size_t>(m));
      term.model->acquisition(x, m, term.params, term_value.data(), nullptr, pool);
      for (int c = 0; c < m; ++c) value[c] += term_value[static_cast<size_t>(c)];
    }
    return;
  }
  if (grad == nullptr) {
    const double floor = kMinVariance * s2_;
    pool.parallel_for(chunks, [&](int t, int) {
      std::vector<double> kbuf, r2;
      const int c0 = t * kCandidateChunk;
      const int mc = std::min(kCandidateChunk, m - c0);
      std::vector<double> mean(static_cast<size_t>(mc)), var(static_cast<size_t>(mc));
      moments_chunk(x + static_cast<ptrdiff_t>(c0) * d, mc, kbuf, r2, mean.data(), var.data());
      for (int c = 0; c < mc; ++c) {
        const double sd = std::sqrt(std::max(var[static_cast<size_t>(c)], floor));
        double out[3];
        acquisition_from_moments(acq.kind, mean[static_cast<size_t>(c)], sd, acq.incumbent, acq.beta, out);
        value[c0 + c] = out[0];
      }
    });
    if (!acq.terms.empty()) {
      std::vector<double> term_value(static_cast<size_t>(m));
      for (const AcqTerm& term : acq.terms) {
        term.model->acquisition(x, m, term.params, term_value.data(), nullptr, pool);
        for (int c = 0; c < m; ++c) value[c] += term_value[static_cast<size_t>(c)];
      }
    }
    return;
  }
  // With gradients: batches of kGradBatch.
  pool.parallel_for(chunks, [&](int t, int) {
    std::vector<double> scratch;
    const int c1 = std::min(m, (t + 1) * kCandidateChunk);
    for (int c = t * kCandidateChunk; c < c1; c += kGradBatch) {
      acquisition_batch(x + static_cast<ptrdiff_t>(c) * d, std::min(kGradBatch, c1 - c), acq, value + c,
                        grad == nullptr ? nullptr : grad + static_cast<ptrdiff_t>(c) * d, scratch);
    }
  });
}

double ordinal_cell_center(double index, double g) {
  const double cells = std::max(1.0, std::round(1.0 / g));
  const double i = std::min(cells - 1.0, std::max(0.0, index));
  return (i + 0.5) / cells;
}

void GpModel::snap(double* point, const AcqDomain& domain) const {
  for (int j = 0; j < data_.d; ++j) {
    const double g = domain.grid[static_cast<size_t>(j)];
    const double u = domain.is_fixed(j) ? domain.fixed[static_cast<size_t>(j)] : point[j];
    if (domain.is_log_int(j)) {
      const double* ab = domain.log_int.data() + 2 * static_cast<ptrdiff_t>(j);
      point[j] = log_int_snap(u, ab[0], ab[1]);
    } else if (data_.is_cat[static_cast<size_t>(j)] != 0) {
      point[j] = u >= 0 && u < g && u == std::floor(u) ? u : std::min(g - 1.0, std::max(0.0, std::floor(u * g)));
    } else if (g > 0) {
      // Defensive: a NaN coordinate goes to the first cell, never to an infeasible value.
      point[j] = ordinal_cell_center(std::isnan(u) ? 0.0 : std::floor(u / g), g);
    } else {
      point[j] = std::isnan(u) ? 0.5 : std::min(1.0, std::max(0.0, u));
    }
  }
}

bool refine_budget_limited(int n, int n_restarts) {
  return n_restarts > 0 && static_cast<double>(n) * n * n_restarts * kRefineIterations > kRefineWorkBudget;
}

AcquisitionBudget acquisition_budget(int n, int n_candidates, int n_restarts) {
  AcquisitionBudget b{n_candidates, n_restarts, kRefineIterations};
  const double n2 = static_cast<double>(n) * n;
  if (n2 * n_candidates > kScoringFlopBudget) {
    int keep = kMinScoredCandidates;
    while (2.0 * keep * n2 <= kScoringFlopBudget) keep *= 2;
    b.n_candidates = std::min(n_candidates, keep);
  }
  if (refine_budget_limited(n, n_restarts)) {
    // Shrink starts and iterations by the same factor so their product x n^2 meets the budget.
    const double scale = std::sqrt(kRefineWorkBudget / (n2 * n_restarts * kRefineIterations));
    const int keep = static_cast<int>(std::floor(n_restarts * scale));
    b.n_restarts = std::min(n_restarts, std::max(keep, kMinLargeNRestarts));
    b.max_iterations = std::max(kMinLargeNRefineIterations, static_cast<int>(std::floor(kRefineIterations * scale)));
  }
  return b;
}

double GpModel::sweep_discrete(double* point, double value, const AcqDomain& domain, const AcqParams& acq,
                               std::vector<double>& scratch) const {
  double best = value;
  for (int j = 0; j < data_.d; ++j) {
    const double g = domain.grid[static_cast<size_t>(j)];
    if (!domain.is_discrete(j) || domain.is_fixed(j)) continue;
    const double keep = point[j];
    double best_choice = keep;
    auto try_value = [&](double u) {
      if (u == keep) return;
      point[j] = u;
      const double v = acquisition_point(point, acq, nullptr, scratch);
      if (v > best) {
        best = v;
        best_choice = u;
      }
    };
    if (domain.is_log_int(j)) {
      const double a = domain.log_int[2 * static_cast<size_t>(j)];
      const double b = domain.log_int[2 * static_cast<size_t>(j) + 1];
      if (b - a + 1.0 <= kMaxSweepChoices) {
        // Counted, not `k += 1` up to b: from 2^53 on, k + 1 == k and such a loop never ends.
        const int levels = static_cast<int>(b - a + 1.0);
        for (int i = 0; i < levels; ++i) try_value(log_int_encode(a + i, a, b));
      } else {
        const double k = log_int_decode(keep, a, b);
        if (k > a) try_value(log_int_encode(k - 1.0, a, b));
        if (k < b) try_value(log_int_encode(k + 1.0, a, b));
      }
    } else if (data_.is_cat[static_cast<size_t>(j)] != 0) {
      if (g <= kMaxSweepChoices) {  // compared as a double: casting a huge count to int is undefined
        const int choices = static_cast<int>(g);
        for (int ch = 0; ch < choices; ++ch) try_value(ch);
      }
    } else {
      const double cells = std::max(1.0, std::round(1.0 / g));
      if (cells <= kMaxSweepChoices) {
        for (int idx = 0; idx < static_cast<int>(cells); ++idx) try_value(ordinal_cell_center(idx, g));
      } else {
        const double idx = std::floor(keep * cells);
        try_value(ordinal_cell_center(idx - 1.0, g));
        try_value(ordinal_cell_center(idx + 1.0, g));
      }
    }
    point[j] = best_choice;
  }
  return best;
}

void GpModel::local_searches(std::vector<LocalSearch>& jobs, const AcqParams& acq, const AcqDomain& domain,
                             int max_iterations, ThreadPool& pool) const {
  const int d = data_.d;
  LbfgsbOptions lopt;
  lopt.max_iterations = max_iterations;
  lopt.max_evaluations = kRefineEvaluationsPerIteration * max_iterations;
  lopt.pgtol = 1e-7;
  lopt.ftol = 1e-12;
  std::vector<LbfgsbSolver> solvers;
  solvers.reserve(jobs.size());
  for (const LocalSearch& job : jobs) solvers.emplace_back(job.from, job.lower, job.upper, lopt);
  std::vector<std::vector<double>> scratch;
  std::vector<size_t> pending;
  std::vector<double> points, values, grads;
  // Rounds: every search that wants a value gets it (with its gradient) from one batch.
  for (;;) {
    pending.clear();
    for (size_t s = 0; s < solvers.size(); ++s) {
      if (solvers[s].need() == LbfgsbSolver::Need::kValue) pending.push_back(s);
    }
    if (pending.empty()) break;
    const int b = static_cast<int>(pending.size());
    points.resize(static_cast<size_t>(b) * d);
    values.resize(static_cast<size_t>(b));
    grads.resize(static_cast<size_t>(b) * d);
    for (int i = 0; i < b; ++i) {
      const double* p = solvers[pending[static_cast<size_t>(i)]].point();
      std::copy(p, p + d, points.begin() + static_cast<ptrdiff_t>(i) * d);
    }
    acquisition_parallel(points.data(), b, acq, values.data(), grads.data(), scratch, pool);
    for (int i = 0; i < b; ++i) {
      const size_t s = pending[static_cast<size_t>(i)];
      LbfgsbSolver& solver = solvers[s];
      const LocalSearch& job = jobs[s];
      const double v = values[static_cast<size_t>(i)];
      double* g = grads.data() + static_cast<ptrdiff_t>(i) * d;
      // Minimize -acquisition; dims pinned by equal bounds get no gradient.
      for (int j = 0; j < d; ++j) {
        g[j] = job.lower[static_cast<size_t>(j)] == job.upper[static_cast<size_t>(j)] ? 0.0 : -g[j];
      }
      solver.give_value(std::isnan(v) ? std::numeric_limits<double>::infinity() : -v);
      if (solver.need() == LbfgsbSolver::Need::kGradient) solver.give_gradient(g);
    }
  }
  // Each search's last accepted point, snapped onto the grid and valued (one batch).
  const int nj = static_cast<int>(jobs.size());
  points.resize(static_cast<size_t>(nj) * d);
  values.resize(static_cast<size_t>(nj));
  for (int s = 0; s < nj; ++s) {
    std::vector<double> x = solvers[static_cast<size_t>(s)].result().x;
    snap(x.data(), domain);
    std::copy(x.begin(), x.end(), points.begin() + static_cast<ptrdiff_t>(s) * d);
    jobs[static_cast<size_t>(s)].found.x = std::move(x);
  }
  acquisition_parallel(points.data(), nj, acq, values.data(), nullptr, scratch, pool);
  for (int s = 0; s < nj; ++s) {
    const double v = values[static_cast<size_t>(s)];
    jobs[static_cast<size_t>(s)].found.value = std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
  }
}

std::vector<AcqOptimum> GpModel::refine_starts(std::vector<std::vector<double>> starts, const AcqParams& acq,
                                               const AcqDomain& domain, int max_iterations, int max_rounds,
                                               ThreadPool& pool) const {
  const int d = data_.d;
  const size_t ns = starts.size();
  std::vector<AcqOptimum> cur(ns);
  if (ns == 0) return cur;
  bool has_discrete = false, has_continuous = false;
  for (int j = 0; j < d; ++j) {
    if (domain.is_fixed(j)) continue;  // held: neither swept nor searched
    if (domain.is_discrete(j)) {
      has_discrete = true;
    } else {
      has_continuous = true;
    }
  }
  // The starts, snapped (observations already sit on the grid; candidates are snapped too).
  std::vector<double> packed(ns * static_cast<size_t>(d)), start_values(ns);
  for (size_t s = 0; s < ns; ++s) {
    snap(starts[s].data(), domain);
    std::copy(starts[s].begin(), starts[s].end(), packed.begin() + static_cast<ptrdiff_t>(s * d));
  }
  std::vector<std::vector<double>> scratch;
  acquisition_parallel(packed.data(), static_cast<int>(ns), acq, start_values.data(), nullptr, scratch, pool);
  // Pass 1: categorical and fixed dims held, ordinal and log-int dims relaxed to [0, 1], then snapped.
  std::vector<LocalSearch> jobs(ns);
  for (size_t s = 0; s < ns; ++s) {
    LocalSearch& job = jobs[s];
    job.from = starts[s];
    job.lower.resize(static_cast<size_t>(d));
    job.upper.resize(static_cast<size_t>(d));
    for (int j = 0; j < d; ++j) {
      const bool held = data_.is_cat[static_cast<size_t>(j)] != 0 || domain.is_fixed(j);
      job.lower[static_cast<size_t>(j)] = held ? starts[s][static_cast<size_t>(j)] : 0.0;
      job.upper[static_cast<size_t>(j)] = held ? starts[s][static_cast<size_t>(j)] : 1.0;
    }
  }
  local_searches(jobs, acq, domain, max_iterations, pool);
  for (size_t s = 0; s < ns; ++s) {
    double start_value = start_values[s];
    if (std::isnan(start_value)) start_value = -std::numeric_limits<double>::infinity();
    cur[s] = jobs[s].found.value >= start_value ? std::move(jobs[s].found) : AcqOptimum{starts[s], start_value};
  }
  if (!has_discrete) return cur;
  // Rounds: exhaust each discrete dim in turn, then re-refine the continuous dims with the
  // discrete ones pinned; a start stops when its round no longer improves.
  std::vector<size_t> active(ns);
  std::iota(active.begin(), active.end(), size_t{0});
  for (int round = 0; round < max_rounds && !active.empty(); ++round) {
    std::vector<AcqOptimum> cand(active.size());
    pool.parallel_for(static_cast<int>(active.size()), [&](int i, int) {
      std::vector<double> sweep_scratch;
      const AcqOptimum& from = cur[active[static_cast<size_t>(i)]];
      AcqOptimum& c = cand[static_cast<size_t>(i)];
      c.x = from.x;
      c.value = sweep_discrete(c.x.data(), from.value, domain, acq, sweep_scratch);
    });
    if (has_continuous) {
      std::vector<LocalSearch> pinned(active.size());
      for (size_t i = 0; i < active.size(); ++i) {
        LocalSearch& job = pinned[i];
        job.from = cand[i].x;
        job.lower.resize(static_cast<size_t>(d));
        job.upper.resize(static_cast<size_t>(d));
        for (int j = 0; j < d; ++j) {
          const bool pin = domain.is_discrete(j) || domain.is_fixed(j);
          job.lower[static_cast<size_t>(j)] = pin ? cand[i].x[static_cast<size_t>(j)] : 0.0;
          job.upper[static_cast<size_t>(j)] = pin ? cand[i].x[static_cast<size_t>(j)] : 1.0;
        }
      }
      local_searches(pinned, acq, domain, max_iterations, pool);
      for (size_t i = 0; i < active.size(); ++i) {
        if (pinned[i].found.value > cand[i].value) cand[i] = std::move(pinned[i].found);
      }
    }
    std::vector<size_t> improved;
    for (size_t i = 0; i < active.size(); ++i) {
      const size_t s = active[i];
      if (!(cand[i].value > cur[s].value + kRoundImprovement)) continue;
      cur[s] = std::move(cand[i]);
      improved.push_back(s);
    }
    active.swap(improved);
  }
  return cur;
}

int GpModel::best_row() const {
  if (data_.n == 0) return -1;
  int best = 0;
  for (int i = 1; i < data_.n; ++i) {
    if (data_.y[static_cast<size_t>(i)] > data_.y[static_cast<size_t>(best)]) best = i;
  }
  return best;
}

AcqOptimum GpModel::optimize_acquisition(std::vector<double> candidates, int m, const AcqParams& acq_in, int n_restarts,
                                         const AcqDomain& domain, ThreadPool& pool) const {
  const int d = data_.d;
  const int n = data_.n;
  if (domain.grid.size() != static_cast<size_t>(d) ||
      (!domain.log_int.empty() && domain.log_int.size() != 2 * static_cast<size_t>(d)) ||
      (!domain.fixed.empty() && domain.fixed.size() != static_cast<size_t>(d))) {
    throw Error(Error::Code::kInvalid, "optimize_acquisition: grid must hold d values, log_int none or 2 d, fixed none or d");
  }
  check_terms(acq_in);
  // Every evaluation below (scoring, local searches, sweeps) shares one layout of the boxes.
  const AcqParams acq = with_hv_layout(acq_in);
  // The budget is in n^2 units of work per evaluated point; each term's model adds its own n^2
  // (a constraint's model costs as much as the objective's), so the budget applies to their sum.
  double work = static_cast<double>(n) * n;
  for (const AcqTerm& term : acq.terms) work += static_cast<double>(term.model->n()) * term.model->n();
  const int work_n = static_cast<int>(std::min(std::sqrt(work), 2147483647.0));
  const AcquisitionBudget budget = acquisition_budget(work_n, m, n_restarts);
  const bool large_n = refine_budget_limited(work_n, n_restarts);
  m = budget.n_candidates;  // a prefix of the (Sobol) candidates: still evenly spread
  n_restarts = budget.n_restarts;
  for (int c = 0; c < m; ++c) snap(candidates.data() + static_cast<ptrdiff_t>(c) * d, domain);
  std::vector<double> scores(static_cast<size_t>(m));
  acquisition(candidates.data(), m, acq, scores.data(), nullptr, pool);
  for (double& s : scores) {
    if (std::isnan(s)) s = -std::numeric_limits<double>::infinity();
  }
  const int n_top = std::max(1, std::min(n_restarts, m));
  std::vector<int> order(static_cast<size_t>(m));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + n_top, order.end(), [&](int a, int b) {
    const double sa = scores[static_cast<size_t>(a)], sb = scores[static_cast<size_t>(b)];
    return sa > sb || (sa == sb && a < b);
  });
  AcqOptimum best;
  best.x.assign(candidates.begin() + static_cast<ptrdiff_t>(order[0]) * d,
                candidates.begin() + static_cast<ptrdiff_t>(order[0] + 1) * d);
  best.value = scores[static_cast<size_t>(order[0])];
  if (n_restarts <= 0) return best;
  // Starting points: the best candidates plus the best observation (largest y), from which
  // Optuna 4.x GPSampler also starts a local search (optuna/_gp/optim_mixed.py). Under the
  // large-n budget the observation takes the last candidate's place (same number of starts).
  std::vector<std::vector<double>> starts;
  const int n_candidate_starts = (large_n && n > 0) ? std::max(1, n_top - 1) : n_top;
  for (int s = 0; s < n_candidate_starts; ++s) {
    const double* p = candidates.data() + static_cast<ptrdiff_t>(order[static_cast<size_t>(s)]) * d;
    starts.emplace_back(p, p + d);
  }
  if (n > 0) {
    const double* p = data_.x.data() + static_cast<ptrdiff_t>(best_row()) * d;
    starts.emplace_back(p, p + d);
  }
  const int max_rounds = large_n ? 1 : kMaxDiscreteRounds;
  std::vector<AcqOptimum> refined = refine_starts(std::move(starts), acq, domain, budget.max_iterations, max_rounds, pool);
  for (auto& r : refined) {
    if (r.value > best.value) best = std::move(r);
  }
  return best;
}

std::shared_ptr<const GpModel> GpModel::append(const double* x, const double* y, int k, ThreadPool& pool,
                                               bool noiseless) const {
  const int n = data_.n;
  const int d = data_.d;
  const IsaKernels& kern = isa_kernels();
  std::vector<double> cross(static_cast<size_t>(k) * n), corner(static_cast<size_t>(k) * k), r2;
  GpData fresh;
  fresh.n = k;
  fresh.d = d;
  fresh.x.assign(x, x + static_cast<ptrdiff_t>(k) * d);
  fresh.is_cat = data_.is_cat;
  const std::vector<double> xt_new = transpose_inputs(fresh);
  r2.resize(static_cast<size_t>(std::max(n, k)));
  for (int r = 0; r < k; ++r) {
    const double* xr = x + static_cast<ptrdiff_t>(r) * d;
    if (n > 0) {
      kern.cross_column(n, d, xt_.data(), n, xr, w_.data(), data_.is_cat.data(), kernel_, s2_, r2.data(),
                        cross.data() + static_cast<size_t>(r) * n, nullptr);
    }
    kern.cross_column(k, d, xt_new.data(), k, xr, w_.data(), data_.is_cat.data(), kernel_, s2_, r2.data(),
                      corner.data() + static_cast<size_t>(r) * k, nullptr);
    corner[static_cast<size_t>(r) * k + r] = s2_ + (noiseless ? kNoiselessVariance * s2_ : sn2_) + jitter_;
  }
  GpData all;
  all.n = n + k;
  all.d = d;
  all.is_cat = data_.is_cat;
  all.x = data_.x;
  all.x.insert(all.x.end(), x, x + static_cast<ptrdiff_t>(k) * d);
  all.y = data_.y;
  all.y.insert(all.y.end(), y, y + k);
  std::vector<double> l21t, l22;
  if (!cholesky_extension(n, factor_data(), factor_ld(), k, cross.data(), corner.data(), l21t, l22, pool)) {
    // The Schur complement lost definiteness (e.g. a repeated point with tiny noise): refactor.
    return build(std::move(all), theta_, kernel_, deterministic_, pool);
  }
  std::shared_ptr<GpModel> model(new GpModel());
  model->data_ = std::move(all);
  model->theta_ = theta_;
  model->kernel_ = kernel_;
  model->deterministic_ = deterministic_;
  model->jitter_ = jitter_;
  // In place when the store has room and no other model has extended it past n yet (rows of the
  // store below n are invisible to this model and to every model it was extended from); else a
  // copy into a new store with room to grow. The model holds its n + k rows before it claims
  // any, so that its destructor hands a claim back even if what follows throws. An append of no
  // rows copies: a claim of 0 rows marks nothing in `rows`, so when this model is destroyed its
  // rows would be handed back while the new model of the same n still reads them.
  int expected = n;
  if (k > 0 && store_->capacity >= n + k && store_->rows.compare_exchange_strong(expected, n + k)) {
    model->store_ = store_;
    model->claimed_from_ = n;
  } else {
    std::shared_ptr<FactorStore> fresh = FactorStore::make(factor_capacity(n + k));
    const ptrdiff_t from = factor_ld();
    const ptrdiff_t to = fresh->capacity;
    const double* src = factor_data();
    double* dst = fresh->data.data();
    pool.parallel_for((n + kColumnChunk - 1) / kColumnChunk, [&](int t, int) {
      const int j1 = std::min(n, (t + 1) * kColumnChunk);
      for (int j = t * kColumnChunk; j < j1; ++j) {
        std::memcpy(dst + static_cast<ptrdiff_t>(j) * to + j, src + static_cast<ptrdiff_t>(j) * from + j,
                    sizeof(double) * static_cast<size_t>(n - j));
      }
    });
    fresh->rows.store(n + k);
    model->store_ = std::move(fresh);
  }
  double* dst = model->store_->data.data();
  const ptrdiff_t ld = model->store_->capacity;
  for (int j = 0; j < n; ++j) {
    for (int r = 0; r < k; ++r) dst[n + r + static_cast<ptrdiff_t>(j) * ld] = l21t[j + static_cast<size_t>(r) * n];
  }
  for (int j = 0; j < k; ++j) {
    double* col = dst + static_cast<ptrdiff_t>(n + j) * ld;
    for (int r = 0; r < k; ++r) col[n + r] = r >= j ? l22[r + static_cast<size_t>(j) * k] : 0.0;
  }
  model->finish();
  return model;
}

GpModel::~GpModel() {
  // Hand the rows this model claimed back to the model it was extended from (unless a model
  // extended from this one still holds rows beyond them).
  if (claimed_from_ >= 0 && store_ != nullptr) {
    int expected = data_.n;
    store_->rows.compare_exchange_strong(expected, claimed_from_);
  }
}

std::vector<double> GpModel::factor() const {
  const int n = data_.n;
  const ptrdiff_t ld = factor_ld();
  std::vector<double> out(static_cast<size_t>(n) * n, 0.0);
  for (int j = 0; j < n; ++j) {
    std::memcpy(out.data() + static_cast<ptrdiff_t>(j) * n + j, factor_data() + static_cast<ptrdiff_t>(j) * ld + j,
                sizeof(double) * static_cast<size_t>(n - j));
  }
  return out;
}

int factor_capacity(int n) {
  const int spare = std::max(kMinSpareRows, n / kSpareRowsDivisor);
  return (n + spare + 7) / 8 * 8;
}

}  // namespace kestrel
