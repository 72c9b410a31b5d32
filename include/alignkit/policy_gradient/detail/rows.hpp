/// @file rows.hpp
/// @brief Row sets over the layouts of core/aggregation.hpp, and a deterministic loop over rows.
///
/// Row-wise kernels (reverse scans, per-sequence broadcasts, whitening) are written once against
/// a row set `rs`: `rs.count()` rows, `rs(b)` the rank-1 view of row b. `bound_rows` binds one
/// argument to a layout (`padded_layout`: row b of a `[B, T]` view; `packed_layout`: tokens
/// [offsets[b], offsets[b+1]) of an `[N]` view); `split_rows` cuts a plain vector into pieces.
/// `for_rows` runs one row per work item and sums what each row returns in row order, so the
/// padded and packed layouts, and any thread count, give bitwise identical sums.
#pragma once

#include <algorithm>
#include <string_view>

#include "../../core/aggregation.hpp"
#include "../../core/check.hpp"
#include "../../core/elementwise.hpp"
#include "../../core/execution.hpp"
#include "../../core/view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

/// The rows of view `v` under layout `rows` (a null view gives null rows).
template <class Rows, class View>
struct bound_rows {
  Rows layout;
  View v;
  index_t count() const noexcept { return layout.rows(); }
  View view() const noexcept { return v; }
  auto operator()(index_t b) const noexcept {
    return v.data_handle() ? layout.row(v, b) : decltype(layout.row(v, b)){};
  }
};

template <class Rows, class View>
bound_rows<Rows, View> bind_rows(const Rows& layout, const View& v) {
  return {layout, v};
}

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
