// The Gaussian-process surrogate of the CPU core (no Node, no CUDA).
//
// Notation (src/surrogate/backend.ts, native/include/kestrel/kernels.h):
//   n observations, d dims, m candidates; X (n, d) row-major in [0, 1]^d (categorical dims hold
//   choice indices); y (n) standardized, MAXIMIZED; theta = [log l_1..d, log s2, log sn2];
//   A = K(X, X) + (sn2 + jitter) I = L L^T (L column-major, ld n); alpha = A^{-1} y;
//   for a candidate x: k_* = K(X, x), v = L^{-1} k_*, mean = k_*^T alpha, var = s2 - v^T v
//   (Rasmussen & Williams 2006, Alg. 2.1), floored at 1e-12 s2.
// MAP objective (R&W eq. 2.30 and 5.9):
//   nlp(theta) = 1/2 y^T alpha + sum_i log L_ii + n/2 log(2 pi) - log p(theta)
//   d nlp/d theta_p = -1/2 tr((alpha alpha^T - A^{-1}) dA/d theta_p) - d log p/d theta_p
//   dA/d log l_j = s2 f'(r^2) (-2 w_j delta_j^2), dA/d log s2 = K, dA/d log sn2 = sn2 I.
//   The s2 and sn2 traces use tr(A^{-1} A) = n and alpha^T A alpha = y^T alpha, so only the
//   lower triangle of A^{-1} (from the factor, as LAPACK dpotri; scikit-learn and Optuna do the
//   same) is formed, once per evaluation.
// Priors (the same as src/surrogate/hyperparameters.ts; constants dropped):
//   l_j: Optuna 4.x GPSampler's prior on the inverse squared lengthscale w = l^-2,
//     -log p = 0.1 (w + 1/w) = 0.1 (l^2 + l^-2), mode l = 1 (bench/quality.md compares it with
//     BoTorch's dimension-scaled LogNormal, the default before 2026-12);
//   s2 ~ Gamma(2, 1) (Optuna 4.x GPSampler): -log p = -log s2 + s2;
//   sn2 ~ Gamma(1.1, 30) (Optuna 4.x GPSampler): -log p = -0.1 t + 30 sn2, t = log sn2 (skipped
//     when the noise is fixed by `deterministic`; why not BoTorch's LogNormal(-4, 1), the
//     default before 2026-12-05 evening: src/surrogate/hyperparameters.ts).
// Bounds: l in [1e-2, 1e3], s2 in [1e-2, 1e2], sn2 in [kMinNoise = 1e-8, 1]; deterministic pins
//   sn2 = kMinNoise (why 1e-8: src/surrogate/hyperparameters.ts).
#ifndef KESTREL_CORE_GP_H_
#define KESTREL_CORE_GP_H_

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kestrel/acquisition.h"
#include "kestrel/kernels.h"
#include "kestrel/log_int.h"
#include "linalg.h"
#include "thread_pool.h"

