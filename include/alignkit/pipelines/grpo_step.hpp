/// @file grpo_step.hpp
/// @brief GRPO / RLVR in two calls: `grpo_rollout` (G samples per prompt → scores from a reward
/// model or a verifier → optional KL-shaped sequence rewards → group-relative advantages) and
/// `grpo_update` (the GRPO policy loss, optionally with its KL term, handed to the policy);
/// `grpo_step` does both. A verifiable reward is any type with `score(prompts, responses)`.
///
///   s_i = score_i − β_r·Σ_t k1(log π_old − log π_ref)_t       (β_r = kl_in_reward; 0: s = score)
///   A_i = group_relative(s)_i  over the G samples of a prompt   (advantages::group_relative)
///   loss = grpo::loss(log π, log π_old, log π_ref, A; β = options.loss.beta)
/// KL in the reward with k1 gives an unbiased gradient of E[score] − β_r·KL(π‖π_ref), whose
/// maximizer is π* ∝ π_ref·exp(score/β_r); KL in the loss (k3, TRL's default placement) does not
/// (see policy_gradient/kl.hpp).
/// Papers: Shao et al. 2024 (arXiv:2402.03300); RLVR, Lambert et al. 2024 (arXiv:2411.15124).
/// Parity: TRL `GRPOTrainer` (advantages as verl `compute_grpo_outcome_advantage`, loss as
/// `_compute_loss`), through the kernels at parity with them.
#pragma once

#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "../core/aggregation.hpp"
#include "../core/config.hpp"
#include "../model/policy_model.hpp"
#include "../model/reward_model.hpp"
#include "../policy_gradient/advantages.hpp"
#include "../policy_gradient/grpo_loss.hpp"
#include "../policy_gradient/kl.hpp"
#include "detail/sequences.hpp"
#include "rollout.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// Hyperparameters of GRPO / RLVR.
struct grpo_rlvr_options {
  index_t group_size = 8;            ///< G samples per prompt, ≥ 1
  double kl_in_reward = 0.0;         ///< β_r ≥ 0 of the k1-shaped sequence reward
  advantages::options advantage;     ///< grpo (default), Dr.GRPO (norm_by_std = false), rloo, …
  grpo::options loss;                ///< clipping, normalization, KL-in-loss β
};

/// What a GRPO rollout measured.
struct grpo_rollout_metrics {
  double score = 0;  ///< mean score
  double kl = 0;     ///< mean per-sequence Σ_t k1
  advantages::result groups;
};

/// Samples `group_size` responses per prompt, scores them and computes the group-relative
/// advantages. Errors: those of `sample_and_score`, `kl::token_rewards` and
/// `advantages::group_relative`; domain_error.202 (group_size < 1 or kl_in_reward < 0).
template <class Policy, class Reference, class RM, class P, class Y = model::response_t<Policy, P>>
  requires model::policy_model<Policy, P, Y> && model::reference_model<Reference, P, Y> && model::reward_model<RM, P, Y>
std::pair<rollout<P, Y>, grpo_rollout_metrics> grpo_rollout(Policy& policy, const Reference& reference, const RM& rm,
                                                            std::span<const P> prompts,
                                                            const grpo_rlvr_options& opts = {}) {
  constexpr const char* fn = "pipelines::grpo_rollout";
  alignkit::detail::check_range(fn, "group_size", static_cast<double>(opts.group_size), 1.0, HUGE_VAL);
  alignkit::detail::check_range(fn, "kl_in_reward", opts.kl_in_reward, 0.0, HUGE_VAL);
  auto r = detail::sample_and_score<Policy, Reference, RM, P, Y>(fn, policy, reference, rm, prompts, opts.group_size);
  grpo_rollout_metrics m;
  auto rewards = r.logprobs.zeros_like();
  kl::token_rewards(exec::seq, packed{r.logprobs.offsets}, r.scores, r.logprobs.values, r.ref_logprobs.values, r.mask,
                    opts.kl_in_reward, kl::estimator::k1, rewards.values);
  const auto shaped = detail::sequence_sums(rewards);
  r.sequence_advantages.assign(shaped.size(), 0.0);
  m.groups = advantages::group_relative(exec::seq, shaped, advantages::group_size{opts.group_size}, opts.advantage,
                                        r.sequence_advantages);
  const auto n = static_cast<double>(r.scores.size());
  const auto pol = detail::sequence_sums(r.logprobs), ref = detail::sequence_sums(r.ref_logprobs);
  for (std::size_t i = 0; i < r.scores.size(); ++i) {
    m.score += r.scores[i] / n;
    m.kl += (pol[i] - ref[i]) / n;
  }
  return {std::move(r), m};
}

/// One GRPO update on a rollout; the gradient goes to `policy.accumulate_logprob_gradient`.
/// Errors: those of `grpo::loss`; shape_error.160 (the policy's token counts changed).
template <class Policy, class P, class Y>
  requires model::trainable_policy<Policy, P, Y>
grpo::result grpo_update(Policy& policy, const rollout<P, Y>& r, const grpo_rlvr_options& opts = {}) {
  const model::token_values lp = policy.token_logprobs(r.prompt_span(), r.response_span());
  model::check_same_layout("pipelines::grpo_update", "policy log-probs", lp, "rollout log-probs", r.logprobs);
  auto grad = lp.zeros_like();
  const auto res = grpo::loss(exec::seq, packed{r.logprobs.offsets}, lp.values, r.logprobs.values,
                              r.ref_logprobs.values, r.sequence_advantages, r.mask, opts.loss,
                              grpo::outputs<double, 1>{view_of(grad.values)});
  policy.accumulate_logprob_gradient(r.prompt_span(), r.response_span(), grad);
  return res;
}

/// `grpo_rollout` then one `grpo_update`.
template <class Policy, class Reference, class RM, class P, class Y = model::response_t<Policy, P>>
step_result<P, Y, grpo_rollout_metrics, grpo::result> grpo_step(Policy& policy, const Reference& reference, const RM& rm,
                                                                 std::span<const P> prompts,
                                                                 const grpo_rlvr_options& opts = {}) {
  auto [r, sampled] = grpo_rollout(policy, reference, rm, prompts, opts);
  const auto update = grpo_update(policy, r, opts);
  return {std::move(r), sampled, update};
}

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
