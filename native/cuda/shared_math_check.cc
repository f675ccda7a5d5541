// Host build of the CUDA kernels' per-element math (cuda_gp_math.h), for
// test/native/cuda-shared-math.test.ts. Compiled with the host C++ compiler (KESTREL_HD expands
// to nothing), it runs the posterior / acquisition pipeline of cuda_gp.cu element by element:
// A(i, j) = training_entry, k_i = covariance_entry (and dk_i), mean = k^T alpha, v = L^{-1} k,
// score_candidate(mean, s2 - v^T v), u = L^{-T} v, grad_j = 2 w_j sum_i grad_term(...).
// Only the dense factorization and solves are plain textbook loops here (Cholesky-Banachiewicz,
// forward / backward substitution); the blocked device versions are covered by the GPU parity
// tests. The test compares the output with the CPU core (GpModel::predict / acquisition) at the
// same theta and jitter, which proves the functions the kernels call are the CPU's math.
//
// stdin (whitespace-separated): n d m kernel acqKind incumbent beta jitter, theta (d + 2),
// isCategorical (d), X (n d, row-major), y (n), candidates (m d, row-major).
// stdout: one JSON object {"mean": [...], "variance": [...], "value": [...], "grad": [...]}.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

#include "cuda_gp_math.h"

namespace {

using kestrel::AcquisitionKind;
using kestrel::KernelKind;
namespace cm = kestrel::cuda_math;

void print_array(const char* name, const std::vector<double>& v, bool last) {
  std::printf("\"%s\":[", name);
  for (size_t i = 0; i < v.size(); ++i) std::printf(i == 0 ? "%.17g" : ",%.17g", v[i]);
  std::printf(last ? "]" : "],");
}

bool read(std::vector<double>& v, size_t count) {
  v.resize(count);
  for (double& x : v) {
    if (!(std::cin >> x)) return false;
  }
  return true;
}

}  // namespace

int main() {
  int n = 0, d = 0, m = 0, kernel = 0, kind = 0;
  double incumbent = 0.0, beta = 0.0, jitter = 0.0;
  if (!(std::cin >> n >> d >> m >> kernel >> kind >> incumbent >> beta >> jitter) || n <= 0 || d <= 0 || m < 0) {
    std::fprintf(stderr, "bad header\n");
    return 2;
  }
  std::vector<double> theta, cat_in, x, y, cand;
  if (!read(theta, static_cast<size_t>(d) + 2) || !read(cat_in, static_cast<size_t>(d)) ||
      !read(x, static_cast<size_t>(n) * d) || !read(y, static_cast<size_t>(n)) || !read(cand, static_cast<size_t>(m) * d)) {
    std::fprintf(stderr, "short input\n");
    return 2;
  }
  std::vector<uint8_t> is_cat(static_cast<size_t>(d));
  for (int j = 0; j < d; ++j) is_cat[static_cast<size_t>(j)] = cat_in[static_cast<size_t>(j)] != 0.0 ? 1 : 0;
  std::vector<double> w(static_cast<size_t>(d));
  for (int j = 0; j < d; ++j) w[static_cast<size_t>(j)] = std::exp(-2.0 * theta[static_cast<size_t>(j)]);
  const double s2 = std::exp(theta[static_cast<size_t>(d)]);
  const double sn2 = std::exp(theta[static_cast<size_t>(d) + 1]);
  const KernelKind kk = static_cast<KernelKind>(kernel);
  std::vector<double> xt(static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) xt[static_cast<size_t>(j) * n + i] = x[static_cast<size_t>(i) * d + j];
  }
  // A = K + (sn2) I via training_entry (what training_kernel writes), then + jitter.
  std::vector<double> l(static_cast<size_t>(n) * n, 0.0);
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) {
      l[static_cast<size_t>(j) * n + i] = cm::training_entry(xt.data(), x.data(), n, i, j, w.data(), is_cat.data(), d, kk, s2, sn2);
    }
    l[static_cast<size_t>(j) * n + j] += jitter;
  }
  auto at = [&](int i, int j) -> double& { return l[static_cast<size_t>(j) * n + i]; };
  for (int j = 0; j < n; ++j) {  // Cholesky-Banachiewicz (column by column)
    double s = at(j, j);
    for (int p = 0; p < j; ++p) s -= at(j, p) * at(j, p);
    if (!(s > 0.0)) {
      std::fprintf(stderr, "not positive definite at %d\n", j);
      return 3;
    }
    at(j, j) = std::sqrt(s);
    for (int i = j + 1; i < n; ++i) {
      double t = at(i, j);
      for (int p = 0; p < j; ++p) t -= at(i, p) * at(j, p);
      at(i, j) = t / at(j, j);
    }
  }
  auto forward = [&](std::vector<double>& b) {
    for (int i = 0; i < n; ++i) {
      double s = b[static_cast<size_t>(i)];
      for (int p = 0; p < i; ++p) s -= at(i, p) * b[static_cast<size_t>(p)];
      b[static_cast<size_t>(i)] = s / at(i, i);
    }
  };
  auto backward = [&](std::vector<double>& b) {
    for (int i = n - 1; i >= 0; --i) {
      double s = b[static_cast<size_t>(i)];
      for (int p = i + 1; p < n; ++p) s -= at(p, i) * b[static_cast<size_t>(p)];
      b[static_cast<size_t>(i)] = s / at(i, i);
    }
  };
  std::vector<double> alpha = y;
  forward(alpha);
  backward(alpha);

  std::vector<double> mean(static_cast<size_t>(m)), var(static_cast<size_t>(m)), value(static_cast<size_t>(m));
  std::vector<double> grad(static_cast<size_t>(m) * d);
  std::vector<double> k(static_cast<size_t>(n)), dk(static_cast<size_t>(n));
  for (int c = 0; c < m; ++c) {
    const double* xc = cand.data() + static_cast<size_t>(c) * d;
    double mu = 0.0;
    for (int i = 0; i < n; ++i) {
      k[static_cast<size_t>(i)] = cm::covariance_entry(xt.data(), n, i, xc, w.data(), is_cat.data(), d, kk, s2,
                                                       &dk[static_cast<size_t>(i)]);
      mu += k[static_cast<size_t>(i)] * alpha[static_cast<size_t>(i)];
    }
    forward(k);  // v
    double vv = 0.0;
    for (double t : k) vv += t * t;
    const cm::CandidateScore sc = cm::score_candidate(mu, s2 - vv, s2, static_cast<AcquisitionKind>(kind), incumbent, beta);
    mean[static_cast<size_t>(c)] = mu;
    var[static_cast<size_t>(c)] = sc.var;
    value[static_cast<size_t>(c)] = sc.value;
    backward(k);  // u
    for (int j = 0; j < d; ++j) {
      double g = 0.0;
      if (is_cat[static_cast<size_t>(j)] == 0) {
        for (int i = 0; i < n; ++i) {
          g += cm::grad_term(dk[static_cast<size_t>(i)], xc[j], xt[static_cast<size_t>(j) * n + i],
                             alpha[static_cast<size_t>(i)], k[static_cast<size_t>(i)], sc.dmean, sc.dvar);
        }
        g *= 2.0 * w[static_cast<size_t>(j)];
      }
      grad[static_cast<size_t>(c) * d + j] = g;
    }
  }
  std::printf("{");
  print_array("mean", mean, false);
  print_array("variance", var, false);
  print_array("value", value, false);
  print_array("grad", grad, true);
  std::printf("}\n");
  return 0;
}