namespace kestrel {

/// Errors of the core. kNumerical: factorization failed even with jitter / defaults;
/// kNaN: the input (or a matrix built from it) held a non-finite value; kInvalid: bad arguments.
class Error : public std::runtime_error {
 public:
  enum class Code { kInvalid, kNaN, kNumerical };
  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

struct GpData {
  int n = 0;
  int d = 0;
  std::vector<double> x;  // (n, d) row-major
  std::vector<double> y;  // (n)
  std::vector<uint8_t> is_cat;  // (d)
};

/// Lower bound of the learned noise variance (y standardized), and the pinned one when deterministic.
constexpr double kMinNoise = 1e-8;
constexpr double kDeterministicNoise = kMinNoise;
constexpr double kDefaultNoise = 1e-3;

std::vector<double> default_theta(int d, bool deterministic);
void theta_bounds(int d, bool deterministic, std::vector<double>& lower, std::vector<double>& upper);
/// Adds -log p(theta) to the return value and its gradient to grad.
double add_neg_log_prior(const double* theta, int d, bool deterministic, double* grad);

struct NlpResult {
  bool ok = false;
  double value = 0.0;
  std::vector<double> grad;  // d + 2 (empty when not requested)
  CholeskyStatus status;
};

/// Buffers reused across likelihood evaluations of one MAP start (no n^2 allocation, and no
/// page faults, per evaluation). One workspace per thread; 3 n^2 doubles when gradients are asked.
struct NlpWorkspace {
  // The three n^2 buffers on large_alloc storage (2 MB huge pages from 1 MB up on Linux).
  LargeVector a;                // A, then L (in place), then the lower triangle of A^{-1}
  LargeVector z;                // L^{-1}
  LargeVector dk;               // s2 f'(r^2)
  std::vector<double> xt;       // X transposed, (d, n)
  const double* xt_source = nullptr;
  std::vector<double> w, alpha, partial;
  double s2 = 0.0, sn2 = 0.0;
  bool grad_ready = false;  // a value phase left the factor and dk for the gradient phase
};

/// Negative log posterior (and gradient) at theta. Never throws for numerics: ok = false.
NlpResult neg_log_posterior(const GpData& data, const std::vector<double>& theta, KernelKind kernel,
                            bool deterministic, bool want_grad, ThreadPool& pool);
/// The same with caller-owned buffers (the MAP fit keeps one per start). `data` must outlive
/// the workspace's use with it (the transposed inputs are cached by address).
NlpResult neg_log_posterior(const GpData& data, const std::vector<double>& theta, KernelKind kernel,
                            bool deterministic, bool want_grad, ThreadPool& pool, NlpWorkspace& ws);

/// Step of the central differences in neg_log_posterior_hessian, in log units of theta.
constexpr double kHessianStep = 1e-4;

/// Hessian of the negative log posterior with respect to theta, (d + 2) x (d + 2) row-major,
/// symmetric: H_ab = (g_b(theta + h e_a) - g_b(theta - h e_a)) / 2h by central differences of the
/// analytic gradient (h = kHessianStep; truncation error O(h^2), rounding O(eps |g| / h)), then
/// (H + H^T) / 2. The deterministic noise row and column are zero (theta[d + 1] is pinned). The
/// 2p gradient evaluations (p = d + 1 or d + 2) run one per thread while n <= 1024 (serial
/// evaluations), else in sequence with multi-threaded evaluations: the result does not depend
/// on the thread count. ok = false, with the failing evaluation's status, when one fails; also
/// ok = false with status.ok = true when a value or gradient next to theta, or an entry of the
/// Hessian, is not finite (a finite value can have an overflowing gradient).
struct NlpHessianResult {
  bool ok = false;
  std::vector<double> hessian;  // (d + 2)^2
  CholeskyStatus status;
};
NlpHessianResult neg_log_posterior_hessian(const GpData& data, const std::vector<double>& theta, KernelKind kernel,
                                           bool deterministic, ThreadPool& pool);

/// MAP fit policy (GpModel::fit):
///   - L-BFGS-B with Optuna 4.x GPSampler's tolerances (pgtol 1e-2 on the unnormalized negative
///     log posterior, scipy's default ftol 2.2e-9), at most max_iterations iterations per start;
///     the line search asks for the gradient (2/3 of an evaluation's cost) only at accepted points.
///   - Without a warm start: the default start plus n_restarts seeded random starts, each run to
///     convergence; the best wins.
///   - With a warm start (the GpSampler's refits): the warm start runs to convergence from a
///     0.1-unit first step. For n <= 128 the n_restarts random starts are probes of at most 10
///     iterations (in parallel with the warm start) and a probe is only continued when it already
///     beats the warm start's optimum; for n > 128 they are skipped (the previous optimum is
///     trusted, as Optuna 4.x's GPSampler always does; its landscape changes little per trial:
///     skipping the probes between 128 and 256 observations changed 11 of 80 runs of
///     bench/quality.ts at 200 evaluations (Levy-10's median 1.40 against 1.52, the others equal)
///     and cuts a refit suggestion at n ~ 200 by a third; bench/surrogate.md).
///   - Starts run one per thread (serial evaluations) while n <= 1024, else in sequence with
///     multi-threaded evaluations; the result does not depend on the thread count.
struct FitOptions {
  KernelKind kernel = KernelKind::kMatern52;
  bool deterministic = false;
  int n_restarts = 2;
  uint64_t seed = 0;
  std::vector<double> warm_start;  // empty: defaults
  int max_iterations = 200;
};

struct FitReport {
  bool fell_back = false;  // the MAP fit failed numerically; default theta used
  int evaluations = 0;
  /// MAP starts stopped by a NaN or infinite gradient of the negative log posterior (at a point
  /// with a finite value, which stays a candidate; such a start is not continued).
  int non_finite_gradient_starts = 0;
  std::string message;
};

class GpModel;
struct AcqTerm;
struct HvLayout;

/// One acquisition function of a model, plus optional additive terms: the acquisitions of other
/// models over the same inputs (same d and categorical dims), whose values and gradients are added
/// to this one's wherever it is evaluated (candidate scoring, local searches, discrete sweeps).
/// GpSampler's constraints use them: logEI of the objective's model plus, per constraint, log PI
/// of a model of the negated constraint values, log P(c(x) <= 0) (Gardner et al. 2014; Optuna
/// 4.x GPSampler's constrained logEI). Terms carry no terms of their own (GpModel checks).
///
/// kLogEhvi (several objectives, kestrel/acquisition.h log_ehvi): this model is objective 0 and
/// each term of kind kLogEhvi one more objective, in order (their incumbent and beta unused); the
/// value is the log expected hypervolume improvement over `boxes`, the disjoint boxes of the
/// region the Pareto front leaves undominated, in each model's own (maximized) target units:
/// rows of 2k values [l_0 .. l_{k-1}, u_0 .. u_{k-1}] for k objectives, l finite, u > l (+inf
/// allowed). Terms of other kinds still add (constraints: log EHVI + sum log P(c <= 0), as
/// Optuna's GPSampler). kLogEhvi terms are refused unless this model's kind is kLogEhvi.
/// Noise variance of a noiseless appended row, relative to the output scale s2 (GpModel::append).
constexpr double kNoiselessVariance = 1e-8;

// kMaxHypervolumeObjectives (most objectives of a kLogEhvi acquisition): kestrel/acquisition.h.

struct AcqParams {
  AcquisitionKind kind = AcquisitionKind::kLogEi;
  double incumbent = 0.0;
  double beta = 4.0;
  std::vector<AcqTerm> terms;
  std::vector<double> boxes;  // kLogEhvi only
  /// kLogEhvi: the boxes' layout (make_hv_layout); GpModel's public acquisition calls set it once
  /// when it is missing, so the local searches' many evaluations do not rebuild it.
  std::shared_ptr<const HvLayout> hv_layout;
};

struct AcqTerm {
  std::shared_ptr<const GpModel> model;
  AcqParams params;
};

/// The layout of kLogEhvi boxes that kestrel/acquisition.h log_ehvi_indexed reads: `boxes`
/// n_boxes rows of 2k values (see AcqParams); writes `values` (at least n_boxes 2k doubles) the
/// sorted distinct finite bounds of objective 0, then of objective 1, ..., value_end[j] (k) one
/// past objective j's last, and `bound_index` (n_boxes 2k, laid out as `boxes`) the index in
/// `values` of each bound, -1 for +inf. O(n_boxes k log n_boxes); GpModel's public acquisition
/// calls run it once (make_hv_layout, AcqParams::hv_layout), not per evaluation or point.
void hypervolume_layout(int k, int n_boxes, const double* boxes, double* values, int* value_end, int* bound_index);

/// hypervolume_layout's result for a kLogEhvi AcqParams (k = 1 + its kLogEhvi terms).
struct HvLayout {
  int k = 0;
  int n_boxes = 0;
  std::vector<double> values;    // n_boxes 2k (the distinct bounds use a prefix)
  std::vector<int> bound_index;  // n_boxes 2k
  int value_end[kMaxHypervolumeObjectives] = {};
};
std::shared_ptr<const HvLayout> make_hv_layout(const AcqParams& acq);

/// Acquisition-maximization budget at large n (optimize_acquisition applies it): scoring m
/// candidates costs about n^2 m flops (the TRSM), each L-BFGS-B evaluation 2 n^2 (memory-bound
/// once the factor leaves the cache). When n^2 m > 8e10 (about 1 s on 2 cores) only the first
/// n_candidates = the largest power of two >= 256 with n^2 n_candidates <= 8e10 are scored (a
/// prefix of a Sobol sequence stays evenly spread). The local search's work, n^2 x starts x
/// L-BFGS-B iterations (100; evaluations are capped at twice the iterations at every n), is
/// capped at 2.6e9 (n ~ 1600 with 10 starts): above it starts and iterations shrink by the same
/// factor sqrt(2.6e9 / (n^2 starts 100)) (at least 2 starts, 10 iterations), so the refinement
/// costs about the same from n ~ 1600 to 10,000 instead of peaking just above a size threshold.
/// At n = 10,000 with 2048 candidates and 10 restarts: 512 candidates, 2 starts, 16 iterations.
/// With acquisition terms (AcqParams::terms) n is sqrt(n^2 + sum of each term model's n^2): the
/// work of every model a point is evaluated on.
struct AcquisitionBudget {
  int n_candidates;
  int n_restarts;
  int max_iterations;
};
AcquisitionBudget acquisition_budget(int n, int n_candidates, int n_restarts);
/// The local search's work at n with n_restarts starts exceeds the budget (acquisition_budget).
bool refine_budget_limited(int n, int n_restarts);

/// Centre of ordinal cell `index` (clamped to 0 .. cells - 1) for grid spacing g, with
/// cells = round(1 / g): (index + 1/2) / cells. src/space/encode.ts puts int and stepped values
/// there (gridSpacing = 1 / number of values), so the decoded value is always feasible.
double ordinal_cell_center(double index, double g);

/// Storage of a Cholesky factor, shared by a model and the models appended to it: column-major
/// with leading dimension `capacity` (>= n), so that an append writes its k new rows below the
/// factor's n rows in place instead of copying n^2 doubles (800 MB at n = 10,000). `rows` is the
/// row count of the newest model using it; only the model whose n equals it may extend it in
/// place (a compare-and-swap), and a model extended in place hands its rows back when destroyed.
/// Rows below a model's n are never read by it, so an extension never changes what an older model
/// sees: models stay immutable.
struct FactorStore {
  explicit FactorStore(int cap) : data(static_cast<size_t>(cap) * cap), capacity(cap) {}
  LargeArray data;  // capacity^2 doubles; only the lower triangle of a factor is written or read
  int capacity = 0;
  std::atomic<int> rows{0};
  static std::shared_ptr<FactorStore> make(int capacity) { return std::make_shared<FactorStore>(capacity); }
  /// Heap bytes of the store (the storage reserved for its capacity^2 doubles, rounded as
  /// large_alloc_size rounds it, and itself), whichever models share it.
  size_t memory_bytes() const { return sizeof(FactorStore) + data.reserved_bytes(); }
};
/// Capacity of a new factor store for n rows: n plus max(32, n / 16) spare rows, rounded up to a
/// multiple of 8 (aligned columns).
int factor_capacity(int n);

struct AcqOptimum {
  std::vector<double> x;
  double value = 0.0;
};

/// Where the acquisition search may put each dim (src/surrogate/backend.ts,
/// OptimizeAcquisitionOptions `grid` and `logIntBounds`):
///   grid[j]: 0 continuous, an ordinal spacing in (0, 1] (cell centres, ordinal_cell_center), or
///     a categorical dim's choice count;
///   log_int: empty, or (d, 2) row-major: [a, b] for a log-int dim (grid[j] = 0, feasible points
///     log_int_encode(k, a, b) for the integers k in [a, b]; kestrel/log_int.h), [0, 0] otherwise.
///   fixed: empty, or d values (OptimizeAcquisitionOptions `fixedFeatures`; BoTorch's
///     fixed_features): NaN for a free dim, else the coordinate the dim is held at (snapped like
///     any point). A held dim takes that value in every snap, is pinned by equal bounds in every
///     local search and skipped by the sweep: only the free dims are searched.
/// A grid alone converts implicitly (no log-int dims, nothing held).
struct AcqDomain {
  AcqDomain(std::vector<double> g, std::vector<double> l = {}, std::vector<double> f = {})
      : grid(std::move(g)), log_int(std::move(l)), fixed(std::move(f)) {}
  std::vector<double> grid;
  std::vector<double> log_int;
  std::vector<double> fixed;
  bool is_log_int(int j) const { return !log_int.empty() && log_int[2 * static_cast<size_t>(j) + 1] > 0; }
  bool is_fixed(int j) const { return !fixed.empty() && !std::isnan(fixed[static_cast<size_t>(j)]); }
  /// Categorical, ordinal or log-int: searched by the sweep and pinned in the re-refinements.
  bool is_discrete(int j) const { return grid[static_cast<size_t>(j)] > 0 || is_log_int(j); }
};

class GpModel {
 public:
  /// MAP fit from the warm start (or defaults) plus n_restarts seeded starts.
  static std::shared_ptr<const GpModel> fit(GpData data, const FitOptions& options, ThreadPool& pool,
                                            FitReport* report);
  /// Factor at a given theta (bounded jitter). Throws Error on failure.
  static std::shared_ptr<const GpModel> build(GpData data, std::vector<double> theta, KernelKind kernel,
                                              bool deterministic, ThreadPool& pool);

