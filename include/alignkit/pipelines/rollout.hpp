/// @file rollout.hpp
/// @brief `rollout`: sampled responses with what the policy-gradient updates read — the old
/// policy's and the reference's token log-probs, the scores, and per-token advantages (and, for
/// PPO, values and returns) in the packed layout of `model::token_values`.
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../model/policy_model.hpp"
#include "../model/reward_model.hpp"
#include "../model/token_values.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// One batch of experience: B (prompt, response) pairs and their per-token quantities.
template <class Prompt, class Response>
struct rollout {
  std::vector<Prompt> prompts;
  std::vector<Response> responses;
  model::token_values logprobs;      ///< log π_old per token (the sampling policy)
  model::token_values ref_logprobs;  ///< log π_ref per token
  model::token_values values;        ///< V per token (PPO; empty otherwise)
  model::token_values advantages;    ///< A per token (PPO; empty otherwise)
  std::vector<double> sequence_advantages;  ///< A per response (GRPO; empty otherwise)
  model::token_values returns;       ///< value targets per token (PPO; empty otherwise)
  std::vector<double> scores;        ///< reward-model score per response
  std::vector<double> mask;          ///< 1 per token (every packed token is valid)

  std::span<const Prompt> prompt_span() const noexcept { return prompts; }
  std::span<const Response> response_span() const noexcept { return responses; }
};

/// A rollout and the metrics of sampling it and of the update made on it.
template <class P, class Y, class Sampled, class Update>
struct step_result {
  rollout<P, Y> experience;
  Sampled sampled;
  Update update;
};

namespace detail {

/// Samples one response per prompt (prompts repeated `copies` times, copies adjacent), and reads
/// the policy's and the reference's log-probs and the scores. Errors: shape_error.102 (no
/// prompts), shape_error.101 (a model returns a wrong number of responses or scores),
/// shape_error.160 (policy and reference disagree on a token count).
template <class Policy, class Reference, class RM, class P, class Y>
rollout<P, Y> sample_and_score(const char* fn, Policy& policy, const Reference& reference, const RM& rm,
                               std::span<const P> prompts, index_t copies) {
  alignkit::detail::check_not_empty(fn, "prompts", static_cast<index_t>(prompts.size()));
  rollout<P, Y> r;
  for (const auto& x : prompts)
    for (index_t g = 0; g < copies; ++g) r.prompts.push_back(x);
  for (auto&& y : policy.sample(r.prompt_span())) r.responses.push_back(std::forward<decltype(y)>(y));
  const auto b = static_cast<index_t>(r.prompts.size());
  alignkit::detail::check_same_size(fn, "sampled responses", static_cast<index_t>(r.responses.size()), "prompts", b);
  r.logprobs = policy.token_logprobs(r.prompt_span(), r.response_span());
  r.ref_logprobs = reference.token_logprobs(r.prompt_span(), r.response_span());
  alignkit::detail::check_same_size(fn, "policy log-prob sequences", r.logprobs.sequences(), "prompts", b);
  model::check_same_layout(fn, "reference log-probs", r.ref_logprobs, "policy log-probs", r.logprobs);
  for (const auto s : rm.score(r.prompt_span(), r.response_span())) r.scores.push_back(static_cast<double>(s));
  alignkit::detail::check_same_size(fn, "scores", static_cast<index_t>(r.scores.size()), "prompts", b);
  r.mask.assign(r.logprobs.values.size(), 1.0);
  return r;
}

}  // namespace detail

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
