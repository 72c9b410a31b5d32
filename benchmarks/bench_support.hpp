// Shared pieces of the benchmark binary: seeded input generators, the run-under-a-policy switch,
// and the registration of one benchmark per (workload, implementation, type, threads).
//
// Names are `<workload>/<impl>/<type>/threads:<n>`, where workload is the name used by
// ../shared/peers/README.md, impl is `alignkit` (the fused kernel), `raw_loop` (a hand-written
// scalar loop of the same formula), `materialized` (the linear head through stored [N, V] logits;
// `alignkit_cblas` and `materialized_cblas`: both through the CBLAS GEMM hook) or `stream_triad`
// (the bandwidth probe at the same working-set size). Every benchmark reports bytes_per_second
// (bytes read + written, each array once, as the peers README counts them) and items_per_second;
// scripts/bench.sh turns them into the table.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <numbers>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <alignkit/core/execution.hpp>
#include <alignkit/core/view.hpp>

namespace bench {

using alignkit::index_t;

/// Deterministic, fast input generator (splitmix64; normals by Box–Muller).
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
  }
  index_t integer(index_t lo, index_t hi) {  // [lo, hi]
    return lo + static_cast<index_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::uint64_t s_;
};

/// n values a + b·U[0, 1).
template <class T>
std::vector<T> uniform(index_t n, double a, double b, std::uint64_t seed) {
  rng g(seed);
  std::vector<T> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = static_cast<T>(a + b * g.uniform());
  return x;
}

/// n values mean + sd·N(0, 1).
template <class T>
std::vector<T> normal(index_t n, double mean, double sd, std::uint64_t seed) {
  rng g(seed);
  std::vector<T> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = static_cast<T>(mean + sd * g.normal());
  return x;
}

/// x + sd·N(0, 1), elementwise.
template <class T>
std::vector<T> jitter(const std::vector<T>& x, double sd, std::uint64_t seed) {
  rng g(seed);
  std::vector<T> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = static_cast<T>(x[i] + sd * g.normal());
  return y;
}

/// Right-padded [B, T] response mask (1 byte per token, as torch.bool): row b is valid for its
/// first len_b tokens, len_b ~ U[T/2, T].
inline std::vector<std::uint8_t> right_padded_mask(index_t rows, index_t cols, std::uint64_t seed) {
  rng g(seed);
  std::vector<std::uint8_t> m(static_cast<std::size_t>(rows * cols));
  for (index_t b = 0; b < rows; ++b) {
    const index_t len = g.integer(std::max<index_t>(1, cols / 2), cols);
    for (index_t t = 0; t < cols; ++t) m[static_cast<std::size_t>(b * cols + t)] = t < len;
  }
  return m;
}

/// Scalar building blocks of the raw-loop baselines (plain libm, what a hand-written loop does).
namespace raw {
/// softplus(x) and σ(x) sharing one exp (stable for any finite x).
template <class T>
void softplus_sigmoid(T x, T& softplus, T& sigmoid) {
  const T e = std::exp(-std::abs(x));
  const T r = T(1) / (T(1) + e);
  softplus = std::max(x, T(0)) + std::log1p(e);
  sigmoid = x >= T(0) ? r : e * r;
}
template <class T>
T sigmoid(T x) {
  T sp, s;
  softplus_sigmoid(x, sp, s);
  return s;
}
}  // namespace raw

/// Row-major [r, c] view of a buffer.
template <class T>
alignkit::matrix_view<T> matrix(std::vector<T>& x, index_t r, index_t c) {
  return {x.data(), {r, c}};
}
template <class T>
alignkit::matrix_view<const T> matrix(const std::vector<T>& x, index_t r, index_t c) {
  return {x.data(), {r, c}};
}

/// Calls f(policy) with exec::seq for one thread and exec::par.with(threads) otherwise.
template <class F>
decltype(auto) with_policy(int threads, F&& f) {
  if (threads <= 1) return f(alignkit::exec::seq);
  return f(alignkit::exec::par.with(static_cast<unsigned>(threads)));
}

template <class T>
constexpr const char* type_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

