/// @file kto_step.hpp
/// @brief One KTO step on unpaired data: log-probs of the desirable and undesirable completions
/// under the policy and the reference, the reference point from a KL set of mismatched
/// (prompt, completion) pairs, the KTO loss, and d loss / d log π handed to the policy for
/// every token of the labeled completions (the KL set receives no gradient).
///
///   c_i = Σ_t log π − Σ_t log π_ref  (desirable),  r_j likewise (undesirable)
///   KL set: (x_i, y_{(i+1) mod N}) — each prompt with the next example's completion (TRL)
///   loss = kto::loss(c, r, KL set)
/// Paper: Ethayarajh et al. 2024 (arXiv:2402.01306). Parity: TRL `KTOTrainer` (KL completions
/// by shifting the batch, as `_get_kl_dataset`; loss op `kto`).
#pragma once

#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../model/policy_model.hpp"
#include "../preference/kto.hpp"
#include "detail/sequences.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// N unpaired examples: `desirable[i]` says whether completion i is a good answer to prompt i.
template <class Prompt, class Response>
struct unpaired_batch {
  std::vector<Prompt> prompts;
  std::vector<Response> completions;
  std::vector<bool> desirable;

  /// Number of examples.
  index_t size() const noexcept { return static_cast<index_t>(prompts.size()); }
  /// Appends one example.
  void push_back(Prompt x, Response y, bool good) {
    prompts.push_back(std::move(x));
    completions.push_back(std::move(y));
    desirable.push_back(good);
  }
};

namespace detail {

/// The examples with the given label, and their mismatched KL-set pairs.
template <class P, class Y>
struct unpaired_side {
  std::vector<P> prompts;
  std::vector<Y> completions;
};

}  // namespace detail

/// One KTO step of `policy` against `reference` on `batch`. Errors: shape_error.101/102
/// (lengths differ, empty batch), those of `kto::loss`, shape_error.160 (policy and reference
/// disagree on a token count).
template <class Policy, class Reference, class P, class Y>
  requires model::trainable_policy<Policy, P, Y> && model::reference_model<Reference, P, Y>
kto::result kto_step(Policy& policy, const Reference& reference, const unpaired_batch<P, Y>& batch,
                     const kto::options& opts = {}) {
  constexpr const char* fn = "pipelines::kto_step";
  const index_t n = batch.size();
  alignkit::detail::check_not_empty(fn, "prompts", n);
  alignkit::detail::check_same_size(fn, "completions", static_cast<index_t>(batch.completions.size()), "prompts", n);
  alignkit::detail::check_same_size(fn, "desirable", static_cast<index_t>(batch.desirable.size()), "prompts", n);
  detail::unpaired_side<P, Y> good, bad, kl_set;
  for (std::size_t i = 0; i < batch.prompts.size(); ++i) {
    auto& side = batch.desirable[i] ? good : bad;
    side.prompts.push_back(batch.prompts[i]);
    side.completions.push_back(batch.completions[i]);
    kl_set.prompts.push_back(batch.prompts[i]);
    kl_set.completions.push_back(batch.completions[(i + 1) % batch.prompts.size()]);
  }
  // Log-probs of one side under both models: (policy per token, policy sums, reference sums).
  const auto read = [&](const detail::unpaired_side<P, Y>& s, const char* what) {
    const std::span<const P> x(s.prompts);
    const std::span<const Y> y(s.completions);
    model::token_values lp = policy.token_logprobs(x, y);
    const model::token_values ref = reference.token_logprobs(x, y);
    model::check_same_layout(fn, std::string("reference ") + what + " log-probs", ref,
                             std::string("policy ") + what + " log-probs", lp);
    return std::tuple{std::move(lp), detail::sequence_sums(lp), detail::sequence_sums(ref)};
  };
  const auto [lp_good, pc, rc] = read(good, "desirable");
  const auto [lp_bad, pr, rr] = read(bad, "undesirable");
  const auto [lp_kl, pk, rk] = read(kl_set, "KL-set");
  std::vector<double> grad_good(pc.size()), grad_bad(pr.size());
  const auto res = kto::loss(pc, pr, rc, rr, pk, rk, opts,
                             kto::outputs<double>{{}, {}, view_of(grad_good), view_of(grad_bad)});
  if (!good.prompts.empty())
    policy.accumulate_logprob_gradient(std::span<const P>(good.prompts), std::span<const Y>(good.completions),
                                       detail::spread(lp_good, grad_good));
  if (!bad.prompts.empty())
    policy.accumulate_logprob_gradient(std::span<const P>(bad.prompts), std::span<const Y>(bad.completions),
                                       detail::spread(lp_bad, grad_bad));
  return res;
}

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
