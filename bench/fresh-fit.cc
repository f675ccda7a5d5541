// A MAP fit from fresh buffers (GpModel::fit: its start's n^2 workspaces and the model's factor
// store are allocated anew every fit), as a new sampler's provisional fit and every in-study
// refit make one: the process's CPU time (all threads, user + system), wall time and minor page
// faults per fit. Where bench/nlp-eval.cc times one evaluation on a reused workspace, this counts
// what fresh pages cost (bench/surrogate.md, "Fresh buffers on huge pages").
//
//   cmake --build build --target kestrel_core &&
//   g++ -O2 -std=c++17 -pthread -Inative/core -Inative/include bench/fresh-fit.cc \
//       build/libkestrel_core.a -o /tmp/fresh-fit && /tmp/fresh-fit [threads=2] [reps=41]
//
// Both arguments are positive integers; anything else (a third argument, "x", "0") prints the
// usage on stderr and exits 2 rather than timing with 0 threads or no repeats.
//
// Inputs: as bench/nlp-eval.cc (n seeded uniform points in [0, 1]^8, a smooth standardized
// target, Matern-5/2), fitted like the cold ask's provisional fit: the default start only, 12
// iterations. Per n: the fitted log posterior (to compare builds bit for bit) and the median /
// minimum per fit after two warm-up fits. JSON lines on stdout, a table on stderr.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "gp.h"
#include "isa_kernels.h"
#include "native-bench-data.h"

namespace {

struct Usage {
  double cpu_ms;
  long faults;
};

Usage usage() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-3;
  return {cpu, ru.ru_minflt};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

constexpr const char* kUsage = "usage: fresh-fit [threads=2] [reps=41] (positive integers)\n";

// The positive integer `text`, or exit 2 naming the argument (std::atoi read "x" as 0).
int positive_arg(const char* text, const char* name) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || value < 1 || value > 1 << 20) {
    std::fprintf(stderr, "fresh-fit: %s: expected a positive integer, got \"%s\"\n%s", name, text, kUsage);
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 3) {
    std::fprintf(stderr, "fresh-fit: unexpected argument \"%s\"\n%s", argv[3], kUsage);
    return 2;
  }
  const int threads = argc > 1 ? positive_arg(argv[1], "threads") : 2;
  const int reps = argc > 2 ? positive_arg(argv[2], "reps") : 41;
  const int d = 8;
  kestrel::FitOptions options;
  options.n_restarts = 0;
  options.max_iterations = 12;
  std::fprintf(stderr, "| n | log posterior | CPU ms per fit, median (min) | wall ms, median (min) | minor faults, median |\n|---|---|---|---|---|\n");
  for (int n : {200, 300, 500, 800}) {
    const kestrel::GpData data = kestrel_bench::make_data(n, d);
    std::vector<double> cpu, wall, faults;
    double log_posterior = 0.0;
    for (int r = 0; r < reps + 2; ++r) {
      kestrel::ThreadPool pool(threads);
      const Usage u0 = usage();
      const auto t0 = std::chrono::steady_clock::now();
      auto model = kestrel::GpModel::fit(data, options, pool, nullptr);
      model.reset();  // the model (and its factor store) is freed in the timed span, as a refit frees its predecessor
      const auto t1 = std::chrono::steady_clock::now();
      const Usage u1 = usage();
      if (r == 0) log_posterior = kestrel::GpModel::fit(data, options, pool, nullptr)->log_posterior();
      if (r < 2) continue;
      cpu.push_back(u1.cpu_ms - u0.cpu_ms);
      wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      faults.push_back(static_cast<double>(u1.faults - u0.faults));
    }
    std::printf("{\"bench\":\"fresh-fit\",\"n\":%d,\"threads\":%d,\"logPosterior\":%.17g,\"cpuMs\":%.3f,\"cpuMinMs\":%.3f,\"wallMs\":%.3f,\"wallMinMs\":%.3f,\"faults\":%.0f,\"isa\":\"%s\"}\n",
                n, threads, log_posterior, median(cpu), *std::min_element(cpu.begin(), cpu.end()), median(wall),
                *std::min_element(wall.begin(), wall.end()), median(faults), kestrel::isa_kernels().name);
    std::fprintf(stderr, "| %d | %.12g | %.2f (%.2f) | %.2f (%.2f) | %.0f |\n", n, log_posterior, median(cpu),
                 *std::min_element(cpu.begin(), cpu.end()), median(wall), *std::min_element(wall.begin(), wall.end()),
                 median(faults));
  }
  return 0;
}
