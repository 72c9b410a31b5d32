/// @file std.hpp
/// @brief Standard containers. Every contiguous sized range (std::vector, std::array, std::span,
/// std::basic_string_view of numbers, …) is already a rank-1 tensor through `view_of`; this header
/// adds `as_matrix`, a row-major rank-2 view over such a range, e.g. a `std::vector` holding a
/// padded `[B, T]` batch.
#pragma once

#include <ranges>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Row-major `[rows, cols]` view over a contiguous range of rows·cols elements;
/// [shape_error.105] if the sizes disagree.
template <std::ranges::contiguous_range R>
  requires std::ranges::sized_range<R>
auto as_matrix(R&& range, index_t rows, index_t cols) {
  using E = std::remove_reference_t<std::ranges::range_reference_t<R>>;
  const auto n = static_cast<index_t>(std::ranges::size(range));
  if (rows < 0 || cols < 0 || rows * cols != n)
    detail::raise<shape_error>(105, "as_matrix: the range has ", n, " elements, expected rows*cols = ",
                               rows, "*", cols);
  return matrix_view<E>(std::ranges::data(range), {rows, cols});
}

ALIGNKIT_END_NAMESPACE
