// Runs the CUDA kernels and host drivers of native/cuda/cuda_gp.cu on the host through
// cuda_emulation.h (no GPU) and compares them with the CPU core: device Cholesky (sizes around
// the 64-wide blocks, failing pivot, NaN), triangular solves with many right-hand sides, and
// CudaGp (factor, predict, acquisition with gradient) against GpModel at the same theta,
// recovery from a device out of memory, the bytes CudaGp reports holding (device_bytes /
// memory_bytes) against the emulated device's live allocations, also across out-of-memory
// failures, the candidate chunks' bound on device buffers, and the kernel-image probe on a card
// the build lacks.
// Built and run by test/native/cuda-emulated.test.ts. Prints "<k> checks, <f> failed".
#define KESTREL_CUDA_EMULATE 1
#include "../cuda_gp.cu"  // NOLINT: the kernels themselves, compiled for the emulator

#include <cstdio>

namespace {

int g_checks = 0;
int g_failed = 0;

void check(bool ok, const std::string& what, double got = 0.0, double limit = 0.0) {
  ++g_checks;
  if (!ok) {
    ++g_failed;
    std::printf("FAIL %s (got %.3e, limit %.3e)\n", what.c_str(), got, limit);
  }
}

struct Lcg {
  uint64_t s;
  double next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
  }
};

std::vector<double> spd(int n, uint64_t seed) {
  Lcg r{seed};
  std::vector<double> b(static_cast<size_t>(n) * n), a(static_cast<size_t>(n) * n);
  for (double& v : b) v = r.next() - 0.5;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      double s = 0.0;
      for (int p = 0; p < n; ++p) s += b[static_cast<size_t>(i + p * n)] * b[static_cast<size_t>(j + p * n)];
      a[static_cast<size_t>(i + j * n)] = s / n + (i == j ? 1.0 : 0.0);
    }
  }
  return a;
}