/// What one call moves and computes: counted bytes (each input read once + each output written
/// once) and items (the workload's N: pairs, tokens, scores, logits, items).
struct work {
  double bytes;
  double items;
  double flops = 0;  ///< floating-point operations per call, for compute-bound workloads
};

/// Peak resident memory of the process (Linux): `reset()` returns freed heap memory to the system,
/// resets the high-water mark (VmHWM, via /proc/self/clear_refs) and returns the resident size;
/// `peak()` reads the high-water mark since then. Both are in bytes, or -1 where /proc does not
/// tell them. The difference is the extra memory a call needed at its peak (its allocations and
/// the pages it touched first), wherever it allocated it (malloc, new, Eigen's aligned_malloc).
namespace peak_rss {
inline double status_field(const std::string& key) {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key, 0) == 0) return 1024.0 * std::stod(line.substr(key.size()));  // "<n> kB"
  return -1;
}
inline double reset() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  std::ofstream("/proc/self/clear_refs") << "5";
  return status_field("VmRSS:");
}
inline double peak() { return status_field("VmHWM:"); }
}  // namespace peak_rss

/// Registers `<workload>/<impl>/<type>/threads:<threads>`. `setup()` builds the inputs when the
/// benchmark runs (not at registration) and returns a callable that performs one call. Besides
/// the rates it reports `peak_extra_bytes`: the peak resident memory of the timed calls beyond
/// what the process held after `setup()` (the calls' scratch, temporaries and thread stacks).
template <class Setup>
benchmark::internal::Benchmark* add(const std::string& workload, const std::string& impl,
                                    const std::string& type, int threads, work w, Setup setup) {
  const std::string name = workload + "/" + impl + "/" + type + "/threads:" + std::to_string(threads);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    auto call = setup();
    const double resident = peak_rss::reset();
    for (auto _ : state) {
      call();
      benchmark::ClobberMemory();
    }
    if (const double peak = peak_rss::peak(); resident >= 0 && peak >= 0)
      state.counters["peak_extra_bytes"] = peak - resident;
    state.SetBytesProcessed(static_cast<std::int64_t>(w.bytes) * state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(w.items) * state.iterations());
    state.counters["counted_bytes"] = w.bytes;
    state.counters["threads"] = threads;
    if (w.flops > 0)
      state.counters["flops"] = benchmark::Counter(w.flops, benchmark::Counter::kIsIterationInvariantRate);
  });
  return b->UseRealTime()->Unit(benchmark::kMillisecond);
}

/// Registers the STREAM triad probe for a working set of `bytes` (three float arrays of
/// bytes/12 elements) under `<workload>/stream_triad/<type>/threads:1` and `threads:2`.
void add_stream_triad(const std::string& workload, const std::string& type, double bytes);

/// Stands for an implementation that is not measured: a kernel not in the library yet, or a raw
/// loop that would run for minutes (the linear head's GEMMs).
struct none {};

/// Registers, for T = float and double: the fused kernel at 1 and 2 threads, the raw-loop
/// baseline at 1 thread, and the triad probe at the same working-set size. `Data<T>` builds the
/// inputs and output buffers in its default constructor and states `static work counted()`;
/// `kernel(policy, data)` and `raw(data)` perform one call.
template <template <class> class Data, class Kernel, class Raw>
void add_workload(const std::string& workload, Kernel kernel, Raw raw) {
  auto one_type = [&]<class T>(std::type_identity<T>) {
    const work w = Data<T>::counted();
    if constexpr (!std::is_same_v<Kernel, none>) {
      for (int threads : {1, 2})
        add(workload, "alignkit", type_name<T>(), threads, w, [=] {
          auto d = std::make_shared<Data<T>>();
          return [d, threads, kernel] { with_policy(threads, [&](const auto& p) { kernel(p, *d); }); };
        });
    }
    if constexpr (!std::is_same_v<Raw, none>) {
      add(workload, "raw_loop", type_name<T>(), 1, w, [=] {
        auto d = std::make_shared<Data<T>>();
        return [d, raw] { raw(*d); };
      });
    }
    add_stream_triad(workload, type_name<T>(), w.bytes);
  };
  one_type(std::type_identity<float>{});
  one_type(std::type_identity<double>{});
}

}  // namespace bench
