/// @file soft_labels.hpp
/// @brief Soft preference labels for any pairwise kernel: with p = P(a ≻ b),
///   loss = Σ_i [p_i ℓ(a_i, b_i) + (1 − p_i) ℓ(b_i, a_i)] / D,
/// obtained from two fused passes of the kernel (on (a, b) and on (b, a)) whose per-pair losses
/// and gradients are mixed by p_i. Hard labels (no p) take one pass.
#pragma once

#include <span>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace pipelines::detail {

/// Metrics of the (a, b) pass (loss replaced by the mixed loss) and the mixed gradients.
template <class Result>
struct soft_pairwise_result {
  Result metrics;
  std::vector<double> grad_chosen, grad_rejected;
};

/// `kernel(swapped, losses, grad_a, grad_b)` runs the pairwise kernel on (a, b), or on (b, a)
/// when `swapped`, writing unscaled per-pair losses and the gradients with respect to a and b
/// (views of n doubles), and returns its result (with `.loss`). Every pair-independent term of
/// the loss must be symmetric in (a, b), as in the Bradley–Terry and DPO losses. `denominator`
/// is the D the kernel divides by.
template <class Result, class Kernel>
soft_pairwise_result<Result> soft_pairwise(const Kernel& kernel, std::size_t n, std::span<const double> p,
                                           double denominator) {
  soft_pairwise_result<Result> r{{}, std::vector<double>(n), std::vector<double>(n)};
  std::vector<double> l1(n);
  r.metrics = kernel(false, view_of(l1), view_of(r.grad_chosen), view_of(r.grad_rejected));
  if (p.empty()) return r;
  std::vector<double> l2(n), g2a(n), g2b(n);
  kernel(true, view_of(l2), view_of(g2a), view_of(g2b));
  // loss = common + Σ ℓ1 / D; the mixed loss replaces Σ ℓ1 by Σ (p ℓ1 + (1 − p) ℓ2).
  double s1 = 0, mixed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s1 += l1[i];
    mixed += p[i] * l1[i] + (1 - p[i]) * l2[i];
    r.grad_chosen[i] = p[i] * r.grad_chosen[i] + (1 - p[i]) * g2a[i];
    r.grad_rejected[i] = p[i] * r.grad_rejected[i] + (1 - p[i]) * g2b[i];
  }
  r.metrics.loss += (mixed - s1) / denominator;
  return r;
}

}  // namespace pipelines::detail

ALIGNKIT_END_NAMESPACE
