/// @file sequence_logprobs.hpp
/// @brief From per-token log-probabilities to what the objectives take.
///
/// token::logprob (or token::linear_head::logprob) writes logp_t for N token rows. Then:
///   DPO / KTO / SimPO: S_b = Σ_{t ∈ b} logp_t (or the mean) via `reduce_sequences` (core/
///     sequences.hpp, packed offsets or padded mask); its backward `expand_sequence_grad` turns
///     ∂L/∂S_b into the upstream `d_logprobs` of token::logprob.
///   PPO / GRPO: the packed [N] vector goes to their packed overloads as is; for a padded batch
///     computed as N = B·T rows, `per_token` views it as the [B, T] matrix they take.
/// Tokens whose label was the ignore index (the prompt, padding) carry logp = 0, so packed sums
/// over whole sequences give the completion log-probability. Parity: TRL
/// `DPOTrainer.concatenated_forward` (`(per_token_logps * loss_mask).sum(-1)`).
#pragma once

#include "../core/check.hpp"
#include "../core/view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace token {

/// The per-token values of a padded batch, computed as N = B·T rows (row-major), viewed as the
/// [B, T] matrix that PPO / GRPO kernels take; zero-copy, keeps the stride and accessor.
/// Errors: shape_error.101 (the view does not have B·T elements).
template <class T, class A>
matrix_view<T, A> per_token(const vector_view<T, A>& token_values, index_t batch, index_t length) {
  alignkit::detail::check_same_size("token::per_token", "token_values", token_values.extent(0), "batch·length",
                                    batch * length);
  const index_t s = token_values.stride(0);
  return {token_values.data_handle(), {batch, length}, {length * s, s}, token_values.accessor()};
}

}  // namespace token

ALIGNKIT_END_NAMESPACE
