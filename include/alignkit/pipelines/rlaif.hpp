/// @file rlaif.hpp
/// @brief RLAIF labeling: an AI judge labels candidate pairs, asked in both orders so that its
/// position bias cancels; pairs are kept, dropped or softened by the judge's confidence.
///
///   q_ab = J(x, a, b),  q_ba = J(x, b, a)
///   p = (q_ab + 1 − q_ba) / 2                      debiased P(a ≻ b)
///   position bias = mean (q_ab + q_ba − 1)          (0 for a judge without position preference)
///   consistent    = fraction of pairs where both orders name the same winner
/// The preferred response becomes `chosen`; the pair is dropped when max(p, 1 − p) <
/// `min_confidence`; the label is 1 (`hard`) or max(p, 1 − p) (`soft`).
/// Paper: Bai et al. 2022 (arXiv:2212.08073) and Lee et al. 2023 (arXiv:2309.00267, both-order
/// averaging to mitigate position bias). Parity: the order-swap averaging of Lee et al. §3.
#pragma once

#include <cmath>
#include <span>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../model/judge.hpp"
#include "preference_batch.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines::rlaif {

/// How kept pairs are labeled.
enum class labels { hard, soft };

/// Labeling policy.
struct options {
  double min_confidence = 0.5;   ///< drop pairs whose max(p, 1 − p) is below; in [0.5, 1]
  labels label = labels::hard;   ///< hard (1) or soft (max(p, 1 − p)) labels
};

/// What labeling found.
struct result {
  index_t kept = 0;              ///< pairs in the batch
  index_t dropped = 0;           ///< pairs below min_confidence
  double position_bias = 0;      ///< mean (q_ab + q_ba − 1)
  double consistency = 0;        ///< fraction of pairs where both orders agree on the winner
  double mean_confidence = 0;    ///< mean max(p, 1 − p) over all pairs
};

/// Labeled pairs and the statistics of labeling.
template <class P, class Y>
struct labeled {
  preference_batch<P, Y> batch;
  result stats;
};

/// Labels the candidate pairs (prompts[i], first[i], second[i]) with judge `j` in both orders.
/// Errors: shape_error.101/102 (lengths differ, empty), domain_error.202 (min_confidence outside
/// [0.5, 1]), domain_error.261 (the judge returned a value outside [0, 1]).
template <class J, class P, class Y>
  requires model::judge<J, P, Y>
labeled<P, Y> label(J& j, std::span<const P> prompts, std::span<const Y> first, std::span<const Y> second,
                    const options& opts = {}) {
  constexpr const char* fn = "pipelines::rlaif::label";
  const auto n = static_cast<index_t>(prompts.size());
  alignkit::detail::check_not_empty(fn, "prompts", n);
  alignkit::detail::check_same_size(fn, "first", static_cast<index_t>(first.size()), "prompts", n);
  alignkit::detail::check_same_size(fn, "second", static_cast<index_t>(second.size()), "prompts", n);
  alignkit::detail::check_range(fn, "min_confidence", opts.min_confidence, 0.5, 1.0);
  const auto ask = [&](std::size_t i, const Y& a, const Y& b) {
    const auto q = static_cast<double>(j.preference(prompts[i], a, b));
    if (!(q >= 0.0 && q <= 1.0))
      alignkit::detail::raise<domain_error>(261, fn, ": the judge returned ", q, " for pair ", i,
                                            ", expected a probability in [0, 1]");
    return q;
  };
  labeled<P, Y> out;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const double q_ab = ask(i, first[i], second[i]);
    const double q_ba = ask(i, second[i], first[i]);
    const double p = 0.5 * (q_ab + 1.0 - q_ba);
    const double confidence = std::max(p, 1.0 - p);
    out.stats.position_bias += q_ab + q_ba - 1.0;
    out.stats.consistency += (q_ab > 0.5) == (q_ba < 0.5) ? 1.0 : 0.0;
    out.stats.mean_confidence += confidence;
    if (confidence < opts.min_confidence) {
      ++out.stats.dropped;
      continue;
    }
    const bool a_wins = p >= 0.5;
    out.batch.push_back(prompts[i], a_wins ? first[i] : second[i], a_wins ? second[i] : first[i],
                        opts.label == labels::soft ? confidence : 1.0);
  }
  out.stats.kept = out.batch.size();
  out.stats.position_bias /= static_cast<double>(n);
  out.stats.consistency /= static_cast<double>(n);
  out.stats.mean_confidence /= static_cast<double>(n);
  return out;
}

}  // namespace pipelines::rlaif

ALIGNKIT_END_NAMESPACE
