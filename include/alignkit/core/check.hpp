/// @file check.hpp
/// @brief Precondition checks shared by every kernel; each raises a documented error id
/// (docs/errors.md) whose message names the function, the argument, the expected and the
/// actual value.
#pragma once

#include <cmath>
#include <string_view>

#include "config.hpp"
#include "error.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

/// [shape_error.101] `name` must have as many elements as `ref_name`.
inline void check_same_size(std::string_view fn, std::string_view name, index_t n,
                            std::string_view ref_name, index_t ref_n) {
  if (n != ref_n)
    raise<shape_error>(101, fn, ": ", name, " has ", n, " elements, ", ref_name, " has ", ref_n);
}

/// [shape_error.102] `name` must not be empty.
inline void check_not_empty(std::string_view fn, std::string_view name, index_t n) {
  if (n == 0) raise<shape_error>(102, fn, ": ", name, " is empty; at least one element is required");
}

/// [shape_error.103] extent `dim` of `name` must equal `expected`.
inline void check_extent(std::string_view fn, std::string_view name, std::size_t dim, index_t n,
                         index_t expected) {
  if (n != expected)
    raise<shape_error>(103, fn, ": ", name, " has extent ", n, " in dimension ", dim, ", expected ",
                       expected);
}

/// [domain_error.201] every element of `v` (rank 1) must be finite.
template <class View>
void check_finite(std::string_view fn, std::string_view name, const View& v) {
  for (index_t i = 0; i < v.extent(0); ++i) {
    const double x = static_cast<double>(v(i));
    if (!std::isfinite(x))
      raise<domain_error>(201, fn, ": ", name, "[", i, "] is ", x, ", expected a finite value");
  }
}

/// [domain_error.202] hyperparameter `name` must lie in the stated range.
inline void check_range(std::string_view fn, std::string_view name, double value, double lo,
                        double hi, bool lo_open = false, bool hi_open = false) {
  const bool ok = (lo_open ? value > lo : value >= lo) && (hi_open ? value < hi : value <= hi);
  if (!ok)
    raise<domain_error>(202, fn, ": ", name, " is ", value, ", expected a value in ", lo_open ? "(" : "[",
                        lo, ", ", hi, hi_open ? ")" : "]");
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
