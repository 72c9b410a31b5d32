/// @file elementwise.hpp
/// @brief The fused elementwise driver every memory-bound kernel is built on.
///
/// A kernel writes its per-element body once, generic over `V` (a scalar T or an
/// `xsimd::batch<T>`): it loads its inputs through the `reader`s and stores its outputs through
/// the `writer`s map_reduce hands it (unit-stride forms when every view allows) and returns the
/// values to be summed. `map_reduce<T, K>` runs the body over fixed chunks
/// (batches, then a scalar tail per chunk) and sums each returned value blockwise: lane by lane
/// in T over a block of `sum_block` batches, each block's lanes then added in double, and the
/// chunks in double in chunk order: one pass over memory, vectorized, one add per batch and
/// value, and bitwise identical for any thread count.
///
/// Error bound of a sum S = Σ x_i of n values (first order, u_T the unit roundoff of T: 2^-24
/// for float, 2^-53 for double): |Ŝ − S| ≤ ((sum_block − 1)·u_T + (n/sum_block + 2W)·u_double)·Σ|x_i|,
/// where W is the batch width: the in-block sums of sum_block terms in T give the first term,
/// the double additions of block sums, lanes and chunks the second. For float this is
/// 15·2^-24 ≈ 9e-7 of Σ|x_i|, independent of n for any practical n (float inputs carry 6e-8 each).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "config.hpp"
#include "execution.hpp"
#include "view.hpp"

// The per-chunk loop of map_reduce inlines everything the body calls (GCC/Clang `flatten`):
// a kernel's math helpers left out of line cost a call per batch with every live vector register
// spilled around it (all are caller-saved), whatever the helpers' own inline hints say.
#ifndef ALIGNKIT_FLATTEN
#if defined(__GNUC__) || defined(__clang__)
#define ALIGNKIT_FLATTEN __attribute__((flatten))
#else
#define ALIGNKIT_FLATTEN
#endif
#endif

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

template <class T>
using batch_t = xsimd::batch<T>;

/// Lanes [0, B::size) of contiguous 1-byte integer storage (a uint8 or bool mask) widened to
/// batch B with one vector load and conversion where the instruction set has one (AVX-512F,
/// AVX2, SSE4.1), else element by element.
template <class B, class E>
B load_widened_bytes(const E* p) {
  using T = typename B::value_type;
  static_assert(sizeof(E) == 1 && std::is_integral_v<E>);
  [[maybe_unused]] constexpr bool is_signed = std::is_signed_v<E>;
  [[maybe_unused]] constexpr std::size_t bytes = sizeof(typename B::register_type);
  [[maybe_unused]] const auto* q = reinterpret_cast<const void*>(p);
#if XSIMD_WITH_AVX512F
  if constexpr (bytes == 64) {
    if constexpr (std::is_same_v<T, float>) {
      const __m128i x = _mm_loadu_si128(static_cast<const __m128i*>(q));
      return B(_mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(x) : _mm512_cvtepu8_epi32(x)));
    } else if constexpr (std::is_same_v<T, double>) {
      const __m128i x = _mm_loadl_epi64(static_cast<const __m128i*>(q));
      return B(_mm512_cvtepi32_pd(is_signed ? _mm256_cvtepi8_epi32(x) : _mm256_cvtepu8_epi32(x)));
    }
  }
#endif
#if XSIMD_WITH_AVX2
  if constexpr (bytes == 32) {
    if constexpr (std::is_same_v<T, float>) {
      const __m128i x = _mm_loadl_epi64(static_cast<const __m128i*>(q));
      return B(_mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(x) : _mm256_cvtepu8_epi32(x)));
    } else if constexpr (std::is_same_v<T, double>) {
      const __m128i x = _mm_cvtsi32_si128(*static_cast<const int*>(q));
      return B(_mm256_cvtepi32_pd(is_signed ? _mm_cvtepi8_epi32(x) : _mm_cvtepu8_epi32(x)));
    }
  }
#endif
  alignas(64) T buf[B::size];
  for (std::size_t k = 0; k < B::size; ++k) buf[k] = static_cast<T>(p[k]);
  return B::load_aligned(buf);
}

