// A small fork-join pool: `parallel_for(count, fn)` runs fn(task, worker) for every task index
// in [0, count) on the calling thread plus (size - 1) workers, tasks handed out dynamically.
// Results must be written per task (never per worker) so that they do not depend on the
// number of threads: every core routine partitions work independently of `size`, which makes
// the same inputs give bit-identical outputs for any numThreads.
// One pool belongs to one operation (an AsyncWorker's Execute); there is no global pool.
//
// Waking a worker can be slow: on the 2-vCPU cloud machines we measure on, a thread on a vCPU
// that has been idle for a millisecond starts ~2 ms after it is signalled (the hypervisor wakes
// the vCPU), as long as a whole acquisition scoring at n = 200. So a call waits only for the
// tasks that were claimed, never for a worker to wake: the caller takes tasks until none is
// left, a worker that wakes after that finds none and goes back to sleep, and the destructor
// detaches the workers instead of joining them (they exit on their own and keep the state they
// share with the pool alive). Between the fork-joins of one operation (a blocked Cholesky issues
// two per 128-column step) idle workers spin briefly (kSpinMicros) before sleeping, and the
// caller spins briefly for claimed tasks: a condition-variable wake costs ~25 us even on a busy
// vCPU, as much as a whole task at n ~ 500.
#ifndef KESTREL_CORE_THREAD_POOL_H_
#define KESTREL_CORE_THREAD_POOL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace kestrel {

class ThreadPool {
 public:
  /// Starts num_threads - 1 workers, or fewer when the system refuses to create a thread (then
  /// size() says how many run; results never depend on it).
  explicit ThreadPool(int num_threads);
  /// Does not wait for the workers: a worker still waking exits as soon as it runs.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  /// Runs fn(task, worker) for task in [0, count); worker in [0, size()). Returns when every
  /// task has run. Not reentrant: fn must not call parallel_for on the same pool (it may run
  /// serially instead). When a task throws (on any thread), the tasks not yet started are
  /// skipped, the call waits for those already running, and the first exception is rethrown on
  /// the calling thread; the pool stays usable.
  void parallel_for(int count, const std::function<void(int, int)>& fn);

 private:
  struct Job;
  struct Shared;

  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> workers_;
  std::atomic<bool> busy_{false};
};

/// The numThreads option: 0 means all hardware threads (std::thread::hardware_concurrency(), at
/// least 1), and a larger request is capped there: more threads than cores only add the cost of
/// starting them, which every native call pays (a pool lives for one operation).
int resolve_threads(int requested);

}  // namespace kestrel

#endif  // KESTREL_CORE_THREAD_POOL_H_
