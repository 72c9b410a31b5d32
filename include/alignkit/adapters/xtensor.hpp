/// @file xtensor.hpp
/// @brief Zero-copy views of xtensor containers: `xt::xtensor<T, N>` (rank N = 1, 2, 3),
/// `xt::xarray<T>` and the adaptors returned by `xt::adapt`. Dynamic-rank containers
/// (`xarray`) view as rank 1; use `view_as<2>(x)` for rank 2. xtensor reports stride 0 on
/// extent-1 dimensions; the view normalizes it to the row-major stride.
#pragma once

#include <type_traits>

#include <xtensor/xcontainer.hpp>
#include <xtensor/xutils.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

template <class X>
concept xtensor_container = std::is_base_of_v<xt::xcontiguous_iterable<X>, X> && requires(X& x) {
  x.data();
  x.shape();
  x.strides();
};

template <class S>
inline constexpr std::size_t static_rank_v = 0;
template <class I, std::size_t N>
inline constexpr std::size_t static_rank_v<std::array<I, N>> = N;

template <std::size_t Rank, class X>
auto xtensor_view(X& x) {
  using E = std::remove_pointer_t<decltype(x.data())>;
  if (x.dimension() != Rank)
    raise<shape_error>(106, "view_of(xtensor): the container has rank ", x.dimension(), ", expected ", Rank);
  std::array<index_t, Rank> ext{}, str{};
  index_t expected = 1;
  for (std::size_t r = Rank; r-- > 0;) {
    ext[r] = static_cast<index_t>(x.shape()[r]);
    str[r] = ext[r] == 1 ? expected : static_cast<index_t>(x.strides()[r]);
    expected *= ext[r];
  }
  return strided_view<E, Rank>(x.data(), ext, str);
}

}  // namespace detail

/// xtensor containers and adaptors; fixed-rank ones keep their rank, dynamic ones are rank 1.
template <detail::xtensor_container X>
struct tensor_traits<X> {
  static constexpr std::size_t rank =
      detail::static_rank_v<std::remove_cvref_t<typename X::shape_type>> == 0
          ? 1
          : detail::static_rank_v<std::remove_cvref_t<typename X::shape_type>>;
  template <class Y>
  static auto view(Y& x) {
    return detail::xtensor_view<rank>(x);
  }
};

/// View of a dynamic-rank xtensor container (`xt::xarray`) with the given rank;
/// [shape_error.106] if the container's rank differs.
template <std::size_t Rank, detail::xtensor_container X>
auto view_as(X& x) {
  return detail::xtensor_view<Rank>(x);
}

ALIGNKIT_END_NAMESPACE
