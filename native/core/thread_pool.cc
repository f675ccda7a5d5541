#include "thread_pool.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
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
};

// What the pool shares with its workers; outlives the pool while a detached worker runs.
struct ThreadPool::Shared {
  std::mutex mutex;
  std::condition_variable start_cv;
  std::condition_variable done_cv;
  std::shared_ptr<Job> job;  // the current call (guarded by mutex)
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stop{false};

  // Runs unclaimed tasks of `j` until none is left.
  void run(Job& j, int worker) {
    for (;;) {
      const int task = j.next.fetch_add(1, std::memory_order_relaxed);
      if (task >= j.count) return;
      (*j.fn)(task, worker);
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
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

ThreadPool::ThreadPool(int num_threads) : shared_(std::make_shared<Shared>()) {
  const int n = num_threads < 1 ? 1 : num_threads;
  workers_.reserve(static_cast<size_t>(n - 1));
  for (int w = 1; w < n; ++w) {
    workers_.emplace_back([shared = shared_, w] { shared->worker_loop(w); });
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
  s.run(*job, 0);
  // Only tasks a worker claimed can still be running.
  const auto finished = [&] { return job->done.load(std::memory_order_acquire) == count; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.done_cv.wait(lock, finished);
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.job.reset();
  }
  busy_.store(false, std::memory_order_release);
}

}  // namespace kestrel
