// One MAP evaluation (negative log posterior and its gradient, native/core/gp.h) on one thread,
// timed as the thread's CPU time so that other processes on a shared machine do not count: the
// unit of every fit's cost, and most of a new sampler's cold first fit (bench/cold-ask.ts).
//
//   cmake --build build --target kestrel_core &&
//   g++ -O2 -std=c++17 -pthread -Inative/core -Inative/include bench/nlp-eval.cc \
//       build/libkestrel_core.a -o /tmp/nlp-eval && /tmp/nlp-eval
//
// Inputs: n seeded uniform points in [0, 1]^8 with a smooth target (standardized), a fixed theta
// (lengthscales near 1, s2 = e^0.5, noise e^-6), the Matern-5/2 kernel, one reused workspace (as a
// MAP start reuses its own). Per n: the value and first gradient entry (to compare builds bit for
// bit), and the median / first quartile / minimum CPU time over the evaluations after a warm-up.
// JSON lines on stdout, a table on stderr.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

#include "gp.h"
#include "isa_kernels.h"
#include "native-bench-data.h"

namespace {

double thread_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {  // no arguments: one that looks like a setting must not be silently ignored
    std::fprintf(stderr, "nlp-eval: takes no arguments, got \"%s\"\n", argv[1]);
    return 2;
  }
  const int d = 8;
  const std::vector<double> theta = {0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.3, 0.5, -6.0};
  std::fprintf(stderr, "| n | value | CPU ms per evaluation, median | first quartile | min |\n|---|---|---|---|---|\n");
  for (int n : {128, 200, 300, 500}) {
    const kestrel::GpData data = kestrel_bench::make_data(n, d);
    kestrel::ThreadPool pool(1);
    kestrel::NlpWorkspace ws;
    const kestrel::NlpResult first =
        kestrel::neg_log_posterior(data, theta, kestrel::KernelKind::kMatern52, false, true, pool, ws);
    std::vector<double> ms;
    const int reps = n <= 200 ? 200 : 60;
    for (int r = 0; r < reps; ++r) {
      const double t0 = thread_cpu_ms();
      kestrel::neg_log_posterior(data, theta, kestrel::KernelKind::kMatern52, false, true, pool, ws);
      ms.push_back(thread_cpu_ms() - t0);
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2], q1 = ms[ms.size() / 4], lo = ms[0];
    std::printf("{\"bench\":\"nlp-eval\",\"n\":%d,\"d\":%d,\"value\":%.17g,\"grad0\":%.17g,\"medianMs\":%.4f,\"q1Ms\":%.4f,\"minMs\":%.4f,\"isa\":\"%s\"}\n",
                n, d, first.value, first.grad.empty() ? 0.0 : first.grad[0], med, q1, lo, kestrel::isa_kernels().name);
    std::fprintf(stderr, "| %d | %.12g | %.3f | %.3f | %.3f |\n", n, first.value, med, q1, lo);
  }
  return 0;
}
