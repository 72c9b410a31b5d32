/// @file rows.hpp
/// @brief The rows of a ragged batch as rank-1 views, and a deterministic loop over them.
///
/// Row-wise kernels (reverse scans, per-sequence broadcasts, whitening) are written once against
/// `rows(b)`, a rank-1 view of row b, for three layouts: padded `[B, T]` (row b is row b of the
/// matrix), packed `[N]` + CSR offsets (row b is tokens [offsets[b], offsets[b+1])), and a plain
/// vector cut into fixed pieces. `for_rows` runs one row per work item and sums what each row
/// returns in row order, so padded and packed layouts, and any thread count, give bitwise
/// identical sums.
#pragma once

#include <algorithm>

#include <string_view>

#include "../../core/check.hpp"
#include "../../core/elementwise.hpp"
#include "../../core/execution.hpp"
#include "../../core/sequences.hpp"
#include "../../core/view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

/// Rows of a padded `[B, T]` view.
template <class View>
struct padded_rows {
  View v;
  index_t count() const noexcept { return v.extent(0); }
  auto operator()(index_t b) const noexcept { return v.row(b); }
};

/// Rows of packed tokens `[N]` with CSR offsets `[B + 1]` (checked by the caller).
template <class View, class Offsets>
struct packed_rows {
  View v;
  Offsets offsets;
  index_t count() const noexcept { return offsets.extent(0) - 1; }
  auto operator()(index_t b) const noexcept {
    const auto begin = static_cast<index_t>(offsets(b));
    return v.subview(begin, static_cast<index_t>(offsets(b + 1)) - begin);
  }
};

/// A rank-1 view cut into pieces of `piece` elements (the last one shorter).
template <class View>
struct split_rows {
  View v;
  index_t piece;
  index_t count() const noexcept { return (v.extent(0) + piece - 1) / piece; }
  auto operator()(index_t b) const noexcept {
    return v.subview(b * piece, std::min(piece, v.extent(0) - b * piece));
  }
};

/// Padded layout: every `[B, T]` argument is cut into its rows.
struct padded_split {
  template <class View>
  padded_rows<View> operator()(const View& v) const noexcept {
    return {v};
  }
  template <class View>
  index_t count(const View& tokens) const noexcept {
    return tokens.extent(0);
  }
  template <class View>
  void check(std::string_view, const View&) const noexcept {}
};

/// Packed layout: every `[N]` argument is cut by the same CSR offsets.
template <class Offsets>
struct packed_split {
  Offsets offsets;
  template <class View>
  packed_rows<View, Offsets> operator()(const View& v) const noexcept {
    return {v, offsets};
  }
  template <class View>
  index_t count(const View&) const noexcept {
    return offsets.extent(0) - 1;
  }
  /// [shape_error.104, domain_error.204] the offsets must cut the N tokens.
  template <class View>
  void check(std::string_view fn, const View& tokens) const {
    check_offsets(fn, offsets, tokens.extent(0));
  }
};

/// Rows of an optional output: a null view stays null in every row.
template <class Rows>
auto row_or_null(const Rows& rows, bool enabled, index_t b) {
  return enabled ? rows(b) : decltype(rows(b)){};
}

/// [shape_error.101/103] `v` must have the shape of `ref` (same rank).
template <class View, class Ref>
void check_same_shape(std::string_view fn, std::string_view name, const View& v, std::string_view ref_name,
                      const Ref& ref) {
  static_assert(View::rank() == Ref::rank(), "alignkit: arguments of different rank");
  if constexpr (View::rank() == 1) {
    check_same_size(fn, name, v.extent(0), ref_name, ref.extent(0));
  } else {
    for (std::size_t d = 0; d < View::rank(); ++d) check_extent(fn, name, d, v.extent(d), ref.extent(d));
  }
}

/// Calls `f(b)` for every row b in [0, rows) (one row per work item) and returns the sum of what
/// it returns (a `sums<K>`), added in row order.
template <std::size_t K, class Exec, class F>
sums<K> for_rows(const Exec& policy, index_t rows, F&& f) {
  auto per_row = policy;
  per_row.chunk = 1;
  return chunked_sum<sums<K>>(per_row, rows, [&](index_t b, index_t) { return f(b); });
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