  int n() const { return data_.n; }
  int d() const { return data_.d; }
  const std::vector<double>& theta() const { return theta_; }
  double log_posterior() const { return log_posterior_; }
  double jitter() const { return jitter_; }
  /// The factor L (n, n), column-major with leading dim n (a copy; for tests and parity checks).
  std::vector<double> factor() const;
  /// Whether the two models' factors live in the same FactorStore (for tests).
  bool shares_factor(const GpModel& other) const { return store_ == other.store_; }
  ~GpModel();
  const GpData& data() const { return data_; }
  /// Heap bytes this model alone holds (inputs, transposed inputs, solves, hyperparameters, and
  /// itself), without its factor store, which models appended in place share (factor_store()).
  /// The addon reports each model's own bytes and each store's (FactorStore::memory_bytes) once
  /// to the JS engine as external memory, however many handles hold them.
  size_t own_memory_bytes() const;
  /// The store of this model's factor: the same object for a model and the models appended to it
  /// in place (shares_factor). Its address identifies it while this model lives.
  const FactorStore& factor_store() const { return *store_; }
  /// Row of the best observation (largest y; the first on ties), -1 when n == 0: a start of the
  /// acquisition search, and the centre of its local candidates (src/surrogate/candidates.ts).
  int best_row() const;

