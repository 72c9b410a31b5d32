/// @file reward_model_step.hpp
/// @brief One reward-model training step: score both responses of every pair, take the
/// Bradley–Terry loss, hand d loss / d score back to the model (and the same for every member
/// of an ensemble).
///
///   r_c,i = rm(x_i, y_c,i),  r_r,i = rm(x_i, y_r,i),  z_i = r_c,i − r_r,i
///   hard labels:  loss = Σ_i softplus(−z_i) / N                       (bradley_terry::loss)
///   soft labels p_i:  loss = Σ_i [p_i softplus(−z_i) + (1 − p_i) softplus(z_i)] / N
/// The soft form is the cross-entropy against the label probability (as for AI-labeled pairs,
/// Lee et al. 2023, arXiv:2309.00267); it is computed with two fused passes of
/// `bradley_terry::loss`, on (c, r) and on (r, c), whose per-pair outputs are mixed by p_i.
/// Paper: Ouyang et al. 2022 (arXiv:2203.02155); ensembles as in Coste et al. 2023
/// (arXiv:2310.02743), each member stepped on the same batch.
/// Parity: OpenRLHF `RewardModelTrainer` / TRL `RewardTrainer` per-step loss (via `bt_loss`).
#pragma once

#include <span>
#include <vector>

#include "../core/config.hpp"
#include "../core/tensor.hpp"
#include "../model/reward_model.hpp"
#include "../preference/bradley_terry.hpp"
#include "preference_batch.hpp"
#include "detail/soft_labels.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// Scores of both sides of a batch under a reward model.
struct pair_scores {
  std::vector<double> chosen, rejected;
};

/// Scores the chosen and rejected responses of `batch` with `rm`.
template <class RM, class P, class Y>
  requires model::reward_model<RM, P, Y>
pair_scores score_pairs(const RM& rm, const preference_batch<P, Y>& batch) {
  const std::span<const P> x(batch.prompts);
  pair_scores s;
  for (const auto v : rm.score(x, std::span<const Y>(batch.chosen))) s.chosen.push_back(static_cast<double>(v));
  for (const auto v : rm.score(x, std::span<const Y>(batch.rejected))) s.rejected.push_back(static_cast<double>(v));
  alignkit::detail::check_same_size("pipelines::score_pairs", "chosen scores", static_cast<index_t>(s.chosen.size()),
                                    "prompts", batch.size());
  alignkit::detail::check_same_size("pipelines::score_pairs", "rejected scores",
                                    static_cast<index_t>(s.rejected.size()), "prompts", batch.size());
  return s;
}

/// One Bradley–Terry step of a trainable reward model on `batch`: returns the loss and metrics
/// (accuracy and margin of the model's scores) and calls `rm.accumulate_score_gradient` for
/// the chosen and the rejected responses. Errors: those of `check_batch` and
/// `bradley_terry::loss`; shape_error.101 if the model returns a wrong number of scores.
template <class RM, class P, class Y>
  requires model::trainable_reward_model<RM, P, Y>
bradley_terry::result reward_model_step(RM& rm, const preference_batch<P, Y>& batch,
                                        const bradley_terry::options& opts = {}) {
  detail::check_batch("pipelines::reward_model_step", batch);
  const auto s = score_pairs(rm, batch);
  const auto kernel = [&](bool swapped, vector_view<double> losses, vector_view<double> grad_a,
                          vector_view<double> grad_b) {
    if (swapped) return bradley_terry::loss(s.rejected, s.chosen, opts, bradley_terry::outputs<double>{losses, grad_b, grad_a});
    return bradley_terry::loss(s.chosen, s.rejected, opts, bradley_terry::outputs<double>{losses, grad_a, grad_b});
  };
  const auto g = detail::soft_pairwise<bradley_terry::result>(
      kernel, s.chosen.size(), batch.labels, opts.total_pairs.value_or(static_cast<double>(batch.size())));
  const std::span<const P> x(batch.prompts);
  rm.accumulate_score_gradient(x, std::span<const Y>(batch.chosen), std::span<const double>(g.grad_chosen));
  rm.accumulate_score_gradient(x, std::span<const Y>(batch.rejected), std::span<const double>(g.grad_rejected));
  return g.metrics;
}

/// Steps every member of an ensemble (a range of trainable reward models) on the same batch;
/// returns the members' mean loss, accuracy and margin.
template <std::ranges::range Members, class P, class Y>
  requires model::trainable_reward_model<std::ranges::range_value_t<Members>, P, Y>
bradley_terry::result reward_ensemble_step(Members& members, const preference_batch<P, Y>& batch,
                                        const bradley_terry::options& opts = {}) {
  bradley_terry::result mean{};
  double k = 0;
  for (auto& m : members) {
    const auto r = reward_model_step(m, batch, opts);
    mean.loss += r.loss;
    mean.accuracy += r.accuracy;
    mean.margin += r.margin;
    mean.pairs = r.pairs;
    ++k;
  }
  alignkit::detail::check_not_empty("pipelines::reward_ensemble_step", "members", static_cast<index_t>(k));
  mean.loss /= k;
  mean.accuracy /= k;
  mean.margin /= k;
  return mean;
}

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
