// STREAM triad probe: a[i] = b[i] + q·c[i] over three float arrays, OpenMP static schedule (as
// ../shared/peers/stream.cpp), bytes counted as in STREAM (3 arrays, no write-allocate). It is the
// bandwidth ceiling of the memory-bound kernels: the layer files register it at each workload's
// working-set size; here it is swept from 12 MiB to 768 MiB (the last is far beyond L3: DRAM).
#include <omp.h>

#include <cstdlib>

#include "bench_support.hpp"

namespace bench {
namespace {

class triad_arrays {
 public:
  explicit triad_arrays(index_t n) : n_(n), a_(alloc(n)), b_(alloc(n)), c_(alloc(n)) {
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < n_; ++i) {  // first touch on the threads that will use the pages
      a_.get()[i] = 0.0f;
      b_.get()[i] = 1.0f;
      c_.get()[i] = 2.0f;
    }
  }
  void run(int threads) {
    float* a = a_.get();
    const float* b = b_.get();
    const float* c = c_.get();
    const float q = 0.41421356f;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (index_t i = 0; i < n_; ++i) a[i] = b[i] + q * c[i];
    benchmark::DoNotOptimize(a);
  }

 private:
  struct deleter {
    void operator()(float* p) const noexcept { std::free(p); }
  };
  using buffer = std::unique_ptr<float[], deleter>;
  static buffer alloc(index_t n) {
    const auto bytes = (static_cast<std::size_t>(n) * sizeof(float) + 63) / 64 * 64;
    return buffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
  }
  index_t n_;
  buffer a_, b_, c_;
};

const bool sweep = [] {
  for (int mib : {12, 24, 48, 96, 192, 384, 768})
    add_stream_triad("stream_" + std::to_string(mib) + "MiB", "float", mib * 1048576.0);
  return true;
}();

}  // namespace

void add_stream_triad(const std::string& workload, const std::string& type, double bytes) {
  const auto n = std::max<index_t>(1024, static_cast<index_t>(bytes / 12));
  for (int threads : {1, 2})
    add(workload, "stream_triad", type, threads, work{12.0 * static_cast<double>(n), static_cast<double>(n)}, [=] {
      auto arrays = std::make_shared<triad_arrays>(n);
      return [arrays, threads] { arrays->run(threads); };
    });
}

}  // namespace bench
