/// @file value_model.hpp
/// @brief Concepts for critics: `value_model` gives V(x, y_<t) for every response token, and
/// `value_gradient_sink` receives d loss / d V per token from the PPO step.
#pragma once

#include <concepts>
#include <span>

#include "../core/config.hpp"
#include "token_values.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace model {

/// Per-token values: `m.values(prompts, responses)` returns V at every response token, in the
/// same layout as the policy's `token_logprobs` of the same batch.
template <class M, class Prompt, class Response>
concept value_model = requires(const M& m, std::span<const Prompt> prompts, std::span<const Response> responses) {
  { m.values(prompts, responses) } -> std::convertible_to<token_values>;
};

/// Receives d loss / d V for every token; gradients accumulate.
template <class M, class Prompt, class Response>
concept value_gradient_sink = requires(M& m, std::span<const Prompt> prompts, std::span<const Response> responses,
                                       const token_values& d_values) {
  m.accumulate_value_gradient(prompts, responses, d_values);
};

/// A critic that the PPO step can train.
template <class M, class Prompt, class Response>
concept trainable_value_model = value_model<M, Prompt, Response> && value_gradient_sink<M, Prompt, Response>;

}  // namespace model

ALIGNKIT_END_NAMESPACE
