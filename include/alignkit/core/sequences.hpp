/// @file sequences.hpp
/// @brief The two layouts of a ragged batch: padded `[B, T]` values with a mask, and packed
/// tokens `[N]` with CSR sequence offsets `[B + 1]` (as engines that remove padding use).
///
/// Masks may be bool, uint8 or floating point; a nonzero entry is a valid token. Offsets are
/// non-decreasing, start at 0 and end at N; sequence b owns tokens [offsets[b], offsets[b+1]).
#pragma once

#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "config.hpp"
#include "error.hpp"
#include "view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Reads mask element `x` (bool, integer or floating point) as 0 or 1.
template <class M>
constexpr bool mask_valid(const M& x) noexcept {
  return x != M(0);
}

/// Checks CSR offsets for N packed tokens: [shape_error.104] if empty, [domain_error.204] if
/// they do not start at 0, decrease, or do not end at N.
template <class Offsets>
void check_offsets(std::string_view fn, const Offsets& offsets, index_t n_tokens) {
  if (offsets.extent(0) == 0)
    detail::raise<shape_error>(104, fn, ": offsets is empty; expected B + 1 entries starting at 0");
  if (offsets(0) != 0)
    detail::raise<domain_error>(204, fn, ": offsets[0] is ", offsets(0), ", expected 0");
  for (index_t b = 1; b < offsets.extent(0); ++b)
    if (offsets(b) < offsets(b - 1))
      detail::raise<domain_error>(204, fn, ": offsets[", b, "] is ", offsets(b), ", less than offsets[",
                                  b - 1, "] = ", offsets(b - 1), "; offsets must be non-decreasing");
  const auto last = static_cast<index_t>(offsets(offsets.extent(0) - 1));
  if (last != n_tokens)
    detail::raise<domain_error>(204, fn, ": offsets end at ", last, ", expected the token count ",
                                n_tokens);
}

ALIGNKIT_END_NAMESPACE
