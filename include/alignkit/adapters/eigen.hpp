/// @file eigen.hpp
/// @brief Zero-copy views of Eigen objects with storage: Matrix, Array, Map (with strides),
/// Ref and blocks, row- or column-major. Compile-time vectors become rank-1 views, everything
/// else rank-2 `[rows, cols]`. `Eigen::half` / `Eigen::bfloat16` storage is read as float.
/// An expression without storage (`a + b`) is a compile error: evaluate it first.
#pragma once

#include <type_traits>

#include <Eigen/Core>

#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

template <class X>
concept eigen_dense = std::is_base_of_v<Eigen::DenseBase<X>, X>;

template <class S>
inline constexpr bool is_eigen_half_v =
    std::is_same_v<std::remove_cv_t<S>, Eigen::half> || std::is_same_v<std::remove_cv_t<S>, Eigen::bfloat16>;

template <class E, std::size_t Rank>
using eigen_view_t = std::conditional_t<is_eigen_half_v<E>, strided_view<E, Rank, converting_accessor<E, float>>,
                                        strided_view<E, Rank>>;

}  // namespace detail

/// Eigen dense objects with direct memory access.
template <detail::eigen_dense X>
struct tensor_traits<X> {
  template <class Y>
  static auto view(Y& x) {
    static_assert(bool(X::Flags & Eigen::DirectAccessBit),
                  "alignkit: this Eigen expression has no storage; evaluate it first (.eval() or "
                  "assign it to a Matrix/Array) so that alignkit can view it without a copy");
    using E = std::remove_pointer_t<decltype(x.data())>;
    const bool is_vector = X::RowsAtCompileTime == 1 || X::ColsAtCompileTime == 1;
    if constexpr (is_vector) {
      return detail::eigen_view_t<E, 1>(x.data(), {static_cast<index_t>(x.size())},
                                        {static_cast<index_t>(x.innerStride())});
    } else {
      const auto inner = static_cast<index_t>(x.innerStride());
      const auto outer = static_cast<index_t>(x.outerStride());
      const bool row_major = bool(X::Flags & Eigen::RowMajorBit);
      return detail::eigen_view_t<E, 2>(x.data(), {static_cast<index_t>(x.rows()), static_cast<index_t>(x.cols())},
                                        {row_major ? outer : inner, row_major ? inner : outer});
    }
  }
};

ALIGNKIT_END_NAMESPACE
