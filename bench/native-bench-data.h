// The seeded GP data the native micro-benches (nlp-eval.cc, fresh-fit.cc) fit: n uniform points
// in [0, 1]^d (seed 12345) with a smooth target, sum_j sin(3 x_j + j), standardized; the same
// inputs in every bench so that their figures, and builds, compare bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>

#include "gp.h"

namespace kestrel_bench {

inline kestrel::GpData make_data(int n, int d) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  kestrel::GpData data;
  data.n = n;
  data.d = d;
  data.x.resize(static_cast<size_t>(n) * d);
  data.y.resize(static_cast<size_t>(n));
  data.is_cat.assign(static_cast<size_t>(d), 0);
  for (double& v : data.x) v = u(rng);
  double mean = 0.0;
  for (int i = 0; i < n; ++i) {
    double s = 0.0;
    for (int j = 0; j < d; ++j) s += std::sin(3.0 * data.x[static_cast<size_t>(i) * d + j] + j);
    data.y[static_cast<size_t>(i)] = s;
    mean += s / n;
  }
  double var = 0.0;
  for (double v : data.y) var += (v - mean) * (v - mean) / n;
  for (double& v : data.y) v = (v - mean) / std::sqrt(var);
  return data;
}

}  // namespace kestrel_bench