double max_abs(const std::vector<double>& a) {
  double m = 0.0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

double max_diff(const double* a, const double* b, size_t count) {
  double m = 0.0;
  for (size_t i = 0; i < count; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

/// A CPU model over n random rows of d float dims (Matern-5/2, fixed theta).
std::shared_ptr<const kestrel::GpModel> random_model(int n, int d, uint64_t seed, kestrel::ThreadPool& pool) {
  Lcg r{seed};
  kestrel::GpData data;
  data.n = n;
  data.d = d;
  data.is_cat.assign(static_cast<size_t>(d), 0);
  for (int i = 0; i < n * d; ++i) data.x.push_back(r.next());
  for (int i = 0; i < n; ++i) data.y.push_back(std::sin(5.0 * data.x[static_cast<size_t>(i) * d]));
  std::vector<double> theta(static_cast<size_t>(d) + 2, std::log(0.4));
  theta[static_cast<size_t>(d)] = 0.0;
  theta[static_cast<size_t>(d) + 1] = std::log(1e-4);
  return kestrel::GpModel::build(data, theta, kestrel::KernelKind::kMatern52, false, pool);
}

/// The device bytes of a CudaGp over n rows of d dims, by the shapes cuda_gp.h documents: L (n, n),
/// X^T (d, n), alpha (n) and w (d) doubles, and the categorical flags (d bytes).
size_t expected_device_bytes(int n, int d) {
  const size_t nn = static_cast<size_t>(n), dd = static_cast<size_t>(d);
  return (nn * nn + nn * dd + nn + dd) * sizeof(double) + dd;
}

void check_cholesky(kestrel::ThreadPool& pool) {
  for (int n : {1, 37, 64, 65, 130}) {
    const std::vector<double> a = spd(n, 100 + static_cast<uint64_t>(n));
    std::vector<double> lc, lg;
    const kestrel::CholeskyStatus sc = kestrel::cholesky_with_jitter(n, a.data(), n, lc, pool, 1e-10, 0);
    const kestrel::CholeskyStatus sg = kestrel::cuda::cuda_cholesky(n, a.data(), n, lg, 1e-10, 0);
    check(sc.ok && sg.ok, "cholesky ok n=" + std::to_string(n));
    if (!sg.ok) continue;
    const double diff = max_diff(lc.data(), lg.data(), lc.size());
    check(diff <= 1e-12 * max_abs(lg), "cholesky factor n=" + std::to_string(n), diff, 1e-12 * max_abs(lg));
    bool upper_zero = true;
    for (int j = 1; j < n; ++j) {
      for (int i = 0; i < j; ++i) upper_zero = upper_zero && lg[static_cast<size_t>(i + j * n)] == 0.0;
    }
    check(upper_zero, "cholesky strict upper zero n=" + std::to_string(n));
  }
  const int n = 150;
  std::vector<double> a = spd(n, 7);
  a[97 + 97 * n] = -1.0;
  std::vector<double> lc, lg;
  const kestrel::CholeskyStatus sc = kestrel::cholesky_with_jitter(n, a.data(), n, lc, pool, 1e-10, 0);
  const kestrel::CholeskyStatus sg = kestrel::cuda::cuda_cholesky(n, a.data(), n, lg, 1e-10, 0);
  check(!sg.ok && !sg.had_nan && sg.index == sc.index, "cholesky failing pivot equals the CPU's", sg.index, sc.index);
  std::vector<double> b = spd(n, 8);
  b[120 + 33 * n] = NAN;
  const kestrel::CholeskyStatus sn = kestrel::cuda::cuda_cholesky(n, b.data(), n, lg, 1e-10, 6);
  check(!sn.ok && sn.had_nan && sn.index == 33, "cholesky NaN reported apart, column 33", sn.index, 33);
  // Jitter: a singular PSD matrix (rank 1) needs jitter; the escalation matches the CPU's.
  std::vector<double> r1(static_cast<size_t>(70) * 70);
  for (int j = 0; j < 70; ++j) {
    for (int i = 0; i < 70; ++i) r1[static_cast<size_t>(i + j * 70)] = 1.0;
  }
  const kestrel::CholeskyStatus jc = kestrel::cholesky_with_jitter(70, r1.data(), 70, lc, pool, 1e-10, 6);
  const kestrel::CholeskyStatus jg = kestrel::cuda::cuda_cholesky(70, r1.data(), 70, lg, 1e-10, 6);
  check(jc.ok == jg.ok && jc.jitter == jg.jitter, "jitter escalation equals the CPU's", jg.jitter, jc.jitter);
  // Finite entries whose diagonal sum overflows (rank one, 1e308 everywhere): the jitter stays
  // finite and equals the CPU's (an infinite mean gave ok with L = diag(inf), jitter = inf).
  std::vector<double> big(static_cast<size_t>(4) * 4, 1e308);
  const kestrel::CholeskyStatus bc = kestrel::cholesky_with_jitter(4, big.data(), 4, lc, pool, 1e-10, 6);
  const kestrel::CholeskyStatus bg = kestrel::cuda::cuda_cholesky(4, big.data(), 4, lg, 1e-10, 6);
  bool finite_factor = bg.ok;
  for (size_t e = 0; finite_factor && e < lg.size(); ++e) finite_factor = std::isfinite(lg[e]);
  check(bc.ok && bg.ok && bg.jitter == bc.jitter && finite_factor,
        "diagonal sum overflow: finite jitter and factor, equal to the CPU's", bg.jitter, bc.jitter);
}

void check_solves() {
  for (int n : {5, 64, 150}) {
    for (int m : {1, 70}) {
      const std::vector<double> a = spd(n, 200 + static_cast<uint64_t>(n));
      std::vector<double> l;
      kestrel::ThreadPool pool(1);
      kestrel::cholesky_with_jitter(n, a.data(), n, l, pool, 1e-10, 0);
      Lcg r{static_cast<uint64_t>(n * 1000 + m)};
      std::vector<double> b(static_cast<size_t>(n) * m);
      for (double& v : b) v = r.next() - 0.5;
      for (bool transpose : {false, true}) {
        std::vector<double> cpu = b, gpu = b;
        for (int c = 0; c < m; ++c) {
          double* col = cpu.data() + static_cast<size_t>(c) * n;
          if (transpose) {
            kestrel::backward_solve_t(n, l.data(), n, col);
          } else {
            kestrel::forward_solve(n, l.data(), n, col);
          }
        }
        kestrel::cuda::cuda_triangular_solve(n, l.data(), m, gpu.data(), transpose);
        const double diff = max_diff(cpu.data(), gpu.data(), cpu.size());
        const double tol = 1e-12 * (1.0 + max_abs(cpu));
        check(diff <= tol, std::string(transpose ? "solve L^T" : "solve L") + " n=" + std::to_string(n) + " m=" + std::to_string(m),
              diff, tol);
      }
    }
  }
}

void check_model(kestrel::KernelKind kernel, kestrel::ThreadPool& pool) {
  const int n = 100, d = 3, m = 10;  // two 64-wide blocks; small: the emulator plays every thread
  Lcg r{kernel == kestrel::KernelKind::kRbf ? 5u : 6u};
  kestrel::GpData data;
  data.n = n;
  data.d = d;
  data.is_cat = {0, 0, 1};
  for (int i = 0; i < n; ++i) {
    double f = 0.0;
    for (int j = 0; j < d; ++j) {
      const double v = j == d - 1 ? std::floor(r.next() * 3) : r.next();
      data.x.push_back(v);
      f += std::sin(3.0 * v + j);
    }
    data.y.push_back(f);
  }
  std::vector<double> theta = {std::log(0.3), std::log(0.5), std::log(0.8), std::log(1.3), std::log(1e-3)};
  auto model = kestrel::GpModel::build(data, theta, kernel, false, pool);
  auto gpu = kestrel::cuda::CudaGp::create(*model, kernel);
  const std::string tag = kernel == kestrel::KernelKind::kRbf ? " (rbf)" : " (matern52)";
  const std::vector<double> lg = gpu->factor();
  const double fdiff = max_diff(lg.data(), model->factor().data(), lg.size());
  check(fdiff <= 1e-11 * max_abs(lg), "CudaGp factor" + tag, fdiff, 1e-11 * max_abs(lg));
  std::vector<double> x;
  for (int c = 0; c < m; ++c) {
    for (int j = 0; j < d; ++j) x.push_back(j == d - 1 ? std::floor(r.next() * 3) : r.next());
  }
  std::vector<double> mc(m), vc(m), mg(m), vg(m);
  model->predict(x.data(), m, mc.data(), vc.data(), pool);
  gpu->predict(x.data(), m, mg.data(), vg.data());
  check(max_diff(mc.data(), mg.data(), m) <= 1e-10, "CudaGp mean" + tag, max_diff(mc.data(), mg.data(), m), 1e-10);
  check(max_diff(vc.data(), vg.data(), m) <= 1e-10, "CudaGp variance" + tag, max_diff(vc.data(), vg.data(), m), 1e-10);
  double best = -1e300;
  for (double v : data.y) best = std::max(best, v);
  for (kestrel::AcquisitionKind kind :
       {kestrel::AcquisitionKind::kLogEi, kestrel::AcquisitionKind::kUcb, kestrel::AcquisitionKind::kPi}) {
    kestrel::AcqParams acq;
    acq.kind = kind;
    acq.incumbent = best;
    acq.beta = 2.0;
    std::vector<double> ac(m), ag(m), gc(static_cast<size_t>(m) * d), gg(static_cast<size_t>(m) * d);
    model->acquisition(x.data(), m, acq, ac.data(), gc.data(), pool);
    gpu->acquisition(x.data(), m, acq, ag.data(), gg.data());
    const std::string k = tag + " kind " + std::to_string(static_cast<int>(kind));
    const double vd = max_diff(ac.data(), ag.data(), m);
    check(vd <= 1e-9 * (1 + max_abs(ac)), "CudaGp acquisition" + k, vd, 1e-9 * (1 + max_abs(ac)));
    const double gd = max_diff(gc.data(), gg.data(), gc.size());
    check(gd <= 1e-8 * (1 + max_abs(gc)), "CudaGp acquisition gradient" + k, gd, 1e-8 * (1 + max_abs(gc)));
  }
}

/// A device out of memory (cudaMalloc fails, e.g. another process holds the GPU) fails that one
/// call with CudaError; the next call on the same thread must work: a failed runtime call leaves
/// its error as the thread's "last error", which a later launch check must not report.
void check_out_of_memory(kestrel::ThreadPool& pool) {
  const int n = 20, d = 2, m = 5;
  Lcg r{9};
  kestrel::GpData data;
  data.n = n;
  data.d = d;
  data.is_cat = {0, 0};
  for (int i = 0; i < n * d; ++i) data.x.push_back(r.next());
  for (int i = 0; i < n; ++i) data.y.push_back(std::sin(5.0 * data.x[static_cast<size_t>(i) * d]));
  const std::vector<double> theta = {std::log(0.4), std::log(0.6), 0.0, std::log(1e-4)};
  auto model = kestrel::GpModel::build(data, theta, kestrel::KernelKind::kMatern52, false, pool);
  auto gpu = kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
  std::vector<double> x;
  for (int i = 0; i < m * d; ++i) x.push_back(r.next());
  std::vector<double> mc(m), vc(m), mg(m), vg(m);
  model->predict(x.data(), m, mc.data(), vc.data(), pool);
  kestrel_emu::failing_mallocs = 1;
  bool threw = false;
  try {
    gpu->predict(x.data(), m, mg.data(), vg.data());
  } catch (const kestrel::cuda::CudaError& e) {
    threw = std::string(e.what()).find("cudaMalloc") != std::string::npos;
  }
  kestrel_emu::failing_mallocs = 0;
  check(threw, "out of memory: the call fails with CudaError naming cudaMalloc");
  try {
    gpu->predict(x.data(), m, mg.data(), vg.data());
    check(max_diff(mc.data(), mg.data(), m) <= 1e-10, "out of memory: the next predict is right", max_diff(mc.data(), mg.data(), m), 1e-10);
  } catch (const std::exception& e) {
    check(false, std::string("out of memory: the next predict on the thread failed: ") + e.what());
  }
  kestrel::AcqParams acq;
  kestrel_emu::failing_mallocs = 1;
  std::vector<double> l;
  std::vector<double> value(m), grad(static_cast<size_t>(m) * d);
  try {
    gpu->acquisition(x.data(), m, acq, value.data(), grad.data());
  } catch (const kestrel::cuda::CudaError&) {
  }
  kestrel_emu::failing_mallocs = 0;
  try {
    const std::vector<double> a = spd(70, 3);
    const kestrel::CholeskyStatus st = kestrel::cuda::cuda_cholesky(70, a.data(), 70, l, 1e-10, 0);
    check(st.ok, "out of memory: the next cuda_cholesky on the thread works");
  } catch (const std::exception& e) {
    check(false, std::string("out of memory: the next cuda_cholesky on the thread failed: ") + e.what());
  }
}

/// The candidate chunks bound every device buffer by kChunkElements doubles (128 MiB), also when
/// d > n: the candidates (mc, d) and their gradient are as large as Kc (n, mc) then.
void check_chunk_memory(kestrel::ThreadPool& pool) {
  const int n = 2, d = 100000, m = 170;  // m d > 2^24 with few blocks (the emulator plays each)
  kestrel::GpData data;
  data.n = n;
  data.d = d;
  data.is_cat.assign(static_cast<size_t>(d), 0);
  for (int i = 0; i < n * d; ++i) data.x.push_back((i % 7) / 7.0);
  data.y = {0.5, -0.5};
  std::vector<double> theta(static_cast<size_t>(d) + 2, std::log(30.0));
  theta[static_cast<size_t>(d)] = 0.0;
  theta[static_cast<size_t>(d) + 1] = std::log(1e-4);
  auto model = kestrel::GpModel::build(data, theta, kestrel::KernelKind::kMatern52, false, pool);
  const size_t base = kestrel_emu::live_bytes();
  auto gpu = kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
  check(gpu->device_bytes() == kestrel_emu::live_bytes() - base && gpu->device_bytes() == expected_device_bytes(n, d),
        "memory: device_bytes equals the live device bytes when d > n", static_cast<double>(gpu->device_bytes()),
        static_cast<double>(kestrel_emu::live_bytes() - base));
  std::vector<double> x(static_cast<size_t>(m) * d, 0.25), mean(m), var(m);
  kestrel_emu::largest_malloc = 0;
  gpu->predict(x.data(), m, mean.data(), var.data());
  const double limit = static_cast<double>(kestrel::cuda::kChunkElements * sizeof(double));
  check(static_cast<double>(kestrel_emu::largest_malloc) <= limit, "chunking: no device buffer above 128 MiB when d > n",
        static_cast<double>(kestrel_emu::largest_malloc), limit);
  std::vector<double> mc(m), vc(m);
  model->predict(x.data(), m, mc.data(), vc.data(), pool);
  check(max_diff(mc.data(), mean.data(), m) <= 1e-10, "chunking: mean when d > n", max_diff(mc.data(), mean.data(), m), 1e-10);
}

/// CudaGp::device_bytes() is what the device copy holds for its lifetime, which the addon reports
/// to the JS engine (native/addon/addon.cc, "Memory"): the emulated device's live bytes grow by
/// exactly that much when it is created, stay there across calls (whose candidate buffers come
/// and go within the call, also when a call runs out of device memory), and go back when it is
/// freed. memory_bytes() adds the host side it keeps (itself, its state and the w copy).
void check_memory_bytes(kestrel::ThreadPool& pool) {
  for (const auto& [n, d] : {std::pair<int, int>{1, 1}, {37, 3}, {100, 2}}) {
    const std::string tag = " n=" + std::to_string(n) + " d=" + std::to_string(d);
    auto model = random_model(n, d, 40 + static_cast<uint64_t>(n), pool);
    const size_t base = kestrel_emu::live_bytes();
    const size_t base_count = kestrel_emu::live_count();
    auto gpu = kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
    const size_t held = kestrel_emu::live_bytes() - base;
    check(gpu->device_bytes() == held, "memory: device_bytes equals the live device bytes" + tag,
          static_cast<double>(gpu->device_bytes()), static_cast<double>(held));
    check(gpu->device_bytes() == expected_device_bytes(n, d), "memory: device_bytes is L, X^T, alpha, w, flags" + tag,
          static_cast<double>(gpu->device_bytes()), static_cast<double>(expected_device_bytes(n, d)));
    const size_t host = sizeof(kestrel::cuda::CudaGp) + sizeof(kestrel::cuda::CudaGp::Impl) + static_cast<size_t>(d) * sizeof(double);
    check(gpu->memory_bytes() == gpu->device_bytes() + host, "memory: memory_bytes adds the host side" + tag,
          static_cast<double>(gpu->memory_bytes() - gpu->device_bytes()), static_cast<double>(host));
    Lcg r{7};
    const int m = 4;
    std::vector<double> x(static_cast<size_t>(m) * d), mean(m), var(m), value(m), grad(static_cast<size_t>(m) * d);
    for (double& v : x) v = r.next();
    gpu->predict(x.data(), m, mean.data(), var.data());
    kestrel::AcqParams acq;
    gpu->acquisition(x.data(), m, acq, value.data(), grad.data());
    kestrel_emu::failing_mallocs = 1;
    try {
      gpu->predict(x.data(), m, mean.data(), var.data());
    } catch (const kestrel::cuda::CudaError&) {
    }
    kestrel_emu::failing_mallocs = 0;
    check(kestrel_emu::live_bytes() - base == gpu->device_bytes(),
          "memory: after predict, acquisition and a failed call the device holds device_bytes" + tag,
          static_cast<double>(kestrel_emu::live_bytes() - base), static_cast<double>(gpu->device_bytes()));
    gpu.reset();
    check(kestrel_emu::live_bytes() == base && kestrel_emu::live_count() == base_count,
          "memory: freeing the CudaGp frees what it reported" + tag, static_cast<double>(kestrel_emu::live_bytes()),
          static_cast<double>(base));
  }
  // A device out of memory at each allocation of create in turn: the failed create leaves nothing
  // behind on the device (nothing is reported for it), and the create that finally succeeds
  // reports what it holds.
  const int n = 20, d = 2;
  auto model = random_model(n, d, 77, pool);
  const size_t base = kestrel_emu::live_bytes();
  int failures = 0;
  bool created = false;
  for (int k = 0; k < 64 && !created; ++k) {
    kestrel_emu::mallocs_before_failure = k;
    std::shared_ptr<const kestrel::cuda::CudaGp> gpu;
    try {
      gpu = kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
    } catch (const kestrel::cuda::CudaError&) {
      ++failures;
      check(kestrel_emu::live_bytes() == base, "memory: create out of memory at allocation " + std::to_string(k) + " leaks nothing",
            static_cast<double>(kestrel_emu::live_bytes() - base), 0.0);
      continue;
    }
    kestrel_emu::mallocs_before_failure = -1;
    created = true;
    check(gpu->device_bytes() == kestrel_emu::live_bytes() - base && gpu->device_bytes() == expected_device_bytes(n, d),
          "memory: after " + std::to_string(failures) + " failed creates, device_bytes equals the live device bytes",
          static_cast<double>(gpu->device_bytes()), static_cast<double>(kestrel_emu::live_bytes() - base));
  }
  kestrel_emu::mallocs_before_failure = -1;
  check(created && failures >= 5, "memory: create failed at each of its allocations, then succeeded", failures, 5);
  check(kestrel_emu::live_bytes() == base, "memory: nothing left on the device after the out-of-memory sweep",
        static_cast<double>(kestrel_emu::live_bytes() - base), 0.0);
}

/// A CPU model of sin(4x) at x = i / n, i < n (one float dim, Matern-5/2, fixed theta).
std::shared_ptr<const kestrel::GpModel> sine_model(int n, kestrel::ThreadPool& pool) {
  kestrel::GpData data;
  data.n = n;
  data.d = 1;
  data.is_cat = {0};
  for (int i = 0; i < n; ++i) {
    data.x.push_back(static_cast<double>(i) / n);
    data.y.push_back(std::sin(4.0 * i / n));
  }
  const std::vector<double> theta = {std::log(0.4), 0.0, std::log(1e-4)};
  return kestrel::GpModel::build(data, theta, kestrel::KernelKind::kMatern52, false, pool);
}

/// The device scores one model's logEI / UCB / PI: a kLogEhvi request or additive terms are
/// refused, not computed as that model's log PI with the terms dropped.
void check_acquisition_kinds(kestrel::ThreadPool& pool) {
  std::shared_ptr<const kestrel::GpModel> model = sine_model(8, pool);
  auto gpu = kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
  double x = 0.3, value = 0.0;
  const auto refused = [&](const kestrel::AcqParams& acq) {
    try {
      gpu->acquisition(&x, 1, acq, &value, nullptr);
    } catch (const kestrel::Error& e) {
      return e.code() == kestrel::Error::Code::kInvalid;
    }
    return false;
  };
  kestrel::AcqParams ehvi;
  ehvi.kind = kestrel::AcquisitionKind::kLogEhvi;
  check(refused(ehvi), "acquisition: the device refuses log EHVI");
  kestrel::AcqParams with_term;
  with_term.terms.push_back(kestrel::AcqTerm{});
  with_term.terms.back().model = model;
  with_term.terms.back().params.kind = kestrel::AcquisitionKind::kPi;
  check(refused(with_term), "acquisition: the device refuses additive terms");
  kestrel::AcqParams plain;
  check(!refused(plain) && std::isfinite(value), "acquisition: logEI of the model itself still works");
}

/// A build whose fatbin has no image for the card (built for sm_80 / sm_90, run on a compute
/// capability 5.0 card): the availability probe must say so, with the capability, instead of
/// reporting a usable device whose every launch then fails; and the probe must leave no error
/// behind, so that a device that can run the kernels works right after it.
void check_kernel_image(kestrel::ThreadPool& pool) {
  check(kestrel::cuda::kernel_image_problem().empty(), "kernel image: the probe passes on a supported device");
  kestrel_emu::no_kernel_image = true;
  kestrel_emu::device_major = 5;
  kestrel_emu::device_minor = 0;
  const std::string problem = kestrel::cuda::kernel_image_problem();
  check(problem.find("no kernel image for compute capability 5.0") == 0,
        "kernel image: the probe names the compute capability, got '" + problem + "'");
  check(problem.find("cudaErrorNoKernelImageForDevice") != std::string::npos,
        "kernel image: the probe names the runtime error, got '" + problem + "'");
  check(cudaGetLastError() == cudaSuccess, "kernel image: the failed probe leaves no error behind on the thread");
  // What the probe keeps a caller from: the first launch of an operation fails.
  const int n = 10;
  auto model = sine_model(n, pool);
  bool threw = false;
  try {
    kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
  } catch (const kestrel::cuda::CudaError& e) {
    threw = std::string(e.what()).find("cudaErrorNoKernelImageForDevice") != std::string::npos;
  }
  check(threw, "kernel image: without the probe, the first launch fails with cudaErrorNoKernelImageForDevice");
  kestrel_emu::no_kernel_image = false;
  kestrel_emu::device_major = 8;
  kestrel_emu::device_minor = 0;
  check(kestrel::cuda::kernel_image_problem().empty(), "kernel image: the probe passes again on a supported device");
  try {
    auto gpu = kestrel::cuda::CudaGp::create(*model, kestrel::KernelKind::kMatern52);
    check(gpu->n() == n, "kernel image: a supported device works after the failed probe");
  } catch (const std::exception& e) {
    check(false, std::string("kernel image: a supported device failed after the probe: ") + e.what());
  }
}

}  // namespace

int main() {
  kestrel::ThreadPool pool(1);
  try {
    check_cholesky(pool);
    check_solves();
    check_model(kestrel::KernelKind::kMatern52, pool);
    check_model(kestrel::KernelKind::kRbf, pool);
    check_out_of_memory(pool);
    check_memory_bytes(pool);
    check_chunk_memory(pool);
    check_acquisition_kinds(pool);
    check_kernel_image(pool);
  } catch (const std::exception& e) {
    std::printf("FAIL exception: %s\n", e.what());
    ++g_failed;
  }
  std::printf("%d checks, %d failed\n", g_checks, g_failed);
  return g_failed == 0 ? 0 : 1;
}