  /// mean, variance: m values each, for x (m, d) row-major.
  void predict(const double* x, int m, double* mean, double* variance, ThreadPool& pool) const;
  /// value (m) and, when grad is not null, d value/dx (m, d) (zero on categorical dims).
  void acquisition(const double* x, int m, const AcqParams& acq, double* value, double* grad, ThreadPool& pool) const;
  /// The reference behaviour is src/surrogate/js-backend.ts (optimizeAcquisition):
  ///   1. snap the candidates onto the grid (see snap) and score them in one batch;
  ///   2. starting points: the best n_restarts candidates plus the best observation (largest y),
  ///      as Optuna 4.x GPSampler warm-starts its local search from the best trial (none when
  ///      n_restarts = 0: the best candidate is returned); when the local search is budget-limited (refine_budget_limited: n > 1612 at 10 starts) the observation
  ///      replaces the last candidate start, so the budget's start count is kept;
  ///   3. per start (the starts' L-BFGS-B runs step in lockstep, their evaluations batched: see
  ///      local_searches): L-BFGS-B with categorical dims held and ordinal and log-int dims
  ///      relaxed to [0, 1], then snapped (the start itself is kept if that is worse); when the
  ///      space has discrete dims, up to 3 rounds (1 when budget-limited) of a coordinate sweep
  ///      over every discrete dim (every choice / cell centre / log-int level for sets of at most
  ///      64 values, the two neighbouring cells or integers for larger ones) followed by L-BFGS-B
  ///      on the continuous dims with the discrete ones pinned, while a round improves the value;
  ///   4. the best feasible point wins (never worse than the best candidate).
  /// Dims held by domain.fixed keep their value through every step (see AcqDomain).
  /// Large n: see acquisition_budget. Throws Error (kInvalid) when the domain's sizes are not d / 2d.
  AcqOptimum optimize_acquisition(std::vector<double> candidates, int m, const AcqParams& acq, int n_restarts,
                                  const AcqDomain& domain, ThreadPool& pool) const;
  /// Same theta, k more observations: extends the factor in O(n^2 k), in place in its
  /// FactorStore when it has room and this model is its newest (else into a new store).
  /// `noiseless`: the new rows observe the latent function itself, their noise variance
  /// kNoiselessVariance x s2 instead of the model's (a kriging-believer fantasy of a pending point
  /// then leaves next to no variance there, as a joint acquisition over it would). Should the
  /// extension fail numerically (e.g. two noiseless rows at one point), the model is rebuilt with
  /// the model's noise on every row.
  std::shared_ptr<const GpModel> append(const double* x, const double* y, int k, ThreadPool& pool,
                                        bool noiseless = false) const;

