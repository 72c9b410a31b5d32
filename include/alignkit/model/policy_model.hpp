/// @file policy_model.hpp
/// @brief Concepts for language models as the pipeline steps see them: a `reference_model`
/// scores given responses token by token, a `policy_model` also samples, and a
/// `logprob_gradient_sink` receives d loss / d log π(y_t | x, y_<t) from a step.
///
/// A model is any type with these members — no base class, no registration. Prompts and
/// responses are the caller's own types (token-id vectors, strings, handles into an engine's
/// batch); the steps only pass them back to the model. The gradient is handed over per token
/// in the layout of the log-probs the model returned; the model's own backward pass and
/// optimizer turn it into parameter updates (the step never sees parameters).
#pragma once

#include <concepts>
#include <ranges>
#include <span>
#include <type_traits>
#include <utility>

#include "../core/config.hpp"
#include "token_values.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace model {

/// Scores given responses: `m.token_logprobs(prompts, responses)` returns the log-probability
/// of every response token (B sequences, one per (prompt, response) pair) as `token_values`.
template <class M, class Prompt, class Response>
concept reference_model = requires(const M& m, std::span<const Prompt> prompts, std::span<const Response> responses) {
  { m.token_logprobs(prompts, responses) } -> std::convertible_to<token_values>;
};

/// A reference model that also generates: `m.sample(prompts)` returns one sampled response per
/// prompt (a range of Response; repeat a prompt to draw several).
template <class M, class Prompt, class Response>
concept policy_model = reference_model<M, Prompt, Response> &&
    requires(M& m, std::span<const Prompt> prompts) {
      { m.sample(prompts) } -> std::ranges::input_range;
      requires std::convertible_to<std::ranges::range_value_t<decltype(m.sample(prompts))>, Response>;
    };

/// The response type a policy samples for prompts of type Prompt.
template <class M, class Prompt>
using response_t = std::remove_cvref_t<
    std::ranges::range_value_t<decltype(std::declval<M&>().sample(std::declval<std::span<const Prompt>>()))>>;

/// Receives d loss / d log π of every token of the given responses, in the layout that
/// `token_logprobs` returned for them; called once per step, gradients accumulate.
template <class M, class Prompt, class Response>
concept logprob_gradient_sink = requires(M& m, std::span<const Prompt> prompts, std::span<const Response> responses,
                                         const token_values& d_logprobs) {
  m.accumulate_logprob_gradient(prompts, responses, d_logprobs);
};

/// A policy that a step can train: it samples, scores and receives log-prob gradients.
template <class M, class Prompt, class Response>
concept trainable_policy = policy_model<M, Prompt, Response> && logprob_gradient_sink<M, Prompt, Response>;

}  // namespace model

ALIGNKIT_END_NAMESPACE
