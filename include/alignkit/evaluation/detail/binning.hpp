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
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../../core/config.hpp"
#include "../../core/execution.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

/// numpy `linspace(0, 1, n + 1)` rounded to T, except e_0 = −inf: bin 0 then needs no special
/// case for c = 0, and `bin_of` no bounds checks (e_n = 1 is never below a valid c).
template <class T>
std::vector<T> bin_edges(index_t n) {
  std::vector<T> e(static_cast<std::size_t>(n + 1));
  const double step = 1.0 / static_cast<double>(n);
  for (index_t i = 0; i < n; ++i) e[static_cast<std::size_t>(i)] = static_cast<T>(static_cast<double>(i) * step);
  e[0] = -std::numeric_limits<T>::infinity();
  e[static_cast<std::size_t>(n)] = T(1);
  return e;
}

/// The bin of c ∈ [0, 1]: the number of interior edges e_1 … e_{n−1} strictly below c. The
/// guess ⌊c·n⌋ is off by at most one from the rounded edges, so one comparison each way settles it.
template <class T>
index_t bin_of(T c, const T* edges, index_t n) noexcept {
  index_t b = std::min(static_cast<index_t>(c * static_cast<T>(n)), n - 1);
  b -= c <= edges[b];
  b += c > edges[b + 1];
  return b;
}

/// `bin_of` for a batch of confidences in [0, 1]. Up to 32 bins it counts the interior edges
/// below c directly (n − 1 compares, no memory access per lane); beyond, it corrects the guess
/// with two gathers.
template <class T, class A>
xsimd::batch<xsimd::as_integer_t<T>, A> bin_of(const xsimd::batch<T, A>& c, const T* edges, index_t n) noexcept {
  using B = xsimd::batch<T, A>;
  using I = xsimd::batch<xsimd::as_integer_t<T>, A>;
  const B one(T(1)), zero(T(0));
  if (n <= 32) {
    B below(T(0));
    for (index_t i = 1; i < n; ++i) below += xsimd::select(c > B(edges[i]), one, zero);
    return xsimd::to_int(below);
  }
  I b = xsimd::min(xsimd::to_int(c * B(static_cast<T>(n))), I(static_cast<xsimd::as_integer_t<T>>(n - 1)));
  b -= xsimd::to_int(xsimd::select(c <= B::gather(edges, b), one, zero));
  b += xsimd::to_int(xsimd::select(c > B::gather(edges, b + I(1)), one, zero));
  return b;
}

/// Accumulator copies per chunk: consecutive samples that land in the same bin add into
/// different copies, so the additions do not wait on each other.
inline constexpr index_t bin_lanes = 4;

/// Runs `chunk_body(begin, end, acc)` over fixed chunks of [0, n), where acc points to
/// lanes·stride zeroed doubles of that chunk (lane l at acc + l·stride), and adds every chunk's
/// lanes (in lane order) into `total` in chunk order: bitwise identical for any thread count.
/// `scratch` is resized to lanes·stride doubles per chunk (seq: one chunk). `chunk_body` returns
/// false when a sample was invalid; the result is true when every chunk was valid.
template <class Exec, class ChunkBody>
bool chunked_bins(const Exec& policy, index_t n, index_t stride, std::vector<double>& scratch, std::span<double> total,
                  ChunkBody&& chunk_body) {
  const index_t chunk = policy.chunk;
  const index_t n_chunks = chunk_count(n, chunk);
  const index_t per_chunk = bin_lanes * stride;
  auto run_chunk = [&](index_t c, double* acc) {
    std::fill(acc, acc + per_chunk, 0.0);
    const bool ok = chunk_body(c * chunk, std::min(n, (c + 1) * chunk), acc);
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

/// `chunked_bins` with a per-sample `body(i, acc)` (acc: the lane of sample i, lanes taken in
/// turn), returning false for an invalid sample.
template <class Exec, class Body>
bool binned_pass(const Exec& policy, index_t n, index_t stride, std::vector<double>& scratch, std::span<double> total,
                 Body&& body) {
  return chunked_bins(policy, n, stride, scratch, total, [&](index_t begin, index_t end, double* acc) {
    bool ok = true;
    for (index_t i = begin; i < end; ++i) ok &= body(i, acc + (i % bin_lanes) * stride);
    return ok;
  });
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
