/// @file reward_model.hpp
/// @brief Concepts for reward models: `reward_model` gives one scalar per (prompt, response),
/// `score_gradient_sink` receives d loss / d score from the reward-model step; and
/// `reward_ensemble`, an adaptor that scores with a range of reward models and combines them
/// conservatively (mean − k·std, the uncertainty-weighted optimization of Coste et al. 2023,
/// arXiv:2310.02743; k = 0 gives the plain mean).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <ranges>
#include <span>
#include <vector>

#include "../core/check.hpp"
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

/// Scores with every member of a non-empty range of reward models and returns, per pair,
/// mean − k·std over the members (population std). Itself a `reward_model`.
/// Errors: shape_error.102 (no members), domain_error.202 (k < 0).
template <class Range>
class reward_ensemble {
 public:
  /// `members` is borrowed and must outlive the ensemble.
  explicit reward_ensemble(Range& members, double k = 0.0) : members_(&members), k_(k) {
    detail::check_not_empty("model::reward_ensemble", "members", static_cast<index_t>(std::ranges::size(members)));
    detail::check_range("model::reward_ensemble", "k", k, 0.0, HUGE_VAL);
  }

  /// Per-pair mean − k·std of the members' scores.
  template <class Prompt, class Response>
  std::vector<double> score(std::span<const Prompt> prompts, std::span<const Response> responses) const {
    std::vector<double> sum(responses.size(), 0.0), sq(responses.size(), 0.0);
    for (const auto& m : *members_) {
      std::size_t i = 0;
      for (const auto s : m.score(prompts, responses)) {
        const auto v = static_cast<double>(s);
        sum[i] += v;
        sq[i++] += v * v;
      }
    }
    const auto k = static_cast<double>(std::ranges::size(*members_));
    for (std::size_t i = 0; i < sum.size(); ++i) {
      const double mean = sum[i] / k;
      sum[i] = mean - k_ * std::sqrt(std::max(0.0, sq[i] / k - mean * mean));
    }
    return sum;
  }

 private:
  Range* members_;
  double k_;
};

}  // namespace model

ALIGNKIT_END_NAMESPACE
