// A small fork-join pool: `parallel_for(count, fn)` runs fn(task, worker) for every task index
// in [0, count) on the calling thread plus (size - 1) workers, tasks handed out dynamically.
// Results must be written per task (never per worker) so that they do not depend on the
// number of threads: every core routine partitions work independently of `size`, which makes
// the same inputs give bit-identical outputs for any numThreads.
// One pool belongs to one operation (an AsyncWorker's Execute); there is no global pool.
// Between the fork-joins of one operation (a blocked Cholesky issues two per 128-column step)
// idle workers spin briefly (kSpinMicros) before sleeping, and the caller spins briefly for
// their completion: a condition-variable wake costs ~25 us here, as much as a whole task at
// n ~ 500, which left a second thread no faster than one.
#ifndef KESTREL_CORE_THREAD_POOL_H_
#define KESTREL_CORE_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kestrel {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  /// Runs fn(task, worker) for task in [0, count); worker in [0, size()). Not reentrant:
  /// fn must not call parallel_for on the same pool (it may run serially instead).
  void parallel_for(int count, const std::function<void(int, int)>& fn);

 private:
  void worker_loop(int worker);
  void run_tasks(int worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  int job_count_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};
};

/// numThreads option: 0 means all hardware threads.
int resolve_threads(int requested);

}  // namespace kestrel

#endif  // KESTREL_CORE_THREAD_POOL_H_
