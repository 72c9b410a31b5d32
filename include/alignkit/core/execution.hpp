/// @file execution.hpp
/// @brief Execution policies: `exec::seq`, `exec::par`, and `exec::on(executor)` for a user's pool.
///
/// Work is cut into chunks of a fixed number of elements (`chunk`, default 2^14) that depends only
/// on the input length, never on the thread count; per-chunk partial sums are combined in chunk
/// order. Hence results are bitwise identical for 1, 2 or N threads and for any executor.
/// `par` runs on a process-wide pool of std::threads (no OpenMP requirement), started on first
/// use and kept for later calls: a call wakes `threads - 1` workers instead of starting threads
/// (about 0.1 ms each). One `par` call uses the pool at a time; a call made while it is busy (from
/// another thread, or nested inside a chunk) starts and joins its own threads. `threads = 0`
/// means `std::thread::hardware_concurrency()`.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace exec {

inline constexpr index_t default_chunk = index_t{1} << 14;

/// Run on the calling thread.
struct sequenced_policy {
  index_t chunk = default_chunk;
};

/// Run on `threads` std::threads (0 = hardware concurrency).
struct parallel_policy {
  unsigned threads = 0;
  index_t chunk = default_chunk;
  /// The same policy with a fixed thread count.
  constexpr parallel_policy with(unsigned n) const noexcept { return {n, chunk}; }
};

inline constexpr sequenced_policy seq{};
inline constexpr parallel_policy par{};

/// A user thread pool: `e.bulk(n, f)` calls `f(i)` once for every i in [0, n), in any order and
/// on any threads, and returns when all calls have returned.
template <class E>
concept executor = requires(E& e, index_t n, void (*f)(index_t)) { e.bulk(n, f); };

/// A policy that runs chunks on a user executor.
template <executor E>
struct executor_policy {
  E* executor;
  index_t chunk = default_chunk;
};

/// Wrap a user executor into a policy: `alignkit::dpo::loss(exec::on(pool), …)`.
template <executor E>
constexpr executor_policy<E> on(E& e, index_t chunk = default_chunk) noexcept {
  return {&e, chunk};
}

template <class T>
inline constexpr bool is_execution_policy_v = false;
template <>
inline constexpr bool is_execution_policy_v<sequenced_policy> = true;
template <>
inline constexpr bool is_execution_policy_v<parallel_policy> = true;
template <class E>
inline constexpr bool is_execution_policy_v<executor_policy<E>> = true;

template <class T>
concept execution_policy = is_execution_policy_v<std::remove_cvref_t<T>>;

}  // namespace exec

namespace detail {

/// The worker threads of exec::par. `try_run(n, job)` calls job(0) on the calling thread and
/// job(1) … job(n − 1) on workers, and returns when all have returned; it returns false without
/// running anything when another call holds the pool. Jobs must not throw. The pool is never
/// destroyed (its workers sleep until the process exits), so it can be used from static
/// destructors; a child process after fork() must not use it.
class worker_pool {
 public:
  static worker_pool& instance() {
    static worker_pool* pool = new worker_pool;
    return *pool;
  }

  bool try_run(unsigned n, const std::function<void(unsigned)>& job) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    struct release {
      std::atomic<bool>& flag;
      ~release() { flag.store(false, std::memory_order_release); }
    } owner{busy_};
    {
      std::lock_guard<std::mutex> lock(m_);
      while (workers_.size() + 1 < n) workers_.emplace_back([this, id = static_cast<unsigned>(workers_.size()) + 1] { serve(id); });
      job_ = &job;
      participants_ = n;
      pending_ = n - 1;
      ++generation_;
    }
    wake_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(m_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  worker_pool() = default;

  void serve(unsigned id) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (id >= participants_) continue;
      const auto* job = job_;
      lock.unlock();
      (*job)(id);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::atomic<bool> busy_{false};  // set by the call that owns the pool
  std::mutex m_;                   // guards everything below
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(unsigned)>* job_ = nullptr;
  unsigned participants_ = 0, pending_ = 0;
  std::uint64_t generation_ = 0;
};

/// Calls f(c) for every chunk index c in [0, n_chunks) under the policy.
template <class Exec, class F>
void for_each_chunk(const Exec& policy, index_t n_chunks, F&& f) {
  using P = std::remove_cvref_t<Exec>;
  if constexpr (std::is_same_v<P, exec::sequenced_policy>) {
    for (index_t c = 0; c < n_chunks; ++c) f(c);
  } else if constexpr (std::is_same_v<P, exec::parallel_policy>) {
    unsigned hw = policy.threads ? policy.threads : std::max(1u, std::thread::hardware_concurrency());
    const auto n_threads = static_cast<index_t>(std::min<index_t>(hw, n_chunks));
    if (n_threads <= 1) {
      for (index_t c = 0; c < n_chunks; ++c) f(c);
      return;
    }
    std::atomic<index_t> next{0};
    std::exception_ptr failure;
    std::atomic<bool> failed{false};
    auto worker = [&] {
      try {
        for (index_t c; (c = next.fetch_add(1)) < n_chunks;) f(c);
      } catch (...) {
        if (!failed.exchange(true)) failure = std::current_exception();
      }
    };
    if (!worker_pool::instance().try_run(static_cast<unsigned>(n_threads), [&](unsigned) { worker(); })) {
      std::vector<std::thread> threads;
      threads.reserve(static_cast<std::size_t>(n_threads - 1));
      for (index_t t = 1; t < n_threads; ++t) threads.emplace_back(worker);
      worker();
      for (auto& th : threads) th.join();
    }
    if (failure) std::rethrow_exception(failure);
  } else {
    policy.executor->bulk(n_chunks, [&](index_t c) { f(c); });
  }
}

/// Number of chunks of `chunk` elements needed for n elements.
constexpr index_t chunk_count(index_t n, index_t chunk) noexcept {
  return n == 0 ? 0 : (n + chunk - 1) / chunk;
}

/// Sum over chunks of `partial(begin, end)` (a value with `+=`), combined in chunk order, so the
/// result does not depend on the thread count. `seq` keeps a running sum and allocates nothing;
/// other policies store one partial per chunk.
template <class Partial, class Exec, class F>
Partial chunked_sum(const Exec& policy, index_t n, F&& partial) {
  const index_t chunk = policy.chunk;
  const index_t n_chunks = chunk_count(n, chunk);
  Partial total{};
  if constexpr (std::is_same_v<std::remove_cvref_t<Exec>, exec::sequenced_policy>) {
    for (index_t c = 0; c < n_chunks; ++c) total += partial(c * chunk, std::min(n, (c + 1) * chunk));
  } else {
    std::vector<Partial> parts(static_cast<std::size_t>(n_chunks));
    for_each_chunk(policy, n_chunks, [&](index_t c) {
      parts[static_cast<std::size_t>(c)] = partial(c * chunk, std::min(n, (c + 1) * chunk));
    });
    for (const auto& p : parts) total += p;
  }
  return total;
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
