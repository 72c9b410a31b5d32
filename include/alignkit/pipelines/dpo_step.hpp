/// @file dpo_step.hpp
/// @brief One DPO step: log-probs of both responses of every pair under the policy and the
/// reference, the DPO loss (any `dpo::loss_type`), and d loss / d log π handed to the policy
/// for every token (the gradient of a sequence log-prob reaches each of its tokens unchanged).
///
///   πc,i = Σ_t log π(y_c,i,t | …),  ρc,i likewise under the reference (and πr, ρr)
///   hard labels:  loss = dpo::loss(πc, πr, ρc, ρr)
///   soft labels p_i:  Σ_i [p_i ℓ(c_i ≻ r_i) + (1 − p_i) ℓ(r_i ≻ c_i)] / N   (two fused passes)
/// Paper: Rafailov et al. 2023 (arXiv:2305.18290). Parity: TRL `DPOTrainer` per-step loss
/// (`concatenated_forward` sums the completion log-probs; op `dpo`).
#pragma once

#include <span>
#include <vector>

#include "../core/config.hpp"
#include "../model/policy_model.hpp"
#include "../preference/dpo.hpp"
#include "detail/sequences.hpp"
#include "detail/soft_labels.hpp"
#include "preference_batch.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// One DPO step of `policy` against `reference` on `batch`: returns the DPO metrics and calls
/// `policy.accumulate_logprob_gradient` for the chosen and the rejected responses. Token counts
/// are passed to the kernel for `loss_type::sigmoid_norm`. Errors: those of `check_batch` and
/// `dpo::loss`; shape_error.160 (policy and reference disagree on a sequence's token count).
template <class Policy, class Reference, class P, class Y>
  requires model::trainable_policy<Policy, P, Y> && model::reference_model<Reference, P, Y>
dpo::result dpo_step(Policy& policy, const Reference& reference, const preference_batch<P, Y>& batch,
                     const dpo::options& opts = {}) {
  constexpr const char* fn = "pipelines::dpo_step";
  detail::check_batch(fn, batch);
  const std::span<const P> x(batch.prompts);
  const std::span<const Y> yc(batch.chosen), yr(batch.rejected);
  const model::token_values lc = policy.token_logprobs(x, yc), lr = policy.token_logprobs(x, yr);
  const model::token_values rc = reference.token_logprobs(x, yc), rr = reference.token_logprobs(x, yr);
  model::check_same_layout(fn, "reference chosen log-probs", rc, "policy chosen log-probs", lc);
  model::check_same_layout(fn, "reference rejected log-probs", rr, "policy rejected log-probs", lr);
  const auto pc = detail::sequence_sums(lc), pr = detail::sequence_sums(lr);
  const auto ref_c = detail::sequence_sums(rc), ref_r = detail::sequence_sums(rr);
  const auto nc = detail::sequence_lengths(lc), nr = detail::sequence_lengths(lr);
  const bool counts = opts.loss == dpo::loss_type::sigmoid_norm;
  const auto kernel = [&](bool swapped, vector_view<double> losses, vector_view<double> grad_a,
                          vector_view<double> grad_b) {
    const dpo::pair_inputs<double> extra{{}, counts ? view_of(swapped ? nr : nc) : vector_view<const double>{},
                                         counts ? view_of(swapped ? nc : nr) : vector_view<const double>{}};
    if (swapped) return dpo::loss(pr, pc, ref_r, ref_c, opts, dpo::outputs<double>{losses, grad_b, grad_a}, extra);
    return dpo::loss(pc, pr, ref_c, ref_r, opts, dpo::outputs<double>{losses, grad_a, grad_b}, extra);
  };
  const auto g = detail::soft_pairwise<dpo::result>(kernel, pc.size(), batch.labels,
                                                    opts.total_pairs.value_or(static_cast<double>(batch.size())));
  policy.accumulate_logprob_gradient(x, yc, detail::spread(lc, g.grad_chosen));
  policy.accumulate_logprob_gradient(x, yr, detail::spread(lr, g.grad_rejected));
  return g.metrics;
}

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