 private:
  GpModel() = default;
  void finish();  // w, s2, sn2, xt, alpha, log_posterior from data_, theta_, l_
  void moments_chunk(const double* x, int mc, std::vector<double>& kbuf, std::vector<double>& r2,
                     double* mean, double* raw_var) const;
  /// Acquisition values (and d value/dx when grad is not null) of b points x (b, d), on the
  /// calling thread: the cross covariances of all of them go through one multi-right-hand-side
  /// solve (IsaKernels::trsm_cols_l / _lt), which reads the factor once per four points instead
  /// of once per point; each point's result is bit-identical to a one-point call.
  void acquisition_batch(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                         std::vector<double>& scratch) const;
  /// acquisition_batch of this model alone (acq.terms ignored; not for kLogEhvi).
  void own_acquisition_batch(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                             std::vector<double>& scratch) const;
  /// kLogEhvi's part of acquisition_batch: log EHVI of this model and its kLogEhvi terms.
  void hypervolume_batch(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                         std::vector<double>& scratch) const;
  /// Doubles of `scratch` that moments_batch uses for b points.
  size_t moments_scratch(int b, bool with_grad) const;
  /// Posterior mean and raw variance (s2 - v'v, before the floor) of b points x (b, d), through
  /// one multi-right-hand-side solve; `scratch` (at least moments_scratch(b, with_grad) doubles)
  /// keeps what moments_gradient needs when with_grad.
  void moments_batch(const double* x, int b, bool with_grad, double* mean, double* raw_var, double* scratch) const;
  /// grad (b, d) = dmean d mean/dx + dvar d var/dx at the points of the last moments_batch call
  /// (with_grad) on `scratch`; zero on categorical dims.
  void moments_gradient(const double* x, int b, const double* dmean, const double* dvar, double* grad, double* scratch) const;
  /// Throws Error (kInvalid) unless every term has a model over the same inputs (d, categorical
  /// dims) and no terms of its own, and kLogEhvi's boxes are well formed (see AcqParams).
  void check_terms(const AcqParams& acq) const;
  double acquisition_point(const double* x, const AcqParams& acq, double* grad, std::vector<double>& scratch) const;
  /// acquisition_batch with the points split into one contiguous part per thread (the results
  /// do not depend on the split). `scratch` is kept across calls.
  void acquisition_parallel(const double* x, int b, const AcqParams& acq, double* value, double* grad,
                            std::vector<std::vector<double>>& scratch, ThreadPool& pool) const;
  /// Makes a point feasible: a dim held by domain.fixed takes that value first (then snapped as
  /// below); categorical dims become a choice index (floor(u k), or kept when
  /// already an integral index), ordinal dims with spacing g the centre (floor(u / g) + 1/2) g of
  /// their cell (src/space/encode.ts), log-int dims the coordinate of the integer u decodes to
  /// (log_int_snap), continuous dims are clamped to [0, 1].
  void snap(double* point, const AcqDomain& domain) const;
  /// One pass over the discrete dims (see optimize_acquisition); returns the final value.
  double sweep_discrete(double* point, double value, const AcqDomain& domain, const AcqParams& acq,
                        std::vector<double>& scratch) const;
  /// One L-BFGS-B search of -acquisition inside [lower, upper] from `from`; `found` is its last
  /// accepted point, snapped, with its value.
  struct LocalSearch {
    std::vector<double> from, lower, upper;
    AcqOptimum found;
  };
  /// Runs the searches in lockstep (LbfgsbSolver): each round evaluates every point that some
  /// search asks for in one acquisition_parallel call, so the factor is streamed once per round
  /// per thread rather than once per search and evaluation. Each search's trajectory is the one
  /// it would follow alone.
  void local_searches(std::vector<LocalSearch>& jobs, const AcqParams& acq, const AcqDomain& domain,
                      int max_iterations, ThreadPool& pool) const;
  /// Step 3 of optimize_acquisition for all starts (the local searches batched across starts).
  std::vector<AcqOptimum> refine_starts(std::vector<std::vector<double>> starts, const AcqParams& acq,
                                        const AcqDomain& domain, int max_iterations, int max_rounds,
                                        ThreadPool& pool) const;

  GpData data_;
  std::vector<double> xt_;  // (d, n)
  KernelKind kernel_ = KernelKind::kMatern52;
  bool deterministic_ = false;
  std::vector<double> theta_;
  std::vector<double> w_;
  double s2_ = 1.0;
  double sn2_ = 1e-6;
  double jitter_ = 0.0;
  const double* factor_data() const { return store_->data.data(); }
  ptrdiff_t factor_ld() const { return store_->capacity; }
  std::shared_ptr<FactorStore> store_;  // L in the first n rows and columns
  int claimed_from_ = -1;                // the n this model extended the store from in place
  std::vector<double> alpha_;
  double log_posterior_ = 0.0;
};

/// Fills x (n, d) with the rows of data as Xt (d, n).
std::vector<double> transpose_inputs(const GpData& data);

}  // namespace kestrel

#endif  // KESTREL_CORE_GP_H_
