/// @file ppo_step.hpp
/// @brief PPO-RLHF in two calls: `ppo_rollout` (sample → score → KL-shaped token rewards →
/// GAE, and one update of the KL controller) and `ppo_update` (PPO-clip policy gradient and
/// clipped value-loss gradient, handed to the policy and the critic); `ppo_step` does both.
/// Call `ppo_update` again on the same rollout for further epochs after the optimizer stepped.
///
///   r_t = −β·k(log π_old − log π_ref)_t,  plus the score at the last token   (kl::token_rewards)
///   A, R = GAE(r, V; γ, λ)                                                   (gae::compute)
///   policy: ppo::loss(log π, log π_old, A);  critic: value::loss(V_new, V_old, R)
///   β ← controller.update(mean KL, B)          (fixed or adaptive, Ziegler et al. 2019)
/// Papers: Ziegler et al. 2019 (arXiv:1909.08593), Ouyang et al. 2022 (arXiv:2203.02155),
/// Schulman et al. 2017 (arXiv:1707.06347). Parity: verl's PPO trainer order of operations
/// (`apply_kl_penalty` → `compute_gae_advantage_return` → `compute_policy_loss` /
/// `compute_value_loss`), each step through the kernels at parity with it.
#pragma once

#include <concepts>
#include <span>
#include <utility>
#include <vector>

#include "../core/aggregation.hpp"
#include "../core/config.hpp"
#include "../model/policy_model.hpp"
#include "../model/reward_model.hpp"
#include "../model/value_model.hpp"
#include "../policy_gradient/gae.hpp"
#include "../policy_gradient/kl.hpp"
#include "../policy_gradient/ppo.hpp"
#include "../policy_gradient/value.hpp"
#include "rollout.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// A KL coefficient holder: `kl::fixed_kl_controller`, `kl::adaptive_kl_controller` or the
/// caller's own type with `value` and `update(kl, n)`.
template <class C>
concept kl_controller = requires(C& c, double kl, double n) {
  { c.value } -> std::convertible_to<double>;
  c.update(kl, n);
};

/// Hyperparameters of PPO-RLHF.
struct ppo_rlhf_options {
  ppo::options policy;                          ///< clip ratio, aggregation, …
  value::options critic;                        ///< value clip range, aggregation
  gae::options advantage;                       ///< γ, λ, whitening
  kl::estimator reward_kl = kl::estimator::k1;  ///< the estimator in the shaped reward
};

/// What a PPO rollout measured.
struct ppo_rollout_metrics {
  double score = 0;    ///< mean reward-model score
  double kl = 0;       ///< mean per-sequence KL estimate (verl `current_kl`)
  double kl_coef = 0;  ///< β used for this rollout (before the controller's update)
};

/// What one PPO update computed.
struct ppo_update_metrics {
  ppo::result policy;
  value::result critic;
};

/// Samples one response per prompt, scores it, shapes the token rewards with β = `kl_coef.value`,
/// runs GAE with the critic's values and updates the controller. Errors: those of
/// `sample_and_score`, `kl::token_rewards` and `gae::compute`; shape_error.160 (the critic's
/// token counts differ from the policy's).
template <class Policy, class Reference, class RM, class Critic, class P, kl_controller C,
          class Y = model::response_t<Policy, P>>
  requires model::policy_model<Policy, P, Y> && model::reference_model<Reference, P, Y> &&
           model::reward_model<RM, P, Y> && model::value_model<Critic, P, Y>
std::pair<rollout<P, Y>, ppo_rollout_metrics> ppo_rollout(Policy& policy, const Reference& reference, const RM& rm,
                                                          const Critic& critic, std::span<const P> prompts,
                                                          C& kl_coef, const ppo_rlhf_options& opts = {}) {
  constexpr const char* fn = "pipelines::ppo_rollout";
  auto r = detail::sample_and_score<Policy, Reference, RM, P, Y>(fn, policy, reference, rm, prompts, 1);
  r.values = critic.values(r.prompt_span(), r.response_span());
  model::check_same_layout(fn, "values", r.values, "policy log-probs", r.logprobs);
  ppo_rollout_metrics m{0, 0, static_cast<double>(kl_coef.value)};
  auto rewards = r.logprobs.zeros_like();
  const auto shaped = kl::token_rewards(exec::seq, packed{r.logprobs.offsets}, r.scores, r.logprobs.values,
                                        r.ref_logprobs.values, r.mask, m.kl_coef, opts.reward_kl, rewards.values);
  r.advantages = r.logprobs.zeros_like();
  r.returns = r.logprobs.zeros_like();
  gae::compute(exec::seq, rewards.values, r.values.values, r.mask, r.logprobs.offsets, opts.advantage,
               gae::outputs<double, 1>{view_of(r.advantages.values), view_of(r.returns.values)});
  for (double s : r.scores) m.score += s / static_cast<double>(r.scores.size());
  m.kl = shaped.mean_kl;
  kl_coef.update(m.kl, static_cast<double>(r.prompts.size()));
  return {std::move(r), m};
}

/// One PPO update on a rollout: the clipped policy loss against the rollout's log-probs and the
/// clipped value loss against its values and returns; the gradients go to
/// `policy.accumulate_logprob_gradient` and `critic.accumulate_value_gradient`. Errors: those of
/// `ppo::loss` and `value::loss`; shape_error.160 (a model's token counts changed).
template <class Policy, class Critic, class P, class Y>
  requires model::trainable_policy<Policy, P, Y> && model::trainable_value_model<Critic, P, Y>
ppo_update_metrics ppo_update(Policy& policy, Critic& critic, const rollout<P, Y>& r, const ppo_rlhf_options& opts = {}) {
  constexpr const char* fn = "pipelines::ppo_update";
  const model::token_values lp = policy.token_logprobs(r.prompt_span(), r.response_span());
  const model::token_values v = critic.values(r.prompt_span(), r.response_span());
  model::check_same_layout(fn, "policy log-probs", lp, "rollout log-probs", r.logprobs);
  model::check_same_layout(fn, "values", v, "rollout log-probs", r.logprobs);
  auto grad_lp = lp.zeros_like();
  auto grad_v = v.zeros_like();
  const auto layout = packed{r.logprobs.offsets};
  ppo_update_metrics m;
  m.policy = ppo::loss(exec::seq, layout, lp.values, r.logprobs.values, r.advantages.values, r.mask, opts.policy,
                       ppo::outputs<double, 1>{view_of(grad_lp.values)});
  m.critic = value::loss(exec::seq, layout, v.values, r.values.values, r.returns.values, r.mask, opts.critic,
                         value::outputs<double, 1>{view_of(grad_v.values)});
  policy.accumulate_logprob_gradient(r.prompt_span(), r.response_span(), grad_lp);
  critic.accumulate_value_gradient(r.prompt_span(), r.response_span(), grad_v);
  return m;
}

/// `ppo_rollout` then one `ppo_update`.
template <class Policy, class Reference, class RM, class Critic, class P, kl_controller C,
          class Y = model::response_t<Policy, P>>
step_result<P, Y, ppo_rollout_metrics, ppo_update_metrics> ppo_step(
    Policy& policy, const Reference& reference, const RM& rm, Critic& critic, std::span<const P> prompts, C& kl_coef,
    const ppo_rlhf_options& opts = {}) {
  auto [r, sampled] = ppo_rollout(policy, reference, rm, critic, prompts, kl_coef, opts);
  const auto update = ppo_update(policy, critic, r, opts);
  return {std::move(r), sampled, update};
}

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
