/// @file preference_batch.hpp
/// @brief `preference_batch`: the pairwise data every preference step consumes — prompts with
/// a chosen and a rejected response each, and optional soft labels P(chosen ≻ rejected).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../core/error.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines {

/// N preference pairs; `labels` is empty (every label 1: chosen is preferred) or holds N
/// probabilities in [0, 1] that chosen is preferred (soft labels, e.g. from an AI judge).
template <class Prompt, class Response>
struct preference_batch {
  std::vector<Prompt> prompts;
  std::vector<Response> chosen;
  std::vector<Response> rejected;
  std::vector<double> labels;

  /// Number of pairs.
  index_t size() const noexcept { return static_cast<index_t>(prompts.size()); }
  /// Appends one pair with label p.
  void push_back(Prompt x, Response c, Response r, double p = 1.0) {
    if (p != 1.0 || !labels.empty()) {
      labels.resize(prompts.size(), 1.0);
      labels.push_back(p);
    }
    prompts.push_back(std::move(x));
    chosen.push_back(std::move(c));
    rejected.push_back(std::move(r));
  }
};

namespace detail {

/// Checks a batch: shape_error.102 (empty), shape_error.101 (lengths differ), domain_error.260
/// (a label outside [0, 1]).
template <class P, class Y>
void check_batch(std::string_view fn, const preference_batch<P, Y>& b) {
  using alignkit::detail::check_same_size;
  alignkit::detail::check_not_empty(fn, "prompts", b.size());
  check_same_size(fn, "chosen", static_cast<index_t>(b.chosen.size()), "prompts", b.size());
  check_same_size(fn, "rejected", static_cast<index_t>(b.rejected.size()), "prompts", b.size());
  if (b.labels.empty()) return;
  check_same_size(fn, "labels", static_cast<index_t>(b.labels.size()), "prompts", b.size());
  for (std::size_t i = 0; i < b.labels.size(); ++i)
    if (!(b.labels[i] >= 0.0 && b.labels[i] <= 1.0))
      alignkit::detail::raise<domain_error>(260, fn, ": labels[", i, "] is ", b.labels[i],
                                            ", expected a probability in [0, 1]");
}

}  // namespace detail

}  // namespace pipelines

ALIGNKIT_END_NAMESPACE
