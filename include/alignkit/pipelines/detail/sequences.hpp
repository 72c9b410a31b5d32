/// @file sequences.hpp
/// @brief Per-sequence views of `token_values` used by the steps: sequence sums and token
/// counts, and a per-sequence gradient spread over the tokens of each sequence (the gradient
/// of a sequence log-prob Σ_t log π_t with respect to each token log-prob is 1).
#pragma once

#include <span>
#include <vector>

#include "../../core/config.hpp"
#include "../../model/token_values.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines::detail {

/// Σ_t v_t of every sequence.
inline std::vector<double> sequence_sums(const model::token_values& v) {
  std::vector<double> s(static_cast<std::size_t>(v.sequences()));
  for (index_t b = 0; b < v.sequences(); ++b) s[static_cast<std::size_t>(b)] = v.sum(b);
  return s;
}

/// Token count of every sequence.
inline std::vector<double> sequence_lengths(const model::token_values& v) {
  std::vector<double> n(static_cast<std::size_t>(v.sequences()));
  for (index_t b = 0; b < v.sequences(); ++b) n[static_cast<std::size_t>(b)] = static_cast<double>(v.length(b));
  return n;
}

/// g_b on every token of sequence b, in the layout of `like`.
inline model::token_values spread(const model::token_values& like, std::span<const double> g) {
  auto out = like.zeros_like();
  for (index_t b = 0; b < like.sequences(); ++b)
    for (double& x : out[b]) x = g[static_cast<std::size_t>(b)];
  return out;
}

}  // namespace pipelines::detail

ALIGNKIT_END_NAMESPACE
