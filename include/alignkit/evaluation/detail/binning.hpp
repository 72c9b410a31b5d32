/// @file binning.hpp
/// @brief Equal-width confidence bins shared by the calibration metrics: the numpy `linspace`
/// edges, the (lo, hi] bin of a confidence, and a deterministic chunked pass that scatters
/// per-sample sums into per-bin accumulators.
///
/// Bin b holds the confidences c with e_b < c ≤ e_{b+1}, where e_i = i·(1/n) for i < n and
/// e_n = 1 (numpy `linspace(0, 1, n + 1)`); c = 0 goes to bin 0 and c = 1 to bin n − 1. The
/// edges are rounded to the compute type T, so a float input equal to float(e_i) falls in the
/// same bin as the double it was rounded from.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/execution.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

/// numpy `linspace(0, 1, n + 1)` rounded to T.
template <class T>
std::vector<T> bin_edges(index_t n) {
  std::vector<T> e(static_cast<std::size_t>(n + 1));
  const double step = 1.0 / static_cast<double>(n);
  for (index_t i = 0; i < n; ++i) e[static_cast<std::size_t>(i)] = static_cast<T>(static_cast<double>(i) * step);
  e[static_cast<std::size_t>(n)] = T(1);
  return e;
}

/// The bin of c ∈ [0, 1]: the number of interior edges e_1 … e_{n−1} strictly below c. The
/// guess ⌊c·n⌋ is off by at most one from the rounded edges, so one comparison settles it.
template <class T>
index_t bin_of(T c, const T* edges, index_t n) noexcept {
  index_t b = std::clamp(static_cast<index_t>(c * static_cast<T>(n)), index_t{0}, n - 1);
  if (b > 0 && c <= edges[b]) {
    --b;
  } else if (b < n - 1 && c > edges[b + 1]) {
    ++b;
  }
  return b;
}

/// Accumulator copies per chunk: consecutive samples that land in the same bin add into
/// different copies, so the additions do not wait on each other.
inline constexpr index_t bin_lanes = 4;

/// Runs `body(i, acc)` for every i in [0, n), where acc points to `stride` doubles owned by
/// one lane of the sample's chunk, and adds every chunk's lanes (in lane order) into `total`
/// in chunk order: bitwise identical for any thread count. `scratch` is resized to
/// lanes·stride doubles per chunk (seq: one chunk). `body` returns false for an invalid
/// sample; the result is true when every sample was valid.
template <class Exec, class Body>
bool binned_pass(const Exec& policy, index_t n, index_t stride, std::vector<double>& scratch,
                 std::span<double> total, Body&& body) {
  const index_t chunk = policy.chunk;
  const index_t n_chunks = chunk_count(n, chunk);
  const index_t per_chunk = bin_lanes * stride;
  auto run_chunk = [&](index_t c, double* acc) {
    std::fill(acc, acc + per_chunk, 0.0);
    bool ok = true;
    const index_t end = std::min(n, (c + 1) * chunk);
    for (index_t i = c * chunk; i < end; ++i) ok &= body(i, acc + (i % bin_lanes) * stride);
    for (index_t l = 1; l < bin_lanes; ++l)
      for (index_t k = 0; k < stride; ++k) acc[k] += acc[l * stride + k];
    return ok;
  };
  auto add = [&](const double* acc) {
    for (index_t k = 0; k < stride; ++k) total[static_cast<std::size_t>(k)] += acc[k];
  };
  bool ok = true;
  if constexpr (std::is_same_v<std::remove_cvref_t<Exec>, exec::sequenced_policy>) {
    scratch.resize(static_cast<std::size_t>(per_chunk));
    for (index_t c = 0; c < n_chunks; ++c) {
      ok &= run_chunk(c, scratch.data());
      add(scratch.data());
    }
  } else {
    scratch.resize(static_cast<std::size_t>(per_chunk * n_chunks));
    std::vector<char> valid(static_cast<std::size_t>(n_chunks));
    for_each_chunk(policy, n_chunks, [&](index_t c) {
      valid[static_cast<std::size_t>(c)] = run_chunk(c, scratch.data() + c * per_chunk);
    });
    for (index_t c = 0; c < n_chunks; ++c) {
      ok &= valid[static_cast<std::size_t>(c)] != 0;
      add(scratch.data() + c * per_chunk);
    }
  }
  return ok;
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
