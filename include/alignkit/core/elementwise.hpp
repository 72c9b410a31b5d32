/// @file elementwise.hpp
/// @brief The fused elementwise driver every memory-bound kernel is built on.
///
/// A kernel writes its per-element body once, generic over `V` (a scalar T or an
/// `xsimd::batch<T>`): it loads its inputs through `reader`s, stores outputs through `writer`s
/// and returns the values to be summed. `map_reduce<T, K>` runs the body over fixed chunks
/// (batches, then a scalar tail per chunk), sums each returned value with a compensated
/// (Kahan) batch sum inside the chunk and in double across chunks, in chunk order: one pass
/// over memory, vectorized, and bitwise identical for any thread count.
#pragma once

#include <array>
#include <cstddef>
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

/// Reads element i (or lanes [i, i+W)) of a rank-1 view as T or batch<T>.
template <class T, class View>
struct reader {
  View v;
  template <class V>
  V load(index_t i) const {
    if constexpr (std::is_arithmetic_v<V>) {
      return static_cast<T>(v(i));
    } else {
      using E = std::remove_cv_t<typename View::element_type>;
      if constexpr (std::is_same_v<E, T> &&
                    std::is_same_v<typename View::accessor_type,
                                   default_accessor<typename View::element_type>>) {
        if (v.stride(0) == 1) return V::load_unaligned(v.data_handle() + i);
      }
      alignas(64) T buf[V::size];
      for (std::size_t k = 0; k < V::size; ++k) buf[k] = static_cast<T>(v(i + static_cast<index_t>(k)));
      return V::load_aligned(buf);
    }
  }
};

/// Stands in for an absent optional input: every element reads as `value`.
template <class T>
struct constant_reader {
  T value;
  template <class V>
  V load(index_t) const {
    return V(value);
  }
};

/// Writes element i (or lanes [i, i+W)) of a mutable rank-1 view; a view with a null data
/// handle is an output the caller did not ask for and is skipped.
template <class T, class View>
struct writer {
  View v;
  bool enabled() const noexcept { return v.data_handle() != nullptr; }
  template <class V>
  void store(index_t i, const V& x) const {
    if (!enabled()) return;
    using E = typename View::element_type;
    if constexpr (std::is_arithmetic_v<V>) {
      v(i) = static_cast<E>(x);
    } else {
      if constexpr (std::is_same_v<E, T>) {
        if (v.stride(0) == 1) {
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

/// Runs `body(i, std::type_identity<V>{})` for every i in [0, n) (V = batch<T> on full
/// batches, T on each chunk's tail) and returns the K sums of what the body returns
/// (a `std::array<V, K>`). The chunk size must be a multiple of the batch width.
template <class T, std::size_t K, class Exec, class Body>
sums<K> map_reduce(const Exec& policy, index_t n, Body&& body) {
  using B = batch_t<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  ALIGNKIT_ASSERT(policy.chunk % W == 0);
  return chunked_sum<sums<K>>(policy, n, [&](index_t begin, index_t end) ALIGNKIT_FLATTEN {
    std::array<B, K> sum{}, comp{};
    for (std::size_t k = 0; k < K; ++k) sum[k] = comp[k] = B(T(0));
    index_t i = begin;
    for (; i + W <= end; i += W) {
      const std::array<B, K> r = body(i, std::type_identity<B>{});
      for (std::size_t k = 0; k < K; ++k) {  // Kahan: comp holds the lost low-order bits
        const B y = r[k] - comp[k];
        const B t = sum[k] + y;
        comp[k] = (t - sum[k]) - y;
        sum[k] = t;
      }
    }
    sums<K> out;
    for (std::size_t k = 0; k < K; ++k) {
      alignas(64) T s[B::size], c[B::size];
      sum[k].store_aligned(s);
      comp[k].store_aligned(c);
      for (std::size_t l = 0; l < B::size; ++l)
        out.value[k] += static_cast<double>(s[l]) - static_cast<double>(c[l]);
    }
    for (; i < end; ++i) {
      const std::array<T, K> r = body(i, std::type_identity<T>{});
      for (std::size_t k = 0; k < K; ++k) out.value[k] += static_cast<double>(r[k]);
    }
    return out;
  });
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
