/// @file ensemble_reward_model.hpp
/// @brief `ensemble_reward_model`: a range of reward models used as one, scoring every pair with
/// each member and combining the K scores with `reward_ensemble::score` (mean, min, or
/// mean − k·std: the conservative objectives of Coste et al. 2023, arXiv:2310.02743). It is
/// itself a `model::reward_model`, so PPO and GRPO optimize against the ensemble unchanged;
/// `reward_ensemble_step` (reward_model_step.hpp) trains the members.
#pragma once

#include <ranges>
#include <span>
#include <vector>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../core/view.hpp"
#include "../model/reward_model.hpp"
#include "../preference/reward_ensemble.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// Scores with every member of a range of reward models and aggregates per pair.
/// Errors: shape_error.102 (no members), shape_error.101 (a member returns a wrong number of
/// scores), and those of `reward_ensemble::score`.
template <class Range>
class ensemble_reward_model {
 public:
  /// `members` is borrowed and must outlive the ensemble.
  explicit ensemble_reward_model(const Range& members, const reward_ensemble::options& opts = {})
      : members_(&members), opts_(opts) {
    alignkit::detail::check_not_empty("pipelines::ensemble_reward_model", "members",
                                      static_cast<index_t>(std::ranges::size(members)));
  }

  /// The aggregated score of every (prompt, response) pair.
  template <class Prompt, class Response>
  std::vector<double> score(std::span<const Prompt> prompts, std::span<const Response> responses) const {
    const auto n = static_cast<index_t>(responses.size());
    const auto k = static_cast<index_t>(std::ranges::size(*members_));
    std::vector<double> table(static_cast<std::size_t>(n * k));  // head-major [K][N]
    index_t j = 0;
    for (const auto& m : *members_) {
      index_t i = 0;
      for (const auto s : m.score(prompts, responses)) {
        if (i < n) table[static_cast<std::size_t>(j * n + i)] = static_cast<double>(s);
        ++i;
      }
      alignkit::detail::check_same_size("pipelines::ensemble_reward_model", "member scores", i, "responses", n);
      ++j;
    }
    std::vector<double> out(static_cast<std::size_t>(n));
    reward_ensemble::score(exec::seq, matrix_view<const double>(table.data(), {n, k}, {1, n}), out, opts_);
    return out;
  }

 private:
  const Range* members_;
  reward_ensemble::options opts_;
};

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
