// How long a new thread takes to start running while its creator keeps computing, after the
// machine's other cores sat idle for 0 / 1 / 10 ms: the latency every native operation pays to
// get its second thread going (native/core/thread_pool.h; a pool per operation).
//
//   g++ -O2 -std=c++17 -pthread bench/thread-wake.cc -o /tmp/thread-wake && /tmp/thread-wake
//
// JSON lines on stdout (median and max over 200 starts per idle time), a table on stderr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc > 1) {  // no arguments: one that looks like a setting must not be silently ignored
    std::fprintf(stderr, "thread-wake: takes no arguments, got \"%s\"\n", argv[1]);
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  std::fprintf(stderr, "| other cores idle before | start latency median | max |\n|---|---|---|\n");
  for (int idle_us : {0, 1000, 10000}) {
    std::vector<double> latency;
    for (int rep = 0; rep < 200; ++rep) {
      if (idle_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
      std::atomic<bool> started{false};
      Clock::time_point ran;
      const Clock::time_point created = Clock::now();
      std::thread t([&] {
        ran = Clock::now();
        started.store(true, std::memory_order_release);
      });
      while (!started.load(std::memory_order_acquire)) {
      }  // the creator stays busy, as a pool's caller does with its share of the tasks
      t.join();
      latency.push_back(std::chrono::duration<double, std::micro>(ran - created).count());
    }
    std::sort(latency.begin(), latency.end());
    const std::size_t mid = latency.size() / 2;  // 200 starts: the mean of the two middle ones
    const double median = latency.size() % 2 == 1 ? latency[mid] : (latency[mid - 1] + latency[mid]) / 2;
    std::printf("{\"bench\":\"thread-wake\",\"idleUs\":%d,\"startUsMedian\":%.1f,\"startUsMax\":%.1f}\n", idle_us, median,
                latency.back());
    std::fprintf(stderr, "| %d us | %.1f us | %.1f us |\n", idle_us, median, latency.back());
  }
  return 0;
}