/// acc[l] += lane l of x, widened to double, for l = 0 … x.size − 1 (acc: x.size / D::size
/// batches of D = batch<double>, lanes in order): one vector conversion per half of a float batch
/// where the instruction set has one (AVX-512F, AVX, SSE2), else lane by lane. Each lane's sum is
/// the same either way.
template <class B, class D, std::size_t H>
void add_widened(const B& x, std::array<D, H>& acc) {
  using T = typename B::value_type;
  static_assert(H * D::size == B::size);
  if constexpr (std::is_same_v<T, double>) {
    acc[0] += x;
  } else {
    [[maybe_unused]] constexpr std::size_t bytes = sizeof(typename B::register_type);
#if XSIMD_WITH_AVX512F
    if constexpr (bytes == 64 && H == 2) {
      const __m512 v = x;
      acc[0] += D(_mm512_cvtps_pd(_mm512_castps512_ps256(v)));
      acc[1] += D(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
      return;
    }
#endif
#if XSIMD_WITH_AVX
    if constexpr (bytes == 32 && H == 2) {
      const __m256 v = x;
      acc[0] += D(_mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      acc[1] += D(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
      return;
    }
#endif
#if XSIMD_WITH_SSE2
    if constexpr (bytes == 16 && H == 2) {
      const __m128 v = x;
      acc[0] += D(_mm_cvtps_pd(v));
      acc[1] += D(_mm_cvtps_pd(_mm_movehl_ps(v, v)));
      return;
    }
#endif
    alignas(64) T s[B::size];
    alignas(64) double wide[B::size];
    x.store_aligned(s);
    for (std::size_t l = 0; l < B::size; ++l) wide[l] = static_cast<double>(s[l]);
    for (std::size_t h = 0; h < H; ++h) acc[h] += D::load_aligned(wide + h * D::size);
  }
}

/// The tag map_reduce passes its body: `type` is the value type V (T on a chunk's scalar tail,
/// batch<T> on full batches).
template <class V>
struct lanes {
  using type = V;
};

/// Reads element i (or lanes [i, i+W)) of a rank-1 view as T or batch<T>. `Unit`: the view has
/// unit stride (or is absent and never read), stated by map_reduce so that a batch is one load
/// without a stride check.
template <class T, class View, bool Unit = false>
struct reader {
  View v;
  /// Unit stride, or absent (a null view that is never read).
  bool contiguous() const noexcept { return !v.data_handle() || v.stride(0) == 1; }
  /// This reader for a view known to be contiguous().
  reader<T, View, true> unit() const noexcept { return {v}; }
  template <class V>
  V load(index_t i) const {
    if constexpr (std::is_arithmetic_v<V>) {
      return static_cast<T>(v(i));
    } else {
      if (Unit || v.stride(0) == 1) return load_unit<V>(i);
      alignas(64) T buf[V::size];
      for (std::size_t k = 0; k < V::size; ++k) buf[k] = static_cast<T>(v(i + static_cast<index_t>(k)));
      return V::load_aligned(buf);
    }
  }

 private:
  template <class V>
  V load_unit(index_t i) const {
    using E = std::remove_cv_t<typename View::element_type>;
    const auto p = v.data_handle() + i;  // keeps the view's constness: a mutable view's accessor takes T*
    if constexpr (std::is_same_v<typename View::accessor_type, default_accessor<typename View::element_type>> &&
                  std::is_same_v<E, T>) {
      return V::load_unaligned(p);
    } else if constexpr (std::is_same_v<typename View::accessor_type, default_accessor<typename View::element_type>> &&
                         sizeof(E) == 1 && std::is_integral_v<E>) {
      return load_widened_bytes<V>(p);
    } else {
      // Other storage (half, bfloat16, wider integers) is read through the pointer. Besides
      // sparing the stride product: with g++ 12 at -O3 -march=native (AVX-512) the strided loop
      // alone gave wrong bfloat16 values inside token::logprob's row scan (right at -O2, without
      // loop vectorization, or with clang 14; cause not established).
      alignas(64) T buf[V::size];
      for (std::size_t k = 0; k < V::size; ++k) buf[k] = static_cast<T>(v.accessor().access(p, static_cast<index_t>(k)));
      return V::load_aligned(buf);
    }
  }
};

/// Stands in for an absent optional input: every element reads as `value`.
template <class T>
struct constant_reader {
  T value;
  static constexpr bool contiguous() noexcept { return true; }
  constant_reader unit() const noexcept { return *this; }
  template <class V>
  V load(index_t) const {
    return V(value);
  }
};

/// Writes element i (or lanes [i, i+W)) of a mutable rank-1 view; a view with a null data
/// handle is an output the caller did not ask for and is skipped. `Unit` as for reader.
template <class T, class View, bool Unit = false>
struct writer {
  View v;
  bool enabled() const noexcept { return v.data_handle() != nullptr; }
  /// Unit stride, or not requested.
  bool contiguous() const noexcept { return !enabled() || v.stride(0) == 1; }
  /// This writer for a view known to be contiguous().
  writer<T, View, true> unit() const noexcept { return {v}; }
  template <class V>
  void store(index_t i, const V& x) const {
    if (!enabled()) return;
    using E = typename View::element_type;
    if constexpr (std::is_arithmetic_v<V>) {
      v(i) = static_cast<E>(x);
    } else {
      if constexpr (std::is_same_v<E, T>) {
        if (Unit || v.stride(0) == 1) {
          x.store_unaligned(v.data_handle() + i);
          return;
        }
      }
      alignas(64) T buf[V::size];
      x.store_aligned(buf);
      for (std::size_t k = 0; k < V::size; ++k) v(i + static_cast<index_t>(k)) = static_cast<E>(buf[k]);
    }
  }
};

template <class T, class View>
reader<T, View> make_reader(const View& v) {
  return {v};
}
template <class T, class View>
writer<T, View> make_writer(const View& v) {
  return {v};
}

/// K sums in double, combined in a fixed order.
template <std::size_t K>
struct sums {
  std::array<double, K> value{};
  sums& operator+=(const sums& o) noexcept {
    for (std::size_t k = 0; k < K; ++k) value[k] += o.value[k];
    return *this;
  }
  double operator[](std::size_t k) const noexcept { return value[k]; }
};

/// Batches summed in T, lane by lane, before a block's lanes are added in double.
inline constexpr index_t sum_block = 16;

/// Runs `body(i, lanes<V>{}, a...)` for every i in [0, n) (V = batch<T> on full batches, T on
/// each chunk's tail; a... the readers and writers of `io`, which the body loads and stores
/// through) and returns the K sums of what the body returns (a `std::array<V, K>`), blockwise as
/// the file comment states. When every reader and writer is contiguous() the full batches get
/// their unit() forms, so that the batch loop has no stride checks; the results are the same
/// either way. The chunk size must be a multiple of the batch width.
template <class T, std::size_t K, class Exec, class... A, class Body>
sums<K> map_reduce(const Exec& policy, index_t n, const std::tuple<A...>& io, Body&& body) {
  using B = batch_t<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  ALIGNKIT_ASSERT(policy.chunk % W == 0);
  const bool unit = std::apply([](const A&... a) { return (a.contiguous() && ... && true); }, io);
  using D = batch_t<double>;
  constexpr std::size_t H = B::size / D::size;
  return chunked_sum<sums<K>>(policy, n, [&](index_t begin, index_t end) ALIGNKIT_FLATTEN {
    std::array<std::array<D, H>, K> lanes_sum;
    for (auto& l : lanes_sum) l.fill(D(0.0));
    index_t i = begin;
    auto batches = [&](const auto&... a) {
      while (i + W <= end) {
        std::array<B, K> block;
        block.fill(B(T(0)));
        for (const index_t stop = std::min(end, i + sum_block * W); i + W <= stop; i += W) {
          const std::array<B, K> r = body(i, lanes<B>{}, a...);
          for (std::size_t k = 0; k < K; ++k) block[k] += r[k];
        }
        for (std::size_t k = 0; k < K; ++k) add_widened(block[k], lanes_sum[k]);
      }
    };
    if (unit) std::apply([&](const A&... a) { batches(a.unit()...); }, io);
    else std::apply(batches, io);
    sums<K> out;
    for (std::size_t k = 0; k < K; ++k) {
      alignas(64) double s[B::size];
      for (std::size_t h = 0; h < H; ++h) lanes_sum[k][h].store_aligned(s + h * D::size);
      for (std::size_t l = 0; l < B::size; ++l) out.value[k] += s[l];
    }
    std::apply([&](const A&... a) {
      for (; i < end; ++i) {
        const std::array<T, K> r = body(i, lanes<T>{}, a...);
        for (std::size_t k = 0; k < K; ++k) out.value[k] += static_cast<double>(r[k]);
      }
    }, io);
    return out;
  });
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
