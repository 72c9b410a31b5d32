/// @file tensor.hpp
/// @brief The tensor customization point: `view_of(x)` turns any supported argument into a
/// `strided_view`, and the concepts `tensor_like`, `vector_like`, `matrix_like` built on it.
///
/// `view_of` tries, in this order:
///  1. a `strided_view` itself (returned as is);
///  2. a specialization `alignkit::tensor_traits<X>` with a static `view(X&)` / `view(const X&)`;
///  3. a function `alignkit_view(x)` found by argument-dependent lookup in the user's namespace;
///  4. any contiguous sized range (`std::vector`, `std::array`, `std::span`, …) as a rank-1 view.
/// Anything else is a compile error whose message names the fix (docs/extending.md).
#pragma once

#include <ranges>
#include <type_traits>
#include <utility>

#include "config.hpp"
#include "view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Specialize for a tensor type X to make it `tensor_like`:
/// `template <> struct alignkit::tensor_traits<X> { static auto view(const X&); static auto view(X&); };`
/// Each `view` returns a `strided_view`. The primary template is left undefined on purpose.
template <class X>
struct tensor_traits;

namespace detail {

template <class X>
concept has_tensor_traits = requires(X& x) {
  { tensor_traits<std::remove_cvref_t<X>>::view(x) };
};

void alignkit_view() = delete;  // poison pill: only argument-dependent lookup finds the user's

template <class X>
concept has_adl_view = requires(X& x) {
  { alignkit_view(x) };
};

template <class X>
concept contiguous_sized_range =
    std::ranges::contiguous_range<X> && std::ranges::sized_range<X> &&
    std::is_arithmetic_v<std::remove_cvref_t<std::ranges::range_reference_t<X>>>;

template <class X>
concept viewable = is_strided_view_v<std::remove_cvref_t<X>> || has_tensor_traits<X> ||
                   has_adl_view<X> || contiguous_sized_range<X>;

template <class>
inline constexpr bool dependent_false = false;

struct view_fn {
  template <class X>
  constexpr auto operator()(X&& x) const {
    using U = std::remove_cvref_t<X>;
    if constexpr (is_strided_view_v<U>) {
      return U(x);
    } else if constexpr (has_tensor_traits<std::remove_reference_t<X>>) {
      return tensor_traits<U>::view(x);
    } else if constexpr (has_adl_view<std::remove_reference_t<X>>) {
      return alignkit_view(x);
    } else if constexpr (contiguous_sized_range<std::remove_reference_t<X>>) {
      using E = std::remove_reference_t<std::ranges::range_reference_t<X&>>;
      return strided_view<E, 1>(std::ranges::data(x), static_cast<index_t>(std::ranges::size(x)));
    } else {
      static_assert(dependent_false<U>,
                    "alignkit: this type is not tensor_like; specialize alignkit::tensor_traits<T> "
                    "or provide an ADL function alignkit_view(const T&) returning a "
                    "strided_view - see docs/extending.md");
    }
  }
};

}  // namespace detail

/// The customization point object: `view_of(x)` is the `strided_view` of any tensor-like x.
inline constexpr detail::view_fn view_of{};

/// A type that `view_of` accepts.
template <class X>
concept tensor_like = detail::viewable<X>;

/// The view type of X (const X gives a view of const elements).
template <tensor_like X>
using view_t = decltype(view_of(std::declval<X&>()));

/// The type kernels compute with for X: its view's value_type (float for half/bfloat16).
template <tensor_like X>
using value_t = typename view_t<X>::value_type;

template <class X>
concept vector_like = tensor_like<X> && view_t<X>::rank() == 1;
template <class X>
concept matrix_like = tensor_like<X> && view_t<X>::rank() == 2;

/// Compile-time rank check with a readable diagnostic, for kernels that need a given rank.
template <std::size_t Rank, class View>
constexpr void require_rank() {
  static_assert(View::rank() == Rank,
                "alignkit: this argument has the wrong rank; the kernel expects the rank named "
                "in its documentation (a rank-1 vector or a rank-2 [rows, cols] matrix)");
}

ALIGNKIT_END_NAMESPACE
