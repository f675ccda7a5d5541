#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>

namespace kestrel {

namespace {
constexpr int kSpinMicros = 50;

// Spins until ready() or kSpinMicros have passed; true when ready.
template <typename Ready>
bool spin_until(const Ready& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
}
}  // namespace

// One parallel_for call. Workers that wake late may still hold it after the call returned: they
// only read `next` (past `count` by then) and never touch `fn`.
struct ThreadPool::Job {
  const std::function<void(int, int)>* fn = nullptr;
  int count = 0;
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  // Set when a task threw: the tasks claimed after it are counted done without running (the
  // call rethrows anyway), so the call ends soon.
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;  // the first exception a task threw (guarded by error_mutex)

  void fail(std::exception_ptr e) noexcept {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = std::move(e);
    failed.store(true, std::memory_order_release);
  }
};

// What the pool shares with its workers; outlives the pool while a detached worker runs.
struct ThreadPool::Shared {
  std::mutex mutex;
  std::condition_variable start_cv;
  std::condition_variable done_cv;
  std::shared_ptr<Job> job;  // the current call (guarded by mutex)
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stop{false};

  // Runs unclaimed tasks of `j` until none is left. Never throws: an exception of a task is kept
  // in `j` (and would otherwise escape a worker's std::thread, which calls std::terminate, or
  // unwind the caller while workers still use fn's captures on its stack).
  void run(Job& j, int worker) noexcept {
    for (;;) {
      const int task = j.next.fetch_add(1, std::memory_order_relaxed);
      if (task >= j.count) return;
      if (!j.failed.load(std::memory_order_acquire)) {
        try {
          (*j.fn)(task, worker);
        } catch (...) {
          j.fail(std::current_exception());
        }
      }
      if (j.done.fetch_add(1, std::memory_order_acq_rel) + 1 == j.count) {
        std::lock_guard<std::mutex> lock(mutex);
        done_cv.notify_all();
      }
    }
  }

  void worker_loop(int worker) {
    uint64_t seen = 0;
    for (;;) {
      const auto posted = [&] {
        return stop.load(std::memory_order_acquire) || generation.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(posted)) {
        std::unique_lock<std::mutex> lock(mutex);
        start_cv.wait(lock, posted);
      }
      if (stop.load(std::memory_order_acquire)) return;
      std::shared_ptr<Job> current;
      {
        std::lock_guard<std::mutex> lock(mutex);
        seen = generation.load(std::memory_order_relaxed);
        current = job;
      }
      if (current != nullptr) run(*current, worker);
    }
  }
};

int resolve_threads(int requested) {
  const unsigned hw = std::thread::hardware_concurrency();
  const int cores = hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, INT_MAX));
  return requested > 0 ? std::min(requested, cores) : cores;
}

ThreadPool::ThreadPool(int num_threads) : shared_(std::make_shared<Shared>()) {
  const int n = num_threads < 1 ? 1 : num_threads;
  workers_.reserve(static_cast<size_t>(n - 1));  // before any thread exists: a throw here leaks none
  for (int w = 1; w < n; ++w) {
    try {
      workers_.emplace_back([shared = shared_, w] { shared->worker_loop(w); });
    } catch (const std::exception&) {
      // The system refused another thread (std::system_error, EAGAIN under RLIMIT_NPROC or a
      // cgroup pids limit): run on the workers already started. Results do not depend on the
      // number of threads, so this only costs speed.
      break;
    }
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stop.store(true, std::memory_order_release);
  }
  shared_->start_cv.notify_all();
  for (auto& t : workers_) t.detach();
}

void ThreadPool::parallel_for(int count, const std::function<void(int, int)>& fn) {
  if (count <= 0) return;
  if (workers_.empty() || count == 1 || busy_.exchange(true, std::memory_order_acquire)) {
    for (int t = 0; t < count; ++t) fn(t, 0);
    return;
  }
  // busy_ is ours from here on; it is released on every way out, a throw included.
  struct Release {
    std::atomic<bool>& busy;
    ~Release() { busy.store(false, std::memory_order_release); }
  } release{busy_};
  Shared& s = *shared_;
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->count = count;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.job = job;
    s.generation.fetch_add(1, std::memory_order_release);
  }
  s.start_cv.notify_all();
  s.run(*job, 0);  // does not throw, so the wait below always happens
  // Only tasks a worker claimed can still be running; they use fn, whose captures live on the
  // caller's stack, so the call never returns (or throws) before they are done.
  const auto finished = [&] { return job->done.load(std::memory_order_acquire) == count; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.done_cv.wait(lock, finished);
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.job.reset();
  }
  if (job->failed.load(std::memory_order_acquire)) {
    // Moved out, not copied: a worker that wakes late may hold the Job and drop it last, and a
    // copy left in it would then destroy the exception on that worker, after (or while) the
    // caller reads it. Nothing writes the error any more (every task has ended).
    std::exception_ptr error;
    {
      std::lock_guard<std::mutex> lock(job->error_mutex);
      error = std::move(job->error);
    }
    std::rethrow_exception(error);
  }
}

}  // namespace kestrel
