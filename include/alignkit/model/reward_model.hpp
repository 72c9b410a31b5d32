/// @file reward_model.hpp
/// @brief Concepts for reward models: `reward_model` gives one scalar per (prompt, response),
/// `score_gradient_sink` receives d loss / d score from the reward-model step.
/// (pipelines/ensemble_reward_model.hpp combines a range of reward models into one.)
#pragma once

#include <concepts>
#include <ranges>
#include <span>

#include "../core/config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace model {

/// Scores responses: `m.score(prompts, responses)` returns one reward per pair, as a sized
/// range of values convertible to double.
template <class M, class Prompt, class Response>
concept reward_model = requires(const M& m, std::span<const Prompt> prompts, std::span<const Response> responses) {
  { m.score(prompts, responses) } -> std::ranges::sized_range;
  requires std::convertible_to<std::ranges::range_value_t<decltype(m.score(prompts, responses))>, double>;
};

/// Receives d loss / d score for each scored pair; gradients accumulate.
template <class M, class Prompt, class Response>
concept score_gradient_sink = requires(M& m, std::span<const Prompt> prompts, std::span<const Response> responses,
                                       std::span<const double> d_scores) {
  m.accumulate_score_gradient(prompts, responses, d_scores);
};

/// A reward model that the reward-model step can train.
template <class M, class Prompt, class Response>
concept trainable_reward_model = reward_model<M, Prompt, Response> && score_gradient_sink<M, Prompt, Response>;

}  // namespace model

ALIGNKIT_END_NAMESPACE
