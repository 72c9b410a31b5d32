/// @file aggregation.hpp
/// @brief The aggregation modes shared by every token-level loss, and the explicit global
/// denominators that make micro-batches and data-parallel shards add up to the full batch.
///
/// With per-token values x, mask m, B sequences and padded length T (verl `agg_loss` names):
///   token_mean              Σ x·m / Σ m
///   seq_mean_token_sum      mean over non-empty sequences of Σ_t x·m
///   seq_mean_token_mean     mean over non-empty sequences of Σ_t x·m / (Σ_t m + 1e-8)
///   seq_mean_token_sum_norm Σ x·m / (B·T)     (T: a constant horizon, all rows count)
/// Each denominator (Σ m, number of non-empty sequences, B·T) can be given explicitly as the
/// value for the whole optimizer step; a micro-batch then contributes exactly its share.
#pragma once

#include <optional>
#include <string_view>

#include "config.hpp"
#include "error.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// How token-level values are reduced to a scalar loss.
enum class aggregation { token_mean, seq_mean_token_sum, seq_mean_token_mean, seq_mean_token_sum_norm };

/// Denominators of the whole optimizer step; an unset field means "this call's own value".
struct global_denominators {
  std::optional<double> tokens;     ///< Σ m over the step (token_mean)
  std::optional<double> sequences;  ///< number of sequences over the step (seq_mean_*)
  std::optional<double> horizon;    ///< the constant T of seq_mean_token_sum_norm (default: padded T)
};

/// Parses verl's names ("token-mean", "seq-mean-token-sum", …); [domain_error.203] otherwise.
inline aggregation parse_aggregation(std::string_view name) {
  if (name == "token-mean") return aggregation::token_mean;
  if (name == "seq-mean-token-sum") return aggregation::seq_mean_token_sum;
  if (name == "seq-mean-token-mean") return aggregation::seq_mean_token_mean;
  if (name == "seq-mean-token-sum-norm") return aggregation::seq_mean_token_sum_norm;
  detail::raise<domain_error>(203, "parse_aggregation: unknown aggregation mode '", name,
                              "', expected token-mean, seq-mean-token-sum, seq-mean-token-mean "
                              "or seq-mean-token-sum-norm");
}

ALIGNKIT_END_NAMESPACE
