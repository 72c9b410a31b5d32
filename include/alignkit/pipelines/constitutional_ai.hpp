/// @file constitutional_ai.hpp
/// @brief Constitutional AI, supervised stage turned into preference data: each response is
/// critiqued and revised against every principle in turn (the revision of one principle is the
/// input of the next), and (prompt, final revision ≻ original) becomes a preference pair for
/// the DPO step or the reward-model step.
///
///   y⁰ = y,  cᵏ = critique(x, yᵏ⁻¹, πₖ),  yᵏ = revise(x, yᵏ⁻¹, cᵏ, πₖ),  pair (x, yᴷ ≻ y)
/// Paper: Bai et al. 2022, "Constitutional AI" (arXiv:2212.08073), §3.1 (critique → revision
/// loop over sampled principles) and §4 (preference data from AI feedback).
#pragma once

#include <concepts>
#include <span>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../model/reviser.hpp"
#include "preference_batch.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines::constitutional_ai {

/// Revision pairs and how many responses the principles left unchanged.
template <class P, class Y>
struct revisions {
  preference_batch<P, Y> pairs;  ///< (x, revised ≻ original) for every changed response
  index_t unchanged = 0;         ///< responses equal to their revision (no pair is made)
};

/// Critiques and revises every (prompts[i], responses[i]) against `principles` in order.
/// Responses whose final revision equals the original make no pair. Errors: shape_error.101/102
/// (lengths differ, empty prompts or principles).
template <class R, class P, class Y>
  requires model::reviser<R, P, Y> && std::equality_comparable<Y>
revisions<P, Y> revise(R& r, std::span<const model::principle> principles, std::span<const P> prompts,
                       std::span<const Y> responses) {
  constexpr const char* fn = "pipelines::constitutional_ai::revise";
  const auto n = static_cast<index_t>(prompts.size());
  alignkit::detail::check_not_empty(fn, "prompts", n);
  alignkit::detail::check_not_empty(fn, "principles", static_cast<index_t>(principles.size()));
  alignkit::detail::check_same_size(fn, "responses", static_cast<index_t>(responses.size()), "prompts", n);
  revisions<P, Y> out;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    Y y = responses[i];
    for (const auto& p : principles) y = r.revise(prompts[i], y, r.critique(prompts[i], y, p), p);
    if (y == responses[i])
      ++out.unchanged;
    else
      out.pairs.push_back(prompts[i], std::move(y), responses[i]);
  }
  return out;
}

}  // namespace pipelines::constitutional_ai

ALIGNKIT_END_NAMESPACE
